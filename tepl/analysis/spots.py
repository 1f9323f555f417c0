"""Bright spots of a map: local maxima that stand clear of the noise, are no single-pixel spikes and are no
shoulders of a brighter spot, each refined by a 2-D Gaussian fit (``tepl.analysis.spot_fit``).

Images are indexed ``image[y, x]`` with 1-D axes ``y_nm`` (rows) and ``x_nm`` (columns), evenly spaced,
in nanometres, the scale of the spots (stage or sample coordinates, whichever the raster recorded). Run
files store a map's axes as ``x_um`` and ``y_um`` (absolute stage µm); ``map_axes_nm`` reads them in nm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from tepl.analysis.spot_fit import FWHM_PER_SIGMA, Spot, fit_spot, make_spot

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
    return max(2.0 * np.sqrt(area_px / np.pi) / FWHM_PER_SIGMA, 0.5)


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
        floor * spot_fwhm_nm / FWHM_PER_SIGMA / abs(y_pitch), floor * spot_fwhm_nm / FWHM_PER_SIGMA / abs(x_pitch))
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
    half_px = max(int(np.ceil(2.0 * FWHM_PER_SIGMA * max(sigmas))), sep_px, 3)
    spots: list[Spot] = []
    for i, peak in enumerate(peaks):
        fitted = fit_spot(img, i, peaks, sigmas, half_px, floor_px, fixed_width)
        spot = make_spot(fitted, peak, sigmas[i], filled, background, noise, half_px,
                         (x_start, x_pitch, y_start, y_pitch), floor_px)
        if spot is not None:
            spots.append(spot)
    return sorted(spots, key=lambda s: -s.amplitude)
