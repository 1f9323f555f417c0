"""Provenance (issue 11): every setting recorded under /entry/instrument equals what the simulators hold at
the run's first acquisition, for every procedure on its small run (``tests/fault_matrix.SMALL``).

The truth is read from the simulators themselves at the moment a detector starts its first acquisition
(the SDK2 ``StartAcquisition``, the TCSPC library's ``StartMeas``): the CCD's exposure and accumulations,
the Shamrock's grating, centre wavelength, input slit width, exit port and filter position, the
directory the SDK was initialised from, the TCSPC unit's binning, sync divider, offset and
resolution, the E-727's servo, velocity control and velocities, the Lake Shore's setpoint and range. The
exposures are changed from the defaults, so a snapshot taken before the run applied them cannot pass.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tepl.data.recorder import Recorder
from tepl.data.runfile import read_run
from tepl.procedures import PROCEDURES, make_procedure, run
from tepl.sims.andor_shamrock_ports import PORT_NAMES, SLIT_INPUT_DIRECT
from tepl.sims.picoquant_spec import MODE_T2
from tests.fault_matrix import SMALL, station_for

EXPOSURE_S = 0.03  # not any simulator's or driver's default
HEATER_RANGES = {0: "off", 1: "low", 2: "medium", 3: "high"}  # RANGE of outputs 1-2 (hardware.md section 8.2)


def small_params(name: str) -> dict:
    params = dict(SMALL[name])
    if "exposure_s" in params and name != "calibrate":
        params["exposure_s"] = EXPOSURE_S
    return params


def sim_state(station) -> dict:
    """What the simulators hold now, keyed as the run file records it."""
    truth: dict = {}
    if station.has_role("spectrometer"):
        ccd, shamrock = station.spectrometer.ccd.lib, station.spectrometer.spectrograph.lib
        truth["spectrometer"] = {"exposure_s": ccd._exposure_s, "accumulations": ccd._n_acc,
                                 "grating": shamrock._grating, "center_wavelength_nm": shamrock._center_nm,
                                 "slit_width_um": shamrock._slit_width_um[SLIT_INPUT_DIRECT],
                                 "exit_port": PORT_NAMES[shamrock._exit_port], "filter": shamrock._filter,
                                 "config_dir": ccd.initialize_dir}
    if station.has_role("tcspc"):
        unit = station.tcspc.device.lib
        s = unit._settings
        truth["tcspc"] = {"binning": s.binning, "sync_divider": s.sync_divider, "offset_ns": s.offset_ns,
                          # T2 tags count the base resolution whatever the binning; histograms and T3 the binned one
                          "resolution_ps": unit._base_resolution_ps() * (1.0 if unit._mode == MODE_T2
                                                                         else 2.0**s.binning)}
    if station.has_role("stage") and hasattr(station.stage.instrument.adapter, "controller"):
        axes = station.stage.instrument.adapter.controller.axes
        by_role = {role: axes[a] for role, a in station.stage.axis_map.items()}
        truth["stage"] = {"servo": {r: a.servo for r, a in by_role.items()},
                          "velocity_control": {r: a.velocity_control for r, a in by_role.items()},
                          "velocity_um_s": {r: a.velocity_um_s for r, a in by_role.items()}}
    if station.has_role("cryostat"):
        cryo = station.cryostat
        loop = cryo.controller.adapter.controller.loops[cryo.output]
        truth["cryostat"] = {"setpoint_k": loop.setpoint_k, "heater_range": HEATER_RANGES[loop.heater_range]}
    return truth


def watch_first_acquisition(station) -> dict:
    """Wrap each detector's start-acquisition function so the simulators' state is read at the first one."""
    seen: dict = {}

    def wrap(lib, name: str) -> None:
        original = getattr(lib, name)

        def started(*args):
            if not seen:
                seen.update(sim_state(station))
            return original(*args)

        setattr(lib, name, started)

    if station.has_role("spectrometer"):
        wrap(station.spectrometer.ccd.lib, "StartAcquisition")
    if station.has_role("tcspc"):
        lib = station.tcspc.device.lib
        wrap(lib, f"{lib.PREFIX}_StartMeas")
    return seen


def recorded(instruments: dict) -> dict:
    """The same settings as the file holds them."""
    out: dict = {}
    if "spectrometer" in instruments:
        spec = instruments["spectrometer"]
        out["spectrometer"] = {"exposure_s": spec["ccd"]["exposure_s"], "accumulations": spec["ccd"]["accumulations"],
                               "grating": spec["spectrograph"]["grating"]["grating"],
                               "center_wavelength_nm": spec["spectrograph"]["center_wavelength_nm"],
                               "slit_width_um": spec["spectrograph"]["slit_width_um"],
                               "exit_port": spec["spectrograph"]["exit_port"],
                               "filter": spec["spectrograph"]["filter"], "config_dir": spec["ccd"]["config_dir"]}
    if "tcspc" in instruments:
        t = instruments["tcspc"]
        out["tcspc"] = {key: t[key] for key in ("binning", "sync_divider", "offset_ns", "resolution_ps")}
    if "stage" in instruments:
        out["stage"] = {key: instruments["stage"].get(key) for key in ("servo", "velocity_control", "velocity_um_s")}
    if "cryostat" in instruments:
        out["cryostat"] = {key: instruments["cryostat"][key] for key in ("setpoint_k", "heater_range")}
    return out


def snapshot_note(path) -> str:
    with h5py.File(path, "r") as f:
        return str(f["entry/instrument"].attrs.get("snapshot_taken", ""))


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_recorded_settings_are_those_of_the_first_acquisition(name, tmp_path):
    station = station_for(name)
    try:
        truth = watch_first_acquisition(station)
        path = run(make_procedure(name, **small_params(name)), station, tmp_path / f"{name}.h5")
        roles = PROCEDURES[name].roles
        if not {"spectrometer", "tcspc"} & set(roles):  # nothing acquires (the approach): as at the end
            truth.update(sim_state(station))
        truth = {role: settings for role, settings in truth.items() if role in roles}  # what the run sets
        assert truth or name == "approach", f"{name}: no acquisition started"
        in_file = recorded(read_run(path).instruments)
        assert set(in_file) >= set(truth), f"{name}: settings of {set(truth) - set(in_file)} not recorded"
        for role, settings in truth.items():
            for key, value in settings.items():
                expected = value if isinstance(value, str) else pytest.approx(value)
                assert in_file[role][key] == expected, f"{name}: {role} {key}"
        assert "first data write" in snapshot_note(path) or name == "approach"
    finally:
        station.close()


# ---------------------------------------------------------------------------------------- the recorder's part
def new_file(path) -> Recorder:
    rec = Recorder(path, "raster", {}, "", None, "tepl test")
    rec.add_axis("x_um", np.arange(3.0), "µm")
    rec.add_dataset("height_nm", (3,), ("x_um",), "nm")
    rec.add_dataset("spectra", (3,), ("x_um",), "counts", signal=True)
    return rec


def test_the_deferred_snapshot_waits_for_the_signal(tmp_path):
    state = {"exposure_s": None}
    rec = new_file(tmp_path / "run.h5")
    rec.defer_instruments(lambda: {"ccd": dict(state)})
    rec.write("height_nm", 0, 1.0)  # measured before the pixel's spectrum: not the signal's acquisition
    state["exposure_s"] = 0.05  # applied by the acquisition itself
    rec.write("spectra", 0, 7.0)
    state["exposure_s"] = 9.0  # later changes are not the first acquisition's
    rec.write("spectra", 1, 8.0)
    rec.close("complete")
    assert read_run(tmp_path / "run.h5").instruments == {"ccd": {"exposure_s": 0.05}}


def test_a_resumed_file_keeps_its_snapshot_or_takes_a_missing_one(tmp_path):
    rec = new_file(tmp_path / "run.h5")
    rec.defer_instruments(lambda: {"ccd": {"exposure_s": 0.05}})
    rec.close("aborted", reason="before any data")
    rec = Recorder.reopen(tmp_path / "run.h5", "resumed")
    assert not rec.instruments_recorded
    rec.defer_instruments(lambda: {"ccd": {"exposure_s": 0.07}})
    rec.write("spectra", 0, 1.0)
    rec.close("aborted", reason="again")
    rec = Recorder.reopen(tmp_path / "run.h5", "resumed")
    rec.defer_instruments(lambda: {"ccd": {"exposure_s": 1.0}})  # ignored: the file has its snapshot
    rec.write("spectra", 1, 2.0)
    rec.close("complete")
    assert read_run(tmp_path / "run.h5").instruments == {"ccd": {"exposure_s": 0.07}}


def test_a_failing_snapshot_never_stops_the_data(tmp_path):
    rec = new_file(tmp_path / "run.h5")

    def broken():
        raise RuntimeError("link down")

    rec.defer_instruments(broken)
    rec.write("spectra", 0, 1.0)
    rec.close("complete")
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert "link down" in f["entry/instrument"].attrs["snapshot_error"]
        assert f["entry/data/spectra"][0] == 1.0
