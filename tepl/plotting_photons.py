"""PNG figures of photon-counting and kinetic runs (papers 003 and 004), registered in ``tepl.plotting``.

==================  =====================================================================================
confocal-raster     counts (drift-corrected sum per SPAD channel), drift (measured drift per scan); with
                    pulsed excitation also decay (summed TCSPC decay per channel, log scale) and lifetime
                    (intensity-weighted lifetime map per channel, two-exponential maximum-likelihood fits)
g2                  g2 (normalised coincidences vs lag with the fitted model)
time-trace          trace (counts per bin vs time with the ON threshold) and its count histogram
kinetic-series      contour (photon energy vs time, colour = counts)
import (PTU)        decay (T3 files) or trace (T2 files)
==================  =====================================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.data.runfile import Run
from tepl.plot_common import energy_eV, figure, save, stage_axes

LIFETIME_MIN_COUNTS = 500  # photons a (binned) pixel needs for its lifetime to be mapped


def _channel_labels(run: Run, n: int) -> list[str]:
    text = None
    try:
        import h5py

        with h5py.File(run.path, "r", locking=False) as f:
            text = f["/entry/data"].attrs.get("channel_names")
    except (OSError, KeyError):
        pass
    if isinstance(text, bytes):
        text = text.decode()
    labels = [part.strip() for part in str(text).split(",")] if text else []
    return labels if len(labels) == n else [f"channel {i}" for i in range(n)]


def plot_confocal_raster(run: Run, out_dir: Path, stem: str) -> list[Path]:
    d = run.data
    x, y = np.asarray(d["x_um"], float), np.asarray(d["y_um"], float)
    counts = np.asarray(d["counts_sum"], float)
    n_ch = counts.shape[0]
    labels = _channel_labels(run, n_ch)
    extent = (x[0], x[-1], y[0], y[-1])
    paths = []
    fig, axes = figure(1, n_ch, size=(4.2 * n_ch, 3.8), squeeze=False)
    for ch in range(n_ch):
        ax = axes[0, ch]
        im = ax.imshow(counts[ch], origin="lower", extent=extent, cmap="magma", aspect="equal")
        fig.colorbar(im, ax=ax, label="counts (drift-corrected sum)")
        ax.set_title(labels[ch], fontsize=9)
        stage_axes(ax, "x", "y")
    paths.append(save(fig, out_dir, stem, "counts", run))

    if "flim" in d:  # pulsed excitation: TCSPC decays
        t_ns = np.asarray(d["tcspc_time_ns"], float)
        flim = np.asarray(d["flim"], float)
        fig, ax = figure()
        for ch in range(n_ch):
            decay = flim[ch].reshape(-1, t_ns.size).sum(axis=0)
            if decay.sum() > 0:
                ax.semilogy(t_ns, np.where(decay > 0, decay, np.nan), lw=1, label=labels[ch])
        ax.set_xlabel("delay after the laser pulse (ns)")
        ax.set_ylabel("counts per bin (all pixels)")
        ax.legend(fontsize=8)
        paths.append(save(fig, out_dir, stem, "decay", run))
        paths.append(_plot_lifetime_maps(run, flim, t_ns, labels, extent, out_dir, stem))

    drift = np.asarray(d["drift_nm"], float)
    if drift.shape[0] > 1:
        fig, ax = figure()
        scans = np.arange(1, drift.shape[0] + 1)
        ax.plot(scans, drift[:, 0], "o-", label="x")
        ax.plot(scans, drift[:, 1], "s-", label="y")
        ax.set_xlabel("scan")
        ax.set_ylabel("drift since scan 1 (nm)")
        ax.legend(fontsize=8)
        paths.append(save(fig, out_dir, stem, "drift", run))
    return paths


def _plot_lifetime_maps(run: Run, flim: np.ndarray, t_ns: np.ndarray, labels: list[str], extent, out_dir: Path,
                        stem: str) -> Path:
    from tepl.analysis.flim import fit_flim

    n_ch = flim.shape[0]
    fig, axes = figure(1, n_ch, size=(4.2 * n_ch, 3.8), squeeze=False)
    for ch in range(n_ch):
        ax = axes[0, ch]
        photons = flim[ch].sum(axis=-1)
        # bin neighbouring pixels (odd squares) until a typical pixel holds enough photons for a fit
        bin_factor = next((b for b in (1, 3, 5) if np.median(photons) * b * b >= LIFETIME_MIN_COUNTS), 5)
        maps = fit_flim(flim[ch], t_ns, n_exp=2, min_counts=LIFETIME_MIN_COUNTS, bin_factor=bin_factor)
        tau = np.asarray(maps.tau_intensity_weighted_ns, float)
        if np.isfinite(tau).any():
            low, high = np.nanpercentile(tau, [2, 98])
            im = ax.imshow(tau, origin="lower", extent=extent, cmap="viridis", vmin=low, vmax=high, aspect="equal")
            fig.colorbar(im, ax=ax, label="intensity-weighted lifetime (ns)")
        else:
            ax.text(0.5, 0.5, "too few photons per pixel for a fit", ha="center", transform=ax.transAxes)
            ax.set_axis_off()
        binned = f", {bin_factor} x {bin_factor} pixels binned" if bin_factor > 1 else ""
        ax.set_title(labels[ch] + binned, fontsize=9)
        stage_axes(ax, "x", "y")
    return save(fig, out_dir, stem, "lifetime", run)


def plot_g2(run: Run, out_dir: Path, stem: str) -> list[Path]:
    from tepl.analysis.g2 import g2_model

    lag = np.asarray(run.data["lag_ns"], float)
    g2 = np.asarray(run.data["g2"], float)
    fig, ax = figure()
    ax.plot(lag, g2, ".", ms=3, label="measured")
    fit = _g2_fit_attrs(run)
    if fit is not None:
        model = g2_model(lag, tau_ns=fit["fit_tau_ns"], contrast=fit["fit_contrast"], t0_ns=fit["fit_t0_ns"],
                         irf_sigma_ns=fit.get("fit_irf_sigma_ns", 0.0), normalization=fit.get("fit_normalization", 1.0))
        ax.plot(lag, model, lw=1.2, label=f"1 − C·exp(−|t|/τ): τ = {fit['fit_tau_ns']:.1f} ns, "
                                          f"C = {fit['fit_contrast']:.2f}")
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.set_xlabel("lag (ns)")
    ax.set_ylabel("g2")
    ax.legend(fontsize=8)
    return [save(fig, out_dir, stem, "g2", run)]


def _g2_fit_attrs(run: Run) -> dict[str, float] | None:
    import h5py

    with h5py.File(run.path, "r", locking=False) as f:
        attrs = f["/entry/data/g2"].attrs
        if "fit_tau_ns" not in attrs:
            return None
        return {k: float(v) for k, v in attrs.items() if k.startswith("fit_") and k != "fit_model"}


def plot_time_trace(run: Run, out_dir: Path, stem: str) -> list[Path]:
    from tepl.analysis.blinking import on_fraction

    t = np.asarray(run.data["time_s"], float)
    counts = np.asarray(run.data["counts"], float)
    bin_s = float(t[1] - t[0]) if t.size > 1 else 1.0
    fig, (ax, hist_ax) = figure(1, 2, size=(9.0, 3.8), width_ratios=(4, 1), sharey=True)
    ax.plot(t, counts, lw=0.6)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"counts per {bin_s * 1000:g} ms")
    hist_ax.hist(counts, bins=60, orientation="horizontal", color="0.4")
    hist_ax.set_xlabel("bins")
    if counts.size >= 10 and counts.sum() > 0:
        result = on_fraction(counts, bin_s=bin_s)
        for a in (ax, hist_ax):
            a.axhline(result.threshold, color="C3", lw=0.8)
        ax.set_title(f"ON fraction {result.on_fraction:.3f}", fontsize=9)
    return [save(fig, out_dir, stem, "trace", run)]


def plot_kinetic_series(run: Run, out_dir: Path, stem: str) -> list[Path]:
    t = np.asarray(run.data["time_s"], float)
    spectra = np.asarray(run.data["spectra"], float)
    filled = np.isfinite(t)
    energy = energy_eV(run)
    order = np.argsort(energy)
    fig, ax = figure()
    if filled.sum() >= 2:
        shown = spectra[filled][:, order]
        im = ax.pcolormesh(energy[order], t[filled], shown, shading="nearest", cmap="magma")
        fig.colorbar(im, ax=ax, label="counts")
        # zoom on the lines: columns standing well above the frames' background, with 5 meV either side
        peak = shown.max(axis=0)
        noise = 1.4826 * np.median(np.abs(peak - np.median(peak))) + 1e-9
        lines = energy[order][peak > np.median(peak) + 10 * noise]
        if lines.size:
            ax.set_xlim(lines.min() - 0.005, lines.max() + 0.005)
    ax.set_xlabel("photon energy (eV)")
    ax.set_ylabel("time (s)")
    return [save(fig, out_dir, stem, "contour", run)]


def plot_imported_tags(run: Run, out_dir: Path, stem: str) -> list[Path]:
    """A PTU import: the decay per channel (T3) or the count trace per channel (T2)."""
    d = run.data
    fig, ax = figure()
    if "tcspc_time_ns" in d:
        t_ns = np.asarray(d["tcspc_time_ns"], float)
        decay = np.asarray(d[run.signal], float).reshape(-1, t_ns.size)
        for ch, row in enumerate(decay):
            if row.sum() > 0:
                ax.semilogy(t_ns, np.where(row > 0, row, np.nan), lw=1, label=f"channel {ch}")
        ax.set_xlabel("delay after sync (ns)")
        kind = "decay"
    else:
        t = np.asarray(d["time_s"], float)
        trace = np.asarray(d[run.signal], float).reshape(-1, t.size)
        for ch, row in enumerate(trace):
            ax.plot(t, row, lw=0.6, label=f"channel {ch}")
        ax.set_xlabel("time (s)")
        kind = "trace"
    ax.set_ylabel("counts")
    ax.legend(fontsize=8)
    return [save(fig, out_dir, stem, kind, run)]
