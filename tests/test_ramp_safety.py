"""Pressure ramps stop pressing at the configured pressure limit and at quench onset (truth: the World)."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.config import CONFIG_DIR, parse_config
from tepl.data.runfile import read_run
from tepl.procedures import run_procedure
from tepl.station import build_station


def _station(max_pressure_GPa: float = 1.0):
    text = (CONFIG_DIR / "sim.yaml").read_text()
    text = text.replace("max_pressure_GPa: 1.0", f"max_pressure_GPa: {max_pressure_GPa}")
    return build_station(parse_config(text, "sim.yaml"))


def _brightest_dot_um(station):
    truth = station.world.ground_truth()["sample"]
    i = int(np.argmax(truth["orientation"]))
    return truth["x_nm"][i] / 1000.0, truth["y_nm"][i] / 1000.0, truth["height_nm"][i]


def test_pressure_limit_stops_the_press(tmp_path):
    st = _station(max_pressure_GPa=0.3)
    x_um, y_um, _ = _brightest_dot_um(st)
    path = run_procedure("pressure-ramp", st, tmp_path / "limit.h5", x_um=x_um, y_um=y_um)
    r = read_run(path)
    assert r.status == "complete"
    done = np.isfinite(r.data["gap_nm"])
    gap, pressure = r.data["gap_nm"][done], r.data["pressure_GPa"][done]
    deepest = gap.min()
    assert deepest > 4.0, "pressed on past the limit"
    # the press stops before the limit (the true pressure, up to the live estimate's few-% error), close to it
    true_GPa = st.world.sample.pressure_GPa(x_um * 1000.0, y_um * 1000.0, deepest)
    assert 0.2 <= true_GPa <= 0.33, true_GPa
    assert np.max(pressure) <= 0.3
    assert any("the next step would reach" in line for line in r.log)
    assert r.data["direction"][done][-1] == -1 and gap[-1] == pytest.approx(gap[0], abs=0.3)
    assert st.zcontrol.state() == "retracted"


def test_quench_onset_stops_the_press(tmp_path):
    st = _station()
    x_um, y_um, _ = _brightest_dot_um(st)
    path = run_procedure("pressure-ramp", st, tmp_path / "quench.h5", x_um=x_um, y_um=y_um,
                         quench_stop_fraction=0.2)
    r = read_run(path)
    done = np.isfinite(r.data["gap_nm"])
    deepest = r.data["gap_nm"][done].min()
    quench_gap = float(st.world.ground_truth()["sample"]["quench_gap_nm"])
    assert quench_gap - 2.0 < deepest < quench_gap, deepest
    assert any("quench onset" in line for line in r.log)
    assert r.status == "complete"


def test_distance_sweep_never_presses(tmp_path):
    from tepl.roles import LimitError

    st = _station()
    x_um, y_um, _ = _brightest_dot_um(st)
    st.world.lowest_tip_distance_nm = float("inf")
    with pytest.raises(LimitError, match="stays above the surface"):
        run_procedure("distance-sweep", st, tmp_path / "sweep.h5", x_um=x_um, y_um=y_um, stop_gap_nm=3.0)
    assert st.world.lowest_tip_distance_nm > 0.0
    assert read_run(tmp_path / "sweep.h5").status == "failed"
