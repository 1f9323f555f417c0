"""ON/OFF analysis of single-emitter intensity traces (blinking).

A trace is binned photon counts per time bin. Its histogram is modelled as a mixture of two Poisson levels,
a bright ON level and a dim OFF level (which may be background counts only), fitted by expectation-
maximisation on the count histogram. The threshold is the count at which a bin becomes more likely ON than
OFF. A trace whose levels are not clearly separated (within a few Poisson widths of each other) is taken to
be a single ON level: it never blinks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

_SEPARATION = 5.0   # levels closer than this many combined Poisson widths are one level


@dataclass(frozen=True)
class BlinkingResult:
    """Result of :func:`on_fraction`.

    threshold: counts per bin; a bin is ON when its counts are >= threshold. on_fraction: fraction of bins
    ON. on_level, off_level: mean counts per bin of the ON and OFF bins (off_level NaN when no bin is OFF).
    on_mask: per-bin ON flags. blinks: False when the trace was judged to hold a single level.
    on_dwell_s, off_dwell_s: durations (s) of the complete ON and OFF periods (runs cut by the ends of the
    trace are left out, their length being unknown); empty without ``bin_s``. bin_s: bin width (s) or None.
    """

    threshold: float
    on_fraction: float
    on_level: float
    off_level: float
    on_mask: np.ndarray
    blinks: bool
    on_dwell_s: np.ndarray
    off_dwell_s: np.ndarray
    bin_s: float | None

    @property
    def on_rate_per_s(self) -> float:
        """ON level as a count rate (1/s); NaN without bin_s."""
        return self.on_level / self.bin_s if self.bin_s else float("nan")

    @property
    def off_rate_per_s(self) -> float:
        """OFF level as a count rate (1/s); NaN without bin_s."""
        return self.off_level / self.bin_s if self.bin_s else float("nan")


def _two_poisson(values: np.ndarray, weights: np.ndarray, max_iter: int = 200) -> tuple[float, float, float]:
    """EM fit of w Pois(lam_on) + (1 - w) Pois(lam_off) to a count histogram -> (lam_off, lam_on, w_on)."""
    total = weights.sum()
    order = np.argsort(values)
    cum = np.cumsum(weights[order]) / total
    lam_off = max(float(values[order][np.searchsorted(cum, 0.05)]), 0.05)
    lam_on = max(float(values[order][min(np.searchsorted(cum, 0.90), values.size - 1)]), lam_off + 1.0)
    w_on = 0.5
    log_fact = gammaln(values + 1.0)
    for _ in range(max_iter):
        log_on = np.log(w_on) + values * np.log(lam_on) - lam_on - log_fact
        log_off = np.log1p(-w_on) + values * np.log(lam_off) - lam_off - log_fact
        resp = 1.0 / (1.0 + np.exp(np.clip(log_off - log_on, -700.0, 700.0)))   # P(ON | counts)
        r_on = weights * resp
        r_off = weights - r_on
        n_on, n_off = r_on.sum(), r_off.sum()
        if n_on <= 0 or n_off <= 0:
            break
        new = (max(float(r_off @ values / n_off), 1e-3), float(r_on @ values / n_on),
               float(np.clip(n_on / total, 1e-9, 1.0 - 1e-9)))
        done = abs(new[1] - lam_on) < 1e-6 * lam_on and abs(new[0] - lam_off) < 1e-6 * max(lam_off, 1.0)
        lam_off, lam_on, w_on = new
        if done:
            break
    return lam_off, lam_on, w_on


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (bins) of the complete runs of True and of False (runs touching either end dropped)."""
    change = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [mask.size]])
    lengths = np.diff(bounds)
    states = mask[bounds[:-1]]
    inner = np.zeros(lengths.size, bool)
    inner[1:-1] = True
    return lengths[inner & states], lengths[inner & ~states]


def on_fraction(counts: np.ndarray, threshold: float | None = None, bin_s: float | None = None) -> BlinkingResult:
    """Fraction of time bins in the ON state of a binned intensity trace.

    counts: (n_bins,) photon counts per bin. threshold: counts per bin separating OFF from ON (>= is ON), or
    None to place it where a two-level Poisson mixture fitted to the trace makes ON and OFF equally likely.
    bin_s: bin width (s), for dwell times and rates.
    """
    y = np.asarray(counts, float)
    if y.ndim != 1 or y.size < 2:
        raise ValueError(f"counts must be a 1-D trace of at least 2 bins, got shape {y.shape}")
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise ValueError("counts must be finite, non-negative counts per bin")
    if bin_s is not None and not (np.isfinite(bin_s) and bin_s > 0):
        raise ValueError(f"bin_s must be a positive bin width in s, got {bin_s!r}")
    blinks = True
    if threshold is None:
        values, weights = np.unique(np.rint(y), return_counts=True)
        weights = weights.astype(float)
        if values.size < 2:
            blinks = False
        else:
            lam_off, lam_on, w_on = _two_poisson(values, weights)
            separated = lam_on - lam_off > _SEPARATION * (np.sqrt(lam_on) + np.sqrt(lam_off))
            if not separated or w_on >= 1.0 - 1.0 / y.size:
                blinks = False
        if blinks:
            # equal posterior: k ln(lam_on / lam_off) - (lam_on - lam_off) + ln(w_on / w_off) = 0
            threshold = float(((lam_on - lam_off) - np.log(w_on / (1.0 - w_on))) / np.log(lam_on / lam_off))
            threshold = float(np.clip(threshold, lam_off, lam_on))
        else:
            threshold = float(y.min())
    else:
        threshold = float(threshold)
        if not np.isfinite(threshold):
            raise ValueError(f"threshold must be finite counts per bin, got {threshold!r}")
    on = y >= threshold
    on_level = float(y[on].mean()) if on.any() else float("nan")
    off_level = float(y[~on].mean()) if (~on).any() else float("nan")
    if bin_s is not None:
        on_runs, off_runs = _runs(on)
        on_dwell, off_dwell = on_runs * float(bin_s), off_runs * float(bin_s)
    else:
        on_dwell = off_dwell = np.zeros(0)
    return BlinkingResult(threshold=threshold, on_fraction=float(on.mean()), on_level=on_level,
                          off_level=off_level, on_mask=on, blinks=blinks, on_dwell_s=on_dwell,
                          off_dwell_s=off_dwell, bin_s=None if bin_s is None else float(bin_s))
