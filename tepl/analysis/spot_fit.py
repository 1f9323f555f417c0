"""Gaussian fits of bright spots: a 2-D Gaussian on a plane background around a maximum of an image (``Spot``),
and the FWHM of the peak of a 1-D line scan.

Positions and widths in nm (the image's axes), fit windows and start values in pixels. A raster pixel is a
point measurement (the tip dwells at one position), so spots are modelled as point-sampled Gaussians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tepl.analysis.bounded_fit import bounded_least_squares

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
_N_BACKGROUND = 3  # plane: level at the spot's pixel, slope along y, slope along x (per pixel)


@dataclass(frozen=True)
class Spot:
    """A bright spot refined by a 2-D Gaussian fit (axis-aligned).

    Positions and widths in nm, ``amplitude`` (peak height above ``background``) in image units. ``fwhm_nm``
    is the mean of the two axes. ``*_err`` are one-sigma fit uncertainties (NaN when the fit failed, in
    which case ``fit_ok`` is False and position / width come from image moments).
    """

    x_nm: float
    y_nm: float
    fwhm_nm: float
    fwhm_x_nm: float
    fwhm_y_nm: float
    amplitude: float
    background: float
    x_err_nm: float
    y_err_nm: float
    fwhm_err_nm: float
    fwhm_x_err_nm: float
    fwhm_y_err_nm: float
    amplitude_err: float
    prominence: float
    fit_ok: bool


# ------------------------------------------------------------------------------------ 2-D spot fit
def _model(params: np.ndarray, yy: np.ndarray, xx: np.ndarray, origin: tuple[int, int], n: int) -> np.ndarray:
    model = params[0] + params[1] * (yy - origin[0]) + params[2] * (xx - origin[1])
    for k in range(n):
        a, x0, y0, sx, sy = params[_N_BACKGROUND + 5 * k: _N_BACKGROUND + 5 + 5 * k]
        model = model + a * np.exp(-0.5 * (((xx - x0) / sx) ** 2 + ((yy - y0) / sy) ** 2))
    return model


def fit_spot(image: np.ndarray, main: int, peaks: list[tuple[int, int]], sigma0_px: list[float],
             half_px: int, floor_px: tuple[float, float] = (0.0, 0.0),
             fixed_width: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """Gaussian fit (pixel units) on a window centred on ``peaks[main]``; returns (params, covariance).

    Neighbouring spots whose light reaches the window are modelled too (after the main one, in the
    parameter vector), on a plane background; only the main spot's parameters are used.
    """
    ny, nx = image.shape
    r, c = peaks[main]
    y0, y1 = max(r - half_px, 0), min(r + half_px + 1, ny)
    x0, x1 = max(c - half_px, 0), min(c + half_px + 1, nx)
    reach = half_px + max(int(np.ceil(2.0 * max(sigma0_px))), 1)
    members = [main] + [j for j, (pr, pc) in enumerate(peaks)
                        if j != main and abs(pr - r) <= reach and abs(pc - c) <= reach]
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(float)
    values = image[y0:y1, x0:x1]
    ok = np.isfinite(values)
    yy, xx, values = yy[ok], xx[ok], values[ok]
    n = len(members)
    if values.size <= 5 * n + _N_BACKGROUND:
        return None
    background0 = float(np.percentile(values, 20))
    p0, lo, hi = [background0, 0.0, 0.0], [-np.inf] * 3, [np.inf] * 3
    for k, j in enumerate(members):
        pr, pc = peaks[j]
        s0 = sigma0_px[j]
        a0 = max(float(image[pr, pc]) - background0, 1e-12)
        free = half_px if k == 0 else 2.0
        p0 += [a0, pc, pr, s0, s0]
        lo += [0.0, pc - free, pr - free, max(0.2, floor_px[1]), max(0.2, floor_px[0])]
        hi += [np.inf, pc + free, pr + free, 2.0 * half_px, 2.0 * half_px]
        if fixed_width:  # held at the spot's width; start at the centroid, with the height that puts there
            cy, cx = _centroid_px(image, pr, pc, background0)
            sx0, sy0 = lo[-2], lo[-1]
            seen = np.exp(-0.5 * (((cx - pc) / sx0) ** 2 + ((cy - pr) / sy0) ** 2))
            p0[-5:] = [a0 / max(seen, 0.05), cx, cy, sx0, sy0]
    full = np.array(p0, float)
    fit = np.ones(full.size, bool)
    if fixed_width:
        for k in range(n):
            fit[_N_BACKGROUND + 5 * k + 3: _N_BACKGROUND + 5 * k + 5] = False

    def residual(q: np.ndarray) -> np.ndarray:
        p = full.copy()
        p[fit] = q
        return _model(p, yy, xx, (r, c), n) - values

    result = bounded_least_squares(residual, full[fit], np.asarray(lo)[fit], np.asarray(hi)[fit])
    if result is None:
        return None
    params = full.copy()
    params[fit] = result.x
    chi2 = float(np.sum(result.fun ** 2)) / max(values.size - result.x.size, 1)  # per degree of freedom
    covariance = np.zeros((full.size, full.size))  # widths held at the spot's: no uncertainty of their own
    try:
        covariance[np.ix_(fit, fit)] = np.linalg.inv(result.jac.T @ result.jac) * chi2
    except np.linalg.LinAlgError:
        covariance = np.full((full.size, full.size), np.nan)
    return params, covariance


def _centroid_px(image: np.ndarray, r: int, c: int, background: float) -> tuple[float, float]:
    """Intensity-weighted centre (row, column) of the 3 x 3 pixels around a maximum, above background."""
    r0, c0 = max(r - 1, 0), max(c - 1, 0)
    window = np.clip(image[r0:r + 2, c0:c + 2] - background, 0.0, None)
    if window.sum() <= 0:
        return float(r), float(c)
    rows, cols = np.mgrid[r0:r0 + window.shape[0], c0:c0 + window.shape[1]]
    return float((rows * window).sum() / window.sum()), float((cols * window).sum() / window.sum())


def make_spot(fitted: tuple[np.ndarray, np.ndarray] | None, peak: tuple[int, int], sigma0_px: float,
              image: np.ndarray, background: float, noise: float, half_px: int,
              axes: tuple[float, float, float, float], floor_px: tuple[float, float] = (0.0, 0.0)) -> Spot | None:
    """A Spot from its window fit; None for a maximum the fit shows to be noise."""
    x_start, x_pitch, y_start, y_pitch = axes
    r, c = peak
    prominence = float(image[r, c] - background)
    sx_nm, sy_nm = abs(x_pitch), abs(y_pitch)
    ok = fitted is not None
    if ok:
        params, cov = fitted
        a, xc, yc, sx, sy = params[_N_BACKGROUND: _N_BACKGROUND + 5]
        err = np.sqrt(np.clip(np.diag(cov)[_N_BACKGROUND: _N_BACKGROUND + 5], 0, None))
        ok = bool(np.all(np.isfinite(params)) and a > 0
                  and abs(xc - c) <= half_px and abs(yc - r) <= half_px)
        # narrower than a pixel or insignificant: a bump, or a spot cut short (an emitter that blinked off
        # while the scan crossed it; single-pixel spikes were set aside before fitting)
        # (with a stated optics spot, the fit cannot go below its floor: narrower than a pixel is then allowed)
        narrow_x = FWHM_PER_SIGMA * sx < min(1.0, 0.999 * FWHM_PER_SIGMA * floor_px[1]) if floor_px[1] else (
            FWHM_PER_SIGMA * sx < 1.0)
        narrow_y = FWHM_PER_SIGMA * sy < min(1.0, 0.999 * FWHM_PER_SIGMA * floor_px[0]) if floor_px[0] else (
            FWHM_PER_SIGMA * sy < 1.0)
        ok = ok and not (narrow_x or narrow_y or a < 5.0 * err[0])
    if not ok:
        if prominence < 10.0 * noise:
            return None  # a weak maximum that no Gaussian describes: noise
        fwhm_px = FWHM_PER_SIGMA * sigma0_px
        cy, cx = _centroid_px(image, r, c, background)
        return Spot(float(x_start + cx * x_pitch), float(y_start + cy * y_pitch),
                    float(fwhm_px * (sx_nm + sy_nm) / 2), float(fwhm_px * sx_nm), float(fwhm_px * sy_nm),
                    prominence, background, *([float("nan")] * 6), prominence, False)
    fwhm_x, fwhm_y = FWHM_PER_SIGMA * sx * sx_nm, FWHM_PER_SIGMA * sy * sy_nm
    i_sx, i_sy = _N_BACKGROUND + 3, _N_BACKGROUND + 4
    var_mean = 0.25 * (FWHM_PER_SIGMA ** 2) * (cov[i_sx, i_sx] * sx_nm ** 2 + cov[i_sy, i_sy] * sy_nm ** 2
                                                 + 2 * cov[i_sx, i_sy] * sx_nm * sy_nm)
    return Spot(
        x_nm=float(x_start + xc * x_pitch), y_nm=float(y_start + yc * y_pitch),
        fwhm_nm=float(0.5 * (fwhm_x + fwhm_y)), fwhm_x_nm=float(fwhm_x), fwhm_y_nm=float(fwhm_y),
        amplitude=float(a), background=float(params[0]),
        x_err_nm=float(err[1] * sx_nm), y_err_nm=float(err[2] * sy_nm),
        fwhm_err_nm=float(np.sqrt(max(var_mean, 0.0))),
        fwhm_x_err_nm=float(FWHM_PER_SIGMA * err[3] * sx_nm), fwhm_y_err_nm=float(FWHM_PER_SIGMA * err[4] * sy_nm),
        amplitude_err=float(err[0]), prominence=prominence, fit_ok=True,
    )


# ------------------------------------------------------------------------------------------- line scans
def line_profile_fwhm_nm(x_nm: np.ndarray, profile: np.ndarray, center_nm: float | None = None) -> float:
    """FWHM (nm) of the peak of a 1-D line scan: the highest maximum, or the one nearest ``center_nm``.

    A Gaussian plus a constant is fitted within about two half-maximum widths of the peak; if the fit
    fails the width between the interpolated half-maximum crossings is returned. NaN when no peak
    stands above the profile's edges.
    """
    x = np.asarray(x_nm, float)
    y = np.asarray(profile, float)
    if x.ndim != 1 or x.shape != y.shape or x.size < 5:
        raise ValueError(f"x_nm and profile must be 1-D of equal length >= 5, got {x.shape} and {y.shape}")
    order = np.argsort(x)
    x, y = x[order], y[order]
    good = np.isfinite(y)
    x, y = x[good], y[good]
    if x.size < 5:
        return float("nan")
    if center_nm is None:
        i_peak = int(np.argmax(y))
    else:  # climb to the local maximum from the sample nearest center_nm
        i_peak = int(np.argmin(np.abs(x - center_nm)))
        while True:
            left = y[i_peak - 1] if i_peak > 0 else -np.inf
            right = y[i_peak + 1] if i_peak < y.size - 1 else -np.inf
            if max(left, right) <= y[i_peak]:
                break
            i_peak += -1 if left > right else 1
    base = float(np.percentile(y, 10))
    half = base + 0.5 * (y[i_peak] - base)
    if y[i_peak] <= base:
        return float("nan")
    lo = i_peak
    while lo > 0 and y[lo] > half:
        lo -= 1
    hi = i_peak
    while hi < y.size - 1 and y[hi] > half:
        hi += 1
    x_lo = np.interp(half, [y[lo], y[lo + 1]], [x[lo], x[lo + 1]]) if y[lo] <= half else x[lo]
    x_hi = np.interp(half, [y[hi], y[hi - 1]], [x[hi], x[hi - 1]]) if y[hi] <= half else x[hi]
    crossing_fwhm = float(x_hi - x_lo)
    width = max(crossing_fwhm, float(np.median(np.diff(x))))
    sel = np.abs(x - x[i_peak]) <= 2.0 * width
    if sel.sum() < 5:
        return crossing_fwhm

    def residual(p: np.ndarray) -> np.ndarray:
        return p[0] + p[1] * np.exp(-0.5 * ((x[sel] - p[2]) / p[3]) ** 2) - y[sel]

    p0 = [base, y[i_peak] - base, x[i_peak], width / FWHM_PER_SIGMA]
    lo = [-np.inf, 0.0, x[i_peak] - width, 1e-3 * width]
    hi = [np.inf, np.inf, x[i_peak] + width, 4 * width]
    result = bounded_least_squares(residual, p0, lo, hi)
    if result is None or not np.all(np.isfinite(result.x)):
        return crossing_fwhm
    return float(FWHM_PER_SIGMA * result.x[3])
