"""The simulated confocal and cryogenic sessions of ``tepl demo`` (papers 003 and 004).

confocal FLIM rig: a three-scan two-colour raster of sample A, summed after drift correction, with its
lifetime maps → HBT rig: a survey of single QDs (``tepl.demo_qds``), then g2 and a blinking trace on the
brightest →
cryogenic rig: a kinetic series of one nanocrystal's spectra → film cryostat (paper 001): a short temperature
series of the six-layer film (five setpoints, a spectrum and a decay at each, live E(T) and Γ(T) fits). Every
run an HDF5 file, every file its figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.demo_qds import SURVEY, find_qds
from tepl.procedures import run_procedure
from tepl.station import build_station


def run_photon_demo(out: Path, say: Callable[[str], None], first_step: int = 1, t0: float | None = None) -> list[Path]:
    """Run the confocal and cryogenic sessions into ``out``; return the files written. ``t0``: the session's
    start (``time.monotonic()``) the elapsed times count from (default: now)."""
    from tepl.plotting import plot_run

    t0 = time.monotonic() if t0 is None else t0
    written: list[Path] = []
    number = first_step

    def step(station, name: str, procedure: str, **params) -> Path:
        nonlocal number
        path = out / f"{number:02d}-{name}.h5"
        number += 1
        run_procedure(procedure, station, path, overwrite=True, **params)
        figures = plot_run(path, out / "figures" / path.stem)
        written.extend([path, *figures])
        say(f"  {procedure:15s} -> {path}  ({len(figures)} figures, {time.monotonic() - t0:.0f} s elapsed)")
        return path

    say(f"{number}. confocal FLIM rig (paper 003): 3 scans of sample A, 10 µm x 10 µm, 0.5 µm pixels, "
        "100 ms per pixel, summed after drift correction")
    confocal = build_station(CONFIG_DIR / "confocal-sim.yaml")
    raster = read_run(step(confocal, "confocal-raster", "confocal-raster", size_x_um=10.0, size_y_um=10.0,
                           pixel_um=0.5, dwell_s=0.1, scans=3))
    for scan, (dx, dy) in enumerate(raster.data["drift_nm"]):
        say(f"   scan {scan + 1}: drift ({dx:.0f}, {dy:.0f}) nm since scan 1")
    confocal.close()

    say(f"{number}. HBT rig: single QDs on glass, CW 561 nm: a {SURVEY['size_um']:g} µm survey at "
        f"{1000 * SURVEY['pixel_um']:.0f} nm pixels, then g2 and blinking on the brightest")
    hbt = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    found = step(hbt, "qd-raster", "confocal-raster", size_x_um=SURVEY["size_um"], size_y_um=SURVEY["size_um"],
                 pixel_um=SURVEY["pixel_um"], dwell_s=SURVEY["dwell_s"])
    survey = find_qds(found)
    if survey.brightest is None:
        raise RuntimeError("the raster found no single QDs")
    say(survey.summary())
    x_um, y_um = survey.brightest.x_nm / 1000.0, survey.brightest.y_nm / 1000.0
    g2 = read_run(step(hbt, "g2", "g2", x_um=x_um, y_um=y_um, acquisition_s=10.0))
    _report_attrs(g2.path, "g2", say, "   g2 fit: tau = {fit_tau_ns:.1f} ns, C = {fit_contrast:.2f}")
    trace = read_run(step(hbt, "time-trace", "time-trace", x_um=x_um, y_um=y_um, acquisition_s=10.0))
    _report_attrs(trace.path, "counts", say, "   ON fraction {on_fraction:.3f}")
    hbt.close()

    say(f"{number}. cryogenic rig (paper 004): 60 spectra of 1 s from one nanocrystal at 4 K")
    cryo = build_station(CONFIG_DIR / "cryo-sim.yaml")
    step(cryo, "kinetic-series", "kinetic-series", exposure_s=1.0, frames=60)
    cryo.close()

    low, high, every = TEMPERATURES_K
    say(f"{number}. film cryostat (paper 001): the six-layer CsPbBr3 QD film at {low:g} to {high:g} K every "
        f"{every:g} K, a spectrum and a decay at each")
    film = build_station(CONFIG_DIR / "film-cryo-sim.yaml")
    series = step(film, "temperature-series", "temperature-series", **FILM_SERIES)
    film.close()
    report_temperature_series(series, say)
    return written


TEMPERATURES_K = (10.0, 290.0, 70.0)  # the film's series: first, last setpoint and step (K): five setpoints
FILM_SERIES = {"start_k": TEMPERATURES_K[0], "stop_k": TEMPERATURES_K[1], "step_k": TEMPERATURES_K[2],
               "hold_s": 5.0, "exposure_s": 1.0, "acquisition_s": 1.0, "x_um": 75.0, "y_um": 50.0, "E_LO_meV": 26.0}
"""The demo's temperature series: on the six-layer film (x >= 50 µm), 5 s stable within the default band, the
LO phonon energy held at paper 001's 26 meV in the Γ(T) fit, as the paper did."""


def report_temperature_series(path: Path, say: Callable[[str], None]) -> None:
    """The live fits of a temperature series: E0 and Γ0, γ_LO, and the lifetime at the two ends."""
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        data = f["/entry/data"]
        energy = {k[4:]: v for k, v in data["peak_energy_eV"].attrs.items() if k.startswith("fit_")}
        width = {k[4:]: v for k, v in data["fwhm_meV"].attrs.items() if k.startswith("fit_")}
        temperature = np.asarray(data["temperature_k"][()], float)
        lifetime = np.asarray(data["lifetime_ns"][()], float) if "lifetime_ns" in data else None
    parts = []
    if "E0_eV" in energy:
        parts.append(f"E0 = {float(energy['E0_eV']):.3f} eV")
    if "gamma0_meV" in width and "gamma_LO_meV" in width:
        parts.append(f"Γ0 = {float(width['gamma0_meV']):.1f} meV, γ_LO = {float(width['gamma_LO_meV']):.1f} meV")
    if lifetime is not None and np.isfinite(lifetime).sum() >= 2:
        ok = np.isfinite(lifetime)
        parts.append(f"average lifetime {lifetime[ok][0]:.2f} ns at {temperature[ok][0]:.0f} K, "
                     f"{lifetime[ok][-1]:.2f} ns at {temperature[ok][-1]:.0f} K")
    say("   " + ("; ".join(parts) if parts else "no fit result on the series"))


def _report_attrs(path: Path, dataset: str, say: Callable[[str], None], template: str) -> None:
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        attrs = dict(f[f"/entry/data/{dataset}"].attrs)
    try:
        say(template.format(**attrs))
    except (KeyError, ValueError):
        say(f"   no fit result on {dataset}")
