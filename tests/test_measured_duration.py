"""An aborted g2 records the time it really measured: the tags' duration, the g2 normalisation and the
exported PTU header all say the measured time, not the requested one."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.analysis.normalisation import g2_normalisation
from tepl.config import CONFIG_DIR
from tepl.data.ptu import read_ptu
from tepl.data.ptu_export import export_ptu
from tepl.data.runfile import read_run
from tepl.data.tags import read_tags
from tepl.procedures import RunControl, make_procedure, run
from tepl.station import build_station


@pytest.fixture(scope="module")
def hbt_station():
    station = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    yield station
    station.close()


def test_an_aborted_g2_keeps_its_measured_duration(hbt_station, tmp_path):
    control = RunControl()
    blocks = []

    def abort_after_three_blocks(event):
        if event.kind == "progress":
            blocks.append(event)
            if len(blocks) == 3:
                control.abort("operator: enough")

    path = tmp_path / "g2.h5"
    run(make_procedure("g2", acquisition_s=600.0, block_s=0.5), hbt_station, path, control=control,
        listeners=[abort_after_three_blocks])
    result = read_run(path)
    assert result.status == "aborted"
    tags = read_tags(path)
    # three blocks of about 0.5 s (a FIFO read each), not the 600 s asked for
    assert 1.4 < tags.duration_s < 2.0 and tags.time_ps.max() <= tags.duration_s * 1e12
    photons = np.bincount(tags.channel.astype(np.int64), minlength=2)
    norm = g2_normalisation(photons[0], photons[1], 0.5 * 1000.0, tags.duration_s)
    np.testing.assert_allclose(result.data["g2"], result.data["coincidences"] / norm, rtol=1e-6)
    ptu = export_ptu(path, tmp_path / "g2.ptu")
    assert read_ptu(ptu).tags["MeasDesc_AcquisitionTime"] == pytest.approx(tags.duration_s * 1e3, abs=0.5)  # integer ms
