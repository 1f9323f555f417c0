"""A simulated session (``make demo`` / ``tepl demo``): the experiments of the papers, end to end.

TEPL rig (paper 000), a scientist's day: the tip starts ~20 µm above the sample and its apex ~1 µm off the laser
focus (``tepl.demo_day``) → coarse approach on bare Au (the Z reference set at contact) → tip-laser alignment
with the picomotors → calibrate → raster that finds the dots → distance sweep and pressure ramp on the
brightest dot → the same ramp on bare Au. Then the confocal, cryogenic and film-cryostat rigs (papers 003, 004
and 001, ``tepl.demo_photons``). Every run an HDF5 file in ``out``, every file its PNG figures.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tepl.data.runfile import read_run
from tepl.demo_day import check_output_folder, day_config, start_day
from tepl.procedures import run_procedure
from tepl.station import build_station

BARE_AU_UM = (50.3, 50.0)  # a spot of bare gold outside the dot field of the simulated sample


def _say(message: str) -> None:
    print(message, flush=True)


def find_dots(raster_path: Path) -> list:
    """Spots of the raster's integrated-intensity map (stage coordinates, nm)."""
    from tepl.analysis.maps import intensity_map
    from tepl.analysis.spots import find_spots, map_axes_nm

    run = read_run(raster_path)
    image = intensity_map(run.data["wavelength_nm"], run.data["spectra"])
    return find_spots(image, *map_axes_nm(run.data))


def run_demo(out: Path, config: str | None = None, photons: bool = True, overwrite: bool = False) -> list[Path]:
    """Run the session into ``out``; return the files written (HDF5 and PNG). ``photons`` adds the
    confocal, cryogenic and film-cryostat sessions. A folder that already holds files is refused unless
    ``overwrite`` (FileExistsError naming it), before anything runs."""
    from tepl.plotting import plot_run

    check_output_folder(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    station = build_station(day_config(config))
    temperature_c, status = station.spectrometer.temperature_c()
    _say(f"station {station.name}: CCD at {temperature_c:.0f} °C ({status})")
    written: list[Path] = []
    number = 1

    def step(name: str, procedure: str, **params) -> Path:
        nonlocal number
        path = out / f"{number:02d}-{name}.h5"
        number += 1
        run_procedure(procedure, station, path, overwrite=True, **params)
        figures = plot_run(path, out / "figures" / path.stem)
        written.extend([path, *figures])
        _say(f"  {procedure:15s} -> {path}  ({len(figures)} figures, {time.monotonic() - t0:.0f} s elapsed)")
        return path

    if "picomotors" in station.instruments:
        start_day(station, step, _say, lambda: number)

    _say(f"{number}. calibrate: Ar-Hg lamp lines")
    cal = read_run(step("calibrate", "calibrate"))
    _say("   " + (cal.log[-1] if cal.log else "no calibration report"))

    _say(f"{number}. raster 0.15 µm x 0.15 µm, 0.005 µm (5 nm) pixels, snake order")
    raster = step("raster", "raster", size_x_um=0.15, size_y_um=0.15, pixel_um=0.005, exposure_s=0.1)
    dots = find_dots(raster)
    if not dots:
        raise RuntimeError("the raster found no dots")
    for d in dots:
        _say(f"   dot at ({d.x_nm / 1000.0:.4f}, {d.y_nm / 1000.0:.4f}) µm, spot FWHM {d.fwhm_nm:.1f} nm, "
             f"amplitude {d.amplitude:.0f}")
    brightest = max(dots, key=lambda d: d.amplitude)
    x_um, y_um = brightest.x_nm / 1000.0, brightest.y_nm / 1000.0

    _say(f"{number}. distance sweep above the brightest dot ({x_um:.4f}, {y_um:.4f}) µm")
    step("distance-sweep", "distance-sweep", x_um=x_um, y_um=y_um, start_gap_nm=40.0, stop_gap_nm=12.0)

    _say(f"{number}. pressure ramp on the dot")
    ramp = read_run(step("pressure-ramp-dot", "pressure-ramp", x_um=x_um, y_um=y_um))
    _report_ramp(ramp)

    _say(f"{number}. the same ramp on bare Au at {BARE_AU_UM} µm")
    au = read_run(step("pressure-ramp-au", "pressure-ramp", x_um=BARE_AU_UM[0], y_um=BARE_AU_UM[1]))
    _report_ramp(au)
    station.close()
    if photons:
        from tepl.demo_photons import run_photon_demo

        written.extend(run_photon_demo(out, _say, first_step=number, t0=t0))
    _say(f"done in {time.monotonic() - t0:.0f} s: {sum(p.suffix == '.h5' for p in written)} run files and "
         f"{sum(p.suffix == '.png' for p in written)} figures in {out.resolve()}")
    return written


def _report_ramp(run) -> None:
    from tepl.analysis.ramp import summarize_ramp

    d = run.data
    s = summarize_ramp(d["wavelength_nm"], d["spectra"], d["gap_nm"], d["direction"])
    _say(f"   peak shift at the deepest press ({s.deepest_gap_nm:.2f} nm): {s.shift_at_deepest_meV:+.1f} ± "
         f"{s.shift_at_deepest_err_meV:.1f} meV; intensity maximum at gap {s.gap_at_max_intensity_nm:.2f} nm; "
         f"after release {s.release_offset_meV:+.1f} ± {s.release_offset_err_meV:.1f} meV; unstrained FWHM "
         f"{s.plateau_fwhm_meV:.0f} meV; live pressure up to {np.nanmax(d['pressure_GPa']):.2f} GPa")
