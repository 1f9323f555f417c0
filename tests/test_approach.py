"""The coarse tip approach (``approach``) against the twin's ground truth.

- From a start drawn in 5-50 µm over 50 seeds, with every coarse step within ±20 % of nominal: no crash,
  the tip never below the surface, every run ends engaged at the setpoint with Z inside the fine range.
- The crash guard: with the R9 acknowledging Retract without retracting (a fault), the approach refuses
  to step and withdraws the tip; with the guard switched off, the same approach crashes the tip.
- Refusals before anything moves, and the tip retracted on every ending but a completed approach.
"""

from __future__ import annotations

import math
import time

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR, parse_config
from tepl.data.runfile import read_run
from tepl.procedures import ParameterError, Procedure, RunControl, make_procedure, run
from tepl.procedures import approach as approach_module
from tepl.procedures.approach import FREE_AMPLITUDE_MIN, NotRetracted, check_retracted
from tepl.roles import DeviceError, LimitError
from tepl.station import build_station

JITTER = 0.2  # each true coarse step lies within ±20 % of nominal
SETPOINT = 0.9  # the station's setpoint fraction (the zcontrol default)

STATION = """
station: {{name: approach-twin}}
simulation: {{seed: {seed}, tip_start_um: {start}, coarse_step_jitter: {jitter}}}
instruments:
  zcontrol: {{driver: rhk-r9, address: sim, coarse_step_nm: {step}, coarse_step_spread: 0.25}}
limits:
  stage_travel_um: {{x: [0, 100], y: [0, 100], z: [0, 100]}}
  tip_z_nm: [0, 2000]
  max_press_depth_nm: 11
  max_force_nN: 20
  max_pressure_GPa: 1.0
"""


def _station(seed: int = 0, start: str = "[5, 50]", jitter: float = JITTER, step_nm: float = 80.0):
    """A station with only the R9 (its simulator's coarse step is 80 nm; ``step_nm`` is what the config states)."""
    text = STATION.format(seed=seed, start=start, jitter=jitter, step=step_nm)
    return build_station(parse_config(text, "approach-twin"))


def _r9(station):
    """The simulated R9 behind the station's Z controller (its state is the twin's truth)."""
    return station.zcontrol.r9.transport.controller


# ---------------------------------------------------------------------------------------- the twin
def test_the_twin_draws_the_start_height_and_jitters_each_step_from_the_seed():
    starts = []
    for seed in (1, 2, 1):
        station = _station(seed)
        truth = station.world.ground_truth()["r9"]
        starts.append(truth["tip_start_nm"])
        assert 5000.0 <= truth["tip_start_nm"] <= 50000.0
        assert station.world.tip_z_nm == pytest.approx(truth["tip_start_nm"])  # retracted at power-up
        station.close()
    assert starts[0] == starts[2] != starts[1]

    station = _station(3, start="12.5")
    r9 = _r9(station)
    assert station.world.ground_truth()["r9"]["tip_start_nm"] == pytest.approx(12500.0)
    station.zcontrol.coarse_step(40)
    steps = -np.array(r9.coarse_steps_nm)
    assert steps.size == 40 and np.all(np.abs(steps / 80.0 - 1.0) <= JITTER) and steps.std() > 5.0
    assert r9.coarse_base_nm == pytest.approx(12500.0 - 2000.0 - steps.sum())
    assert station.world.ground_truth()["r9"]["coarse_steps_nm"] == r9.coarse_steps_nm
    station.close()


def test_the_embedded_station_keeps_its_tip_and_exact_steps():
    station = build_station()
    r9 = _r9(station)
    assert r9.coarse_base_nm == 0.0 and station.world.tip_z_nm == pytest.approx(2000.0)
    station.zcontrol.coarse_step(-2)
    assert r9.coarse_steps_nm == [80.0, 80.0]
    station.close()


# ---------------------------------------------------------------------------------------- 50 approaches
def test_fifty_random_starts_end_engaged_inside_the_fine_range_without_a_crash(tmp_path):
    figures = []
    started = time.monotonic()
    for seed in range(50):
        station = _station(seed)
        world, r9 = station.world, _r9(station)
        start_nm = world.ground_truth()["r9"]["tip_start_nm"]
        assert 5000.0 <= start_nm <= 50000.0
        t0 = world.clock.now()
        path = run(make_procedure("approach"), station, tmp_path / f"approach-{seed}.h5")
        simulated_s = world.clock.now() - t0
        recorded = read_run(path)
        # ground truth: no crash, never below the surface, engaged at the setpoint inside the fine range
        assert not world.crashed and world.lowest_tip_distance_nm > 0.0, seed
        assert station.zcontrol.state() == "engaged" and r9.tip_control == "Unlimit"
        assert world.shear_amplitude() == pytest.approx(SETPOINT, abs=0.01)
        assert r9.z_lower_nm + 0.25 * (r9.z_upper_nm - r9.z_lower_nm) < r9.piezo_nm < r9.z_upper_nm - 1.0, seed
        # the file: complete, the tip kept engaged, every step it took counted
        assert recorded.status == "complete" and recorded.reason is None
        steps = np.asarray(recorded.data["steps"])
        contact = np.asarray(recorded.data["contact"])
        looks = int(np.isfinite(recorded.data["z_nm"]).sum())
        assert steps.sum() == len(r9.coarse_steps_nm) and all(s < 0 for s in r9.coarse_steps_nm)
        assert contact[looks - 1] == 1 and contact[: looks - 1].sum() <= 1  # contact, then centred once
        true_travel_um = -sum(r9.coarse_steps_nm) / 1000.0
        assert recorded.data["coarse_travel_um"][looks - 1] == pytest.approx(true_travel_um, rel=JITTER)
        with h5py.File(path, "r") as f:
            assert f["entry"].attrs["safe_state_zcontrol"].startswith("kept engaged at contact")
            assert f["entry"].attrs["contact_z_nm"] == pytest.approx(station.zcontrol.z_nm(), abs=0.5)
        figures.append((looks, steps.sum(), simulated_s))
        station.close()
        assert r9.tip_control == "Retract" and r9.piezo_nm == pytest.approx(r9.z_upper_nm)  # closing retracts it
    looks, steps, simulated_s = np.array(figures).T
    assert looks.max() <= 40 and simulated_s.max() < 30.0
    assert time.monotonic() - started < 60.0


# ---------------------------------------------------------------------------------------- the crash guard
GUARD_START_UM = "2.7"  # the fully extended tip stands 0.7 µm above the surface: within one look's steps


def _ignore_retracts(station) -> None:
    """The fault: every Retract from now on is acknowledged and leaves Z where it is."""
    station.zcontrol.r9.transport.faults.set(retract_ignored=True, only={"Tip Control, Retract"})


def test_without_the_fault_the_guard_scenario_ends_engaged(tmp_path):
    station = _station(5, start=GUARD_START_UM)
    run(make_procedure("approach"), station, tmp_path / "no-fault.h5")
    assert not station.world.crashed and station.zcontrol.state() == "engaged"
    station.close()


def test_the_guard_refuses_to_step_when_the_tip_did_not_retract(tmp_path):
    station = _station(5, start=GUARD_START_UM)
    world, r9 = station.world, _r9(station)
    _ignore_retracts(station)
    path = tmp_path / "guarded.h5"
    with pytest.raises(NotRetracted, match=r"zcontrol \(R9ZController\): the tip is not retracted.*Z reads"):
        run(make_procedure("approach"), station, path)
    recorded = read_run(path)
    assert recorded.status == "failed" and "coarse steps refused" in recorded.reason
    assert not world.crashed and world.lowest_tip_distance_nm > 0.0
    assert r9.coarse_steps_nm and all(s > 0 for s in r9.coarse_steps_nm)  # only away from the sample
    assert world.tip_distance_nm() > 2000.0  # withdrawn by a fine range, although Z never retracted
    assert np.isfinite(recorded.data["retracted_z_nm"][0]) and np.isnan(recorded.data["retracted_z_nm"][1])
    station.zcontrol.r9.transport.faults.clear()
    station.close()


def test_with_the_guard_switched_off_the_same_approach_crashes(tmp_path, monkeypatch):
    station = _station(5, start=GUARD_START_UM)
    _ignore_retracts(station)
    monkeypatch.setattr(approach_module, "check_retracted", lambda zcontrol: (math.nan, math.nan))
    try:
        run(make_procedure("approach"), station, tmp_path / "unguarded.h5")
    except (DeviceError, LimitError):
        pass  # whatever the approach makes of it afterwards: the twin has recorded the crash
    assert station.world.crashed
    assert station.world.ground_truth()["world"]["crashed"]
    station.zcontrol.r9.transport.faults.clear()
    station.close()


def test_an_ignored_retract_near_the_surface_fails_both_checks():
    """Engaged at the setpoint, an ignored Retract leaves the tip at the surface: Z below its upper bound and
    the amplitude still damped (the driver keeps the free amplitude of the last real retract)."""
    station = _station(6, start="1.5")
    zc = station.zcontrol
    zc.engage()
    _ignore_retracts(station)
    zc.retract()
    assert zc.state() == "retracted"  # what the R9 reports
    assert zc.amplitude() < FREE_AMPLITUDE_MIN
    with pytest.raises(NotRetracted, match=r"Z reads .*; the amplitude is 0\.9"):
        check_retracted(zc)
    station.zcontrol.r9.transport.faults.clear()
    zc.retract()
    assert check_retracted(zc)[1] > FREE_AMPLITUDE_MIN
    station.close()


# ---------------------------------------------------------------------------------------- refusals and endings
def test_travel_above_the_limit_is_refused_before_anything_moves():
    with pytest.raises(ParameterError, match=r"max_travel_um = 500 µm is outside its bounds"):
        make_procedure("approach", max_travel_um=500.0)
    station = _station(7)
    before = station.world.tip_z_nm
    with pytest.raises(LimitError, match=r"steps_per_look = 30 .* at most 18"):
        make_procedure("approach", steps_per_look=30).plan(station)
    assert station.world.tip_z_nm == before and not _r9(station).coarse_steps_nm
    station.close()
    station = _station(7, step_nm=150.0)
    with pytest.raises(LimitError, match=r"max_travel_um = 0.1 µm is shorter than one coarse step of zcontrol"):
        make_procedure("approach", max_travel_um=0.1).plan(station)
    station.close()


def test_a_station_without_a_z_controller_is_refused(tmp_path):
    station = build_station(CONFIG_DIR / "confocal-sim.yaml")
    path = tmp_path / "none.h5"
    with pytest.raises(LimitError, match=r"approach needs the roles \['zcontrol'\]"):
        run(make_procedure("approach"), station, path)
    assert not path.exists()
    station.close()


def test_no_contact_within_the_travel_fails_retracted(tmp_path):
    station = _station(8, start="30")
    path = tmp_path / "short.h5"
    with pytest.raises(LimitError, match=r"no contact within max_travel_um = 5 µm"):
        run(make_procedure("approach", max_travel_um=5.0), station, path)
    r9 = _r9(station)
    assert len(r9.coarse_steps_nm) == 62  # 5 µm of 80 nm steps, not one more
    assert read_run(path).status == "failed"
    assert station.zcontrol.state() == "retracted" and station.world.tip_distance_nm() > 20000.0
    station.close()


def test_an_abort_part_way_retracts_the_tip(tmp_path):
    station = _station(9, start="20")
    control = RunControl()

    def abort_at_look_4(event):
        if event.kind == "progress" and event.done == 4:
            control.abort("test: abort part way")

    path = tmp_path / "aborted.h5"
    run(make_procedure("approach"), station, path, control=control, listeners=[abort_at_look_4])
    recorded = read_run(path)
    assert recorded.status == "aborted" and int(np.isfinite(recorded.data["z_nm"]).sum()) == 4
    assert station.zcontrol.state() == "retracted" and not station.world.crashed
    assert station.world.tip_distance_nm() > 10000.0
    station.close()


def test_a_stop_at_contact_retracts_the_tip(tmp_path):
    station = _station(10, start="8")
    control = RunControl()
    path = tmp_path / "stopped.h5"
    run(make_procedure("approach"), station, path, control=control,
        listeners=[lambda e: control.stop() if e.kind == "progress" else None])
    recorded = read_run(path)
    assert recorded.status == "complete" and "stopped by the operator" in recorded.reason
    assert station.zcontrol.state() == "retracted"
    station.close()


def test_a_procedure_keeps_only_the_roles_it_declares(tmp_path):
    class Sloppy(Procedure):
        name = "sloppy"
        roles = ("zcontrol",)
        excites = False

        def execute(self, ctx):
            ctx.station.zcontrol.engage()
            ctx.keep("zcontrol", "engaged")

    station = build_station()
    with pytest.raises(ValueError, match="does not declare that it leaves the zcontrol working"):
        run(Sloppy(), station, tmp_path / "sloppy.h5")
    assert station.zcontrol.state() == "retracted" and station.world.tip_distance_nm() > 50.0
    station.close()


def test_on_a_referenced_station_the_centring_keeps_the_z_reference(tmp_path):
    """A station that states no contact gap, its tip within reach: contact at the first look, then centring
    steps; the reference carries over (the same spot touches at the same apex height), so gaps can still be
    placed."""
    text = (CONFIG_DIR / "sim.yaml").read_text().replace("contact_gap_nm: 1.75", "# no contact gap stated")
    station = build_station(parse_config(text, "sim.yaml without contact_gap_nm"))
    zc, world = station.zcontrol, station.world
    assert zc.contact_gap_nm is None
    run(make_procedure("approach", max_travel_um=5.0), station, tmp_path / "centred.h5")
    assert _r9(station).coarse_steps_nm and zc.z_referenced
    assert zc.z_nm() == pytest.approx(world.tip_z_nm, abs=0.1)  # z_nm is the apex height again
    zc.freeze()
    zc.set_z_nm(zc.z_nm() + 5.0)
    assert zc.z_nm() == pytest.approx(world.tip_z_nm, abs=0.1)
    station.close()


def test_with_a_contact_gap_the_reference_is_the_gap_at_contact(tmp_path):
    """The embedded station states its contact gap: after the centring steps Z reads the real apex-to-surface
    gap (the twin's truth), and placing the tip follows it."""
    station = build_station()
    zc, world = station.zcontrol, station.world
    run(make_procedure("approach", max_travel_um=5.0), station, tmp_path / "centred.h5")
    assert _r9(station).coarse_steps_nm and zc.z_referenced
    assert zc.z_nm() == pytest.approx(world.tip_distance_nm(), abs=0.1) == pytest.approx(zc.contact_gap_nm, abs=0.1)
    zc.freeze()
    zc.set_z_nm(zc.z_nm() + 5.0)
    assert zc.z_nm() == pytest.approx(world.tip_distance_nm(), abs=0.1)
    station.close()


def test_the_safe_state_believes_the_z_reading_not_the_retract_reply():
    """A controller that acknowledges Retract and leaves the tip down is a failed safe state, said as such."""
    station = build_station()  # the shipped twin: the surface within the fine range
    try:
        station.zcontrol.engage()
        _ignore_retracts(station)
        report = station.safe_state()
        assert report["zcontrol"].startswith("make safe failed:") and "Z reads" in report["zcontrol"]
        assert station.world.tip_distance_nm() < 50.0  # the twin's truth: the tip is still down
        station.zcontrol.r9.transport.faults.clear()
        assert station.safe_state()["zcontrol"] == "retracted" and station.world.tip_distance_nm() > 50.0
    finally:
        station.close()
