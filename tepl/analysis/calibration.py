"""Pixel-to-wavelength calibration of the spectrometer from an Ar-Hg lamp spectrum.

The spectrograph reports its own (nominal) wavelength axis, computed from the grating equation and
the factory calibration; after a grating move it can be off by a few tenths of a nanometre up to
~1.5 nm. Here the lamp lines are located on the CCD to sub-pixel precision, identified in a table of
Ar I and Hg I lines (wavelengths in air, NIST Atomic Spectra Database), and a polynomial
pixel -> wavelength is fitted.

Identification is robust to an offset and a small dispersion error of the nominal axis: every pair of
(detected line, table line) candidates within ``max_match_nm`` proposes a linear correction of the
nominal axis, and the correction that identifies the most lines wins. The polynomial is then refined
by re-matching with a tightening tolerance and rejecting outliers.

Pixels are numbered from 0 along the spectrum as delivered by the camera (full vertical binning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal, special

from tepl.analysis.bounded_fit import bounded_least_squares

# Ar I and Hg I lines in air (nm) with relative strengths (NIST ASD relative intensities; these vary
# between lamps and are used only to weight blended lines).
ARHG_REFERENCE_LINES: tuple[tuple[float, float, str], ...] = (
    (404.6565, 1800.0, "Hg I"),
    (407.7837, 150.0, "Hg I"),
    (415.8590, 400.0, "Ar I"),
    (419.8317, 200.0, "Ar I"),
    (420.0674, 400.0, "Ar I"),
    (425.9362, 200.0, "Ar I"),
    (426.6286, 100.0, "Ar I"),
    (427.2169, 150.0, "Ar I"),
    (430.0101, 100.0, "Ar I"),
    (433.3561, 100.0, "Ar I"),
    (434.5168, 50.0, "Ar I"),
    (435.8328, 4000.0, "Hg I"),
    (546.0735, 1100.0, "Hg I"),
    (576.9598, 240.0, "Hg I"),
    (579.0663, 280.0, "Hg I"),
    (667.7282, 100.0, "Ar I"),
    (675.2834, 150.0, "Ar I"),
    (687.1289, 150.0, "Ar I"),
    (696.5431, 10000.0, "Ar I"),
    (706.7218, 10000.0, "Ar I"),
    (714.7042, 1000.0, "Ar I"),
    (727.2936, 2000.0, "Ar I"),
    (738.3980, 10000.0, "Ar I"),
    (750.3869, 20000.0, "Ar I"),
    (751.4652, 15000.0, "Ar I"),
    (763.5106, 25000.0, "Ar I"),
    (772.3761, 15000.0, "Ar I"),
    (772.4207, 10000.0, "Ar I"),
    (794.8176, 20000.0, "Ar I"),
    (800.6157, 20000.0, "Ar I"),
    (801.4786, 25000.0, "Ar I"),
    (810.3693, 20000.0, "Ar I"),
    (811.5311, 35000.0, "Ar I"),
    (826.4522, 10000.0, "Ar I"),
    (840.8210, 15000.0, "Ar I"),
    (842.4648, 20000.0, "Ar I"),
    (852.1442, 15000.0, "Ar I"),
    (866.7944, 4500.0, "Ar I"),
    (912.2967, 35000.0, "Ar I"),
    (922.4499, 15000.0, "Ar I"),
    (935.4220, 1600.0, "Ar I"),
    (965.7786, 25000.0, "Ar I"),
)

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


@dataclass(frozen=True)
class Calibration:
    """Result of a lamp calibration.

    ``coefficients`` are polynomial coefficients in ascending powers of the pixel index
    (wavelength_nm = sum c_k * pixel**k); ``wavelength_nm`` is that polynomial on every pixel.
    ``line_pixels`` / ``line_wavelengths_nm`` are the identified lines (sub-pixel positions and table
    wavelengths in air), ``residuals_nm`` = reference - fit, ``rms_nm`` their RMS; ``line_fwhm_nm`` the
    median width of the lamp lines (pixel-integrated Gaussian fits), a check of focus and slit.
    """

    coefficients: np.ndarray
    wavelength_nm: np.ndarray
    line_pixels: np.ndarray
    line_wavelengths_nm: np.ndarray
    residuals_nm: np.ndarray
    rms_nm: float
    n_lines: int
    order: int
    line_fwhm_nm: float = field(default=float("nan"))

    def wavelength_at(self, pixel: np.ndarray | float) -> np.ndarray:
        """Wavelength (nm, air) at (fractional) pixel positions."""
        return np.polynomial.polynomial.polyval(np.asarray(pixel, float), self.coefficients)


# -------------------------------------------------------------------------------------------- lines
def _robust_sigma(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _pixel_gaussian(pixels: np.ndarray, amplitude: float, center: float, sigma: float) -> np.ndarray:
    """Gaussian of total area ``amplitude`` integrated over pixels of unit width."""
    scale = 1.0 / (np.sqrt(2.0) * sigma)
    return 0.5 * amplitude * (special.erf((pixels + 0.5 - center) * scale)
                              - special.erf((pixels - 0.5 - center) * scale))


def _fit_cluster(pixels: np.ndarray, values: np.ndarray, centers0: np.ndarray) -> np.ndarray | None:
    """Fit len(centers0) pixel-integrated Gaussians of one common width plus a constant.

    Returns rows (centre, sigma, area) or None when the fit fails. One width for the whole group: the
    instrument profile is the same for neighbouring lines, and a shared width keeps blends well posed.
    """
    n = len(centers0)
    heights = np.interp(centers0, pixels, values)
    p0 = [float(np.min(values)), 0.6] + [v for c0, h0 in zip(centers0, heights, strict=True)
                                         for v in (max(h0, 1e-9) * 1.5, c0)]
    lo = [-np.inf, 0.2] + [v for c0 in centers0 for v in (0.0, c0 - 1.5)]
    hi = [np.inf, 8.0] + [v for c0 in centers0 for v in (np.inf, c0 + 1.5)]

    def residual(p: np.ndarray) -> np.ndarray:
        model = np.full(pixels.shape, p[0])
        for k in range(n):
            model += _pixel_gaussian(pixels, p[2 + 2 * k], p[3 + 2 * k], p[1])
        return model - values

    result = bounded_least_squares(residual, p0, lo, hi)
    if result is None:
        return None
    rows = result.x[2:].reshape(n, 2)
    return np.column_stack([rows[:, 1], np.full(n, result.x[1]), rows[:, 0]])


def _detect_lines(counts: np.ndarray, min_snr: float) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel centres and Gaussian sigmas (pixels) of emission lines standing min_snr above noise."""
    counts = np.asarray(counts, float)
    if counts.ndim != 1 or counts.size < 16:
        raise ValueError(f"counts must be a 1-D spectrum of at least 16 pixels, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)):
        raise ValueError("counts contain NaN or infinite values")
    if min_snr <= 0:
        raise ValueError(f"min_snr must be positive, got {min_snr}")
    baseline = ndimage.median_filter(counts, size=min(41, counts.size | 1), mode="nearest")
    signal_counts = counts - baseline
    # Noise from pixel-to-pixel differences: insensitive to the baseline shape, robust to the sparse lines.
    noise = _robust_sigma(np.diff(signal_counts)) / np.sqrt(2.0)
    if noise <= 0:
        noise = max(_robust_sigma(signal_counts), 1e-12)
    peaks, _ = signal.find_peaks(signal_counts, height=min_snr * noise)
    if peaks.size == 0:
        return np.empty(0), np.empty(0)
    # Peaks closer than a few pixels are fitted together so blends do not pull each other.
    groups = np.split(peaks, np.where(np.diff(peaks) > 6)[0] + 1)
    centers, sigmas = [], []
    pixels_all = np.arange(counts.size, dtype=float)
    for group in groups:
        start, stop = max(group[0] - 5, 0), min(group[-1] + 6, counts.size)
        pixels = pixels_all[start:stop]
        rows = _fit_cluster(pixels, signal_counts[start:stop], group.astype(float))
        for k, peak in enumerate(group):
            ok = rows is not None and rows[k, 2] > 0 and start <= rows[k, 0] <= stop - 1
            if ok:
                centers.append(rows[k, 0])
                sigmas.append(rows[k, 1])
            else:  # three-point centroid as a fallback
                lo, hi = max(peak - 1, 0), min(peak + 2, counts.size)
                weights = np.clip(signal_counts[lo:hi], 0, None)
                centers.append(float(np.sum(weights * pixels_all[lo:hi]) / max(np.sum(weights), 1e-12)))
                sigmas.append(np.nan)
    order = np.argsort(centers)
    return np.asarray(centers)[order], np.asarray(sigmas)[order]


def find_lines(counts: np.ndarray, min_snr: float = 10.0) -> np.ndarray:
    """Sub-pixel positions (pixel index, 0-based) of the emission lines in a 1-D spectrum.

    The baseline is a running median (41 px), the noise the robust spread of pixel-to-pixel
    differences; every local maximum higher than ``min_snr`` times the noise is fitted with a
    pixel-integrated Gaussian (neighbours within 6 px are fitted jointly). Sorted ascending.
    """
    centers, _ = _detect_lines(counts, min_snr)
    return centers


# ------------------------------------------------------------------------------------- reference
def _reference_table(line_fwhm_nm: float, lines: tuple[tuple[float, float, str], ...]) -> np.ndarray:
    """Table wavelengths with lines closer than half the instrument width merged (strength-weighted)."""
    table = sorted((wl, strength) for wl, strength, *_ in lines)
    merged: list[list[float]] = []
    for wl, strength in table:
        if merged and wl - merged[-1][0] < 0.5 * line_fwhm_nm:
            w0, s0 = merged[-1]
            merged[-1] = [(w0 * s0 + wl * strength) / (s0 + strength), s0 + strength]
        else:
            merged.append([wl, strength])
    return np.array([m[0] for m in merged])


def _match(predicted_nm: np.ndarray, reference_nm: np.ndarray,
           tol_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest matches within tol_nm: (indices into predicted, indices into reference)."""
    if predicted_nm.size == 0 or reference_nm.size == 0:
        return np.empty(0, int), np.empty(0, int)
    distance = np.abs(predicted_nm[:, None] - reference_nm[None, :])
    nearest = np.argmin(distance, axis=1)
    best = distance[np.arange(predicted_nm.size), nearest]
    line_idx, ref_idx = [], []
    for j in np.unique(nearest):
        candidates = np.where((nearest == j) & (best <= tol_nm))[0]
        if candidates.size:
            i = candidates[np.argmin(best[candidates])]
            line_idx.append(i)
            ref_idx.append(j)
    return np.asarray(line_idx, int), np.asarray(ref_idx, int)


def _initial_correction(nominal_at_lines: np.ndarray, reference_nm: np.ndarray, max_match_nm: float,
                        span_nm: tuple[float, float]) -> tuple[float, float]:
    """Linear correction (offset at mid-range, slope) of the nominal axis identifying the most lines."""
    mid = 0.5 * (span_nm[0] + span_nm[1])
    half_span = max(0.5 * (span_nm[1] - span_nm[0]), 1e-9)
    cand_i, cand_j = np.nonzero(np.abs(nominal_at_lines[:, None] - reference_nm[None, :]) <= max_match_nm)
    tight = min(0.3, 0.5 * max_match_nm)
    best_key, best = (-1, np.inf), (0.0, 0.0)
    hypotheses = [(k, k) for k in range(cand_i.size)]  # pure offsets
    hypotheses += [(a, b) for a in range(cand_i.size) for b in range(a + 1, cand_i.size)
                   if cand_i[a] != cand_i[b] and cand_j[a] != cand_j[b]]
    x = nominal_at_lines - mid
    for a, b in hypotheses:
        xa, xb = x[cand_i[a]], x[cand_i[b]]
        da = reference_nm[cand_j[a]] - nominal_at_lines[cand_i[a]]
        db = reference_nm[cand_j[b]] - nominal_at_lines[cand_i[b]]
        if a == b:
            offset, slope = da, 0.0
        else:
            if abs(xb - xa) < 0.1 * half_span:
                continue
            slope = (db - da) / (xb - xa)
            offset = da - slope * xa
        # The correction may not exceed the search tolerance anywhere in the spectral range.
        if max(abs(offset + slope * half_span), abs(offset - slope * half_span)) > max_match_nm:
            continue
        predicted = nominal_at_lines + offset + slope * x
        li, rj = _match(predicted, reference_nm, tight)
        if li.size == 0:
            continue
        key = (li.size, -float(np.sum((predicted[li] - reference_nm[rj]) ** 2)))
        if key > best_key:
            best_key, best = key, (offset, slope)
    return best


def _fit_rejecting(pixels: np.ndarray, reference_nm: np.ndarray,
                   degree: int) -> tuple[np.polynomial.Polynomial, np.ndarray]:
    """Polynomial fit with iterative rejection of lines further than 4 robust sigmas (>= 0.02 nm)."""
    keep = np.ones(pixels.size, bool)
    for _ in range(5):
        poly = np.polynomial.Polynomial.fit(pixels[keep], reference_nm[keep], degree)
        residuals = reference_nm - poly(pixels)
        new_keep = np.abs(residuals) <= max(4.0 * _robust_sigma(residuals[keep]), 0.02)
        if new_keep.sum() < degree + 2 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return poly, keep


def calibrate_wavelength(counts: np.ndarray, nominal_wavelength_nm: np.ndarray, order: int = 3,
                         max_match_nm: float = 2.0, min_snr: float = 10.0,
                         reference_lines: tuple[tuple[float, float, str], ...] = ARHG_REFERENCE_LINES,
                         ) -> Calibration:
    """Fit pixel -> wavelength (nm, air) from an Ar-Hg lamp spectrum.

    ``counts``: the lamp spectrum (one value per pixel). ``nominal_wavelength_nm``: the spectrograph's
    own axis for the same pixels, trusted to within ``max_match_nm``. ``order``: polynomial degree.
    Raises ValueError when fewer than ``order + 2`` lines can be identified.
    """
    counts = np.asarray(counts, float)
    nominal = np.asarray(nominal_wavelength_nm, float)
    if nominal.shape != counts.shape:
        raise ValueError(f"nominal_wavelength_nm has shape {nominal.shape}, counts has {counts.shape}")
    if not np.all(np.isfinite(nominal)):
        raise ValueError("nominal_wavelength_nm contains NaN or infinite values")
    if int(order) != order or order < 1:
        raise ValueError(f"order must be a positive integer, got {order}")
    if max_match_nm <= 0:
        raise ValueError(f"max_match_nm must be positive, got {max_match_nm}")
    order = int(order)
    step = np.diff(nominal)
    if not (np.all(step > 0) or np.all(step < 0)):
        raise ValueError("nominal_wavelength_nm must be strictly monotonic")

    centers, sigmas = _detect_lines(counts, min_snr)
    pixels = np.arange(counts.size, dtype=float)
    nominal_at_lines = np.interp(centers, pixels, nominal)
    nm_per_px = float(np.median(np.abs(step)))
    good_sigma = sigmas[np.isfinite(sigmas)]
    line_fwhm_nm = float(np.median(good_sigma) * _FWHM_PER_SIGMA * nm_per_px) if good_sigma.size else np.nan
    reference = _reference_table(line_fwhm_nm if np.isfinite(line_fwhm_nm) else 0.0, reference_lines)
    lo_nm, hi_nm = float(nominal.min()), float(nominal.max())
    reference = reference[(reference > lo_nm - max_match_nm) & (reference < hi_nm + max_match_nm)]

    def too_few(n: int) -> ValueError:
        return ValueError(f"only {n} Ar-Hg lines found; is the lamp on and the slit open? "
                          f"(need at least {order + 2} for a polynomial of order {order})")

    if centers.size < order + 2:
        raise too_few(centers.size)
    offset, slope = _initial_correction(nominal_at_lines, reference, max_match_nm, (lo_nm, hi_nm))
    predicted = nominal_at_lines + offset + slope * (nominal_at_lines - 0.5 * (lo_nm + hi_nm))

    max_tolerance = min(0.3, 0.5 * max_match_nm)
    line_idx, ref_idx = _match(predicted, reference, max_tolerance)
    for _ in range(12):
        degree = min(order, line_idx.size - 2)
        if degree < 1:
            break
        poly, keep = _fit_rejecting(centers[line_idx], reference[ref_idx], degree)
        rms = float(np.sqrt(np.mean((reference[ref_idx[keep]] - poly(centers[line_idx[keep]])) ** 2)))
        tolerance = float(np.clip(5.0 * rms, 0.1, max_tolerance))
        new_line_idx, new_ref_idx = _match(poly(centers), reference, tolerance)
        converged = (degree == order and np.array_equal(new_line_idx, line_idx)
                     and np.array_equal(new_ref_idx, ref_idx))
        line_idx, ref_idx = new_line_idx, new_ref_idx
        if converged:
            break
    if line_idx.size < order + 2:
        raise too_few(line_idx.size)
    poly, keep = _fit_rejecting(centers[line_idx], reference[ref_idx], order)
    line_idx, ref_idx = line_idx[keep], ref_idx[keep]
    if line_idx.size < order + 2:
        raise too_few(line_idx.size)
    coefficients = poly.convert().coef
    coefficients = np.pad(coefficients, (0, order + 1 - coefficients.size))
    residuals = reference[ref_idx] - poly(centers[line_idx])
    return Calibration(
        coefficients=coefficients,
        wavelength_nm=poly(pixels),
        line_pixels=centers[line_idx],
        line_wavelengths_nm=reference[ref_idx],
        residuals_nm=residuals,
        rms_nm=float(np.sqrt(np.mean(residuals ** 2))),
        n_lines=int(line_idx.size),
        order=order,
        line_fwhm_nm=line_fwhm_nm,
    )
