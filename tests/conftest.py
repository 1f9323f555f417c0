"""Shared fixtures: a simulated TEPL station built from the embedded config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def station():
    from tepl.station import build_station

    st = build_station()
    yield st
    st.close()


@pytest.fixture(scope="session")
def session_runs(tmp_path_factory):
    """One simulated TEPL session, run once for all twin-acceptance tests: calibrate, raster, ramps, sweep."""
    from tepl.demo import BARE_AU_UM, find_dots
    from tepl.procedures import run_procedure
    from tepl.station import build_station

    out = tmp_path_factory.mktemp("session")
    st = build_station()
    paths = {"calibrate": run_procedure("calibrate", st, out / "cal.h5")}
    paths["raster"] = run_procedure("raster", st, out / "raster.h5", size_x_um=0.15, size_y_um=0.15,
                                    pixel_um=0.005, exposure_s=0.1)
    dot = max(find_dots(paths["raster"]), key=lambda s: s.amplitude)
    x_um, y_um = dot.x_nm / 1000.0, dot.y_nm / 1000.0
    paths["ramp_dot"] = run_procedure("pressure-ramp", st, out / "ramp_dot.h5", x_um=x_um, y_um=y_um)
    paths["ramp_au"] = run_procedure("pressure-ramp", st, out / "ramp_au.h5", x_um=BARE_AU_UM[0],
                                     y_um=BARE_AU_UM[1])
    paths["sweep"] = run_procedure("distance-sweep", st, out / "sweep.h5", x_um=x_um, y_um=y_um,
                                   start_gap_nm=40.0, stop_gap_nm=12.0)
    st.close()
    return paths
