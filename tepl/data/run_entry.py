"""``/entry`` of a run file: what ran (the header written when the file is created: procedure, parameters,
config, software, the twin's ground truth) and how it went (@status from ``running`` to how the run ended,
and back to ``running`` when an interrupted run is resumed)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import h5py

from tepl.data.instrument_snapshot import write_instruments
from tepl.data.storage import writer_alive, writer_attrs
from tepl.data.values import STR, utc_now_iso, write_value

STATUSES_AT_CLOSE = ("complete", "aborted", "failed", "stopped")


def create_entry(f: h5py.File, file_name: str, procedure: str, parameters: dict[str, dict], config_text: str,
                 instruments: dict[str, dict] | None, software_version: str, simulation: dict | None) -> None:
    """The file's header: root attributes, /entry (status ``running``) with parameters, config, the
    instruments' settings (if given), an empty NXdata group, the log and the twin's ground truth (if given)."""
    f.attrs["default"] = "entry"
    f.attrs["file_name"] = file_name
    f.attrs["file_time"] = utc_now_iso()
    version = str(software_version)  # "tepl 0.1.0" as given; a bare version gets the "tepl" prefix
    f.attrs["creator"] = version if version.split(" ", 1)[0] == "tepl" else f"tepl {version}"
    f.attrs["HDF5_Version"] = h5py.version.hdf5_version
    f.attrs["h5py_version"] = h5py.version.version
    entry = f.create_group("entry")
    entry.attrs.update({"NX_class": "NXentry", "default": "data", "procedure": str(procedure),
                        "status": "running", "start_time": utc_now_iso(),
                        "software_version": str(software_version), **writer_attrs()})
    params = entry.create_group("parameters")
    params.attrs["NX_class"] = "NXcollection"
    for name, spec in parameters.items():
        if not isinstance(spec, Mapping) or "value" not in spec:
            raise ValueError(f"parameter {name!r} must be a dict with 'value' (and 'unit'), got {spec!r}")
        write_value(params, name, spec["value"], unit=str(spec.get("unit") or ""))
    entry.create_dataset("config", data=str(config_text or ""), dtype=STR)
    inst = entry.create_group("instrument")
    inst.attrs["NX_class"] = "NXinstrument"
    if instruments is not None:
        write_instruments(inst, instruments, "when the file was created")
    data = entry.create_group("data")
    data.attrs["NX_class"] = "NXdata"
    log = entry.create_dataset("log", shape=(0,), maxshape=(None,), chunks=(64,), dtype=STR)
    log.attrs["NX_class"] = "NXnote"
    if simulation is not None:
        sample = entry.create_group("sample")
        sample.attrs["NX_class"] = "NXsample"
        write_value(sample, "simulation", dict(simulation))


def resume_entry(entry: h5py.Group, where) -> None:
    """Set an interrupted run's /entry ``running`` again: refused for a complete run or one whose writer still
    runs; ``@resumed`` gains the time, the status and reason the file had and its steps done; the end's
    @reason, @error and @end_time go."""
    status = str(entry.attrs.get("status", ""))
    if status == "complete":
        raise ValueError(f"{where} is a complete run: there is nothing to resume")
    if status == "running" and writer_alive(entry.attrs):
        raise ValueError(f"{where} is being written by process {int(entry.attrs['pid'])}")
    previous = json.loads(entry.attrs.get("resumed", "[]"))
    previous.append({"time": utc_now_iso(), "previous_status": status,
                     "previous_reason": str(entry.attrs.get("reason", "the writing process ended")),
                     "steps_done": int(entry.attrs.get("steps_done", 0))})
    entry.attrs["resumed"] = json.dumps(previous)
    entry.attrs.update({"status": "running", **writer_attrs()})
    for key in ("reason", "error", "end_time"):
        if key in entry.attrs:
            del entry.attrs[key]


def check_end_status(status: str) -> None:
    if status not in STATUSES_AT_CLOSE:
        raise ValueError(f"status must be one of {STATUSES_AT_CLOSE}, got {status!r}")


def end_entry(entry: h5py.Group, status: str, reason: str | None, error: str | None) -> None:
    """Record how the run ended on /entry: @status, @end_time, and @reason / @error when given."""
    entry.attrs["status"] = status
    entry.attrs["end_time"] = utc_now_iso()
    if reason is not None:
        entry.attrs["reason"] = str(reason)
    if error is not None:
        entry.attrs["error"] = str(error)
