"""temperature-series on the film twin (paper 001): a 10-300 K series on each film recovers the twin's E(T) and
Γ(T) parameters (E_LO held fixed, as the paper does) and its average-lifetime trend; refusals come before
anything moves; an abort, a failure and the end of the run leave the cryostat's heaters off."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.procedures import RunControl, make_procedure, resume_procedure, run, run_procedure
from tepl.roles import DeviceError, LimitError
from tepl.station import build_station
from tests.fault_matrix import cryostat_heating

# the monolayer warmed from 10 K, the multilayer cooled from 300 K (both directions of a series)
SERIES = {"monolayer": {"x_um": 25.0, "start_k": 10.0, "stop_k": 300.0},
          "multilayer": {"x_um": 75.0, "start_k": 300.0, "stop_k": 10.0}}
COMMON = {"step_k": 20.0, "band_k": 0.1, "hold_s": 20.0, "exposure_s": 10.0, "acquisition_s": 3.0,
          "tcspc_bin_ps": 400.0}


@pytest.fixture(scope="module")
def station():
    st = build_station(CONFIG_DIR / "film-cryo-sim.yaml")
    yield st
    st.close()


@pytest.fixture(scope="module")
def series(station, tmp_path_factory):
    """Both series on one station; each film's truth is read from its run file (the twin's ground truth)."""
    folder = tmp_path_factory.mktemp("temperature")
    out = {}
    films = station.world.ground_truth()["sample"]["films"]
    for film, where in SERIES.items():
        path = run_procedure("temperature-series", station, folder / f"{film}.h5",
                             E_LO_meV=films[film]["E_LO_meV"], **where, **COMMON)
        out[film] = path
    return out


def _truth(path, film: str) -> dict:
    return read_run(path).simulation["sample"]["films"][film]


def _fit(path, dataset: str) -> dict:
    with h5py.File(path, "r") as f:
        attrs = f["entry/data"][dataset].attrs
        return {k[4:]: attrs[k] for k in attrs if k.startswith("fit_")}


def _sim(station):
    return station.cryostat.controller.adapter.controller


@pytest.mark.parametrize("film", sorted(SERIES))
def test_the_series_recovers_the_films_energy_and_width_parameters(series, film):
    path = series[film]
    truth = _truth(path, film)
    energy, width = _fit(path, "peak_energy_eV"), _fit(path, "fwhm_meV")
    assert energy["status"] == "fitted" and width["status"] == "fitted"
    for name in ("E0_eV", "A_TE_eV_per_K", "A_EP_eV", "phonon_energy_meV"):
        assert energy[name] == pytest.approx(truth[name], rel=0.10), name
    assert energy["E0_eV"] == pytest.approx(truth["E0_eV"], abs=3e-3)  # 10 % of 2.4 eV says little
    assert width["E_LO_meV"] == truth["E_LO_meV"] and width["E_LO_meV_err"] == 0.0  # held fixed
    for name in ("gamma0_meV", "gamma_LO_meV"):
        assert width[name] == pytest.approx(truth[name], rel=0.10), name
    data = read_run(path).data
    np.testing.assert_allclose(data["peak_energy_model_eV"], data["peak_energy_eV"], atol=1e-3)
    np.testing.assert_allclose(data["fwhm_model_meV"], data["fwhm_meV"], rtol=0.03)


@pytest.mark.parametrize("film", sorted(SERIES))
def test_every_point_is_measured_stable_at_its_setpoint(series, film):
    result = read_run(series[film])
    data = result.data
    assert result.status == "complete"
    setpoints = data["setpoint_k"]
    assert setpoints[0] == SERIES[film]["start_k"] and setpoints[-1] == SERIES[film]["stop_k"]
    np.testing.assert_allclose(data["temperature_k"], setpoints, atol=COMMON["band_k"])
    assert np.all(np.abs(data["temperature_change_k"]) <= 2 * COMMON["band_k"])
    assert np.all(data["wait_s"] >= COMMON["hold_s"])
    assert np.all(data["decays"].sum(axis=(1, 2)) > 1e4)
    truth = _truth(series[film], film)
    t = data["temperature_k"].astype(float)
    n = 1.0 / np.expm1(truth["phonon_energy_meV"] * 1e-3 / (8.617333e-5 * t))
    expected_eV = truth["E0_eV"] + truth["A_TE_eV_per_K"] * t + truth["A_EP_eV"] * (2 * n + 1)
    np.testing.assert_allclose(data["peak_energy_eV"], expected_eV, atol=1.5e-3)


def test_average_lifetime_trend_of_each_film(series):
    """Multilayer: longer when cold, by the twin's factor; monolayer: flat, as paper 001's Fig. 6d."""
    lifetimes = {}
    for film, path in series.items():
        data, truth = read_run(path).data, _truth(path, film)
        t = data["temperature_k"].astype(float)
        f = (1 + truth["lifetime_gain"] * np.exp(-t / truth["lifetime_scale_k"])) / (
            1 + truth["lifetime_gain"] * np.exp(-295.0 / truth["lifetime_scale_k"]))
        expected = np.dot(truth["amplitude_fraction"], truth["tau_ns"]) * f
        measured = data["lifetime_ns"].astype(float)
        np.testing.assert_allclose(measured, expected, rtol=0.10, err_msg=film)
        order = np.argsort(t)
        lifetimes[film] = (measured[order], expected[order])
    mono, mono_truth = lifetimes["monolayer"]
    assert np.ptp(mono_truth) == 0.0 and mono.max() / mono.min() < 1.2
    multi, multi_truth = lifetimes["multilayer"]
    cold_over_warm = multi[0] / multi[-1]
    assert cold_over_warm > 2.0
    assert cold_over_warm == pytest.approx(multi_truth[0] / multi_truth[-1], rel=0.10)


def test_the_series_ends_with_the_heaters_off(station, series):
    for path in series.values():
        with h5py.File(path, "r") as f:
            assert f["entry"].attrs["safe_state_cryostat"] == "heater off"
    assert not cryostat_heating(station) and station.cryostat.heater_range() == "off"


def test_the_plan_declares_the_thermal_waits_and_every_dataset(station):
    procedure = make_procedure("temperature-series", start_k=10.0, stop_k=50.0, step_k=10.0, **{
        k: v for k, v in COMMON.items() if k != "step_k"})
    plan = procedure.plan(station)
    assert plan.axis("setpoint_k").tolist() == [10.0, 20.0, 30.0, 40.0, 50.0]
    measuring_s = 5 * (COMMON["exposure_s"] + COMMON["acquisition_s"])
    assert plan.estimate_s > measuring_s + 5 * COMMON["hold_s"]  # the thermal waits are in the estimate
    assert {i.limit.name for i in plan.interlocks} >= {"instruments.cryostat.setpoint_range_k",
                                                        "limits.exposure_s", "limits.acquisition_s"}
    assert {"spectra", "temperature_k", "peak_energy_eV", "fwhm_meV", "decays", "lifetime_ns",
            "peak_energy_model_eV", "fwhm_model_meV"} <= {d.name for d in plan.datasets}
    assert [v.kind for v in plan.views][:2] == ["line", "spectrum"] and "decay" in [v.kind for v in plan.views]


def test_refusals_come_before_anything_moves(station, tmp_path):
    sim = _sim(station)
    stage_before, commands_before = station.world.stage_um.copy(), len(sim.commands)
    setpoint_before = station.cryostat.setpoint_k()
    with pytest.raises(LimitError, match=r"instruments\.cryostat\.setpoint_range_k"):
        run_procedure("temperature-series", station, tmp_path / "hot.h5", start_k=250.0, stop_k=400.0, step_k=50.0)
    assert not (tmp_path / "hot.h5").exists()
    np.testing.assert_array_equal(station.world.stage_um, stage_before)
    assert not [c for c in sim.commands[commands_before:] if c.startswith(("SETP ", "RANGE "))]
    assert station.cryostat.setpoint_k() == setpoint_before
    without = build_station(CONFIG_DIR / "cryo-sim.yaml")  # stage, spectrometer, shutter: no cryostat
    try:
        with pytest.raises(LimitError, match=r"needs the roles \['cryostat'\]"):
            run_procedure("temperature-series", without, tmp_path / "none.h5")
        assert not (tmp_path / "none.h5").exists()
    finally:
        without.close()


def test_an_abort_mid_series_leaves_the_heater_off_and_keeps_the_points(station, tmp_path):
    control = RunControl()

    def abort_after_the_second_spectrum(event):
        if event.kind == "data" and event.data["name"] == "spectra" and event.data["index"] == 1:
            control.abort("test: abort mid-series")

    path = tmp_path / "aborted.h5"
    run(make_procedure("temperature-series", start_k=20.0, stop_k=60.0, step_k=10.0, hold_s=10.0, exposure_s=1.0,
                       acquisition_s=0.2, x_um=75.0), station, path, control=control,
        listeners=[abort_after_the_second_spectrum])
    result = read_run(path)
    assert result.status == "aborted" and result.reason == "test: abort mid-series"
    assert not cryostat_heating(station) and _sim(station).heater_power_W() == 0.0
    assert not station.world.shutter_open
    temperatures = result.data["temperature_k"]
    assert np.all(np.isfinite(temperatures[:2])) and np.all(np.isnan(temperatures[3:]))


def test_a_setpoint_the_heater_range_cannot_hold_fails_with_the_reason(station, tmp_path):
    path = tmp_path / "weak.h5"
    with pytest.raises(DeviceError, match=r"did not hold 50 ± 0.1 K .* heater range low"):
        run_procedure("temperature-series", station, path, start_k=50.0, stop_k=50.0, heater_range="low",
                      timeout_s=400.0, hold_s=10.0, exposure_s=1.0, acquisition_s=0.2)
    result = read_run(path)
    assert result.status == "failed" and "did not hold 50" in result.reason
    assert not cryostat_heating(station)


def test_an_interrupted_series_resumes_where_it_stopped(station, tmp_path):
    path = tmp_path / "resumed.h5"
    values = {"start_k": 30.0, "stop_k": 50.0, "step_k": 10.0, "hold_s": 10.0, "exposure_s": 1.0,
              "acquisition_s": 0.2, "x_um": 25.0}
    control = RunControl()

    def abort_after_the_first_point(event):
        if event.kind == "progress" and event.done == 1 and event.message.startswith("30 K"):
            control.abort("test: interrupted")

    run(make_procedure("temperature-series", **values), station, path, control=control,
        listeners=[abort_after_the_first_point])
    assert read_run(path).status == "aborted"
    resume_procedure(path, station)
    result = read_run(path)
    assert result.status == "complete"
    np.testing.assert_allclose(result.data["temperature_k"], [30.0, 40.0, 50.0], atol=0.1)
    assert np.all(np.isfinite(result.data["peak_energy_eV"]))
    assert not cryostat_heating(station)



def test_a_controller_error_while_waiting_ends_the_run(station, tmp_path, monkeypatch):
    """An error of the controller itself (not a wait that ran out of time) is not waited out."""
    def broken(*args, **kwargs):
        raise DeviceError("Lake Shore 336 at sim: reply garbled")

    monkeypatch.setattr(station.cryostat, "wait_stable", broken)
    path = tmp_path / "broken.h5"
    with pytest.raises(DeviceError, match="reply garbled"):
        run_procedure("temperature-series", station, path, start_k=20.0, stop_k=20.0, exposure_s=1.0,
                      acquisition_s=0.2)
    assert read_run(path).status == "failed"
    assert not cryostat_heating(station)
