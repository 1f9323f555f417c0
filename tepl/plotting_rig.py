"""PNG figures of the rig's own procedures (tip approach, tip-laser alignment, temperature series), registered
in ``tepl.plotting``.

==================  =====================================================================================
approach            approach (tuning-fork amplitude and fine Z reached vs coarse travel, contact marked,
                    the fine Z range drawn)
align-tip           probes (estimated apex position coloured by the band signal, the path of the search, the
                    optimum), fine_scans (signal vs steps of every fine scan with its stored Gaussian fit,
                    the measured step sizes in the legends)
temperature-series  fits (peak energy, FWHM and average lifetime vs measured temperature, with the stored
                    E(T) and Γ(T) fits), spectra (spectra coloured by temperature, and spectra vs
                    temperature), decays (TCSPC decays coloured by temperature, when measured)
==================  =====================================================================================

Each ``*_figures(run)`` returns the figures by kind without saving them (tests read the drawn lines back);
the ``plot_*`` functions save them. Fitted curves are drawn from what the file stores, never refitted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import median_filter

from tepl.data.runfile import Run
from tepl.plot_common import energy_eV, figure, save, stored_attrs
from tepl.plot_spectra import cleaned, record_cosmics
from tepl.units import HC_EV_NM

FIT_GRID_POINTS = 400  # points of a fitted curve drawn between its data
SPIKE_PIXELS = 5  # running median that keeps cosmic-ray spikes from setting a spectrum's scale


def _finite(*arrays: np.ndarray) -> np.ndarray:
    """True where every array is finite."""
    return np.logical_and.reduce([np.isfinite(np.asarray(a, float)) for a in arrays])


def _save_all(figures: dict[str, tuple[Any, str]], run: Run, out_dir: Path, stem: str) -> list[Path]:
    return [save(fig, out_dir, stem, kind, run, title) for kind, (fig, title) in figures.items()]


# ---------------------------------------------------------------------------------------------- approach
def approach_figures(run: Run) -> dict[str, tuple[Any, str]]:
    """The approach curve: amplitude (fraction of free) and fine Z reached against the nominal coarse travel
    (µm) of each look; contact looks marked; the fine Z range of each look shaded (from its retracted Z, the
    upper bound, down by the range's length)."""
    d = run.data
    travel = np.asarray(d["coarse_travel_um"], float)
    amplitude = np.asarray(d["amplitude"], float)
    z_nm = np.asarray(d["z_nm"], float)
    contact = np.asarray(d.get("contact", np.zeros(travel.size)), float) > 0
    done = _finite(travel, amplitude)
    steps = stored_attrs(run, "steps")
    settings = run.instruments.get("zcontrol", {}) if isinstance(run.instruments, dict) else {}
    fig, (ax_amp, ax_z) = figure(2, 1, size=(7.0, 6.4), sharex=True)

    ax_amp.plot(travel[done], amplitude[done], "o-", ms=4, color="tab:blue", label="after extending the fine Z",
                gid="amplitude")
    if "retracted_amplitude" in d:
        retracted = np.asarray(d["retracted_amplitude"], float)
        ok = done & np.isfinite(retracted)
        ax_amp.plot(travel[ok], retracted[ok], "^", ms=4, mfc="none", color="0.45", label="retracted (crash guard)")
    if "setpoint_fraction" in settings:
        ax_amp.axhline(float(settings["setpoint_fraction"]), color="tab:green", ls="--", lw=1,
                       label=f"shear-force setpoint ({float(settings['setpoint_fraction']):g} of free)")
    ax_z.plot(travel[done], z_nm[done], "o-", ms=4, color="tab:purple", gid="z",
              label="fine Z reached (at the bottom of the range: surface out of reach)")
    if "retracted_z_nm" in d and "fine_range_nm" in steps:
        upper = np.asarray(d["retracted_z_nm"], float)
        ok = done & np.isfinite(upper)
        fine = float(steps["fine_range_nm"])
        ax_z.fill_between(travel[ok], upper[ok] - fine, upper[ok], step="mid", color="tab:purple", alpha=0.15,
                          lw=0, gid="fine range",
                          label=f"fine Z range ({fine:.0f} nm): retracted at the top, fully extended at the "
                                "bottom")
        for edge in (upper[ok], upper[ok] - fine):
            ax_z.step(travel[ok], edge, where="mid", color="tab:purple", lw=0.8, ls=":")
    for ax, values, gid in ((ax_amp, amplitude, "contact amplitude"), (ax_z, z_nm, "contact z")):
        hit = done & contact & np.isfinite(values)
        if hit.any():
            ax.plot(travel[hit], values[hit], "*", ms=13, color="tab:red", mec="k", mew=0.5, label="contact",
                    gid=gid)
    ax_amp.set_ylabel("tuning-fork amplitude (fraction of free)")
    ax_z.set_ylabel("fine Z (nm)")
    ax_z.set_xlabel("coarse travel towards the sample (µm, nominal steps)")
    ax_amp.legend(loc="center left", fontsize=8)
    ax_z.legend(loc="center left", fontsize=8)

    entry = stored_attrs(run, "/entry")
    if "contact_z_nm" in entry:
        title = (f"Coarse tip approach: contact after {float(entry['coarse_travel_um']):.2f} µm "
                 f"({int(entry['coarse_steps'])} coarse steps), fine Z {float(entry['contact_z_nm']):.0f} nm")
    else:
        title = "Coarse tip approach: no contact"
    return {"approach": (fig, title)}


def plot_approach(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return _save_all(approach_figures(run), run, out_dir, stem)


# ---------------------------------------------------------------------------------------------- align-tip
FINE_PHASES = (("x", "forward"), ("x", "backward"), ("y", "forward"), ("y", "backward"))


def _blocks(phase: np.ndarray, names: list[str]) -> list[tuple[str, np.ndarray]]:
    """Contiguous runs of probes of one phase: (phase name, probe indices)."""
    out: list[tuple[str, np.ndarray]] = []
    start = 0
    for i in range(1, phase.size + 1):
        if i == phase.size or phase[i] != phase[start]:
            if 0 <= phase[start] < len(names):
                out.append((names[int(phase[start])], np.arange(start, i)))
            start = i
    return out


def fine_scans(run: Run) -> list[dict[str, Any]]:
    """Every fine scan of an align-tip run, in order: ``axis``, ``direction`` (forward/backward), ``steps``
    (the probes' positions as the fit saw them: forward steps from the scan's start, or backward steps from
    its turning point), ``signal`` (counts), and ``fit`` (the stored fit's centre, FWHM, amplitude and
    background in steps and counts, and the step size its width gives, nm; None without a stored fit)."""
    d = run.data
    attrs = stored_attrs(run)
    names = list(attrs.get("phase_names", []))
    axes = list(attrs.get("axis_names", ["x", "y"]))
    n = int(attrs.get("probes", np.isfinite(np.asarray(d["signal"], float)).sum()))
    phase = np.asarray(d["phase"])[:n]
    fits: dict[tuple[str, str], list[dict[str, float]]] = {key: [] for key in FINE_PHASES}
    for i, axis_index in enumerate(np.asarray(d.get("fit_axis", []))):
        if not 0 <= axis_index < len(axes):
            continue
        direction = "forward" if d["fit_direction"][i] > 0 else "backward"
        fits[(axes[int(axis_index)], direction)].append(
            {"center": float(d["fit_center_steps"][i]), "fwhm": float(d["fit_fwhm_steps"][i]),
             "amplitude": float(d["fit_amplitude"][i]), "background": float(d["fit_background"][i]),
             "step_nm": float(d["fit_step_nm"][i])})
    used = {key: 0 for key in FINE_PHASES}
    scans = []
    for name, probes in _blocks(phase, names):
        axis, _, direction = name.partition(" ")
        key = (axis, direction)
        if key not in fits:
            continue
        counter = np.asarray(d[f"{axis}_steps"], float)[probes]
        steps = counter - counter[0] if direction == "forward" else counter[0] - counter
        k = used[key]
        used[key] += 1
        fit = fits[key][k] if k < len(fits[key]) and np.isfinite(fits[key][k]["center"]) else None
        scans.append({"axis": axis, "direction": direction, "steps": steps,
                      "signal": np.asarray(d["signal"], float)[probes], "fit": fit})
    return scans


def align_figures(run: Run) -> dict[str, tuple[Any, str]]:
    """The probe map and the fine scans of an align-tip run."""
    from tepl.analysis.focus_scan import gaussian_on_background

    d = run.data
    attrs = stored_attrs(run)
    names = list(attrs.get("phase_names", []))
    n = int(attrs.get("probes", np.isfinite(np.asarray(d["signal"], float)).sum()))
    x, y = np.asarray(d["x_nm"], float)[:n], np.asarray(d["y_nm"], float)[:n]
    signal = np.asarray(d["signal"], float)[:n]
    phase = np.asarray(d["phase"])[:n]
    search = phase == (names.index("search") if "search" in names else -2)

    fine = ~search & (phase != (names.index("start") if "start" in names else -2)) & _finite(x, y)
    fig, (ax_all, ax_zoom) = figure(1, 2, size=(11.5, 5.6))
    measured = signal[np.isfinite(signal)]
    low, high = np.percentile(measured, [1, 99]) if measured.size else (0.0, 1.0)
    norm = dict(vmin=low, vmax=max(high, low + 1.0))
    mesh = None
    for ax in (ax_all, ax_zoom):
        ax.plot(x, y, "-", lw=0.6, color="0.65", zorder=1, gid="path")
        for sel, marker, size in ((search, "o", 40), (~search, "s", 16)):
            if sel.any():
                mesh = ax.scatter(x[sel], y[sel], marker=marker, s=size, c=signal[sel], cmap="viridis",
                                  edgecolors="0.25", linewidths=0.3, zorder=2, **norm)
        ax.plot([0.0], [0.0], "P", ms=11, color="tab:cyan", mec="k", zorder=3)
        if "optimum_x_nm" in attrs:
            ax.plot([float(attrs["optimum_x_nm"])], [float(attrs["optimum_y_nm"])], "*", ms=20, mfc="none",
                    mec="tab:red", mew=1.8, zorder=4, gid="optimum")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("apex x from the start (nm, estimated from the steps)")
        ax.set_ylabel("apex y from the start (nm, estimated from the steps)")
    if mesh is not None:
        fig.colorbar(mesh, ax=ax_zoom, label="band signal above dark (counts)")
    ax_all.set_title("every probe", fontsize=9)
    if fine.any():
        centre = (0.5 * (x[fine].min() + x[fine].max()), 0.5 * (y[fine].min() + y[fine].max()))
        half = 0.5 * max(np.ptp(x[fine]), np.ptp(y[fine])) + 100.0  # a square around them, 100 nm more
        ax_zoom.set_aspect("equal", adjustable="box")
        ax_zoom.set_xlim(centre[0] - half, centre[0] + half)
        ax_zoom.set_ylim(centre[1] - half, centre[1] + half)
        ax_zoom.set_title("the fine scans", fontsize=9)
    else:
        ax_zoom.set_title("no fine scans", fontsize=9)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.65", lw=0.8, label="path of the probes, in order"),
               Line2D([], [], ls="", marker="o", color="0.5", label="coarse search probe"),
               Line2D([], [], ls="", marker="s", ms=4, color="0.5", label="start, fine-scan and final probes"),
               Line2D([], [], ls="", marker="P", ms=9, color="tab:cyan", mec="k", label="start")]
    if "optimum_x_nm" in attrs:
        handles.append(Line2D([], [], ls="", marker="*", ms=14, mfc="none", mec="tab:red", mew=1.5,
                              label=f"optimum ({float(attrs['optimum_x_nm']):.0f}, {float(attrs['optimum_y_nm']):.0f})"
                                    f" nm: picomotor counters {int(attrs['optimum_x_steps']):+d}, "
                                    f"{int(attrs['optimum_y_steps']):+d} steps"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    probes_title = "Tip–laser alignment: tip signal at every probe, picomotor search and fine scans"

    scans = fine_scans(run)
    fig2, grid = figure(2, 2, size=(10.0, 7.6), squeeze=False)
    for col, axis in enumerate(("x", "y")):
        for row, direction in enumerate(("forward", "backward")):
            ax2 = grid[row, col]
            mine = [s for s in scans if s["axis"] == axis and s["direction"] == direction]
            for k, scan in enumerate(mine):
                colour = f"C{k % 10}"
                ax2.plot(scan["steps"], scan["signal"], "o", ms=4, color=colour, mfc="none",
                         gid=f"{axis} {direction} scan {k + 1}")
                fit = scan["fit"]
                if fit is None:
                    ax2.plot([], [], "o", color=colour, mfc="none", label=f"scan {k + 1}: no fit")
                    continue
                grid_steps = np.linspace(scan["steps"].min(), scan["steps"].max(), FIT_GRID_POINTS)
                model = gaussian_on_background(grid_steps, fit["center"], fit["fwhm"], fit["amplitude"],
                                               fit["background"])
                ax2.plot(grid_steps, model, "-", lw=1.2, color=colour, gid=f"{axis} {direction} fit {k + 1}",
                         label=f"scan {k + 1}: peak {fit['center']:.1f} steps, FWHM {fit['fwhm']:.1f} steps "
                               f"= {fit['step_nm']:.1f} nm/step")
            if "final_signal" in attrs and mine:
                ax2.axhline(float(attrs["final_signal"]), color="tab:green", ls="--", lw=1,
                            label=f"signal at the optimum ({float(attrs['final_signal']):.0f} counts)")
            measured = attrs.get(f"{axis}_{direction}_step_nm")
            legend_title = (f"measured {direction} step: {float(measured):.2f} nm" if measured is not None
                            else f"{direction} step not measured")
            if mine:
                ax2.legend(title=legend_title, title_fontsize=8, fontsize=7, loc="upper center",
                           bbox_to_anchor=(0.5, -0.18), frameon=False)
            else:
                ax2.text(0.5, 0.5, f"no {axis} {direction} scan", ha="center", transform=ax2.transAxes)
            where = "the scan's start" if direction == "forward" else "the turning point"
            ax2.set_xlabel(f"picomotor {axis} from {where} ({direction} steps)")
            ax2.set_ylabel("band signal (counts)")
            ax2.set_title(f"{axis} scanned {direction}", fontsize=9)
    fine_title = "Tip–laser alignment: fine scans through the laser focus with their Gaussian fits"
    return {"probes": (fig, probes_title), "fine_scans": (fig2, fine_title)}


def plot_align_tip(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return _save_all(align_figures(run), run, out_dir, stem)


# -------------------------------------------------------------------------------------- temperature-series
def stored_temperature_fit(run: Run, name: str) -> dict[str, float] | None:
    """The fitted parameters the run stores on ``name`` (``peak_energy_eV`` or ``fwhm_meV``), by the model
    function's argument names; None when the series was not fitted."""
    attrs = stored_attrs(run, name)
    if attrs.get("fit_status") != "fitted":
        return None
    skip = ("fit_status", "fit_model", "fit_points", "fit_rms_residual")
    return {key[4:]: float(value) for key, value in attrs.items()
            if key.startswith("fit_") and key not in skip and not key.endswith("_err")}


def _model_curve(run: Run, name: str, model_name: str, temperature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stored fit of ``name`` as a curve over the measured temperatures: the model function with the stored
    parameters on a fine grid, passing through the stored model values at the measured temperatures."""
    from tepl.analysis.temperature import linewidth_meV, peak_energy_eV

    stored = np.asarray(run.data.get(model_name, np.full(temperature.size, np.nan)), float)
    ok = _finite(temperature, stored)
    if not ok.any():
        return np.empty(0), np.empty(0)
    t_points, y_points = temperature[ok], stored[ok]
    params = stored_temperature_fit(run, name)
    function = {"peak_energy_eV": peak_energy_eV, "fwhm_meV": linewidth_meV}[name]
    t_grid = np.linspace(t_points.min(), t_points.max(), FIT_GRID_POINTS) if params else np.empty(0)
    t_grid = t_grid[~np.isin(t_grid, t_points)]  # at a measured temperature, the stored value
    t = np.concatenate([t_grid, t_points])
    y = np.concatenate([function(t_grid, **params) if params else np.empty(0), y_points])
    order = np.argsort(t, kind="stable")
    return t[order], y[order]


def _fit_label(run: Run, name: str) -> str:
    params = stored_temperature_fit(run, name)
    if params is None:
        return ""
    if name == "peak_energy_eV":
        return (f"E(T) fit: E0 = {params['E0_eV']:.4f} eV, A_TE = {1e6 * params['A_TE_eV_per_K']:.1f} µeV/K,\n"
                f"A_EP = {1e3 * params['A_EP_eV']:.1f} meV, ħω = {params['phonon_energy_meV']:.1f} meV")
    fixed = " (fixed)" if stored_attrs(run, name).get("fit_E_LO_meV_err", 1.0) == 0.0 else ""
    return (f"Γ(T) fit: Γ0 = {params['gamma0_meV']:.1f} meV, γ_LO = {params['gamma_LO_meV']:.1f} meV,\n"
            f"E_LO = {params['E_LO_meV']:.1f} meV{fixed}")


def temperature_figures(run: Run) -> dict[str, tuple[Any, str]]:
    """The fits, spectra and (when measured) decays of a temperature series."""
    from matplotlib import cm, colors

    d = run.data
    temperature = np.asarray(d.get("temperature_k", d["setpoint_k"]), float)
    has_lifetime = "lifetime_ns" in d  # decays planned: the panel stays, empty until a decay is fitted
    rows = [("peak_energy_eV", "peak_energy_model_eV", "PL peak energy (eV)", "tab:blue"),
            ("fwhm_meV", "fwhm_model_meV", "PL linewidth, FWHM (meV)", "tab:orange")]
    if has_lifetime:
        rows.append(("lifetime_ns", None, "average lifetime (ns)", "tab:purple"))
    figures: dict[str, tuple[Any, str]] = {}
    fig, axes = figure(len(rows), 1, size=(7.0, 2.9 * len(rows) + 0.6), sharex=True, squeeze=False)
    for ax, (name, model_name, label, colour) in zip(axes[:, 0], rows, strict=True):
        values = np.asarray(d[name], float)
        errors = np.asarray(d.get(f"{name}_err", np.zeros(values.size)), float)
        ok = _finite(temperature, values)
        what = ("amplitude-weighted average of a 3-exponential decay fit ± 1σ" if name == "lifetime_ns"
                else "fitted band ± 1σ")
        points = ax.errorbar(temperature[ok], values[ok], yerr=np.where(np.isfinite(errors[ok]), errors[ok], 0.0),
                             fmt="o", ms=4, color=colour, capsize=2, label=what)
        points.lines[0].set_gid(name)
        if model_name is not None:
            t, model = _model_curve(run, name, model_name, temperature)
            if t.size:
                ax.plot(t, model, "-", color="k", lw=1.2, gid=model_name, label=_fit_label(run, name))
            else:
                status = stored_attrs(run, name).get("fit_status")
                ax.plot([], [], " ", label=f"no temperature fit: {status}" if status else
                        "no temperature fit in the file (the run ended before the series was fitted)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7.5, loc="best")
    axes[-1, 0].set_xlabel("measured temperature (K)")
    what = "peak energy, linewidth and average lifetime" if has_lifetime else "peak energy and linewidth"
    figures["fits"] = (fig, f"Temperature series: PL {what} vs temperature")

    spectra, n_cosmics = cleaned(d["spectra"])  # single-pixel spikes removed before display, and noted
    energy = energy_eV(run)
    measured = _finite(temperature) & np.all(np.isfinite(spectra), axis=1)
    window = _energy_window(run, energy, temperature)
    in_window = (energy >= window[0]) & (energy <= window[1])
    fig, (ax_stack, ax_map) = figure(1, 2, size=(11.0, 4.6))
    if measured.any():
        norm = colors.Normalize(temperature[measured].min(), max(temperature[measured].max(),
                                                                 temperature[measured].min() + 1e-9))
        for i in np.flatnonzero(measured):
            ax_stack.plot(energy[in_window], spectra[i, in_window], lw=1, color=cm.coolwarm(norm(temperature[i])))
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap="coolwarm"), ax=ax_stack, label="measured temperature (K)")
        order = np.flatnonzero(measured)[np.argsort(temperature[measured])]
        e_order = np.argsort(energy[in_window])
        shown = spectra[order][:, in_window][:, e_order]
        peak = np.nanmax(median_filter(shown, size=(1, SPIKE_PIXELS), mode="nearest"), axis=1, keepdims=True)
        mesh = ax_map.pcolormesh(energy[in_window][e_order], temperature[order],
                                 shown / np.where(peak > 0, peak, 1.0), shading="nearest", cmap="magma",
                                 vmin=0.0, vmax=1.0)
        fig.colorbar(mesh, ax=ax_map, label="counts / the spectrum's band maximum")
        if "peak_energy_eV" in d:
            peaks = np.asarray(d["peak_energy_eV"], float)
            ok = measured & np.isfinite(peaks)
            ax_map.plot(peaks[ok], temperature[ok], "o", ms=3, mfc="none", color="cyan", label="fitted peak")
            ax_map.legend(fontsize=8, loc="upper right")
    ax_stack.set_xlabel("photon energy (eV)")
    ax_stack.set_ylabel("counts")
    ax_map.set_xlabel("photon energy (eV)")
    ax_map.set_ylabel("measured temperature (K)")
    record_cosmics(fig, n_cosmics)
    figures["spectra"] = (fig, "Temperature series: PL spectra vs temperature")

    if "decays" in d and "tcspc_time_ns" in d:
        decays = np.asarray(d["decays"], float)[:, 0]
        t_ns = np.asarray(d["tcspc_time_ns"], float)
        fig, ax = figure(size=(7.0, 4.6))
        done = _finite(temperature) & (decays.sum(axis=1) > 0)
        if done.any():
            norm = colors.Normalize(temperature[done].min(), max(temperature[done].max(),
                                                                 temperature[done].min() + 1e-9))
            for i in np.flatnonzero(done):
                ax.semilogy(t_ns, np.where(decays[i] > 0, decays[i], np.nan), lw=0.8,
                            color=cm.coolwarm(norm(temperature[i])))
            fig.colorbar(cm.ScalarMappable(norm=norm, cmap="coolwarm"), ax=ax, label="measured temperature (K)")
        ax.set_xlabel("delay after the laser pulse (ns)")
        bin_ns = float(t_ns[1] - t_ns[0]) if t_ns.size > 1 else float("nan")
        ax.set_ylabel(f"counts per {bin_ns:g} ns bin (channel 0)")
        figures["decays"] = (fig, "Temperature series: PL decays (TCSPC) vs temperature")
    return figures


def _energy_window(run: Run, energy: np.ndarray, temperature: np.ndarray) -> tuple[float, float]:
    """The photon-energy range the spectra are shown over (eV): the fitted bands (peak energies ± twice the
    widest FWHM), within the run's peak-fit window (``fit_from_nm``-``fit_to_nm``) and the spectrometer's
    range."""
    low, high = float(np.nanmin(energy)), float(np.nanmax(energy))
    p = run.parameters
    if "fit_from_nm" in p and "fit_to_nm" in p:
        window = sorted((HC_EV_NM / float(p["fit_to_nm"][0]), HC_EV_NM / float(p["fit_from_nm"][0])))
        low, high = max(low, window[0]), min(high, window[1])
    d = run.data
    if "peak_energy_eV" in d and "fwhm_meV" in d:
        peaks, widths = np.asarray(d["peak_energy_eV"], float), np.asarray(d["fwhm_meV"], float)
        ok = _finite(peaks, widths, temperature)
        if ok.any():
            reach = 2e-3 * float(widths[ok].max())
            low, high = max(low, float(peaks[ok].min()) - reach), min(high, float(peaks[ok].max()) + reach)
    return low, high


def plot_temperature_series(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return _save_all(temperature_figures(run), run, out_dir, stem)
