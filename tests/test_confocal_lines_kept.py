"""An aborted confocal raster keeps the decays of every completed line of the scan in progress."""

from __future__ import annotations

import numpy as np

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.procedures import RunControl, make_procedure, run
from tepl.station import build_station


def test_an_aborted_confocal_raster_keeps_the_decays_of_its_completed_lines(tmp_path):
    station = build_station(CONFIG_DIR / "confocal-sim.yaml")
    control = RunControl()

    def abort_after_two_lines(event):
        if event.kind == "progress" and event.done == 2:
            control.abort("operator: enough")

    path = tmp_path / "flim.h5"
    try:
        run(make_procedure("confocal-raster", size_x_um=2.0, size_y_um=2.0, pixel_um=0.5, dwell_s=0.02),
            station, path, control=control, listeners=[abort_after_two_lines])
    finally:
        station.close()
    result = read_run(path)
    assert result.status == "aborted"
    decays, counts = result.data["flim_scan"], result.data["counts"][0]  # [channel, y, x, bin], [channel, y, x]
    np.testing.assert_array_equal(result.data["flim_scan_number"], [0, 0, -1, -1, -1])
    in_decays = decays.sum(axis=-1)
    assert in_decays[:, :2].sum() > 0 and np.all(in_decays[:, :2] <= counts[:, :2])
    assert in_decays[:, :2].sum() >= 0.9 * counts[:, :2].sum()  # nearly every photon lies in the FLIM range
    assert decays[:, 2:].sum() == 0 and counts[:, 2:].sum() == 0
    assert result.data["flim"].sum() == 0  # no scan was complete: nothing summed
