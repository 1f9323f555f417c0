"""What raw photon counts are measured against: the coincidences uncorrelated light gives per lag bin (the
g2 normalisation) and the fraction of laser cycles a detector is live at each TCSPC bin (dead-time
correction of decays)."""

from __future__ import annotations

import numpy as np


def g2_normalisation(n_a: int, n_b: int, bin_ps: float, duration_s: float) -> float:
    """Coincidences per lag bin that uncorrelated light gives: N_a N_b bin / T (``bin_ps`` in ps, T in s);
    0 when T is not positive (nothing measured yet)."""
    return float(n_a) * float(n_b) * float(bin_ps) * 1e-12 / duration_s if duration_s > 0 else 0.0


def dead_time_correction(decay: np.ndarray, n_cycles, bin_ns: float, dead_time_ns: float,
                         period_ns: float | None = None) -> np.ndarray:
    """Undo the pile-up a detector's dead time leaves in a TCSPC decay (generalised Coates correction).

    ``decay[..., bin]`` counts photons per bin of ``bin_ns`` after ``n_cycles`` laser pulses (a number, or an
    array that broadcasts against ``decay``, e.g. pulses per pixel with a trailing axis of 1). A photon in bin
    i is lost when the detector clicked in the ``dead_time_ns`` before it (in this cycle, or at the end of the
    previous one when ``period_ns`` is given and the histogram covers the whole period). Each bin is divided
    by the fraction of cycles in which the detector was live at that bin: ``1 - (clicks in the dead window
    before it) / n_cycles``. Returns float counts with the same shape."""
    counts = np.asarray(decay, float)
    if counts.ndim < 1 or counts.shape[-1] < 1:
        raise ValueError(f"decay must have a time axis, got shape {counts.shape}")
    n_cycles = np.asarray(n_cycles, float)
    if not np.all(n_cycles > 0) or not bin_ns > 0 or dead_time_ns < 0:
        raise ValueError(f"n_cycles ({n_cycles}), bin_ns ({bin_ns} ns) must be positive and dead_time_ns "
                         f"({dead_time_ns} ns) not negative")
    n = counts.shape[-1]
    window = int(np.ceil(dead_time_ns / bin_ns))
    if window == 0:
        return counts.copy()
    wrap = period_ns is not None and n * bin_ns >= period_ns - bin_ns
    padded = np.concatenate([counts[..., n - window:] if wrap else np.zeros(counts.shape[:-1] + (window,)),
                             counts], axis=-1)
    csum = np.cumsum(padded, axis=-1)
    csum = np.concatenate([np.zeros(counts.shape[:-1] + (1,)), csum], axis=-1)
    # clicks in the `window` bins before each bin i (bins i-window .. i-1 of the padded axis)
    before = csum[..., window:window + n] - csum[..., 0:n]
    live = 1.0 - before / n_cycles
    if np.any(live <= 0):
        raise ValueError("the detector is dead in every cycle at some bin: too many counts for this n_cycles")
    return counts / live
