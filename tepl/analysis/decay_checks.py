"""Input checks of the decay model and the lifetime fits: a uniform TCSPC time axis, raw counts on it, the
number of components and the laser period, and a measured IRF reduced to unit sum above its dark floor."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d


def check_time(time_ns) -> np.ndarray:
    t = np.asarray(time_ns, float)
    if t.ndim != 1 or t.size < 8:
        raise ValueError(f"time_ns must be a 1-D axis of at least 8 TCSPC bins, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("time_ns contains non-finite values")
    steps = np.diff(t)
    if not np.all(steps > 0):
        bad = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(f"time_ns must be strictly increasing; bin {bad + 1} ({t[bad + 1]:g} ns) does not "
                         f"follow bin {bad} ({t[bad]:g} ns)")
    dt = (t[-1] - t[0]) / (t.size - 1)
    if np.max(np.abs(steps - dt)) > 1e-3 * dt:
        raise ValueError(f"time_ns must be uniformly spaced TCSPC bins; steps range from {steps.min():g} to "
                         f"{steps.max():g} ns")
    return t


def check_counts(counts, n_bins: int, name: str) -> np.ndarray:
    y = np.asarray(counts, float)
    if y.ndim < 1 or y.shape[-1] != n_bins:
        raise ValueError(f"{name} shape {y.shape} does not end in the {n_bins} bins of time_ns")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    if np.any(y < 0):
        raise ValueError(f"{name} contains negative counts (minimum {y.min():g}); decays must be raw counts")
    return y


def check_options(n_exp: int, period_ns: float | None) -> float | None:
    if n_exp not in (1, 2, 3):
        raise ValueError(f"n_exp must be 1, 2 or 3 exponential components, got {n_exp!r}")
    return check_period(period_ns)


def check_period(period_ns: float | None) -> float | None:
    if period_ns is None:
        return None
    period = float(period_ns)
    if not np.isfinite(period) or period <= 0:
        raise ValueError(f"period_ns must be a positive laser period in ns, got {period_ns!r}")
    return period


def normalised_irf(irf, n_bins: int) -> np.ndarray:
    h = np.asarray(irf, float)
    if h.shape != (n_bins,):
        raise ValueError(f"irf must be a histogram on the {n_bins} bins of time_ns, got shape {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise ValueError("irf must hold finite, non-negative counts")
    # dark floor: the mean of the bins away from the response (where a smoothed IRF stays within 1 % of the
    # peak height above its median); those bins are set to zero, the floor is subtracted from the others
    smooth = uniform_filter1d(h, 2 * max(2, n_bins // 200) + 1, mode="nearest")
    level = float(np.median(smooth))
    outside = smooth <= level + 0.01 * (smooth.max() - level)
    floor = float(h[outside].mean()) if outside.sum() >= max(8, n_bins // 10) else 0.0
    h = np.where(outside & (floor > 0), 0.0, np.clip(h - floor, 0.0, None))
    total = h.sum()
    if total <= 0:
        raise ValueError("irf has no counts above its dark floor")
    return h / total
