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

This module picks the plotter from the run file's procedure. Maps and line scans are drawn by
``tepl.plotting_maps``; distance sweeps and pressure ramps by ``tepl.plotting_gap``; the lamp and single spectra
by ``tepl.plotting_spectrum``; photon-counting runs (confocal-raster, g2, time-trace, PTU imports) and kinetic
series by ``tepl.plotting_photons``; the tip approach, the tip-laser alignment and temperature series by
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

from tepl import plotting_gap, plotting_maps, plotting_photons, plotting_rig, plotting_spectrum
from tepl.data.runfile import Run, read_run
from tepl.plot_common import Panel, styled

STREAM_ABOVE_BYTES = 16 * 2**20  # datasets larger than this are read from the file one row at a time


SPECTRAL_PANELS = {
    "raster": plotting_maps.raster_panels,
    "line-scan": plotting_maps.line_scan_panels,
    "distance-sweep": plotting_gap.distance_sweep_panels,
    "pressure-ramp": plotting_gap.pressure_ramp_panels,
    "calibrate": plotting_spectrum.calibrate_panels,
    "import-sif": plotting_spectrum.spectrum_panels,
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
    if run.procedure in RIG_PLOTTERS:
        raise ValueError(f"{run.path}: {run.procedure} figures are drawn by tepl.plotting_rig")
    maker = {**SPECTRAL_PANELS, **PHOTON_PANELS}.get(run.procedure, plotting_spectrum.spectrum_panels)
    return maker(run)


SPECTRAL_PLOTTERS = {
    "raster": plotting_maps.plot_raster,
    "line-scan": plotting_maps.plot_line_scan,
    "distance-sweep": plotting_gap.plot_distance_sweep,
    "pressure-ramp": plotting_gap.plot_pressure_ramp,
    "calibrate": plotting_spectrum.plot_calibrate,
    "import-sif": plotting_spectrum.plot_spectrum,
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
    plotter = PLOTTERS.get(run.procedure, plotting_spectrum.plot_spectrum)
    try:
        with styled():
            return plotter(run, out_dir, Path(h5_path).stem)
    except ValueError as exc:  # e.g. a wavelength axis that misses the fit window
        if str(run.path) in str(exc):
            raise
        raise ValueError(f"{run.path}: cannot plot the {run.procedure} run: {exc}") from exc
