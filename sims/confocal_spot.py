"""The confocal spot of the paper-003 rig (physics.md section 2) and where emitters are placed under it.

Gaussian confocal spot, NA 1.35 oil objective. Excitation FWHM 220 nm at 445 nm (scaled with the laser
wavelength), collection spot FWHM 300 nm; a point emitter at distance r from the focus is excited with weight
g_exc(r), collected with weight g_col(r) and seen through their product (FWHM ~177 nm at 445 nm). Lengths nm.
"""

from __future__ import annotations

import math

import numpy as np

FOUR_LN2 = 4.0 * math.log(2.0)
EXCITATION_FWHM_NM = 220.0  # at 445 nm, NA 1.35
EXCITATION_REFERENCE_NM = 445.0
COLLECTION_FWHM_NM = 300.0


def spot_fwhm_nm(excitation_nm: float) -> tuple[float, float]:
    """(excitation FWHM, collection FWHM) of the confocal spot (nm) for a laser at ``excitation_nm``."""
    return EXCITATION_FWHM_NM * excitation_nm / EXCITATION_REFERENCE_NM, COLLECTION_FWHM_NM


def gaussian_weight(r_nm: np.ndarray, fwhm_nm: float) -> np.ndarray:
    """Peak-normalised Gaussian spot of ``fwhm_nm`` at distance ``r_nm``."""
    return np.exp(-FOUR_LN2 * (np.asarray(r_nm, float) / fwhm_nm) ** 2)


def place_apart(rng: np.random.Generator, n: int, min_separation_nm: float, center_nm: tuple[float, float],
                size_nm: float, margin_nm: float, fixed: list[tuple[float, float]] = ()) -> np.ndarray:
    """``n`` points (n, 2) in the square area (``margin_nm`` inside its edge), all ``min_separation_nm`` apart;
    the ``fixed`` points come first."""
    half = 0.5 * size_nm - margin_nm
    for _ in range(20):  # random sequential placement can jam: start again
        points = [np.asarray(p, float) for p in fixed][:n]
        for _ in range(5000):
            if len(points) >= n:
                return np.array(points, float).reshape(n, 2)
            candidate = np.asarray(center_nm, float) + rng.uniform(-half, half, 2)
            if all(np.hypot(*(candidate - p)) >= min_separation_nm for p in points):
                points.append(candidate)
        if len(points) >= n:
            return np.array(points, float).reshape(n, 2)
    raise ValueError(f"cannot place {n} emitters {min_separation_nm} nm apart in a {size_nm} nm area")


def check_point(x_nm: float, y_nm: float) -> tuple[float, float]:
    """(x, y) as floats; ValueError unless both are finite (nm)."""
    x, y = float(x_nm), float(y_nm)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"focus position must be finite, got ({x_nm}, {y_nm}) nm")
    return x, y
