"""Drift between repeated scans: sub-pixel image shift by cross-correlation, and shifting images back.

Convention: ``image_shift(reference, image)`` returns ``(dy_px, dx_px)`` such that
``image[y, x] ≈ reference[y - dy_px, x - dx_px]``: the content of ``image`` has moved by +dy rows and
+dx columns. ``shift_image(image, -dy_px, -dx_px)`` therefore brings ``image`` back onto ``reference``.
Multiply by the raster pitch (nm/px) for a drift in nanometres.

The shift is the peak of the FFT cross-correlation, refined on an upsampled grid around it by a matrix
DFT (Guizar-Sicairos et al., Opt. Lett. 33, 156 (2008)) and finally by a parabola through the three
highest samples on each axis.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _prepare(image: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(image, float)
    if img.ndim != 2 or min(img.shape) < 4:
        raise ValueError(f"{name} must be a 2-D image of at least 4 x 4 pixels, got shape {img.shape}")
    finite = np.isfinite(img)
    if not finite.any():
        raise ValueError(f"{name} has no finite pixels")
    mean = float(img[finite].mean())
    return np.where(finite, img, mean) - mean


def _edge_taper(shape: tuple[int, int], fraction: float = 0.15) -> np.ndarray:
    """Separable Tukey window: flat in the middle, cosine taper over ``fraction`` of each edge."""
    axes = []
    for n in shape:
        w = np.ones(n)
        m = max(int(fraction * n), 1)
        ramp = 0.5 * (1 - np.cos(np.pi * (np.arange(m) + 0.5) / m))
        w[:m], w[n - m:] = ramp, ramp[::-1]
        axes.append(w)
    return np.outer(*axes)


def _parabola_vertex(left: float, mid: float, right: float) -> float:
    denominator = left - 2.0 * mid + right
    if denominator >= 0:  # not a maximum
        return 0.0
    return float(np.clip(0.5 * (left - right) / denominator, -0.5, 0.5))


def _correlation_peak(ref: np.ndarray, img: np.ndarray, upsample: int, taper: bool) -> tuple[float, float]:
    """Sub-pixel position of the cross-correlation maximum of two mean-free images of equal shape."""
    if taper:
        window = _edge_taper(ref.shape)
        ref, img = ref * window, img * window
    ny, nx = ref.shape
    product = np.fft.fft2(img) * np.conj(np.fft.fft2(ref))
    correlation = np.fft.ifft2(product).real
    iy, ix = np.unravel_index(int(np.argmax(correlation)), correlation.shape)
    dy0 = iy - ny if iy > ny // 2 else iy
    dx0 = ix - nx if ix > nx // 2 else ix

    # Upsampled correlation on +-1 pixel around the integer peak (matrix DFT).
    steps = (np.arange(2 * upsample + 1) - upsample) / upsample
    shifts_y, shifts_x = dy0 + steps, dx0 + steps
    kernel_y = np.exp(2j * np.pi * shifts_y[:, None] * np.fft.fftfreq(ny)[None, :])
    kernel_x = np.exp(2j * np.pi * np.fft.fftfreq(nx)[:, None] * shifts_x[None, :])
    fine = (kernel_y @ product @ kernel_x).real
    jy, jx = np.unravel_index(int(np.argmax(fine)), fine.shape)
    jy = int(np.clip(jy, 1, fine.shape[0] - 2))
    jx = int(np.clip(jx, 1, fine.shape[1] - 2))
    dy = shifts_y[jy] + _parabola_vertex(*fine[jy - 1: jy + 2, jx]) / upsample
    dx = shifts_x[jx] + _parabola_vertex(*fine[jy, jx - 1: jx + 2]) / upsample
    return float(dy), float(dx)


def image_shift(reference: np.ndarray, image: np.ndarray, upsample: int = 10,
                taper: bool = True, refine: int = 2) -> tuple[float, float]:
    """Shift ``(dy_px, dx_px)`` of ``image`` relative to ``reference`` (same shape), sub-pixel.

    ``upsample``: the correlation peak is resampled on a grid of 1/upsample pixel before the final
    parabolic refinement. ``taper``: weight both images with an edge taper, so content entering or
    leaving the field does not dominate. ``refine``: passes that move ``image`` back by the estimate and
    correlate again on the common field only, which removes what the taper and the non-shared edges
    leave. NaN pixels count as the image mean.
    """
    ref = _prepare(reference, "reference")
    img = _prepare(image, "image")
    if ref.shape != img.shape:
        raise ValueError(f"reference {ref.shape} and image {img.shape} must have the same shape")
    if int(upsample) != upsample or upsample < 1:
        raise ValueError(f"upsample must be a positive integer, got {upsample}")
    upsample = int(upsample)
    dy, dx = _correlation_peak(ref, img, upsample, taper)
    ny, nx = ref.shape
    for _ in range(max(int(refine), 0)):
        # Common field: rows/columns of the reference that the moved-back image covers.
        y0, y1 = int(np.ceil(max(-dy, 0.0))) + 1, ny - int(np.ceil(max(dy, 0.0))) - 1
        x0, x1 = int(np.ceil(max(-dx, 0.0))) + 1, nx - int(np.ceil(max(dx, 0.0))) - 1
        if y1 - y0 < 8 or x1 - x0 < 8:
            break
        moved = shift_image(img, -dy, -dx)[y0:y1, x0:x1]
        common_ref = ref[y0:y1, x0:x1]
        ddy, ddx = _correlation_peak(common_ref - common_ref.mean(), moved - np.nanmean(moved),
                                     upsample, taper)
        dy, dx = dy + ddy, dx + ddx
        if max(abs(ddy), abs(ddx)) < 0.01:
            break
    return float(dy), float(dx)


def shift_image(image: np.ndarray, dy: float, dx: float, fill_value: float = np.nan) -> np.ndarray:
    """``image`` with its content moved by ``dy`` rows and ``dx`` columns (pixels, fractional allowed).

    Cubic-spline interpolation; pixels whose source lies outside the image get ``fill_value`` (NaN by
    default, so unmeasured areas stay visible), and NaN pixels of the input stay NaN where they land.
    """
    img = np.asarray(image, float)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {img.shape}")
    if not (np.isfinite(dy) and np.isfinite(dx)):
        raise ValueError(f"shift must be finite, got dy={dy}, dx={dx}")
    missing = ~np.isfinite(img)
    filled = np.where(missing, np.nanmean(img) if (~missing).any() else 0.0, img)
    out = ndimage.shift(filled, (dy, dx), order=3, mode="nearest")
    if missing.any():
        landed = ndimage.shift(missing.astype(float), (dy, dx), order=1, mode="constant", cval=0.0)
        out[landed > 1e-6] = np.nan
    ny, nx = img.shape
    source_y = np.arange(ny) - dy
    source_x = np.arange(nx) - dx
    eps = 1e-9
    outside = ((source_y < -eps) | (source_y > ny - 1 + eps))[:, None] | \
              ((source_x < -eps) | (source_x > nx - 1 + eps))[None, :]
    out[outside] = fill_value
    return out


def align_stack(images: np.ndarray, reference_index: int = 0,
                upsample: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Bring every image of ``images[n, y, x]`` onto ``images[reference_index]``.

    Returns (aligned stack with NaN where a shifted image does not cover the field, shifts[n, 2] in
    pixels as (dy, dx) of each image relative to the reference). ``np.nansum(aligned, axis=0)`` is the
    drift-corrected sum.
    """
    stack = np.asarray(images, float)
    if stack.ndim != 3:
        raise ValueError(f"images must be a stack [n, y, x], got shape {stack.shape}")
    if not -stack.shape[0] <= reference_index < stack.shape[0]:
        raise ValueError(f"reference_index {reference_index} outside a stack of {stack.shape[0]} images")
    reference = stack[reference_index]
    shifts = np.array([image_shift(reference, img, upsample) for img in stack])
    aligned = np.array([shift_image(img, -dy, -dx) for img, (dy, dx) in zip(stack, shifts, strict=True)])
    return aligned, shifts


def mean_per_scan(counts_sum: np.ndarray, scans_summed: np.ndarray) -> np.ndarray:
    """Drift-corrected counts per scan: ``counts_sum[..., y, x]`` (the sum of the scans moved back by their
    drift) divided by ``scans_summed[y, x]``, the number of scans that reached each pixel. A pixel at the edge
    that fewer scans covered is then as bright as the others instead of a false dark column; a pixel no scan
    reached is NaN. Counts per pixel per scan (the dwell's counts)."""
    total = np.asarray(counts_sum, float)
    covered = np.asarray(scans_summed, float)
    if total.shape[-2:] != covered.shape:
        raise ValueError(f"scans_summed has shape {covered.shape}, the summed image's pixels {total.shape[-2:]}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(covered > 0, total / np.where(covered > 0, covered, 1.0), np.nan)
