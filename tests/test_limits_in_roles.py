"""Limits hold in the roles, for every caller (a script, the console's manual control, a procedure): the
Z-control role keeps the tip inside its Z range and never deeper below its contact point than
``limits.max_press_depth_nm``; the stage never leaves its travel. Judged on what reaches the simulator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tepl.roles import LimitError
from tepl.station import build_station


@pytest.fixture(scope="module")
def station():
    s = build_station()
    yield s
    s.close()


def _record_tip(monkeypatch, world) -> list[float]:
    """Every apex z the simulator is asked to take (nm)."""
    seen: list[float] = []
    original = world.set_tip_z_nm

    def recording(z_nm):
        seen.append(float(z_nm))
        original(z_nm)

    monkeypatch.setattr(world, "set_tip_z_nm", recording)
    return seen


def test_a_press_past_the_limit_through_the_role_is_refused(station, monkeypatch):
    zc, limit_nm = station.zcontrol, station.limits.press_depth_nm.high
    truth = station.world.ground_truth()["sample"]  # on a dot, where the tip can be pressed
    zc.retract()
    station.stage.move_and_wait_um(x=truth["x_nm"][0] / 1000.0, y=truth["y_nm"][0] / 1000.0)
    contact = zc.engage()
    zc.freeze()
    zc.set_z_nm(contact - 0.9 * limit_nm)  # inside the limit: allowed
    seen = _record_tip(monkeypatch, station.world)
    with pytest.raises(LimitError, match=r"press depth .* \(limits.max_press_depth_nm\)"):
        zc.set_z_nm(contact - limit_nm - 0.5)
    assert not seen or min(seen) >= contact - limit_nm  # nothing deeper reached the simulator
    zc.retract()
    with pytest.raises(LimitError, match="frozen"):
        zc.set_z_nm(contact)


_Z_NM = st.one_of(st.floats(-50.0, 2100.0), st.just(float("nan")), st.just(float("inf")))
_ACTIONS = st.sampled_from(["engage", "freeze", "retract", "set_z", "move"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_ACTIONS, _Z_NM, st.floats(-20.0, 120.0)), min_size=1, max_size=12))
def test_no_sequence_of_role_calls_sends_a_command_beyond_a_limit(station, monkeypatch, calls):
    zc, stage, world, limits = station.zcontrol, station.stage, station.world, station.limits
    seen_z = _record_tip(monkeypatch, world)
    contacts: list[float] = []
    for action, value, position in calls:
        try:
            if action == "engage":
                contacts.append(zc.engage())
            elif action == "freeze":
                zc.freeze()
            elif action == "retract":
                zc.retract()
            elif action == "set_z":
                zc.set_z_nm(value)
            else:
                stage.move_and_wait_um(x=position, y=50.0)
        except LimitError:
            pass  # refused before anything reached the device: what is asserted below
    deepest_allowed = min(contacts) - limits.press_depth_nm.high - 0.5 if contacts else -np.inf
    frozen_moves = [z for z in seen_z if z < deepest_allowed]
    assert not frozen_moves, (frozen_moves, contacts)
    travel = limits.travel_um["x"]
    assert travel.low - 1e-6 <= world.stage_um[0] <= travel.high + 1e-6
    assert not world.crashed
    zc.retract()


def test_with_a_contact_stiffness_the_role_holds_force_and_pressure_for_every_caller(tmp_path):
    """0.9 nN per nm pressed on 10 nm²: max_force_nN 20 at 22 nm, max_pressure_GPa 1.0 (10 nN) at 11.1 nm;
    with max_force_nN set to 5, the force is the limit that refuses first (5.6 nm)."""
    from tepl.config import CONFIG_DIR, parse_config

    text = (CONFIG_DIR / "sim.yaml").read_text().replace("max_force_nN: 20", "max_force_nN: 5")
    text = text.replace("  wavelength_file: null", "  wavelength_file: null\n  contact_stiffness_nN_per_nm: 0.9")
    station = build_station(parse_config(text, "stiff.yaml"))
    try:
        zc, truth = station.zcontrol, station.world.ground_truth()["sample"]
        station.stage.move_and_wait_um(x=truth["x_nm"][0] / 1000.0, y=truth["y_nm"][0] / 1000.0)
        contact = zc.engage()
        zc.freeze()
        zc.set_z_nm(contact - 5.0)  # 4.5 nN, 0.45 GPa: inside every limit
        seen = _record_tip_plain(station.world)
        with pytest.raises(LimitError, match=r"contact force .* = 5\.4 nN .* \(limits\.max_force_nN\)"):
            zc.set_z_nm(contact - 6.0)
        assert all(z >= contact - 5.0 - 1e-6 for z in seen), "a refused press reached the simulator"
    finally:
        station.close()


def _record_tip_plain(world) -> list[float]:
    seen: list[float] = []
    original = world.set_tip_z_nm

    def recording(z_nm):
        seen.append(float(z_nm))
        original(z_nm)

    world.set_tip_z_nm = recording
    return seen
