"""PNG figures of photon-counting and kinetic runs (papers 003 and 004), registered in ``tepl.plotting``.

==================  =====================================================================================
confocal-raster     counts (drift-corrected sum per SPAD channel, scale bar), drift (measured drift per scan,
                    integer scan ticks); with pulsed excitation also decay (summed TCSPC decay per channel,
                    log scale, counts per bin of the stated width) and lifetime (intensity-weighted lifetime
                    per channel over the counts image, two-exponential maximum-likelihood fits); summary
g2                  g2 (normalised coincidences vs lag with the stored model, its normalisation and bin
                    averaging included), coincidences (raw counts per lag bin), summary
time-trace          trace (counts per bin vs time with the stored ON threshold) and its count histogram
kinetic-series      contour (photon energy vs time, colour = counts, zoomed on the lines), spectrum (mean
                    spectrum), summary
import (PTU)        decay (T3 files) or trace (T2 files)
==================  =====================================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.data.runfile import Run
from tepl.plot_common import Panel, energy_eV, map_axes, map_frame, save_panels, stored_attrs
from tepl.plot_spectra import cleaned, mean_spectrum, record_cosmics

LIFETIME_MIN_COUNTS = 500  # photons a (binned) pixel needs for its lifetime to be mapped


def _channel_labels(run: Run, n: int) -> list[str]:
    text = stored_attrs(run, "").get("channel_names")
    labels = [part.strip() for part in str(text).split(",")] if text else []
    return labels if len(labels) == n else [f"channel {i}" for i in range(n)]


def _bin_ns(t_ns: np.ndarray) -> float:
    return float(t_ns[1] - t_ns[0]) if t_ns.size > 1 else float("nan")


def _channel_decays(flim, n_ch: int, n_t: int) -> np.ndarray:
    """The decay of every channel summed over all pixels, reading one map line at a time."""
    decays = np.zeros((n_ch, n_t))
    for ch in range(n_ch):
        for iy in range(flim.shape[1]):
            decays[ch] += np.asarray(flim[ch, iy], float).reshape(-1, n_t).sum(axis=0)
    return decays


def confocal_raster_panels(run: Run) -> dict[str, Panel]:
    d = run.data
    x, y = np.asarray(d["x_um"], float), np.asarray(d["y_um"], float)
    frame = map_frame(x, y)
    counts = np.asarray(d["counts_sum"], float)
    n_ch = counts.shape[0]
    labels = _channel_labels(run, n_ch)
    n_scans = int(np.asarray(d["drift_nm"]).shape[0])
    width = 4.3 * n_ch

    def draw_counts(fig):
        axes = fig.subplots(1, n_ch, squeeze=False)[0]
        for ch, ax in enumerate(axes):
            im = ax.imshow(counts[ch], origin="lower", extent=frame.extent, cmap="magma", aspect="equal")
            fig.colorbar(im, ax=ax, label="photon counts per pixel", shrink=0.85)
            ax.set_title(labels[ch])
            map_axes(ax, frame)

    what = f"sum of {n_scans} drift-corrected scans" if n_scans > 1 else "one scan"
    panels = {"counts": Panel(f"Confocal PL intensity per SPAD channel ({what})", draw_counts, (width, 3.9))}

    if "flim" in d:  # pulsed excitation: TCSPC decays
        t_ns = np.asarray(d["tcspc_time_ns"], float)
        decays = _channel_decays(d["flim"], n_ch, t_ns.size)
        bin_ns = _bin_ns(t_ns)

        def draw_decay(fig):
            ax = fig.subplots()
            for ch in range(n_ch):
                if decays[ch].sum() > 0:
                    ax.semilogy(t_ns, np.where(decays[ch] > 0, decays[ch], np.nan), lw=1, label=labels[ch])
            ax.set_xlabel("delay after the laser pulse (ns)")
            ax.set_ylabel(f"counts per {bin_ns:.3g} ns bin (all pixels)")
            ax.legend()

        panels["decay"] = Panel("PL decays (TCSPC) summed over the map", draw_decay)
        panels["lifetime"] = Panel("Fluorescence-lifetime maps (two-exponential ML fits)",
                                   _lifetime_drawer(d["flim"], t_ns, counts, labels, frame), (width, 3.9))

    drift = np.asarray(d["drift_nm"], float)
    if drift.shape[0] > 1:
        def draw_drift(fig):
            from matplotlib.ticker import MaxNLocator

            ax = fig.subplots()
            scans = np.arange(1, drift.shape[0] + 1)
            ax.plot(scans, drift[:, 0], "o-", label="x")
            ax.plot(scans, drift[:, 1], "s-", label="y")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.xaxis.set_minor_locator(MaxNLocator(integer=True))
            ax.set_xlabel("scan number")
            ax.set_ylabel("sample drift since scan 1 (nm)")
            ax.legend()
        panels["drift"] = Panel("Sample drift between scans (image cross-correlation)", draw_drift, (5.0, 3.6))
    return panels


def _lifetime_drawer(flim, t_ns: np.ndarray, counts: np.ndarray, labels: list[str], frame):
    from tepl.analysis.flim import fit_flim

    n_ch = counts.shape[0]
    results = []
    for ch in range(n_ch):
        cube = np.asarray(flim[ch], float)  # one channel's frame
        photons = cube.sum(axis=-1)
        bright = photons[photons > np.median(photons)] if np.any(photons > np.median(photons)) else photons
        # bin neighbouring pixels (odd squares) until a typical bright pixel holds enough photons for a fit
        bin_factor = next((b for b in (1, 3, 5) if np.median(bright) * b * b >= LIFETIME_MIN_COUNTS), 5)
        maps = fit_flim(cube, t_ns, n_exp=2, min_counts=LIFETIME_MIN_COUNTS, bin_factor=bin_factor)
        results.append((np.asarray(maps.tau_intensity_weighted_ns, float), bin_factor))

    def draw(fig):
        axes = fig.subplots(1, n_ch, squeeze=False)[0]
        for ch, ax in enumerate(axes):
            tau, bin_factor = results[ch]
            ax.imshow(counts[ch], origin="lower", extent=frame.extent, cmap="gray", aspect="equal")
            fitted = np.isfinite(tau)
            if fitted.any():
                low, high = np.nanpercentile(tau, [2, 98])
                im = ax.imshow(np.ma.masked_invalid(tau), origin="lower", extent=frame.extent, cmap="viridis",
                               vmin=low, vmax=max(high, low + 1e-3), aspect="equal", alpha=0.9)
                fig.colorbar(im, ax=ax, label="intensity-weighted lifetime (ns)", shrink=0.85)
            share = f"{fitted.mean():.0%} of pixels fitted" if fitted.any() else "no pixel bright enough for a fit"
            binned = f"{bin_factor}×{bin_factor} binned, " if bin_factor > 1 else ""
            ax.set_title(f"{labels[ch]}\n({binned}{share}; grey: counts)")
            map_axes(ax, frame)
    return draw


def plot_confocal_raster(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(confocal_raster_panels(run), run, out_dir, stem, "Confocal raster")


# --------------------------------------------------------------------------------------------------- g2
def stored_g2_fit(run: Run) -> dict[str, float] | None:
    """The g2 fit the run stores on /entry/data/g2 (``fit_*`` attributes, without the prefix), or None."""
    attrs = stored_attrs(run, "g2")
    if "fit_tau_ns" not in attrs:
        return None
    return {k[4:]: float(v) for k, v in attrs.items() if k.startswith("fit_") and k != "fit_model"}


def g2_panels(run: Run) -> dict[str, Panel]:
    from tepl.analysis.g2 import g2_model

    lag = np.asarray(run.data["lag_ns"], float)
    g2 = np.asarray(run.data["g2"], float)
    bin_ns = _bin_ns(lag)
    fit = stored_g2_fit(run)

    def draw_g2(fig):
        ax = fig.subplots()
        ax.plot(lag, g2, ".", ms=3, color="0.35", label="measured")
        if fit is not None:
            model = g2_model(lag, tau_ns=fit["tau_ns"], contrast=fit["contrast"], t0_ns=fit["t0_ns"],
                             irf_sigma_ns=fit.get("irf_sigma_ns", 0.0), normalization=fit.get("normalization", 1.0),
                             bin_width_ns=bin_ns)
            irf = f" ⊗ IRF (σ = {fit['irf_sigma_ns']:.2f} ns)" if fit.get("irf_sigma_ns", 0.0) > 0 else ""
            ax.plot(lag, model, lw=1.4, color="tab:red", gid="fit:g2",
                    label=f"N·[1 − C·exp(−|t − t0|/τ)]{irf}, averaged over the {bin_ns:.3g} ns bins:\n"
                          f"N = {fit.get('normalization', 1.0):.3f}, C = {fit['contrast']:.2f}, "
                          f"τ = {fit['tau_ns']:.1f} ns, g2(0) = {_g2_zero(fit):.2f}")
        ax.axhline(1.0, color="0.6", lw=0.8)
        ax.set_xlabel("lag t (ns)")
        ax.set_ylabel(f"g2(t), normalised coincidences ({bin_ns:.3g} ns bins)")
        fig.legend(handles=ax.get_lines()[:2], loc="outside lower center", ncol=2)

    panels = {"g2": Panel("Second-order photon correlation g2 (HBT)", draw_g2)}
    if "coincidences" in run.data:
        coincidences = np.asarray(run.data["coincidences"], float)

        def draw_coincidences(fig):
            ax = fig.subplots()
            ax.step(lag, coincidences, where="mid", lw=0.8)
            ax.set_xlabel("lag t (ns)")
            ax.set_ylabel(f"coincidences per {bin_ns:.3g} ns bin")

        panels["coincidences"] = Panel("Start–stop coincidence histogram", draw_coincidences, (6.4, 3.6))
    return panels


def _g2_zero(fit: dict[str, float]) -> float:
    """The model's normalised g2 at t0 without the IRF (1 − C)."""
    return 1.0 - fit["contrast"]


def plot_g2(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(g2_panels(run), run, out_dir, stem, "Photon antibunching")


# ------------------------------------------------------------------------------------------- time trace
def time_trace_panels(run: Run) -> dict[str, Panel]:
    t = np.asarray(run.data["time_s"], float)
    counts = np.asarray(run.data["counts"], float)
    bin_s = float(t[1] - t[0]) if t.size > 1 else 1.0
    attrs = stored_attrs(run, "counts")
    threshold = attrs.get("on_threshold_counts")
    on_fraction = attrs.get("on_fraction")
    if threshold is None and counts.size >= 10 and counts.sum() > 0:
        from tepl.analysis.blinking import on_fraction as fraction_of

        result = fraction_of(counts, bin_s=bin_s)
        threshold, on_fraction = result.threshold, result.on_fraction

    def draw(fig):
        ax, hist_ax = fig.subplots(1, 2, width_ratios=(4, 1), sharey=True)
        ax.plot(t, counts, lw=0.6)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"photon counts per {bin_s * 1000:g} ms bin")
        hist_ax.hist(counts[np.isfinite(counts)], bins=60, orientation="horizontal", color="0.4")
        hist_ax.set_xlabel("number of bins")
        if threshold is not None:
            for a in (ax, hist_ax):
                a.axhline(float(threshold), color="tab:red", lw=0.8, gid="fit:on_threshold_counts")
            ax.text(0.01, 0.97, f"ON threshold {float(threshold):.0f} counts; ON fraction {float(on_fraction):.3f}",
                    transform=ax.transAxes, va="top", fontsize=8, color="tab:red")

    return {"trace": Panel("PL blinking trace of a single emitter", draw, (9.0, 3.8))}


def plot_time_trace(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(time_trace_panels(run), run, out_dir, stem)


# --------------------------------------------------------------------------------------- kinetic series
def _line_window(energy: np.ndarray, shown: np.ndarray) -> tuple[float, float] | None:
    """Columns standing well above the frames' background, with 5 meV either side (eV), or None."""
    peak = np.nanmax(shown, axis=0)
    noise = 1.4826 * np.median(np.abs(peak - np.median(peak))) + 1e-9
    lines = energy[peak > np.median(peak) + 10 * noise]
    return (float(lines.min()) - 0.005, float(lines.max()) + 0.005) if lines.size else None


def kinetic_series_panels(run: Run) -> dict[str, Panel]:
    t = np.asarray(run.data["time_s"], float)
    spectra, spikes = cleaned(run.data["spectra"])
    filled = np.isfinite(t) & np.all(np.isfinite(spectra), axis=-1)
    energy = energy_eV(run)
    order = np.argsort(energy)
    shown = spectra[filled][:, order]
    window = _line_window(energy[order], shown) if filled.sum() >= 2 else None

    def draw_contour(fig):
        ax = fig.subplots()
        if filled.sum() >= 2:
            im = ax.pcolormesh(energy[order], t[filled], shown, shading="nearest", cmap="magma")
            fig.colorbar(im, ax=ax, label="counts")
            if window:
                ax.set_xlim(*window)
        ax.set_xlabel("photon energy (eV)")
        ax.set_ylabel("time (s)")
        record_cosmics(fig, spikes)

    def draw_mean(fig):
        ax = fig.subplots()
        if filled.any():
            ax.plot(energy[order], mean_spectrum(shown), color="k", lw=1)
            if window:
                ax.set_xlim(*window)
        ax.set_xlabel("photon energy (eV)")
        ax.set_ylabel(f"counts (mean of {int(filled.sum())} spectra)")
        record_cosmics(fig, spikes)

    return {"contour": Panel("Time-resolved PL spectra of a single nanocrystal", draw_contour),
            "spectrum": Panel("Mean PL spectrum of the series", draw_mean, (6.4, 3.6))}


def plot_kinetic_series(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(kinetic_series_panels(run), run, out_dir, stem, "Spectral series of one nanocrystal")


# ---------------------------------------------------------------------------------------------- imports
def imported_tags_panels(run: Run) -> dict[str, Panel]:
    """A PTU import: the decay per channel (T3) or the count trace per channel (T2)."""
    d = run.data
    if "tcspc_time_ns" in d:
        t_ns = np.asarray(d["tcspc_time_ns"], float)
        decay = np.asarray(d[run.signal], float).reshape(-1, t_ns.size)
        bin_ns = _bin_ns(t_ns)

        def draw(fig):
            ax = fig.subplots()
            for ch, row in enumerate(decay):
                if row.sum() > 0:
                    ax.semilogy(t_ns, np.where(row > 0, row, np.nan), lw=1, label=f"channel {ch}")
            ax.set_xlabel("delay after sync (ns)")
            ax.set_ylabel(f"counts per {bin_ns:.3g} ns bin")
            ax.legend()
        return {"decay": Panel("PL decays of the imported TTTR file", draw)}
    t = np.asarray(d["time_s"], float)
    trace = np.asarray(d[run.signal], float).reshape(-1, t.size)
    bin_s = float(t[1] - t[0]) if t.size > 1 else float("nan")

    def draw_trace(fig):
        ax = fig.subplots()
        for ch, row in enumerate(trace):
            ax.plot(t, row, lw=0.6, label=f"channel {ch}")
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"counts per {bin_s * 1000:.3g} ms bin")
        ax.legend()
    return {"trace": Panel("Count trace of the imported TTTR file", draw_trace)}


def plot_imported_tags(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(imported_tags_panels(run), run, out_dir, stem)
