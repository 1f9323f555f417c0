"""The procedure contract, over every registered procedure on a simulated station that has its roles:

- the dry run moves nothing and prints the plan;
- an abort at the first checkpoint leaves the station safe, with status and reason in the file;
- a stop keeps everything measured until then;
- the plan's datasets and axes are exactly the file's, with the plan's shapes and units;
- a completed run leaves the station safe, but for the roles the procedure declares it leaves working
  (``Procedure.leaves``: the approach's engaged tip), which the file's safe state names as kept.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.procedures import PROCEDURES, RunControl, make_procedure, run
from tepl.station import build_station
from tests.fault_matrix import SMALL, cryostat_heating  # one small run of every procedure, shared with the fault matrix

STATIONS = ("sim.yaml", "confocal-sim.yaml", "confocal-hbt-sim.yaml", "cryo-sim.yaml", "film-cryo-sim.yaml")



@pytest.fixture(scope="module")
def stations():
    built = {config: build_station(CONFIG_DIR / config) for config in STATIONS}
    yield built
    for station in built.values():
        station.close()


def _station_for(stations, cls):
    for config in STATIONS:
        if all(stations[config].has_role(role) for role in cls.roles):
            return stations[config]
    raise AssertionError(f"no simulated station has the roles of {cls.name}")


def _world_state(station) -> dict:
    world = station.world
    return {"stage_um": world.stage_um.copy(), "tip_z_nm": float(world.tip_z_nm),
            "shutter": bool(world.shutter_open), "lamp": bool(world.lamp_on)}


def _assert_station_safe(station) -> None:
    world = station.world
    if station.has_role("zcontrol"):
        assert station.zcontrol.state() == "retracted" and world.tip_distance_nm() > 50.0
    assert not world.shutter_open and not world.lamp_on
    if station.has_role("tcspc"):
        m = station.tcspc.device.lib._meas
        assert m is None or m.stopped_s is not None or world.clock.now() >= m.end_s
    if station.has_role("cryostat"):
        assert not cryostat_heating(station)


def test_every_procedure_has_a_small_run():
    assert set(SMALL) == set(PROCEDURES)


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_dry_run_moves_nothing_and_prints_the_plan(stations, name):
    cls = PROCEDURES[name]
    station = _station_for(stations, cls)
    procedure = make_procedure(name, **SMALL[name])
    before = _world_state(station)
    text = procedure.dry_run(station)
    after = _world_state(station)
    np.testing.assert_array_equal(after.pop("stage_um"), before.pop("stage_um"))
    assert after == before
    plan = procedure.plan(station)
    assert text.startswith(plan.describe()) and "\nresources: the run file needs up to" in text
    assert f"plan of {name} on station {station.name}" in text
    for heading in ("points:", "axes:", "datasets:", "interlocks:", "estimated time:", "file size:"):
        assert heading in text
    for interlock in plan.interlocks:
        assert interlock.limit.name in text  # every interlock names its station limit


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_abort_at_the_first_checkpoint_leaves_the_station_safe(stations, name, tmp_path):
    cls = PROCEDURES[name]
    station = _station_for(stations, cls)
    control = RunControl()
    control.abort("contract: abort at the first checkpoint")
    path = tmp_path / f"{name}.h5"
    run(make_procedure(name, **SMALL[name]), station, path, control=control)
    result = read_run(path)
    assert result.status == "aborted" and result.reason == "contract: abort at the first checkpoint"
    _assert_station_safe(station)


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_stop_keeps_what_was_measured(stations, name, tmp_path):
    cls = PROCEDURES[name]
    station = _station_for(stations, cls)
    control = RunControl()
    written: dict[str, list] = {}

    def listen(event):
        if event.kind == "data":
            written.setdefault(event.data["name"], []).append((event.data["index"], np.array(event.data["value"])))
        if event.kind == "progress":
            control.stop()

    path = tmp_path / f"{name}.h5"
    run(make_procedure(name, **SMALL[name]), station, path, control=control, listeners=[listen])
    result = read_run(path)
    assert result.status == "complete"
    assert written, f"{name} wrote nothing before the stop"
    with h5py.File(path, "r") as f:
        data = f["entry/data"]
        for dataset, writes in written.items():
            last = {}
            for index, value in writes:  # the last write of each index is what the file keeps
                last[repr(index)] = (index, value)
            for index, value in last.values():
                np.testing.assert_array_equal(np.asarray(data[dataset][index], float),
                                              np.asarray(value, float).astype(data[dataset].dtype).astype(float),
                                              err_msg=f"{name}: {dataset}[{index}]")
    _assert_station_safe(station)


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_the_plans_datasets_are_the_files_datasets(stations, name, tmp_path):
    cls = PROCEDURES[name]
    station = _station_for(stations, cls)
    procedure = make_procedure(name, **SMALL[name])
    plan = procedure.plan(station)
    path = tmp_path / f"{name}.h5"
    run(procedure, station, path, plan=plan)
    with h5py.File(path, "r") as f:
        data = f["entry/data"]
        in_file = {key for key in data if not data[key].attrs.get("auto_index", False)}
        axes = {key for key in in_file if "dim" in data[key].attrs}
        datasets = in_file - axes
        assert datasets == {d.name for d in plan.datasets}
        planned_axes = {a.name for a in plan.axes}
        assert planned_axes <= axes
        assert axes - planned_axes <= {"wavelength_nm", "energy_eV", "nominal_wavelength_nm"}  # calibrate's result
        for spec in plan.datasets:
            assert all(n is None or n == m for n, m in zip(spec.shape, data[spec.name].shape, strict=True))
            assert data[spec.name].attrs["units"] == spec.unit
        for axis in plan.axes:
            if axis.measured:  # recorded as the run went: every value filled
                assert np.all(np.isfinite(data[axis.name][()])) and data[axis.name].size == axis.values.size
            else:
                np.testing.assert_array_equal(data[axis.name][()], axis.values)
        for stream in plan.streams:
            assert stream.kind in f["entry"]
    assert read_run(path).status == "complete"
    assert plan.file_bytes >= sum(d.nbytes for d in plan.datasets)
    with h5py.File(path, "r") as f:
        kept = {key[len("safe_state_"):] for key, value in f["entry"].attrs.items()
                if key.startswith("safe_state_") and str(value).startswith("kept ")}
    assert kept == set(cls.leaves)
    if "zcontrol" in kept:  # the approach: engaged at contact, never through the substrate
        assert station.zcontrol.state() == "engaged" and not station.world.crashed
        assert 0.0 < station.world.tip_distance_nm() < 5.0
        station.safe_state()
    _assert_station_safe(station)


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_an_abort_mid_run_blocks_the_excitation_first_then_the_tip_then_counting(stations, name, tmp_path,
                                                                                  monkeypatch):
    """Judged on the simulators' own state at each instrument's turn in the safe state: the SC10's shutter and the
    laser's emission, the World's tip distance, the TCSPC unit's measurement."""
    cls = PROCEDURES[name]
    station = _station_for(stations, cls)
    world = station.world
    sc10 = station.excitation_shutter.controller.adapter.controller
    turns: list[tuple[str, dict]] = []

    def seen() -> dict:
        m = station.tcspc.device.lib._meas if station.has_role("tcspc") else None
        return {"shutter_open": sc10.shutter_open, "laser_emitting": bool(world.laser_emitting),
                "tip_distance_nm": float(world.tip_distance_nm()),
                "counting": m is not None and m.stopped_s is None and world.clock.now() < m.end_s}

    for role, inst in station.instruments.items():
        def wrapped(_original=inst.make_safe, _role=role):
            turns.append((_role, seen()))
            return _original()

        monkeypatch.setattr(inst, "make_safe", wrapped)
    control = RunControl()
    at_abort: list[dict] = []

    def listen(event):
        if event.kind == "data" and not at_abort:
            at_abort.append(seen())
            control.abort("contract: abort mid-run")

    run(make_procedure(name, **SMALL[name]), station, tmp_path / f"{name}.h5", control=control, listeners=[listen])
    # aborted at the next checkpoint (a one-step run such as calibrate has none left: it completes)
    status = read_run(tmp_path / f"{name}.h5").status
    assert status in ("aborted", "complete")
    assert at_abort, f"{name} wrote nothing"
    if cls.excites:
        assert at_abort[0]["shutter_open"] and at_abort[0]["laser_emitting"]  # the run had the sample lit
    order = [role for role, _ in turns]
    excitation = {role for role, inst in station.instruments.items() if inst.safe_group == "excitation"}
    assert set(order[:len(excitation)]) == excitation  # the excitation path first
    after_excitation = dict(turns[len(excitation):])
    assert all(not state["shutter_open"] and not state["laser_emitting"] for state in after_excitation.values())
    if station.has_role("zcontrol") and station.has_role("tcspc"):
        assert order.index("zcontrol") < order.index("tcspc")
    if station.has_role("tcspc"):
        assert not after_excitation["tcspc"]["shutter_open"]
        if station.has_role("zcontrol"):
            assert after_excitation["tcspc"]["tip_distance_nm"] > 50.0  # the tip withdrawn before counting stops
    if status == "complete" and cls.leaves:  # done before the abort landed: what it leaves working, it declared
        monkeypatch.undo()
        station.safe_state()
    _assert_station_safe(station)
