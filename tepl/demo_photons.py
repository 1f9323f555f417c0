"""The simulated confocal and cryogenic sessions of ``tepl demo`` (papers 003 and 004).

confocal FLIM rig: a three-scan two-colour raster of sample A, summed after drift correction, with its
lifetime maps → HBT rig: a raster of single QDs, then g2 and a blinking trace on the brightest →
cryogenic rig: a kinetic series of one nanocrystal's spectra. Every run an HDF5 file, every file its figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.procedures import run_procedure
from tepl.station import build_station


def find_emitters(raster_path: Path, channel: int = 0) -> list:
    """Bright spots of a confocal raster's drift-corrected counts in ``channel`` (stage coordinates, nm)."""
    from tepl.analysis.maps import find_spots, map_axes_nm

    run = read_run(raster_path)
    image = np.asarray(run.data["counts_sum"][channel], float)
    return find_spots(image, *map_axes_nm(run.data), min_separation_nm=1000.0)


def run_photon_demo(out: Path, say: Callable[[str], None], first_step: int = 1) -> list[Path]:
    """Run the confocal and cryogenic sessions into ``out``; return the files written."""
    from tepl.plotting import plot_run

    t0 = time.monotonic()
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

    say(f"{number}. confocal FLIM rig (paper 003): 3 scans of sample A, 12 µm x 12 µm, 0.4 µm pixels, "
        "100 ms per pixel")
    confocal = build_station(CONFIG_DIR / "confocal-sim.yaml")
    raster = read_run(step(confocal, "confocal-raster", "confocal-raster", size_x_um=12.0, size_y_um=12.0,
                           pixel_um=0.4, dwell_s=0.1, scans=3))
    for scan, (dx, dy) in enumerate(raster.data["drift_nm"]):
        say(f"   scan {scan + 1}: drift ({dx:.0f}, {dy:.0f}) nm since scan 1")
    confocal.close()

    say(f"{number}. HBT rig: single QDs on glass, CW 561 nm; g2 and blinking on the brightest")
    hbt = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    found = step(hbt, "qd-raster", "confocal-raster", size_x_um=10.0, size_y_um=10.0, pixel_um=0.25, dwell_s=0.01)
    qds = find_emitters(found)
    if not qds:
        raise RuntimeError("the raster found no single QDs")
    qd = qds[0]
    x_um, y_um = qd.x_nm / 1000.0, qd.y_nm / 1000.0
    say(f"   {len(qds)} QDs; the brightest at ({x_um:.2f}, {y_um:.2f}) µm")
    g2 = read_run(step(hbt, "g2", "g2", x_um=x_um, y_um=y_um, acquisition_s=20.0))
    _report_attrs(g2.path, "g2", say, "   g2 fit: tau = {fit_tau_ns:.1f} ns, C = {fit_contrast:.2f}")
    trace = read_run(step(hbt, "time-trace", "time-trace", x_um=x_um, y_um=y_um, acquisition_s=20.0))
    _report_attrs(trace.path, "counts", say, "   ON fraction {on_fraction:.3f}")
    hbt.close()

    say(f"{number}. cryogenic rig (paper 004): 60 spectra of 1 s from one nanocrystal at 4 K")
    cryo = build_station(CONFIG_DIR / "cryo-sim.yaml")
    step(cryo, "kinetic-series", "kinetic-series", exposure_s=1.0, frames=60)
    cryo.close()
    return written


def _report_attrs(path: Path, dataset: str, say: Callable[[str], None], template: str) -> None:
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        attrs = dict(f[f"/entry/data/{dataset}"].attrs)
    try:
        say(template.format(**attrs))
    except (KeyError, ValueError):
        say(f"   no fit result on {dataset}")
