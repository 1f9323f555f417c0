"""Maps from hyperspectral rasters: integrated intensity, bright spots, peak energy, line-scan widths.

Images are indexed ``image[y, x]`` with 1-D axes ``y_nm`` (rows) and ``x_nm`` (columns), evenly spaced,
in nanometres, the scale of the spots (stage or sample coordinates, whichever the raster recorded). Run
files store a map's axes as ``x_um`` and ``y_um`` (absolute stage µm); ``map_axes_nm`` reads them in nm. A
raster pixel is a point measurement (the tip dwells at one position), so spots are modelled as
point-sampled Gaussians.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage

from tepl.analysis.bounded_fit import bounded_least_squares
from tepl.units import FIT_WINDOW_NM

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


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


class PeakEnergyMaps(NamedTuple):
    """Per-pixel fitted peak energy (eV) and amplitude (counts); NaN where the fit was not accepted."""

    center_eV: np.ndarray
    amplitude: np.ndarray


# ------------------------------------------------------------------------------------------- intensity
def intensity_map(wavelength_nm: np.ndarray, spectra: np.ndarray,
                  window_nm: tuple[float, float] = FIT_WINDOW_NM, min_background_px: int = 10) -> np.ndarray:
    """Background-subtracted integrated counts in ``window_nm`` for every spectrum of ``spectra[..., λ]``.

    The background (CCD baseline plus any flat or sloped offset) comes from the same spectrum outside the
    window, so a band reaching the window's edge is not cut: with at least ``min_background_px`` pixels on
    both sides, a straight line through the (median wavelength, median counts) of each side; with one
    side only, that side's median. When neither side has enough pixels, a line through the means of the
    first and the last ``min_background_px`` pixels inside the window. The result is the sum of counts
    above the background over the window (counts, shape spectra.shape[:-1]); a spectrum with NaN inside
    the window (not yet measured) gives NaN.
    """
    wl = np.asarray(wavelength_nm, float)
    cube = np.asarray(spectra, float)
    if wl.ndim != 1 or cube.ndim < 1 or cube.shape[-1] != wl.size:
        raise ValueError(f"spectra last axis ({cube.shape}) must match wavelength_nm ({wl.shape})")
    if int(min_background_px) != min_background_px or min_background_px < 1:
        raise ValueError(f"min_background_px must be a positive integer, got {min_background_px}")
    n_bg = int(min_background_px)
    lo, hi = sorted(float(v) for v in window_nm)
    inside = np.where((wl >= lo) & (wl <= hi))[0]
    if inside.size < 2 * n_bg + 1:
        raise ValueError(f"window_nm {window_nm} holds {inside.size} pixels of the wavelength axis "
                         f"({wl.min():.1f}-{wl.max():.1f} nm); need at least {2 * n_bg + 1}")
    inside = inside[np.argsort(wl[inside])]
    wl_in = wl[inside]
    band = cube[..., inside]
    below, above = np.where(wl < lo)[0], np.where(wl > hi)[0]
    with warnings.catch_warnings():  # spectra not yet measured are all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        sides = [(float(np.median(wl[idx])), np.nanmedian(cube[..., idx], axis=-1)[..., None])
                 for idx in (below, above) if idx.size >= n_bg]
    if not sides:
        sides = [(float(wl_in[:n_bg].mean()), band[..., :n_bg].mean(axis=-1, keepdims=True)),
                 (float(wl_in[-n_bg:].mean()), band[..., -n_bg:].mean(axis=-1, keepdims=True))]
    if len(sides) == 1:
        background = sides[0][1]
    else:
        (wl_a, level_a), (wl_b, level_b) = sides
        background = level_a + (level_b - level_a) * (wl_in - wl_a) / (wl_b - wl_a)
    return (band - background).sum(axis=-1)


# ------------------------------------------------------------------------------------------------ spots
NM_PER_UM = 1000.0


def map_axes_nm(data: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) pixel axes in nm of a map run's ``data`` (``Run.data`` of a raster or confocal raster): its
    ``x_um`` and ``y_um`` axes (absolute stage µm), as ``find_spots`` takes them."""
    return (np.asarray(data["x_um"], float) * NM_PER_UM, np.asarray(data["y_um"], float) * NM_PER_UM)


def _axis_pitch(axis_nm: np.ndarray, name: str, size: int) -> tuple[float, float]:
    axis = np.asarray(axis_nm, float)
    if axis.ndim != 1 or axis.size != size:
        raise ValueError(f"{name} must be 1-D with {size} values (the image's matching dimension), "
                         f"got shape {axis.shape}")
    if size < 2:
        return float(axis[0]) if size else 0.0, 1.0
    step = np.diff(axis)
    pitch = float(np.median(step))
    if pitch == 0 or np.any(np.abs(step - pitch) > 0.01 * abs(pitch)):
        raise ValueError(f"{name} must be evenly spaced (a raster axis)")
    return float(axis[0]), pitch


def _noise(image: np.ndarray) -> float:
    """Robust per-pixel noise from neighbour differences (insensitive to smooth structure)."""
    d = np.concatenate([d[np.isfinite(d)] for d in (np.diff(image, axis=0).ravel(), np.diff(image, axis=1).ravel())])
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


SPIKE_EVIDENCE_NOISE = 6.0
"""With a stated optics spot, a maximum is judged a spike only when the spot would put this many noise widths
of light on its nearest neighbour."""
FIT_WIDTH_FLOOR = 0.8
"""With a stated optics spot, fitted spot widths are held at or above this fraction of it."""
UNDERSAMPLED_PIXELS = 2.0
"""A stated optics spot narrower than this many pixels is undersampled: spots are fitted with its width."""

_N_BACKGROUND = 3  # plane: level at the spot's pixel, slope along y, slope along x (per pixel)


def _model(params: np.ndarray, yy: np.ndarray, xx: np.ndarray, origin: tuple[int, int], n: int) -> np.ndarray:
    model = params[0] + params[1] * (yy - origin[0]) + params[2] * (xx - origin[1])
    for k in range(n):
        a, x0, y0, sx, sy = params[_N_BACKGROUND + 5 * k: _N_BACKGROUND + 5 + 5 * k]
        model = model + a * np.exp(-0.5 * (((xx - x0) / sx) ** 2 + ((yy - y0) / sy) ** 2))
    return model


def _fit_spot(image: np.ndarray, main: int, peaks: list[tuple[int, int]], sigma0_px: list[float],
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


def _is_spike(image: np.ndarray, r: int, c: int, background: float, spot_fraction: float | None = None,
              noise: float = 0.0) -> bool:
    """A single-pixel event (cosmic ray, glitch): no 4-neighbour reaches a quarter of its height, or, when the
    optics' spot puts ``spot_fraction`` of the peak on the nearest neighbour, a quarter of that; and in that
    case only when the spot's light there would stand ``SPIKE_EVIDENCE_NOISE`` noise widths clear (else the
    shape cannot tell a spike from a spot narrower than the pixels, and the maximum is kept)."""
    ny, nx = image.shape
    neighbours = [image[r + dr, c + dc] for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
                  if 0 <= r + dr < ny and 0 <= c + dc < nx]
    if not neighbours:
        return False
    height = image[r, c] - background
    if spot_fraction is None:
        return bool(max(neighbours) - background < 0.25 * height)
    expected = spot_fraction * height
    return bool(expected >= SPIKE_EVIDENCE_NOISE * noise and max(neighbours) - background < 0.25 * expected)


def _line_minimum(image: np.ndarray, start: tuple[int, int], stop: tuple[int, int]) -> float:
    """Lowest value (linear interpolation) on the straight segment between two pixels."""
    n = int(np.ceil(2 * max(abs(stop[0] - start[0]), abs(stop[1] - start[1])))) + 1
    return float(ndimage.map_coordinates(image, np.linspace(start, stop, n, dtype=float).T, order=1).min())


def _moment_sigma_px(image: np.ndarray, peak: tuple[int, int], background: float, radius_px: int) -> float:
    """Rough Gaussian sigma (pixels) from the area above half maximum around ``peak``."""
    r, c = peak
    patch = image[max(r - radius_px, 0): r + radius_px + 1, max(c - radius_px, 0): c + radius_px + 1]
    half = background + 0.5 * (image[r, c] - background)
    area_px = max(int(np.sum(np.nan_to_num(patch, nan=background) > half)), 1)
    return max(2.0 * np.sqrt(area_px / np.pi) / _FWHM_PER_SIGMA, 0.5)


def find_spots(image: np.ndarray, x_nm: np.ndarray, y_nm: np.ndarray, min_prominence: float | None = None,
               min_separation_nm: float = 15.0, spot_fwhm_nm: float | None = None) -> list[Spot]:
    """Bright spots of ``image[y, x]``, brightest first.

    A spot is a local maximum standing more than ``min_prominence`` (image units; default 5 times the
    robust pixel noise) above the image background (its median). Two maxima closer than
    ``min_separation_nm`` are merged: only the brighter is kept and the fit around it sees both, so the
    reported position lies between them (towards the brighter one) and the FWHM is broadened. Maxima
    farther apart are resolved when the image dips by at least 3 noise between them (a maximum without
    such a dip is a shoulder of the brighter spot).

    A maximum none of whose four neighbours reaches a quarter of its height is a single-pixel spike
    (cosmic ray) and is ignored. ``spot_fwhm_nm`` states the optics' spot (the image of a point emitter,
    nm): the narrowest a real spot can be. With it, a maximum is a spike only when that spot would put
    clearly more light (``SPIKE_EVIDENCE_NOISE`` noise widths) on the nearest neighbour than the maximum has
    there (less than a quarter of what the spot predicts), so a real spot sampled by pixels wider than itself
    (one bright pixel) is kept; fitted widths are held at or above ``FIT_WIDTH_FLOOR`` of it, so the fit of
    an undersampled spot gives its peak height and centre wherever it sits in its pixel. Each spot is refined
    by a least-squares axis-aligned 2-D Gaussian (with the spot's own width when it spans fewer than
    ``UNDERSAMPLED_PIXELS`` pixels) on a
    plane background, on a window of about 2 FWHM either side (at least ``min_separation_nm``); kept
    spots whose light reaches that window are fitted with it as further Gaussians. A maximum whose fit is narrower
    than one pixel on either axis or whose amplitude is below five fit uncertainties is dropped as
    noise; so is a weak one (< 10 noise) whose fit fails. A strong maximum whose fit fails is kept
    with image-moment estimates and ``fit_ok=False``.
    """
    img = np.asarray(image, float)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D [y, x], got shape {img.shape}")
    ny, nx = img.shape
    x_start, x_pitch = _axis_pitch(x_nm, "x_nm", nx)
    y_start, y_pitch = _axis_pitch(y_nm, "y_nm", ny)
    if min_separation_nm <= 0:
        raise ValueError(f"min_separation_nm must be positive, got {min_separation_nm}")
    if spot_fwhm_nm is not None and not (np.isfinite(spot_fwhm_nm) and spot_fwhm_nm > 0):
        raise ValueError(f"spot_fwhm_nm must be a positive number of nm, got {spot_fwhm_nm}")
    finite = np.isfinite(img)
    if not finite.any():
        return []
    background = float(np.median(img[finite]))
    noise = _noise(img)
    min_prominence = 5.0 * noise if min_prominence is None else min_prominence
    if min_prominence <= 0:
        return []
    filled = np.where(finite, img, background)

    # Candidates: local maxima (3 x 3) above the threshold, brightest first. A candidate is kept when it is
    # at least min_separation_nm from every brighter spot kept so far and separated from each of them by
    # a dip (otherwise it is a shoulder or a noise bump on the flank of the brighter spot).
    local_max = filled == ndimage.maximum_filter(filled, size=3, mode="nearest")
    candidates = np.argwhere(local_max & finite & (filled - background > min_prominence))
    candidates = sorted(map(tuple, candidates), key=lambda rc: -filled[rc])
    min_dip = 3.0 * noise
    # What the optics put on the nearest neighbour of a spot centred on a pixel, as a fraction of its peak
    spike_fraction = None if spot_fwhm_nm is None else float(
        np.exp(-4.0 * np.log(2.0) * (min(abs(x_pitch), abs(y_pitch)) / spot_fwhm_nm) ** 2))
    # An undersampled spot (the optics' spot under UNDERSAMPLED_PIXELS pixels) is fitted with the spot's own
    # width: its few bright pixels fix its height and centre, not its width. Otherwise the width is free above
    # FIT_WIDTH_FLOOR of the spot.
    fixed_width = spot_fwhm_nm is not None and spot_fwhm_nm < UNDERSAMPLED_PIXELS * max(abs(x_pitch), abs(y_pitch))
    floor = 1.0 if fixed_width else FIT_WIDTH_FLOOR
    floor_px = (0.0, 0.0) if spot_fwhm_nm is None else (
        floor * spot_fwhm_nm / _FWHM_PER_SIGMA / abs(y_pitch), floor * spot_fwhm_nm / _FWHM_PER_SIGMA / abs(x_pitch))
    peaks: list[tuple[int, int]] = []
    for r, c in candidates:
        distances = [np.hypot((r - pr) * y_pitch, (c - pc) * x_pitch) for pr, pc in peaks]
        if any(d < min_separation_nm for d in distances) or _is_spike(filled, r, c, background, spike_fraction,
                                                                      noise):
            continue
        if all(filled[r, c] - _line_minimum(filled, (r, c), p) >= min_dip for p in peaks):
            peaks.append((int(r), int(c)))
    if not peaks:
        return []

    # One fit window per spot, about 2 FWHM either side (at least min_separation_nm).
    sep_px = int(np.ceil(min_separation_nm / min(abs(y_pitch), abs(x_pitch))))
    sigmas = [max(_moment_sigma_px(filled, p, background, max(sep_px, 2)), *floor_px) for p in peaks]
    half_px = max(int(np.ceil(2.0 * _FWHM_PER_SIGMA * max(sigmas))), sep_px, 3)
    spots: list[Spot] = []
    for i, peak in enumerate(peaks):
        fitted = _fit_spot(img, i, peaks, sigmas, half_px, floor_px, fixed_width)
        spot = _make_spot(fitted, peak, sigmas[i], filled, background, noise, half_px,
                          (x_start, x_pitch, y_start, y_pitch), floor_px)
        if spot is not None:
            spots.append(spot)
    return sorted(spots, key=lambda s: -s.amplitude)


def _centroid_px(image: np.ndarray, r: int, c: int, background: float) -> tuple[float, float]:
    """Intensity-weighted centre (row, column) of the 3 x 3 pixels around a maximum, above background."""
    r0, c0 = max(r - 1, 0), max(c - 1, 0)
    window = np.clip(image[r0:r + 2, c0:c + 2] - background, 0.0, None)
    if window.sum() <= 0:
        return float(r), float(c)
    rows, cols = np.mgrid[r0:r0 + window.shape[0], c0:c0 + window.shape[1]]
    return float((rows * window).sum() / window.sum()), float((cols * window).sum() / window.sum())


def _make_spot(fitted: tuple[np.ndarray, np.ndarray] | None, peak: tuple[int, int], sigma0_px: float,
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
        narrow_x = _FWHM_PER_SIGMA * sx < min(1.0, 0.999 * _FWHM_PER_SIGMA * floor_px[1]) if floor_px[1] else (
            _FWHM_PER_SIGMA * sx < 1.0)
        narrow_y = _FWHM_PER_SIGMA * sy < min(1.0, 0.999 * _FWHM_PER_SIGMA * floor_px[0]) if floor_px[0] else (
            _FWHM_PER_SIGMA * sy < 1.0)
        ok = ok and not (narrow_x or narrow_y or a < 5.0 * err[0])
    if not ok:
        if prominence < 10.0 * noise:
            return None  # a weak maximum that no Gaussian describes: noise
        fwhm_px = _FWHM_PER_SIGMA * sigma0_px
        cy, cx = _centroid_px(image, r, c, background)
        return Spot(float(x_start + cx * x_pitch), float(y_start + cy * y_pitch),
                    float(fwhm_px * (sx_nm + sy_nm) / 2), float(fwhm_px * sx_nm), float(fwhm_px * sy_nm),
                    prominence, background, *([float("nan")] * 6), prominence, False)
    fwhm_x, fwhm_y = _FWHM_PER_SIGMA * sx * sx_nm, _FWHM_PER_SIGMA * sy * sy_nm
    i_sx, i_sy = _N_BACKGROUND + 3, _N_BACKGROUND + 4
    var_mean = 0.25 * (_FWHM_PER_SIGMA ** 2) * (cov[i_sx, i_sx] * sx_nm ** 2 + cov[i_sy, i_sy] * sy_nm ** 2
                                                 + 2 * cov[i_sx, i_sy] * sx_nm * sy_nm)
    return Spot(
        x_nm=float(x_start + xc * x_pitch), y_nm=float(y_start + yc * y_pitch),
        fwhm_nm=float(0.5 * (fwhm_x + fwhm_y)), fwhm_x_nm=float(fwhm_x), fwhm_y_nm=float(fwhm_y),
        amplitude=float(a), background=float(params[0]),
        x_err_nm=float(err[1] * sx_nm), y_err_nm=float(err[2] * sy_nm),
        fwhm_err_nm=float(np.sqrt(max(var_mean, 0.0))),
        fwhm_x_err_nm=float(_FWHM_PER_SIGMA * err[3] * sx_nm), fwhm_y_err_nm=float(_FWHM_PER_SIGMA * err[4] * sy_nm),
        amplitude_err=float(err[0]), prominence=prominence, fit_ok=True,
    )


# ------------------------------------------------------------------------------------------ peak energy
def peak_energy_map(wavelength_nm: np.ndarray, spectra: np.ndarray,
                    window_nm: tuple[float, float] = FIT_WINDOW_NM) -> PeakEnergyMaps:
    """Peak-fit maps of ``spectra[..., λ]``: centre energy (eV) and amplitude, shaped ``spectra.shape[:-1]``.
    Only spectra without NaN are fitted; NaN where a spectrum is unfilled (a stopped run) or the fit failed."""
    from tepl.analysis.peaks import fit_peaks

    cube = np.asarray(spectra, float)
    flat = cube.reshape(-1, cube.shape[-1])
    filled = np.all(np.isfinite(flat), axis=-1)
    maps = np.full((2, flat.shape[0]), np.nan)
    if filled.any():
        fit = fit_peaks(wavelength_nm, flat[filled], window_nm=window_nm)
        maps[:, filled] = np.where(fit.ok, [fit.center_eV, fit.amplitude], np.nan)
    return PeakEnergyMaps(*maps.reshape(2, *cube.shape[:-1]))


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

    p0 = [base, y[i_peak] - base, x[i_peak], width / _FWHM_PER_SIGMA]
    lo = [-np.inf, 0.0, x[i_peak] - width, 1e-3 * width]
    hi = [np.inf, np.inf, x[i_peak] + width, 4 * width]
    result = bounded_least_squares(residual, p0, lo, hi)
    if result is None or not np.all(np.isfinite(result.x)):
        return crossing_fwhm
    return float(_FWHM_PER_SIGMA * result.x[3])
