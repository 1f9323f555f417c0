"""The fault matrix: every fault the simulators can inject, on every instrument a procedure uses, part way
through a small run of that procedure. Each case must end with the station safe (tip withdrawn, shutters
closed, counting stopped: judged on the simulators' own state; a completed approach leaves the tip engaged,
as it declares), the tip never crashed, the file's status and reason recorded, no hang past its deadline, and
only the project's own errors raised (no traceback from a library)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tepl.config import CONFIG_DIR, parse_config
from tepl.data.recorder import StorageError
from tepl.data.runfile import read_run
from tepl.procedures import PROCEDURES, RunControl, make_procedure, run
from tepl.roles import DeviceError, LimitError
from tepl.sims.faults import KINDS
from tepl.station import build_station

STATIONS = ("sim.yaml", "confocal-sim.yaml", "confocal-hbt-sim.yaml", "film-cryo-sim.yaml")
SMALL = {
    "raster": {"size_x_um": 0.02, "size_y_um": 0.02, "pixel_um": 0.005, "exposure_s": 0.01},
    "line-scan": {"length_um": 0.02, "pixel_um": 0.005, "exposure_s": 0.01},
    "distance-sweep": {"start_gap_nm": 20.0, "stop_gap_nm": 16.0, "gap_step_nm": 1.0, "exposure_s": 0.01},
    "pressure-ramp": {"start_gap_nm": 14.0, "min_gap_nm": 12.5, "gap_step_nm": 0.5, "exposure_s": 0.01},
    "calibrate": {"exposure_s": 0.2, "accumulations": 1},
    "confocal-raster": {"size_x_um": 1.5, "size_y_um": 1.5, "pixel_um": 0.5, "dwell_s": 0.01},
    "g2": {"acquisition_s": 0.5, "block_s": 0.1},
    "time-trace": {"acquisition_s": 0.5, "block_s": 0.1, "bin_s": 0.01},
    "kinetic-series": {"exposure_s": 0.01, "frames": 4},
    "temperature-series": {"start_k": 10.0, "stop_k": 12.0, "step_k": 2.0, "hold_s": 5.0, "exposure_s": 0.01,
                           "acquisition_s": 0.01, "x_um": 25.0},
    "approach": {"max_travel_um": 5.0},
    "align-tip": {"exposure_s": 0.1, "search_radius_um": 1.0, "fine_half_width_nm": 300.0, "fine_pitch_steps": 3,
                  "rounds": 1},
}
# where each role's simulator keeps its fault switchboard, and the simulator's name in KINDS
DEVICES = {
    "stage": ("pi_e727", lambda st: st.stage.instrument.adapter.faults),
    "zcontrol": ("rhk_r9", lambda st: st.zcontrol.r9.transport.faults),
    "spectrometer": ("andor_sdk2", lambda st: st.spectrometer.ccd.lib.faults),
    "tcspc": ("picoquant", lambda st: st.tcspc.device.lib.faults),
    "picomotors": ("newport_8742", lambda st: st.picomotors.controller.adapter.faults),
    "cryostat": ("lakeshore_336", lambda st: st.cryostat.controller.adapter.faults),
    "excitation_shutter": ("thorlabs_sc10", lambda st: st.excitation_shutter.controller.adapter.faults),
}
VALUES = {"stall": True, "delay_s": 0.0, "garble": True, "disconnect": True, "nan_reply": True, "interrupt": True,
          "retract_ignored": True}
ERROR_CODES = {"picoquant": -1, "andor_sdk2": 20089}
DEADLINE_S = 60.0
OWN_ERRORS = (DeviceError, LimitError, StorageError, KeyboardInterrupt)
# short waits, so a stalled device gives up in a second, not in the rig's minutes
FAST = {"settle_timeout_s: 5": "settle_timeout_s: 0.5"}


@dataclass
class Case:
    procedure: str
    role: str
    fault: str

    @property
    def name(self) -> str:
        return f"{self.procedure}/{self.role}/{self.fault}"


def cases() -> list[Case]:
    found = []
    for name, cls in PROCEDURES.items():
        for role in cls.roles + (("excitation_shutter",) if cls.excites else ()):  # a run opens the excitation
            if role not in DEVICES:
                continue
            sim = DEVICES[role][0]
            found += [Case(name, role, kind) for kind, sims in KINDS.items() if sim in sims]
    return found


def station_for(procedure: str):
    cls = PROCEDURES[procedure]
    for config in STATIONS:
        text = (CONFIG_DIR / config).read_text()
        for old, new in FAST.items():
            text = text.replace(old, new)
        cfg = parse_config(text, config)
        if all(role in cfg.data["instruments"] for role in cls.roles):
            return build_station(cfg)
    raise LookupError(f"no simulated station has the roles of {procedure}")


def safe_problems(station, tip_kept: bool = False) -> list[str]:
    """What is not safe, read on the simulators' own state (empty: safe). ``tip_kept``: the run completed a
    procedure that leaves the tip engaged (the approach); then the tip must be engaged, not withdrawn."""
    world, problems = station.world, []
    if world.crashed:
        problems.append("the tip crashed into the substrate")
    if tip_kept:
        if station.zcontrol.r9.transport.controller.tip_control != "Unlimit":
            problems.append("the completed approach did not leave the tip engaged")
    elif station.has_role("zcontrol") and world.tip_distance_nm() < 50.0:
        problems.append(f"tip {world.tip_distance_nm():.1f} nm from the surface")
    if world.shutter_open:
        problems.append("spectrograph shutter open")
    if world.lamp_on:
        problems.append("lamp on")
    if world.sample_excited and station.has_role("excitation_shutter"):
        problems.append("the sample is still lit (excitation shutter open and laser on)")
    if station.has_role("tcspc"):
        m = station.tcspc.device.lib._meas
        if m is not None and m.stopped_s is None and world.clock.now() < m.end_s:
            problems.append("photon counting still running")
    if station.has_role("cryostat") and station.cryostat.safe_heater == "off":
        heating = cryostat_heating(station)
        if heating:
            problems.append(f"cryostat heater outputs {heating} still on")
    return problems


def cryostat_heating(station) -> list[int]:
    """The heater outputs the simulated cryostat controller still powers (empty: all off)."""
    loops = station.cryostat.controller.adapter.controller.loops
    return [n for n, loop in loops.items() if loop.heater_range > 0]


def run_case(case: Case, out_dir) -> dict:
    """One case; returns its outcome: ``status``, ``reason``, ``error`` (type name), ``seconds``, ``unsafe``."""
    station = station_for(case.procedure)
    sim, switchboard = DEVICES[case.role]
    faults = switchboard(station)
    value = ERROR_CODES[sim] if case.fault == "error_code" else VALUES[case.fault]
    armed = {"done": False}

    def arm(event):  # part way through: after the run's first event
        if not armed["done"]:
            armed["done"] = True
            faults.set(**{case.fault: value}, count=2)

    path = out_dir / f"{case.name.replace('/', '-')}.h5"
    start, error = time.monotonic(), None
    try:
        run(make_procedure(case.procedure, **SMALL[case.procedure]), station, path, control=RunControl(),
            listeners=[arm])
    except OWN_ERRORS as exc:
        error = type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - counted: an error that is not the project's own
        error = f"UNCAUGHT {type(exc).__name__}: {exc}"
    seconds = time.monotonic() - start
    faults.clear()
    try:
        recorded = read_run(path)
        status, reason = recorded.status, recorded.reason
    except Exception as exc:  # noqa: BLE001
        status, reason = "no file", str(exc)
    try:
        kept = "zcontrol" in PROCEDURES[case.procedure].leaves and status == "complete" and not reason
        unsafe = safe_problems(station, tip_kept=kept)
    finally:
        station.close()
    return {"status": status, "reason": reason, "error": error, "seconds": seconds, "unsafe": unsafe}


def judge(outcome: dict) -> list[str]:
    """Why a case fails the matrix (empty: it passes)."""
    problems = list(outcome["unsafe"])
    if outcome["status"] not in ("complete", "aborted", "failed"):
        problems.append(f"status {outcome['status']}")
    if outcome["status"] != "complete" and not outcome["reason"]:
        problems.append("no reason recorded")
    if outcome["error"] and outcome["error"].startswith("UNCAUGHT"):
        problems.append(outcome["error"])
    if outcome["seconds"] > DEADLINE_S:
        problems.append(f"took {outcome['seconds']:.1f} s")
    return problems
