"""The lifecycle contract, on every role of every simulated station: each instrument is made safe from every
state it can be put in, ``make_safe`` is idempotent, ``close`` follows the safe state, and a failure is
reported by the station, never raised past it. Safety is judged against the simulators' own state (the
World's tip distance, shutter and lamp, the TCSPC unit's measurement, the CCD's acquisition)."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.config import CONFIG_DIR
from tepl.roles import (
    SAFE_ORDER,
    DeviceError,
    ExcitationShutter,
    Instrument,
    Laser,
    OpenLoopPositioner,
    PhotonCounter,
    Shutter,
    Spectrometer,
    Stage,
    TemperatureController,
    ZController,
)
from tepl.station import build_station

STATIONS = ("sim.yaml", "confocal-sim.yaml", "confocal-hbt-sim.yaml", "cryo-sim.yaml", "film-cryo-sim.yaml")


def _states(name: str, inst: Instrument, station) -> dict:
    """Ways to leave this instrument in each state it can be in (test code may know the role types)."""
    if isinstance(inst, ZController):
        def pressed():
            inst.engage()
            inst.freeze()
            inst.set_z_nm(max(inst.z_nm() - 1.0, inst.z_range_nm.low))

        return {"retracted": inst.retract, "engaged": inst.engage, "frozen and pressed": pressed}
    if isinstance(inst, Stage):
        def moving():
            inst.move_to_um(x=inst.travel_um["x"].low + 0.9 * (inst.travel_um["x"].high - inst.travel_um["x"].low))

        return {"still": lambda: None, "moving": moving}
    if isinstance(inst, OpenLoopPositioner):
        def stepping():
            for axis in inst.axes:
                inst.move_steps(axis, inst.max_steps_per_move)

        return {"still": lambda: None, "moving": stepping}
    if isinstance(inst, (Shutter, Laser)):
        return {"open": inst.open, "closed": inst.shut}
    if isinstance(inst, PhotonCounter):
        def counting():
            stream = inst.iter_t2(1.0, block_s=0.1)
            next(stream)  # one block read, the measurement goes on
            _open_streams.append(stream)

        return {"idle": lambda: None, "counting": counting}
    if isinstance(inst, Spectrometer):
        def acquiring():
            inst.ccd.lib.SetExposureTime(ctypes_float(5.0))
            inst.ccd.lib.StartAcquisition()

        return {"idle": lambda: None, "acquiring": acquiring}
    if isinstance(inst, TemperatureController):
        def heating():
            inst.set_setpoint_k(None, 50.0)
            inst.set_heater_range(None, "high")
            station.world.clock.advance(5.0)

        return {"heater off": lambda: None, "heating": heating}
    raise AssertionError(f"no states known for {name} ({type(inst).__name__})")


_open_streams: list = []


def ctypes_float(value: float):
    import ctypes

    return ctypes.c_float(value)


def _is_safe(name: str, inst: Instrument, station) -> None:
    """Assert the simulator behind ``inst`` is in its safe state."""
    world = station.world
    if isinstance(inst, ZController):
        assert world.tip_distance_nm() > 50.0, world.tip_distance_nm()
    elif isinstance(inst, Stage):
        before = world.stage_um.copy()
        world.clock.advance(1.0)
        np.testing.assert_allclose(world.stage_um, before, atol=1e-3)
    elif isinstance(inst, ExcitationShutter):
        assert not world.excitation_open
    elif isinstance(inst, Laser):
        assert not world.laser_emitting
    elif isinstance(inst, OpenLoopPositioner):
        before = dict(world.picomotor_nm)
        world.clock.advance(1.0)
        assert not inst.is_moving() and world.picomotor_nm == before
    elif isinstance(inst, Shutter):
        assert not (world.lamp_on if name == "lamp" else world.shutter_open)
    elif isinstance(inst, PhotonCounter):
        lib = inst.device.lib
        m = lib._meas
        assert m is None or m.stopped_s is not None or world.clock.now() >= m.end_s
    elif isinstance(inst, Spectrometer):
        assert not inst.ccd.lib._busy()
    elif isinstance(inst, TemperatureController):
        controller = inst.controller.adapter.controller
        assert all(loop.heater_range == 0 for loop in controller.loops.values())
        assert controller.heater_power_W() == 0.0


def _cases():
    for config in STATIONS:
        station = build_station(CONFIG_DIR / config)
        names = list(station.instruments)
        station.close()
        for name in names:
            yield pytest.param(config, name, id=f"{config}:{name}")


@pytest.fixture(scope="module")
def stations():
    built = {config: build_station(CONFIG_DIR / config) for config in STATIONS}
    yield built
    for station in built.values():
        station.close()


@pytest.mark.parametrize(("config", "name"), list(_cases()))
def test_make_safe_from_every_state_and_idempotent(stations, config, name):
    station = stations[config]
    inst = station.instruments[name]
    assert inst.safe_group in SAFE_ORDER
    for state, enter in _states(name, inst, station).items():
        enter()
        first = inst.make_safe()
        _is_safe(name, inst, station)
        assert inst.make_safe() == first, f"{name}: make_safe from {state!r} is not idempotent"
        _is_safe(name, inst, station)
    while _open_streams:
        _open_streams.pop().close()


@pytest.mark.parametrize("config", STATIONS)
def test_station_makes_safe_in_the_declared_order_and_closes_after(config, monkeypatch):
    station = build_station(CONFIG_DIR / config)
    calls: list[tuple[str, str]] = []
    for name, inst in station.instruments.items():
        for method in ("make_safe", "close"):
            original = getattr(inst, method)

            def wrapped(*args, _original=original, _name=name, _method=method, **kwargs):
                calls.append((_method, _name))
                return _original(*args, **kwargs)

            monkeypatch.setattr(inst, method, wrapped)
    report = station.close()
    safes = [n for m, n in calls if m == "make_safe"]
    closes = [n for m, n in calls if m == "close"]
    assert sorted(safes) == sorted(station.instruments) == sorted(closes)
    ranks = [station.instruments[n].safe_rank for n in safes]
    assert ranks == sorted(ranks), safes  # excitation, tip, shutters, counting, camera, motion
    assert calls.index(("close", closes[0])) > calls.index(("make_safe", safes[-1]))  # close after every safe
    assert all(v == "released" for v in report["released"].values())
    assert station.close() == {}


def test_a_failing_instrument_is_reported_and_the_others_still_made_safe(monkeypatch):
    station = build_station()
    station.zcontrol.engage()
    station.shutter.open()

    def broken():
        raise DeviceError("R9 stopped answering")

    monkeypatch.setattr(station.stage, "make_safe", broken)
    monkeypatch.setattr(station.stage, "disconnect", broken)
    report = station.close()  # never raises
    assert report["stage"] == "make safe failed: R9 stopped answering"
    assert report["zcontrol"] == "retracted" and report["shutter"] == "closed"
    assert report["released"]["stage"] == "release failed: R9 stopped answering"
    assert station.world.tip_distance_nm() > 50.0 and not station.world.shutter_open


def test_a_new_role_needs_no_change_in_the_station(monkeypatch):
    """A role the station has never heard of joins the safe state and the release through its lifecycle."""
    from tepl import station as station_module

    class Laser(Instrument):
        safe_group = "excitation"

        def __init__(self):
            self.emitting, self.released = True, False

        def make_safe(self) -> str:
            self.emitting = False
            return "off"

        def status(self, name):
            return {name: "on" if self.emitting else "off"}

        def disconnect(self):
            self.released = True

    monkeypatch.setattr(station_module, "ROLE_NAMES", station_module.ROLE_NAMES + ("pump_laser",))
    station = build_station()
    laser = Laser()
    station.add("pump_laser", laser)
    assert station.pump_laser is laser and station.status()["pump_laser"] == "on"
    order = [name for name, _ in station.in_safe_order()]
    excitation = [name for name, inst in station.instruments.items() if inst.safe_group == "excitation"]
    assert set(order[:len(excitation)]) == set(excitation) and "pump_laser" in excitation  # blocked first
    report = station.close()
    assert report["pump_laser"] == "off" and not laser.emitting and laser.released
