"""Closing a station: safe state first, then every instrument lets go of its connection.

Checked against the simulators' own state: the TCSPC library refuses calls on a closed unit, the CCD
simulator records the sensor temperature at ShutDown, the R9 and E-727 links report closed.
"""

from __future__ import annotations

import pytest

from tepl.config import CONFIG_DIR
from tepl.roles import DeviceError
from tepl.station import build_station


def test_tepl_station_releases_every_instrument_after_the_safe_state():
    st = build_station()
    sdk2 = st.spectrometer.ccd.lib
    cooled_c, _ = st.spectrometer.temperature_c()
    assert cooled_c < -20.0  # build_station cooled the CCD: ShutDown must wait for it to warm
    st.zcontrol.engage()
    assert st.zcontrol.state() == "engaged"
    st.shutter.open()

    report = st.close()

    assert report["zcontrol"] == "retracted" and report["shutter"] == "closed"
    assert report["released"] == {role: "released" for role in ("stage", "zcontrol", "spectrometer", "shutter",
                                                                  "lamp", "excitation_shutter", "laser",
                                                                  "picomotors")}
    assert st.world.tip_distance_nm() > 100.0  # the simulated apex is well clear of the surface
    assert sdk2.shutdown_temperature_c is not None and sdk2.shutdown_temperature_c >= -20.0
    with pytest.raises(DeviceError):  # the camera is shut down: the SDK refuses until initialised again
        st.spectrometer.temperature_c()
    with pytest.raises(DeviceError):
        st.spectrometer.spectrograph.wavelength_limits_nm()
    assert st.zcontrol.r9.transport.connected is False
    assert st.stage.instrument.adapter.closed
    assert st.picomotors.controller.adapter.closed
    assert st.close() == {}  # a second close touches nothing


def test_tcspc_unit_is_closed_and_a_failed_release_does_not_stop_the_others(monkeypatch):
    st = build_station(CONFIG_DIR / "confocal-sim.yaml")
    st.tcspc.count_rates()

    def broken():
        raise DeviceError("USB cable pulled")

    monkeypatch.setattr(st.stage, "disconnect", broken)
    report = st.close()

    assert report["released"]["stage"] == "release failed: USB cable pulled"
    assert report["released"]["tcspc"] == "released"
    assert report["released"]["spectrometer"] == "released"
    with pytest.raises(DeviceError, match="DEVICE_NOT_OPEN"):
        st.tcspc.count_rates()
