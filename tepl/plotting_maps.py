"""Figures of hyperspectral maps and line scans (``raster``, ``line-scan`` runs), as ``tepl.plotting.plot_run``
draws them.

raster: intensity (``maps.intensity_map``, the map spots are found on), peak_energy (the stored fitted
peak-energy map, else fitted here; blank where the PL is weak), height, spectrum (the brightest pixel's
spectrum with its stored peak energy). line-scan: contour (position vs photon energy, colour = counts), height.
Maps have axes relative to their centre and a scale bar; the spectra are read one line at a time where the
file holds them on disk (``plot_common.rows``), with cosmic-ray spikes removed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.analysis.maps import intensity_map, peak_energy_map
from tepl.data.runfile import Run
from tepl.plot_common import Panel, energy_eV, map_axes, map_frame, rows, save_panels
from tepl.plot_spectra import cleaned, mean_spectrum, record_cosmics, signal_window_eV
from tepl.units import FIT_WINDOW_NM

WEAK_FRACTION = 0.15  # of the map's PL range above its dimmest pixel: dimmer pixels get no peak energy drawn


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


def raster_panels(run: Run) -> dict[str, Panel]:
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


def plot_raster(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(raster_panels(run), run, out_dir, stem, "Hyperspectral TEPL map")


# ------------------------------------------------------------------------------------------- line scan
def line_scan_panels(run: Run) -> dict[str, Panel]:
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


def plot_line_scan(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(line_scan_panels(run), run, out_dir, stem, "TEPL line scan")
