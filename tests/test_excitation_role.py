"""An excitation shutter joins a station through its config entry alone: the shipped twins name an
``excitation_shutter`` (Thorlabs SC10, simulated) and a ``laser``; the station builds them as roles, makes them
safe before anything else and shows them in the status, and the twin's light follows them: with the excitation
blocked the CCD sees only its own bias, noise and dark signal, and the SPADs only their dark counts. Judged
against the simulators' state and the World's ground truth, not against numbers written here."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.config import CONFIG_DIR, load_config, parse_config
from tepl.roles import ExcitationShutter
from tepl.sims.thorlabs_sc10 import SC10Controller
from tepl.station import build_station


def with_excitation_shutter(name: str):
    """A shipped config: every one names its excitation path."""
    config = load_config(CONFIG_DIR / name)
    assert "excitation_shutter" in config.data["instruments"] and "laser" in config.data["instruments"]
    return config


def controller_of(station) -> SC10Controller:
    return station.excitation_shutter.controller.adapter.controller


@pytest.fixture
def station():
    built = build_station(with_excitation_shutter("sim.yaml"))
    yield built
    built.close()


@pytest.fixture
def confocal():
    built = build_station(with_excitation_shutter("confocal-sim.yaml"))
    yield built
    built.close()


# ---------------------------------------------------------------------------------------- the role
def test_the_station_has_the_role_and_takes_it_first(station):
    assert station.has_role("excitation_shutter")
    assert isinstance(station.excitation_shutter, ExcitationShutter)
    assert station.in_safe_order()[0] == ("excitation_shutter", station.excitation_shutter)
    assert not station.world.excitation_open  # built in the safe state: the sample is dark


def test_the_safe_state_blocks_the_excitation_first(station, monkeypatch):
    station.open_excitation()
    station.shutter.open()
    station.zcontrol.engage()
    assert station.world.excitation_open
    calls: list[tuple[str, bool]] = []
    for name, inst in station.instruments.items():
        def wrapped(_original=inst.make_safe, _name=name):
            calls.append((_name, station.world.excitation_open))  # was the sample still lit at this call?
            return _original()

        monkeypatch.setattr(inst, "make_safe", wrapped)
    report = station.safe_state()
    assert calls[0] == ("excitation_shutter", True)
    assert all(not lit for _, lit in calls[1:])  # the tip withdraws with the sample already dark
    assert report["excitation_shutter"] == "closed"
    assert not station.world.excitation_open and not controller_of(station).shutter_open
    assert station.world.tip_distance_nm() > 50.0


def test_status_and_settings_show_it(station):
    assert station.status()["excitation_shutter"] == "closed"
    station.open_excitation()
    assert station.status()["excitation_shutter"] == "open"
    settings = station.settings()["excitation_shutter"]
    assert settings["id"].startswith("THORLABS SC10") and settings["mode_name"] == "manual"
    assert settings["open_timeout_s"] == 0.5 and settings["open"] is True


def test_lifecycle_open_make_safe_idempotent_and_release():
    station = build_station(with_excitation_shutter("sim.yaml"))
    shutter, controller = station.excitation_shutter, controller_of(station)
    shutter.open()
    assert controller.enabled and controller.shutter_open and station.world.excitation_open
    first = shutter.make_safe()
    assert first == "closed" and not controller.shutter_open and not station.world.excitation_open
    assert shutter.make_safe() == first and not controller.shutter_open
    assert controller.commands[-3:] == ["ens?", "closed?", "closed?"]  # already closed: no toggle sent
    report = station.close()
    assert report["excitation_shutter"] == "closed"
    assert report["released"]["excitation_shutter"] == "released"
    assert shutter.controller.adapter.closed
    assert station.close() == {}


def test_the_interlock_keeps_the_excitation_blocked(station):
    controller_of(station).trip_interlock()
    with pytest.raises(Exception, match="interlock tripped"):
        station.open_excitation()
    assert not station.world.excitation_open
    assert station.status()["excitation_shutter"] == "closed"


# ---------------------------------------------------------------------------------------- the light
def _brightest_dot_um(world) -> tuple[float, float]:
    truth = world.ground_truth()["sample"]
    i = int(np.argmax(truth["far_field_rate_each"]))
    return float(truth["x_nm"][i]) / 1000.0, float(truth["y_nm"][i]) / 1000.0


def test_with_the_excitation_blocked_the_ccd_sees_only_bias_noise_and_dark(station):
    world, spectrometer, exposure_s = station.world, station.spectrometer, 5.0
    x_um, y_um = _brightest_dot_um(world)
    station.stage.move_and_wait_um(x=x_um, y=y_um)
    station.zcontrol.engage()  # the tip on the dot: the tip-enhanced emission the rig is built for
    true_wl = np.asarray(world.ground_truth()["spectrograph"]["true_wavelength_nm"], float)

    # ground truth: the sample's light reaches the CCD only while the excitation is open; the lamp is apart
    world.shutter_open = True
    assert not world.excitation_open and np.all(world.spectrum_photons(true_wl, exposure_s) == 0.0)
    station.open_excitation()
    expected = world.spectrum_photons(true_wl, exposure_s)
    station.excitation_shutter.shut()
    world.lamp_on = True
    assert world.spectrum_photons(true_wl, exposure_s).max() > 0.0  # the lamp does not need the laser
    world.lamp_on = False
    world.shutter_open = False

    dark = spectrometer.acquire(exposure_s)  # spectrograph shutter closed: bias, noise, dark
    station.shutter.open()
    blocked = spectrometer.acquire(exposure_s)  # spectrograph open, excitation blocked
    station.open_excitation()
    lit = spectrometer.acquire(exposure_s)  # the same exposure with the excitation open
    station.shutter.shut()

    # the emission's shape, from the truth, as a matched filter: its noise is that of one frame difference
    noise = float(np.std(dark))
    template = expected / np.sqrt(np.sum(expected**2))
    bound = 5.0 * noise * np.sqrt(2.0)  # 5 sigma of the filtered difference of two frames
    assert abs(float(np.dot(blocked - dark, template))) < bound
    assert abs(float(np.mean(blocked - dark))) < 5.0 * noise * np.sqrt(2.0 / dark.size)
    assert float(np.dot(lit - dark, template)) > 10.0 * bound  # the same exposure shows the emission
    assert np.corrcoef(lit - dark, expected)[0, 1] > 0.5


def test_confocal_twin_count_rates_fall_to_the_dark_counts(confocal):
    world, counter = confocal.world, confocal.tcspc
    dark = np.array([c["dark_counts_per_s"] for c in confocal.counter_channels()], float)
    gates, gate_s = 50, 0.1

    def mean_rates() -> np.ndarray:
        total = np.zeros(counter.n_channels)
        for _ in range(gates):
            world.clock.advance(gate_s)  # the rate meters report the last complete 100 ms gate
            total += counter.count_rates()[1]
        return total / gates

    assert not world.excitation_open
    blocked = mean_rates()
    tolerance = 5.0 * np.sqrt(dark / (gates * gate_s))  # 5 sigma of Poisson counts over 5 s
    np.testing.assert_array_less(np.abs(blocked - dark), tolerance)
    t2 = counter.t2(5.0)
    per_channel = np.bincount(np.asarray(t2.channel), minlength=counter.n_channels) / 5.0
    np.testing.assert_array_less(np.abs(per_channel - dark), tolerance)
    assert confocal.status()["count_rates_per_s"] is not None

    confocal.open_excitation()
    lit = mean_rates()
    # the sample's light is back (the perovskite film glows everywhere; a QD cluster need not be in focus)
    assert lit.sum() > dark.sum() + 10.0 * tolerance.sum(), lit
    confocal.safe_state()
    assert not world.excitation_open
    np.testing.assert_array_less(np.abs(mean_rates() - dark), tolerance)


# ---------------------------------------------------------------------------------------- addresses
def test_a_tcp_address_reaches_a_served_controller():
    from tepl.sims.thorlabs_sc10 import serve
    from tepl.sims.world import World

    served_world = World()
    with serve(served_world, 0) as server:
        host, port = server.address
        config = parse_config(with_excitation_shutter("sim.yaml").text.replace(
            "address: sim                 # in-process SC10", f"address: tcp://{host}:{port}  # served SC10"),
            "tcp")
        station = build_station(config)
        try:
            assert server.controller.commands[:2] == ["id?", "mode=1"]
            station.open_excitation()
            assert server.controller.shutter_open and served_world.excitation_open
        finally:
            station.close()
        assert not server.controller.shutter_open


@pytest.mark.parametrize(("entry", "message"), [
    ("driver: thorlabs-sc11\n    address: sim", "instruments.excitation_shutter.driver"),
    ("driver: thorlabs-sc10", "instruments.excitation_shutter.address: required key missing"),
    ("driver: thorlabs-sc10\n    address: sim\n    open_timeout_s: 0", "open_timeout_s"),
])
def test_bad_entries_are_refused_naming_the_key(entry, message):
    from tepl.config import ConfigError

    text = (CONFIG_DIR / "sim.yaml").read_text()
    bad = text.replace("\nlimits:", f"  excitation_shutter:\n    {entry}\n\nlimits:", 1)
    with pytest.raises(ConfigError, match=message):
        parse_config(bad, "bad.yaml")


def test_a_tcp_address_without_port_is_refused():
    from tepl.config import ConfigError

    config = parse_config(with_excitation_shutter("sim.yaml").text.replace(
        "address: sim                 # in-process SC10", "address: tcp://127.0.0.1  # SC10"), "noport")
    with pytest.raises(ConfigError, match="instruments.excitation_shutter.address: 'tcp://127.0.0.1' names no port"):
        build_station(config)
