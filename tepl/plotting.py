"""PNG figures of a run file, of the kinds the papers show, chosen by the run's procedure.

``plot_run(h5_path, out_dir)`` writes, named ``<file stem>_<kind>.png``:

==================  =====================================================================================
raster              intensity (``maps.intensity_map``, the map spots are found on), peak_energy (the stored
                    fitted peak-energy map, else fitted here), height, spectrum (the brightest pixel's
                    spectrum with its stored peak energy), summary (all four, as the paper's Fig. 4)
line-scan           contour (position vs photon energy, colour = counts), height, summary
distance-sweep      spectra (spectra coloured by gap), approach (``maps.intensity_map`` vs gap), summary
pressure-ramp       contour (photon energy vs gap, pressing and releasing, stored fitted peak overlaid),
                    pressure (photon energy vs the live tip pressure, when the tip pressed), shift (peak
                    shift from the unstrained plateau of ``summarize_ramp`` and fitted intensity vs gap),
                    summary (as the paper's Fig. 3c)
calibrate           lamp (lamp spectrum with the identified lines marked, labels spread so none overlap)
import-sif / other  spectrum (the spectrum, or each frame)
==================  =====================================================================================

Photon-counting runs (confocal-raster, g2, time-trace, PTU imports) and kinetic series are drawn by
``tepl.plotting_photons``; the tip approach, the tip-laser alignment and temperature series by
``tepl.plotting_rig``.

Every figure is drawn in the package's style (``tepl/tepl.mplstyle``), titled with what it shows in physical
terms; maps have axes relative to their centre and a scale bar; spectra are shown with cosmic-ray spikes
removed (the figure says how many) and energy axes zoomed to the band. Large datasets are read one row at a
time (``STREAM_ABOVE_BYTES``), so memory stays bounded by one line of a map. Unfilled pixels (NaN, e.g. a
stopped run) are left blank. Figures are drawn with matplotlib's Agg canvas, without pyplot, so this is safe
to call from any thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl import plotting_photons, plotting_rig
from tepl.analysis.maps import intensity_map, peak_energy_map
from tepl.data.runfile import Run, read_run
from tepl.plot_common import Panel, energy_eV, map_axes, map_frame, rows, save_panels, styled
from tepl.plot_spectra import cleaned, mean_spectrum, record_cosmics, signal_window_eV
from tepl.units import FIT_WINDOW_NM, HC_EV_NM

STREAM_ABOVE_BYTES = 16 * 2**20  # datasets larger than this are read from the file one row at a time
WEAK_FRACTION = 0.15  # of the map's PL range above its dimmest pixel: dimmer pixels get no peak energy drawn
LABEL_GAP_PT = 9.0  # least distance between two calibration-line labels (points)


# ------------------------------------------------------------------------------------------------- raster
def _raster_maps(run: Run) -> dict:
    """The raster's maps, reading the spectra one line at a time: intensity (cosmic rays removed), the peak
    energy (stored fit, else fitted here), the brightest pixel's cleaned spectrum, the spikes removed."""
    wl = np.asarray(run.data["wavelength_nm"], float)
    shape = run.data["spectra"].shape
    intensity = np.full(shape[:2], np.nan)
    peak = np.asarray(run.data["peak_energy_eV"], float) if "peak_energy_eV" in run.data else None
    fitted = np.full(shape[:2], np.nan)
    brightest, best, spikes = np.full(wl.size, np.nan), -np.inf, None
    for iy, line in enumerate(rows(run.data, "spectra")):
        line, n = cleaned(line)
        spikes = spikes if n is None else (spikes or 0) + n
        intensity[iy] = intensity_map(wl, line, FIT_WINDOW_NM)
        if peak is None:
            fitted[iy] = peak_energy_map(wl, line, FIT_WINDOW_NM).center_eV
        if np.isfinite(intensity[iy]).any() and np.nanmax(intensity[iy]) > best:
            best = float(np.nanmax(intensity[iy]))
            brightest = line[int(np.nanargmax(intensity[iy]))]
    return {"intensity": intensity, "peak_energy": peak if peak is not None else fitted,
            "brightest": brightest, "spikes": spikes}


def _raster_panels(run: Run) -> dict[str, Panel]:
    maps = _raster_maps(run)
    x, y = np.asarray(run.data["x_um"], float), np.asarray(run.data["y_um"], float)
    frame = map_frame(x, y)
    stored = "peak_energy_eV" in run.data
    spikes = maps["spikes"]
    intensity = maps["intensity"]
    weak = np.ones(intensity.shape, bool)
    if np.isfinite(intensity).any():
        low, high = np.nanmin(intensity), np.nanmax(intensity)
        weak = ~(intensity >= low + WEAK_FRACTION * (high - low))
    specs = [("intensity", intensity, "integrated PL above background (counts)", "inferno",
              "TEPL intensity map", True),
             ("peak_energy", np.where(weak, np.nan, maps["peak_energy"]),
              "fitted peak energy (eV)", "viridis",
              f"TEPL peak-energy map (stored fit; blank: PL < {WEAK_FRACTION:.0%} of its range)",
              True)]
    if "height_nm" in run.data:
        specs.append(("height", np.asarray(run.data["height_nm"], float), "height (nm)", "copper",
                      "Topography (shear-force AFM)", False))

    def map_panel(image, label, cmap, spectral, gid):
        def draw(fig):
            ax = fig.subplots()
            shown = np.ma.masked_invalid(image)
            im = ax.imshow(shown, origin="lower", extent=frame.extent, cmap=cmap, aspect="equal")
            im.set_gid(gid)
            fig.colorbar(im, ax=ax, label=label, shrink=0.9)
            map_axes(ax, frame, bar_colour="white" if cmap in ("inferno", "magma") else "black")
            if spectral:
                record_cosmics(fig, spikes)
        return draw

    panels = {}
    for kind, image, label, cmap, title, spectral in specs:
        gid = "fit:peak_energy_eV" if kind == "peak_energy" and stored else kind
        panels[kind] = Panel(title, map_panel(image, label, cmap, spectral, gid), (5.2, 4.2))

    energy = energy_eV(run)
    spectrum = maps["brightest"]

    def draw_spectrum(fig):
        ax = fig.subplots()
        ax.plot(energy, spectrum, lw=1, label="brightest pixel")
        finite = np.isfinite(spectrum)
        if finite.any():
            ax.set_xlim(*signal_window_eV(energy, spectrum))
            if stored:
                peaks = np.asarray(run.data["peak_energy_eV"], float)
                ok = np.isfinite(maps["intensity"]) & np.isfinite(peaks)
                if ok.any():
                    at = np.unravel_index(np.nanargmax(np.where(ok, maps["intensity"], np.nan)), peaks.shape)
                    ax.axvline(peaks[at], color="tab:red", ls="--", lw=1, gid="fit:peak_energy_eV",
                               label=f"stored fitted peak {peaks[at]:.3f} eV")
            ax.legend(loc="upper left")
        ax.set_xlabel("photon energy (eV)")
        ax.set_ylabel("counts")
        record_cosmics(fig, spikes)

    panels["spectrum"] = Panel("TEPL spectrum at the map's brightest pixel", draw_spectrum, (5.2, 4.2))
    return panels


def _plot_raster(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(_raster_panels(run), run, out_dir, stem, "Hyperspectral TEPL map")


# ------------------------------------------------------------------------------------------- line scan
def _line_scan_panels(run: Run) -> dict[str, Panel]:
    spectra, spikes = cleaned(run.data["spectra"])
    x_um = np.asarray(run.data.get("x_um", np.arange(spectra.shape[0])), float)
    x_nm = (x_um - x_um[0]) * 1000.0
    energy = energy_eV(run)
    window = signal_window_eV(energy, mean_spectrum(spectra))

    def draw_contour(fig):
        ax = fig.subplots()
        mesh = ax.pcolormesh(x_nm, energy, np.ma.masked_invalid(spectra.T), cmap="inferno", shading="nearest")
        fig.colorbar(mesh, ax=ax, label="counts")
        ax.set_ylim(*window)
        ax.set_xlabel(f"position along the line from x = {x_um[0]:.3f} µm (nm)")
        ax.set_ylabel("photon energy (eV)")
        record_cosmics(fig, spikes)

    panels = {"contour": Panel("TEPL spectra along a lateral line scan", draw_contour)}
    if "height_nm" in run.data:
        def draw_height(fig):
            ax = fig.subplots()
            ax.plot(x_nm, np.asarray(run.data["height_nm"], float), "-o", ms=3)
            ax.set_xlabel(f"position along the line from x = {x_um[0]:.3f} µm (nm)")
            ax.set_ylabel("height (nm)")
        panels["height"] = Panel("Topography along the line (shear-force AFM)", draw_height, (6.4, 3.2))
    return panels


def _plot_line_scan(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(_line_scan_panels(run), run, out_dir, stem, "TEPL line scan")


# ------------------------------------------------------------------------------------- distance sweep
def _gap(run: Run, n: int) -> np.ndarray:
    return np.asarray(run.data.get("gap_nm", np.arange(n)), float)


def _distance_sweep_panels(run: Run) -> dict[str, Panel]:
    from matplotlib import cm, colors

    spectra, spikes = cleaned(run.data["spectra"])
    gap = _gap(run, spectra.shape[0])
    energy = energy_eV(run)
    done = np.all(np.isfinite(spectra), axis=1) & np.isfinite(gap)
    window = signal_window_eV(energy, mean_spectrum(spectra))

    def draw_spectra(fig):
        ax = fig.subplots()
        if np.any(done):
            norm = colors.Normalize(np.min(gap[done]), max(np.max(gap[done]), np.min(gap[done]) + 1e-9))
            for i in np.flatnonzero(done):
                ax.plot(energy, spectra[i], color=cm.viridis(norm(gap[i])), lw=1)
            fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, label="tip-sample gap (nm)")
        ax.set_xlim(*window)
        ax.set_xlabel("photon energy (eV)")
        ax.set_ylabel("counts")
        record_cosmics(fig, spikes)

    def draw_approach(fig):
        ax = fig.subplots()
        ax.plot(gap[done], intensity_map(run.data["wavelength_nm"], spectra, FIT_WINDOW_NM)[done], "o-")
        ax.set_xlabel("tip-sample gap (nm)")
        ax.set_ylabel("integrated PL above background (counts)")
        record_cosmics(fig, spikes)

    return {"spectra": Panel("TEPL spectra as the tip approaches", draw_spectra),
            "approach": Panel("TEPL intensity vs tip-sample gap", draw_approach)}


def _plot_distance_sweep(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(_distance_sweep_panels(run), run, out_dir, stem, "TEPL distance sweep")


# -------------------------------------------------------------------------------------- pressure ramp
def _ramp_reference_eV(run: Run, center_eV: np.ndarray, gap: np.ndarray,
                       direction: np.ndarray) -> tuple[float, str]:
    """The ramp's unstrained peak energy (``summarize_ramp``'s bright plateau before pressing) and what it
    is; the first fitted step when the ramp has no such plateau (or no recorded gaps)."""
    from tepl.analysis.ramp import summarize_ramp

    if "gap_nm" in run.data:
        try:
            summary = summarize_ramp(run.data["wavelength_nm"], run.data["spectra"], gap, direction,
                                     window_nm=FIT_WINDOW_NM)
            return summary.reference_eV, "the unstrained plateau"
        except ValueError:
            pass
    finite = np.flatnonzero(np.isfinite(center_eV))
    return (float(center_eV[finite[0]]) if finite.size else np.nan), "the first fitted step"


def _ramp_peaks(run: Run, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(peak energy eV, fitted peak area) per step: the stored fit when the file has one, else fitted here;
    and whether the energies are the stored ones."""
    fit = peak_energy_map(run.data["wavelength_nm"], spectra, FIT_WINDOW_NM)
    if "peak_energy_eV" in run.data:
        return np.asarray(run.data["peak_energy_eV"], float), fit.amplitude, True
    return fit.center_eV, fit.amplitude, False


def _ramp_contour(ax, fig, x, energy, spectra, sel, peaks, window, xlabel, gid, norm):
    order = np.flatnonzero(sel)[np.argsort(x[sel], kind="stable")]
    mesh = ax.pcolormesh(x[order], energy, np.ma.masked_invalid(spectra[order].T), cmap="inferno",
                         shading="nearest", norm=norm)
    ax.plot(x[order], peaks[order], "o", ms=3, mfc="none", color="cyan", label="fitted peak", gid=gid)
    ax.set_ylim(*window)
    ax.set_xlabel(xlabel)
    return mesh


def _pressure_ramp_panels(run: Run) -> dict[str, Panel]:
    from matplotlib import colors

    spectra, spikes = cleaned(run.data["spectra"])
    n = spectra.shape[0]
    gap = _gap(run, n)
    direction = np.asarray(run.data.get("direction", np.ones(n)), float)
    energy = energy_eV(run)
    peaks, area, stored = _ramp_peaks(run, spectra)
    gid = "fit:peak_energy_eV" if stored else "peak_energy"
    window = signal_window_eV(energy, np.nanmax(np.where(np.isfinite(spectra), spectra, np.nan), axis=0)
                              if np.isfinite(spectra).any() else mean_spectrum(spectra))
    in_window = (energy >= window[0]) & (energy <= window[1])
    shown = spectra[:, in_window]
    top = float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0
    low = float(np.nanmin(shown)) if np.isfinite(shown).any() else 0.0
    norm = colors.Normalize(low, max(top, low + 1.0))
    pressure = np.asarray(run.data.get("pressure_GPa", np.zeros(n)), float)

    def draw_contour(fig):
        axes = fig.subplots(1, 2, sharey=True)
        mesh = None
        for ax, sign, what in ((axes[0], 1, "pressing"), (axes[1], -1, "releasing")):
            sel = (direction == sign) & np.isfinite(gap)
            if sel.any():
                mesh = _ramp_contour(ax, fig, gap, energy, spectra, sel, peaks, window,
                                     "tip-sample gap (nm)", gid, norm)
            ax.set_title(what)
            ax.set_xlabel("tip-sample gap (nm)")
        axes[0].invert_xaxis()  # pressing: the gap closes from left to right
        axes[0].set_ylabel("photon energy (eV)")
        axes[0].legend(loc="upper right", labelcolor="white")
        if mesh is not None:
            fig.colorbar(mesh, ax=axes, label="counts")
        record_cosmics(fig, spikes)

    panels = {"contour": Panel("TEPL spectra of the pressure ramp vs tip-sample gap", draw_contour, (8.4, 4.2))}
    pressed = (pressure > 0) & np.isfinite(pressure) & (direction == 1)
    if pressed.sum() >= 3:
        def draw_pressure(fig):
            ax = fig.subplots()
            mesh = _ramp_contour(ax, fig, pressure, energy, spectra, pressed, peaks, window,
                                 "tip pressure (GPa, live)", gid, norm)
            fig.colorbar(mesh, ax=ax, label="counts")
            ax.set_ylabel("photon energy (eV)")
            ax.legend(loc="upper right", labelcolor="white")
            record_cosmics(fig, spikes)
        panels["pressure"] = Panel("TEPL spectra vs tip pressure while pressing", draw_pressure, (6.0, 4.2))

    def draw_shift(fig):
        ax_shift, ax_int = fig.subplots(2, 1, sharex=True)
        reference, from_what = _ramp_reference_eV(run, peaks, gap, direction)
        shift_meV = (peaks - reference) * 1000.0
        styles = ((1, "pressing", dict(marker="v", ls="-", color="tab:red", ms=6)),
                  (-1, "releasing", dict(marker="^", ls="--", color="tab:blue", ms=4, mfc="none")))
        for sign, label, style in styles:
            sel = direction == sign
            if np.any(sel):
                ax_shift.plot(gap[sel], shift_meV[sel], label=label, gid=f"shift {label}", **style)
                ax_int.plot(gap[sel], area[sel], label=label, **style)
        ax_shift.axhline(0.0, color="0.6", lw=0.8)
        ax_shift.set_ylabel(f"peak shift from\n{from_what} (meV)")
        ax_int.set_ylabel("fitted peak area (counts)")
        ax_int.set_xlabel("tip-sample gap (nm)")
        ax_int.invert_xaxis()
        ax_shift.legend()
        record_cosmics(fig, spikes)

    panels["shift"] = Panel("Peak shift and intensity vs tip-sample gap", draw_shift, (6.0, 5.6))
    return panels


def _plot_pressure_ramp(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(_pressure_ramp_panels(run), run, out_dir, stem, "TEPL pressure ramp")


# -------------------------------------------------------------------------------------------- calibrate
def spread_labels(positions: np.ndarray, min_gap: float) -> np.ndarray:
    """Label positions as near ``positions`` (sorted ascending) as possible with at least ``min_gap``
    between neighbours: overlapping groups are spread evenly about their mean, merging until none overlap."""
    positions = np.asarray(positions, float)
    groups = [[p] for p in positions]
    changed = True
    while changed:
        changed = False
        starts = [float(np.mean(group)) - 0.5 * min_gap * (len(group) - 1) for group in groups]
        for i in range(len(groups) - 1):
            end_i = starts[i] + min_gap * (len(groups[i]) - 1)
            if starts[i + 1] - end_i < min_gap - 1e-12:
                groups[i] = groups[i] + groups.pop(i + 1)
                changed = True
                break
    placed = []
    for group in groups:
        start = float(np.mean(group)) - 0.5 * min_gap * (len(group) - 1)
        placed += [start + k * min_gap for k in range(len(group))]
    return np.asarray(placed)


def _calibrate_panels(run: Run) -> dict[str, Panel]:
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectrum = mean_spectrum(run.data["spectra"])
    lines = np.array([])
    for name in ("line_wavelength_nm", "lines_nm"):
        if name in run.data:
            lines = np.asarray(run.data[name], float)
            break
    lines = np.sort(lines[np.isfinite(lines)])
    size = (8.0, 4.8)

    def draw(fig):
        ax = fig.subplots()
        ax.plot(wl, spectrum, lw=1, color="k")
        ax.set_xlim(wl.min(), wl.max())
        finite = np.isfinite(spectrum)
        top = float(np.nanmax(spectrum)) if finite.any() else 1.0
        bottom = float(np.nanmin(spectrum)) if finite.any() else 0.0
        ax.set_ylim(bottom - 0.02 * (top - bottom), top + 0.32 * (top - bottom))  # room for the labels
        width_pt = fig.get_figwidth() * 72.0 * 0.85
        min_gap = LABEL_GAP_PT / width_pt * (wl.max() - wl.min())
        placed = spread_labels(lines, min_gap)
        label_y = top + 0.10 * (top - bottom)
        for i, (line, at) in enumerate(zip(lines, placed, strict=True)):
            ax.axvline(line, color="tab:red", lw=0.6, ls=":", ymax=0.76, gid="identified line" if i else
                       "identified lines")
            ax.annotate(f"{line:.2f}", xy=(line, top + 0.02 * (top - bottom)), xytext=(at, label_y),
                        rotation=90, va="bottom", ha="center", fontsize=6.5, color="tab:red",
                        arrowprops=dict(arrowstyle="-", color="tab:red", lw=0.5, shrinkA=0, shrinkB=0))
        ax.set_xlabel("wavelength (nm, calibrated)")
        ax.set_ylabel("counts")
        secondary = ax.secondary_xaxis("top", functions=(_nm_to_eV, _nm_to_eV))
        secondary.set_xlabel("photon energy (eV)")

    title = f"Ar–Hg lamp spectrum with the {lines.size} identified lines (nm)"
    return {"lamp": Panel(title, draw, size)}


def _plot_calibrate(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(_calibrate_panels(run), run, out_dir, stem)


# --------------------------------------------------------------------------------------------- spectrum
def _spectrum_panels(run: Run) -> dict[str, Panel]:
    if run.signal is None or run.signal not in run.data or "wavelength_nm" not in run.data:
        raise ValueError(f"{run.path}: no spectra with a wavelength_nm axis to plot "
                         f"(procedure {run.procedure!r})")
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectra, spikes = cleaned(np.asarray(run.data[run.signal], float).reshape(-1, wl.size))

    def draw(fig):
        ax = fig.subplots()
        if spectra.shape[0] <= 10:
            for i, spectrum in enumerate(spectra):
                ax.plot(wl, spectrum, lw=1, label=f"frame {i}" if spectra.shape[0] > 1 else None)
            if spectra.shape[0] > 1:
                ax.legend()
        else:
            ax.plot(wl, mean_spectrum(spectra), lw=1, label=f"mean of {spectra.shape[0]} spectra")
            ax.legend()
        ax.set_xlim(wl.min(), wl.max())  # also without finite counts, where autoscaling would reach 0 nm
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel(run.units.get(run.signal) or "counts")
        top = ax.secondary_xaxis("top", functions=(_nm_to_eV, _nm_to_eV))
        top.set_xlabel("photon energy (eV)")
        record_cosmics(fig, spikes)

    what = "Imported spectrum" if run.procedure.startswith("import") else "Spectrum"
    return {"spectrum": Panel(f"{what}{'s' if spectra.shape[0] > 1 else ''} ({run.procedure})", draw)}


def _plot_spectrum(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(_spectrum_panels(run), run, out_dir, stem)


def _nm_to_eV(x):
    x = np.asarray(x, float)
    with np.errstate(divide="ignore"):
        return np.where(x > 0, HC_EV_NM / np.where(x > 0, x, 1.0), np.inf)


SPECTRAL_PANELS = {
    "raster": _raster_panels,
    "line-scan": _line_scan_panels,
    "distance-sweep": _distance_sweep_panels,
    "pressure-ramp": _pressure_ramp_panels,
    "calibrate": _calibrate_panels,
    "import-sif": _spectrum_panels,
    "kinetic-series": plotting_photons.kinetic_series_panels,
}
PHOTON_PANELS = {
    "confocal-raster": plotting_photons.confocal_raster_panels,
    "g2": plotting_photons.g2_panels,
    "time-trace": plotting_photons.time_trace_panels,
    "import-ptu": plotting_photons.imported_tags_panels,
}


def figure_panels(run: Run) -> dict[str, Panel]:
    """The panels of the run's figures by kind, as ``plot_run`` draws them (spectral and photon-counting
    procedures; the rig's own procedures have ``tepl.plotting_rig.*_figures``)."""
    if run.procedure in plotting_rig.__dict__.get("RIG_PROCEDURES", ()):
        raise ValueError(f"{run.path}: {run.procedure} figures are drawn by tepl.plotting_rig")
    maker = {**SPECTRAL_PANELS, **PHOTON_PANELS}.get(run.procedure, _spectrum_panels)
    return maker(run)


SPECTRAL_PLOTTERS = {
    "raster": _plot_raster,
    "line-scan": _plot_line_scan,
    "distance-sweep": _plot_distance_sweep,
    "pressure-ramp": _plot_pressure_ramp,
    "calibrate": _plot_calibrate,
    "import-sif": _plot_spectrum,
    "kinetic-series": plotting_photons.plot_kinetic_series,
}
PHOTON_PLOTTERS = {
    "confocal-raster": plotting_photons.plot_confocal_raster,
    "g2": plotting_photons.plot_g2,
    "time-trace": plotting_photons.plot_time_trace,
    "import-ptu": plotting_photons.plot_imported_tags,
}
RIG_PLOTTERS = {
    "approach": plotting_rig.plot_approach,
    "align-tip": plotting_rig.plot_align_tip,
    "temperature-series": plotting_rig.plot_temperature_series,
}
PLOTTERS = {**SPECTRAL_PLOTTERS, **PHOTON_PLOTTERS, **RIG_PLOTTERS}


def open_run(h5_path) -> Run:
    """The run at ``h5_path`` as the figures read it: datasets above ``STREAM_ABOVE_BYTES`` left on disk."""
    return read_run(h5_path, lazy_above_bytes=STREAM_ABOVE_BYTES)


def plot_run(h5_path, out_dir) -> list[Path]:
    """Write the PNG figures of the run at ``h5_path`` into ``out_dir`` (created if needed); return their
    paths. Procedures without a dedicated plot get their spectrum; a file with nothing plottable raises
    ValueError naming it."""
    run = open_run(h5_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if "spectra" not in run.data and run.procedure in SPECTRAL_PLOTTERS:
        raise ValueError(f"{run.path}: {run.procedure} run has no /entry/data/spectra to plot")
    plotter = PLOTTERS.get(run.procedure, _plot_spectrum)
    try:
        with styled():
            return plotter(run, out_dir, Path(h5_path).stem)
    except ValueError as exc:  # e.g. a wavelength axis that misses the fit window
        if str(run.path) in str(exc):
            raise
        raise ValueError(f"{run.path}: cannot plot the {run.procedure} run: {exc}") from exc
