"""Runs open the excitation path they need and the safe state blocks it first; a detector over its count-rate
limit darkens the sample before anything else. Judged on the simulated SC10's own state and the World."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR, parse_config
from tepl.data.runfile import read_run
from tepl.procedures import make_procedure, run
from tepl.roles import LimitError
from tepl.station import build_station
from tests.test_excitation_role import controller_of


def _with_excitation(name: str, replace: dict[str, str] | None = None):
    text = (CONFIG_DIR / name).read_text()
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    return parse_config(text, name)


def test_a_raster_opens_the_excitation_and_the_safe_state_blocks_it(tmp_path):
    station = build_station(_with_excitation("sim.yaml"))
    try:
        assert not controller_of(station).shutter_open  # safe at build: the sample is dark

        truth = station.world.ground_truth()["sample"]
        x_um, y_um = truth["x_nm"][0] / 1000.0, truth["y_nm"][0] / 1000.0
        path = run(make_procedure("raster", center_x_um=x_um, center_y_um=y_um, size_x_um=0.01, size_y_um=0.01,
                                  pixel_um=0.005, exposure_s=0.1), station, tmp_path / "lit.h5")
        result = read_run(path)
        assert any("excitation open (excitation_shutter, laser)" in line for line in result.log)
        assert np.nanmax(result.data["peak_intensity"]) > 0  # the dot was lit and fitted
        assert not controller_of(station).shutter_open and not station.world.excitation_open  # blocked at the end
        with h5py.File(path, "r") as f:
            assert f["/entry"].attrs["safe_state_excitation_shutter"] == "closed"
    finally:
        station.close()


def test_calibration_leaves_the_excitation_blocked(tmp_path):
    station = build_station(_with_excitation("sim.yaml"))
    try:
        run(make_procedure("calibrate", exposure_s=0.2, accumulations=1), station, tmp_path / "cal.h5")
        assert not controller_of(station).shutter_open
        assert not any("excitation open" in line for line in read_run(tmp_path / "cal.h5").log)
    finally:
        station.close()


def test_a_count_rate_over_the_limit_darkens_the_sample_before_anything_else(tmp_path, monkeypatch):
    # dark counts are 100 /s per SPAD; the lit focus counts far more: a 2000 /s limit trips only when lit
    station = build_station(_with_excitation("confocal-sim.yaml", {"max_count_rate_per_s: 5.0e+6":
                                                                   "max_count_rate_per_s: 2000"}))
    try:
        events: list[str] = []
        shutter, counter = station.excitation_shutter, station.tcspc
        for inst, method, label in ((shutter, "make_safe", "excitation blocked"), (counter, "stop", "counting stopped"),
                                    (station.stage, "make_safe", "stage stopped")):
            original = getattr(inst, method)

            def recording(*args, _original=original, _label=label, **kwargs):
                events.append(_label)
                return _original(*args, **kwargs)

            monkeypatch.setattr(inst, method, recording)
        check = counter.check_count_rates

        def reporting(*args, **kwargs):
            try:
                return check(*args, **kwargs)
            except LimitError:
                events.append("over the limit reported")
                raise

        monkeypatch.setattr(counter, "check_count_rates", reporting)
        with pytest.raises(LimitError, match=r"limits.max_count_rate_per_s"):
            run(make_procedure("time-trace", acquisition_s=1.0, block_s=0.1), station, tmp_path / "bright.h5")
        # dark before the error left the counter, before counting stopped, before the safe state
        assert events[:2] == ["excitation blocked", "over the limit reported"], events
        assert not controller_of(station).shutter_open and not station.world.excitation_open
        assert read_run(tmp_path / "bright.h5").status == "failed"
    finally:
        station.close()
