"""Intensity-weighted lifetime distributions over a lifetime map, optionally split by a threshold on
another map (e.g. QD-rich pixels by their QD-channel count rate, paper 003)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LifetimeDistribution:
    """Intensity-weighted lifetime histograms (densities in 1/ns, unit area) and weighted medians (ns).

    ``*_above`` are the pixels whose split value is >= the threshold, ``*_below`` the others (NaN / empty
    arrays when no split was asked for). n_pixels*: finite-lifetime pixels with positive weight used.
    """

    bin_edges_ns: np.ndarray
    density: np.ndarray
    median_ns: float
    n_pixels: int
    density_above: np.ndarray
    median_above_ns: float
    n_pixels_above: int
    density_below: np.ndarray
    median_below_ns: float
    n_pixels_below: int

    @property
    def bin_centers_ns(self) -> np.ndarray:
        return 0.5 * (self.bin_edges_ns[1:] + self.bin_edges_ns[:-1])


# ============================================================================================ distributions
def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Median of a weighted sample: the value where the cumulative weight first reaches half the total."""
    if values.size == 0 or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    i = int(np.searchsorted(cumulative, 0.5 * cumulative[-1]))
    return float(values[order][min(i, values.size - 1)])


def lifetime_distribution(tau_ns_map: np.ndarray, intensity_map: np.ndarray, split_map: np.ndarray | None = None,
                          threshold: float | None = None, bins_ns: int | np.ndarray = 100) -> LifetimeDistribution:
    """Intensity-weighted lifetime histograms of a lifetime map, optionally split by a second map.

    tau_ns_map: lifetimes (ns; NaN = not fitted). intensity_map: weights (e.g. photon counts), same shape.
    split_map, threshold: pixels with ``split_map >= threshold`` (e.g. QD-channel counts/s >= 250) form the
    "above" set, the rest the "below" set. bins_ns: number of bins over the weighted 0.5-99.5 % range of
    the lifetimes, or explicit bin edges (ns).
    """
    tau = np.asarray(tau_ns_map, float)
    weight = np.asarray(intensity_map, float)
    if tau.shape != weight.shape:
        raise ValueError(f"intensity_map shape {weight.shape} differs from tau_ns_map shape {tau.shape}")
    if split_map is not None:
        split = np.asarray(split_map, float)
        if split.shape != tau.shape:
            raise ValueError(f"split_map shape {split.shape} differs from tau_ns_map shape {tau.shape}")
        if threshold is None or not np.isfinite(threshold):
            raise ValueError("a split_map needs a finite threshold (same unit as split_map)")
    elif threshold is not None:
        raise ValueError("threshold given without split_map")
    use = np.isfinite(tau) & np.isfinite(weight) & (weight > 0)
    if not use.any():
        raise ValueError("no pixel has a finite lifetime and a positive intensity")
    values, w = tau[use], weight[use]
    if np.ndim(bins_ns) == 0:
        n_bins = int(bins_ns)
        if n_bins < 1:
            raise ValueError(f"bins_ns must be a positive number of bins or bin edges, got {bins_ns!r}")
        order = np.argsort(values)
        cumulative = np.cumsum(w[order]) / w.sum()
        lo = values[order][min(int(np.searchsorted(cumulative, 0.005)), values.size - 1)]
        hi = values[order][min(int(np.searchsorted(cumulative, 0.995)), values.size - 1)]
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1)
    else:
        edges = np.asarray(bins_ns, float)
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise ValueError("bins_ns edges must be a strictly increasing 1-D array")

    def density(mask: np.ndarray) -> tuple[np.ndarray, float, int]:
        sel_v, sel_w = tau[mask & use], weight[mask & use]
        if sel_v.size == 0:
            return np.zeros(edges.size - 1), float("nan"), 0
        hist, _ = np.histogram(sel_v, bins=edges, weights=sel_w)
        total = hist.sum()
        dens = hist / (total * np.diff(edges)) if total > 0 else hist
        return dens, _weighted_median(sel_v, sel_w), int(sel_v.size)

    everything = np.ones(tau.shape, bool)
    dens_all, med_all, n_all = density(everything)
    if split_map is None:
        empty = np.zeros(edges.size - 1)
        return LifetimeDistribution(edges, dens_all, med_all, n_all, empty, float("nan"), 0, empty.copy(),
                                    float("nan"), 0)
    above = np.asarray(split_map, float) >= threshold
    dens_a, med_a, n_a = density(above)
    dens_b, med_b, n_b = density(~above)
    return LifetimeDistribution(edges, dens_all, med_all, n_all, dens_a, med_a, n_a, dens_b, med_b, n_b)
