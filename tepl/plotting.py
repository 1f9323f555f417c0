"""PNG figures of a run file, of the kinds the papers show, chosen by the run's procedure.

``plot_run(h5_path, out_dir)`` writes, named ``<file stem>_<kind>.png``:

==================  =====================================================================================
raster              peak_energy (fitted peak energy map), intensity (``maps.intensity_map``, the map spots
                    are found on), height map
line-scan           contour (position vs photon energy, colour = counts), height (topography profile)
distance-sweep      spectra (spectra coloured by gap), approach (``maps.intensity_map`` vs gap)
pressure-ramp       contour (photon energy vs step, colour = counts, fitted peak overlaid), shift
                    (peak shift from the unstrained plateau of ``summarize_ramp``, and fitted intensity, vs
                    gap, pressing and releasing distinguished)
calibrate           lamp (lamp spectrum with the identified lines marked)
import-sif / other  spectrum (the spectrum, or each frame)
==================  =====================================================================================

Photon-counting runs (confocal-raster, g2, time-trace, PTU imports) and kinetic series are drawn by
``tepl.plotting_photons``; the tip approach, the tip-laser alignment and temperature series by
``tepl.plotting_rig``.

Spectra are analysed in ``tepl.units.FIT_WINDOW_NM``. Unfilled pixels (NaN, e.g. a stopped run) are left
blank. Figures are drawn with matplotlib's Agg canvas, without pyplot, so this is safe to call from any
thread.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from tepl import plotting_photons, plotting_rig
from tepl.analysis.maps import intensity_map, peak_energy_map
from tepl.data.runfile import Run, read_run
from tepl.plot_common import energy_eV, figure, save, stage_axes
from tepl.units import FIT_WINDOW_NM, HC_EV_NM


def _plot_raster(run: Run, out_dir: Path, stem: str) -> list[Path]:
    wl = run.data["wavelength_nm"]
    spectra = run.data["spectra"]
    x = np.asarray(run.data.get("x_um", np.arange(spectra.shape[1])), float)
    y = np.asarray(run.data.get("y_um", np.arange(spectra.shape[0])), float)
    maps = [
        ("peak_energy", peak_energy_map(wl, spectra, FIT_WINDOW_NM).center_eV, "fitted peak energy (eV)",
         "viridis"),
        ("intensity", intensity_map(wl, spectra, FIT_WINDOW_NM), "integrated counts above background", "inferno"),
    ]
    if "height_nm" in run.data:
        maps.append(("height", run.data["height_nm"], "height (nm)", "copper"))
    paths = []
    for kind, image, label, cmap in maps:
        fig, ax = figure()
        mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(np.asarray(image, float)), cmap=cmap,
                             shading="nearest")
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_aspect("equal")
        stage_axes(ax, "x", "y")
        paths.append(save(fig, out_dir, stem, kind, run))
    return paths


def _plot_line_scan(run: Run, out_dir: Path, stem: str) -> list[Path]:
    spectra = np.asarray(run.data["spectra"], float)
    x = np.asarray(run.data.get("x_um", np.arange(spectra.shape[0])), float)
    energy = energy_eV(run)
    fig, ax = figure()
    mesh = ax.pcolormesh(x, energy, np.ma.masked_invalid(spectra.T), cmap="inferno", shading="nearest")
    fig.colorbar(mesh, ax=ax, label="counts")
    stage_axes(ax, "x", prefix="position along the line, ")
    ax.set_ylabel("photon energy (eV)")
    paths = [save(fig, out_dir, stem, "contour", run)]
    if "height_nm" in run.data:
        fig, ax = figure(size=(6.4, 3.2))
        ax.plot(x, run.data["height_nm"], "-o", ms=3)
        stage_axes(ax, "x", prefix="position along the line, ")
        ax.set_ylabel("height (nm)")
        paths.append(save(fig, out_dir, stem, "height", run))
    return paths


def _gap(run: Run, n: int) -> np.ndarray:
    return np.asarray(run.data.get("gap_nm", np.arange(n)), float)


def _plot_distance_sweep(run: Run, out_dir: Path, stem: str) -> list[Path]:
    from matplotlib import cm, colors

    spectra = np.asarray(run.data["spectra"], float)
    gap = _gap(run, spectra.shape[0])
    energy = energy_eV(run)
    done = np.all(np.isfinite(spectra), axis=1) & np.isfinite(gap)
    fig, ax = figure()
    if np.any(done):
        norm = colors.Normalize(np.min(gap[done]), max(np.max(gap[done]), np.min(gap[done]) + 1e-9))
        for i in np.flatnonzero(done):
            ax.plot(energy, spectra[i], color=cm.viridis(norm(gap[i])), lw=1)
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, label="tip-sample gap (nm)")
    ax.set_xlabel("photon energy (eV)")
    ax.set_ylabel("counts")
    paths = [save(fig, out_dir, stem, "spectra", run)]
    fig, ax = figure()
    ax.plot(gap[done], intensity_map(run.data["wavelength_nm"], spectra, FIT_WINDOW_NM)[done], "o-")
    ax.set_xlabel("tip-sample gap (nm)")
    ax.set_ylabel("integrated counts above background")
    paths.append(save(fig, out_dir, stem, "approach", run))
    return paths


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


def _plot_pressure_ramp(run: Run, out_dir: Path, stem: str) -> list[Path]:
    spectra = np.asarray(run.data["spectra"], float)
    n = spectra.shape[0]
    step = np.arange(n)
    gap = _gap(run, n)
    direction = np.asarray(run.data.get("direction", np.ones(n)), float)
    energy = energy_eV(run)
    peaks = peak_energy_map(run.data["wavelength_nm"], spectra, FIT_WINDOW_NM)
    fig, ax = figure()
    mesh = ax.pcolormesh(step, energy, np.ma.masked_invalid(spectra.T), cmap="inferno", shading="nearest")
    fig.colorbar(mesh, ax=ax, label="counts")
    ax.plot(step, peaks.center_eV, "o", ms=3, mfc="none", color="cyan", label="fitted peak")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("step (pressing, then releasing)")
    ax.set_ylabel("photon energy (eV)")
    paths = [save(fig, out_dir, stem, "contour", run)]

    fig, (ax_shift, ax_int) = figure(2, 1, size=(6.4, 6.4), sharex=True)
    reference, from_what = _ramp_reference_eV(run, peaks.center_eV, gap, direction)
    shift_meV = (peaks.center_eV - reference) * 1000.0
    styles = ((1, "pressing", dict(marker="v", ls="-", color="tab:red", ms=6)),
              (-1, "releasing", dict(marker="^", ls="--", color="tab:blue", ms=4, mfc="none")))
    for sign, label, style in styles:
        sel = direction == sign
        if np.any(sel):
            ax_shift.plot(gap[sel], shift_meV[sel], label=label, **style)
            ax_int.plot(gap[sel], peaks.amplitude[sel], label=label, **style)
    ax_shift.axhline(0.0, color="0.6", lw=0.8)
    ax_shift.set_ylabel(f"peak shift from {from_what} (meV)")
    ax_int.set_ylabel("fitted peak area (counts)")
    ax_int.set_xlabel("tip-sample gap (nm)")
    ax_int.invert_xaxis()
    ax_shift.legend(fontsize=8)
    paths.append(save(fig, out_dir, stem, "shift", run))
    return paths


def _mean_spectrum(spectra: np.ndarray) -> np.ndarray:
    spectra = np.asarray(spectra, float)
    if spectra.ndim == 1:
        return spectra
    with warnings.catch_warnings():  # a wavelength never measured stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(spectra.reshape(-1, spectra.shape[-1]), axis=0)


def _plot_calibrate(run: Run, out_dir: Path, stem: str) -> list[Path]:
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectrum = _mean_spectrum(run.data["spectra"])
    fig, ax = figure(size=(8.0, 4.8))
    ax.plot(wl, spectrum, lw=1, color="k")
    lines = np.array([])
    for name in ("line_wavelength_nm", "lines_nm"):
        if name in run.data:
            lines = np.asarray(run.data[name], float)
            break
    lines = lines[np.isfinite(lines)]
    for i, line in enumerate(lines):
        ax.axvline(line, color="tab:red", lw=0.8, ls="--", label="identified lines" if i == 0 else None)
        ax.annotate(f"{line:.2f}", (line, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=7, color="tab:red")
    if lines.size:
        ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("counts")
    return [save(fig, out_dir, stem, "lamp", run)]


def _plot_spectrum(run: Run, out_dir: Path, stem: str) -> list[Path]:
    if run.signal is None or run.signal not in run.data or "wavelength_nm" not in run.data:
        raise ValueError(f"{run.path}: no spectra with a wavelength_nm axis to plot "
                         f"(procedure {run.procedure!r})")
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectra = np.asarray(run.data[run.signal], float).reshape(-1, wl.size)
    fig, ax = figure()
    if spectra.shape[0] <= 10:
        for i, spectrum in enumerate(spectra):
            ax.plot(wl, spectrum, lw=1, label=f"frame {i}" if spectra.shape[0] > 1 else None)
        if spectra.shape[0] > 1:
            ax.legend(fontsize=8)
    else:
        ax.plot(wl, _mean_spectrum(spectra), lw=1, label=f"mean of {spectra.shape[0]} spectra")
        ax.legend(fontsize=8)
    ax.set_xlim(wl.min(), wl.max())  # also without finite counts, where autoscaling would reach 0 nm
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(run.units.get(run.signal) or "counts")
    top = ax.secondary_xaxis("top", functions=(_nm_to_eV, _nm_to_eV))
    top.set_xlabel("photon energy (eV)")
    return [save(fig, out_dir, stem, "spectrum", run)]


def _nm_to_eV(x):
    x = np.asarray(x, float)
    with np.errstate(divide="ignore"):
        return np.where(x > 0, HC_EV_NM / np.where(x > 0, x, 1.0), np.inf)


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


def plot_run(h5_path, out_dir) -> list[Path]:
    """Write the PNG figures of the run at ``h5_path`` into ``out_dir`` (created if needed); return their
    paths. Procedures without a dedicated plot get their spectrum; a file with nothing plottable raises
    ValueError naming it."""
    run = read_run(h5_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if "spectra" not in run.data and run.procedure in SPECTRAL_PLOTTERS:
        raise ValueError(f"{run.path}: {run.procedure} run has no /entry/data/spectra to plot")
    plotter = PLOTTERS.get(run.procedure, _plot_spectrum)
    try:
        return plotter(run, out_dir, Path(h5_path).stem)
    except ValueError as exc:  # e.g. a wavelength axis that misses the fit window
        if str(run.path) in str(exc):
            raise
        raise ValueError(f"{run.path}: cannot plot the {run.procedure} run: {exc}") from exc
