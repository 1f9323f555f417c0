"""Reading tepl run files (see tepl.data.recorder for the layout), also while a run is still writing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tepl.data.storage import writer_alive


@dataclass
class Run:
    """Everything in one run file. ``parameters``: {name: (value, unit)}; ``data``: every dataset in
    /entry/data (signal, axes, maps) with its unit in ``units`` and its dimension names in ``dims``;
    ``axes``: the signal's axes in order; ``simulation``: the twin's ground truth or None."""

    path: Path
    procedure: str
    status: str
    reason: str | None
    error: str | None
    start_time: str | None
    end_time: str | None
    parameters: dict[str, tuple[Any, str]]
    config_text: str
    instruments: dict[str, Any]
    data: dict[str, np.ndarray]
    units: dict[str, str]
    axes: list[str]
    simulation: dict[str, Any] | None
    signal: str | None = None
    dims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    software_version: str | None = None
    log: list[str] = field(default_factory=list)


class LazyDataset:
    """A dataset of a run file left on disk: ``shape``, ``dtype``, ``ndim``; indexing reads just that part
    (opening the file for each read); ``np.asarray`` reads it whole."""

    def __init__(self, path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.name, self.shape, self.dtype = path, name, shape, dtype
        self.ndim = len(shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        with h5py.File(self.path, "r", locking=False) as f:
            return f[self.name][key]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[()], dtype=dtype)


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _attr(attrs: h5py.AttributeManager, key: str) -> Any:
    if key not in attrs:
        return None
    value = attrs[key]
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, np.ndarray):
        return [_text(v) for v in value.tolist()] if value.dtype.kind in "OSU" else value
    if isinstance(value, np.generic):
        return value.item()
    return _text(value)


def _status(attrs: h5py.AttributeManager) -> str:
    """The run's status; "interrupted" for a file left "running" by a process that is gone (killed)."""
    status = str(_attr(attrs, "status"))
    return "interrupted" if status == "running" and not writer_alive(attrs) else status


def _gone(attrs: h5py.AttributeManager) -> str | None:
    if _status(attrs) != "interrupted":
        return None
    return (f"the writing process {_attr(attrs, 'pid')} on {_attr(attrs, 'host')} is gone; "
            f"tepl resume continues it" if "pid" in attrs else "the writing process is gone")


def _read_dataset(ds: h5py.Dataset) -> Any:
    if ds.shape is None:
        return None
    if ds.dtype.kind in "OS" or h5py.check_string_dtype(ds.dtype) is not None:
        if ds.shape == ():
            value = _text(ds[()])
            return json.loads(value) if _attr(ds.attrs, "encoding") == "json" else value
        return [_text(v) for v in ds[()].tolist()]
    value = ds[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_tree(group: h5py.Group) -> dict[str, Any]:
    """A group as a nested dict: datasets become values, subgroups dicts, empty attributes None."""
    out: dict[str, Any] = {}
    for key, value in group.attrs.items():
        if isinstance(value, h5py.Empty):
            out[key] = None
    for key, obj in group.items():
        out[key] = read_tree(obj) if isinstance(obj, h5py.Group) else _read_dataset(obj)
    return out


def open_hdf5(path: Path, not_hdf5: str) -> h5py.File:
    """The HDF5 file at ``path``, open read-only without file locking (so a run being written can be read).
    FileNotFoundError when there is nothing at ``path``; ValueError ``"<path> <not_hdf5> (<reason>)"`` when it
    cannot be opened as HDF5."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run file")
    try:
        return h5py.File(path, "r", locking=False)
    except OSError as exc:
        raise ValueError(f"{path} {not_hdf5} ({exc})") from exc


def _open(path: Path) -> h5py.File:
    f = open_hdf5(path, "is not a tepl run file: cannot open it as HDF5")
    entry = f.get("entry")
    if not isinstance(entry, h5py.Group) or _attr(entry.attrs, "NX_class") != "NXentry" \
            or "procedure" not in entry.attrs:
        f.close()
        raise ValueError(f"{path} is not a tepl run file: no /entry group (NXentry) with a procedure")
    return f


def read_run(path, lazy_above_bytes: int | None = None) -> Run:
    """Read the run file at ``path``. Raises ValueError naming the file when it is not a tepl run. With
    ``lazy_above_bytes``, datasets of /entry/data larger than that stay on disk as ``LazyDataset``."""
    path = Path(path)
    with _open(path) as f:
        entry = f["entry"]
        attrs = entry.attrs
        parameters = {}
        for name, ds in entry.get("parameters", {}).items():
            parameters[name] = (_read_dataset(ds), str(_attr(ds.attrs, "units") or ""))
        for name, value in entry.get("parameters", {}).attrs.items():
            if isinstance(value, h5py.Empty):
                parameters[name] = (None, "")
        data: dict[str, np.ndarray] = {}
        units: dict[str, str] = {}
        dims: dict[str, tuple[str, ...]] = {}
        axes: list[str] = []
        signal = None
        if "data" in entry:
            g = entry["data"]
            for name, ds in g.items():
                big = lazy_above_bytes is not None and ds.nbytes > lazy_above_bytes
                data[name] = LazyDataset(path, ds.name, ds.shape, ds.dtype) if big else ds[()]
                units[name] = str(_attr(ds.attrs, "units") or "")
                dims[name] = tuple(_attr(ds.attrs, "dims") or (_attr(ds.attrs, "dim") or name,))
            signal = _attr(g.attrs, "signal")
            axes = list(_attr(g.attrs, "axes") or [])
        sample = entry.get("sample")
        simulation = None
        if sample is not None and "simulation" in sample:
            simulation = read_tree(sample["simulation"])
        config = entry.get("config")
        return Run(
            path=path,
            procedure=str(_attr(attrs, "procedure")),
            status=_status(attrs),
            reason=_attr(attrs, "reason") or _gone(attrs),
            error=_attr(attrs, "error"),
            start_time=_attr(attrs, "start_time"),
            end_time=_attr(attrs, "end_time"),
            parameters=parameters,
            config_text=str(_read_dataset(config)) if config is not None else "",
            instruments=read_tree(entry["instrument"]) if "instrument" in entry else {},
            data=data,
            units=units,
            axes=axes,
            simulation=simulation,
            signal=signal,
            dims=dims,
            software_version=_attr(attrs, "software_version"),
            log=[_text(v) for v in entry["log"][()].tolist()] if "log" in entry else [],
        )


def filled_counts(ds: h5py.Dataset) -> tuple[int, int, int]:
    """(complete rows, partly filled rows, rows) along the first axis; a value is filled when not NaN.
    Read one row at a time so large maps need not fit in memory."""
    n = ds.shape[0] if ds.ndim else 1
    if ds.dtype.kind not in "fc":
        return n, 0, n
    full = partial = 0
    for i in range(n):
        finite = ~np.isnan(ds[i] if ds.ndim else ds[()])
        if np.all(finite):
            full += 1
        elif np.any(finite):
            partial += 1
    return full, partial, n


def _fmt_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=8, precision=6)
    return repr(value) if isinstance(value, str) else str(value)


def describe(path) -> str:
    """A human-readable summary of a run file (what ``tepl info FILE.h5`` prints)."""
    path = Path(path)
    lines = [f"file        {path}"]
    with _open(path) as f:
        entry = f["entry"]
        a = entry.attrs
        status = _status(a)
        reason = _attr(a, "reason") or _gone(a)
        if reason:
            status += f" ({reason})"
        lines += [f"procedure   {_attr(a, 'procedure')}",
                  f"status      {status}"]
        if _attr(a, "error"):
            lines.append(f"error       {_attr(a, 'error')}")
        lines += [f"started     {_attr(a, 'start_time')}",
                  f"ended       {_attr(a, 'end_time') or '-'}",
                  f"software    {_attr(a, 'software_version')}"]
        params = entry.get("parameters")
        if params is not None and len(params):
            lines.append("parameters")
            for name, ds in params.items():
                unit = _attr(ds.attrs, "units") or ""
                lines.append(f"  {name:<28} {_fmt_value(_read_dataset(ds))} {unit}".rstrip())
            for name, value in params.attrs.items():
                if isinstance(value, h5py.Empty):
                    lines.append(f"  {name:<28} None")
        data = entry.get("data")
        if data is not None and len(data):
            signal = _attr(data.attrs, "signal")
            lines.append(f"data        signal={signal} axes={_attr(data.attrs, 'axes')}")
            for name, ds in data.items():
                unit = _attr(ds.attrs, "units") or "-"
                dims = _attr(ds.attrs, "dims") or [_attr(ds.attrs, "dim") or name]
                row = f"  {name:<20} {str(ds.shape):<18} [{unit}] dims={','.join(dims)}"
                if "dims" in ds.attrs and ds.dtype.kind in "fc":
                    full, partial, n = filled_counts(ds)
                    row += f"  filled {full}/{n} rows" + (f" ({partial} partly)" if partial else "")
                lines.append(row)
        inst = entry.get("instrument")
        if inst is not None and len(inst):
            lines.append(f"instruments {', '.join(inst.keys())}")
        if "sample" in entry and "simulation" in entry["sample"]:
            lines.append("simulation  ground truth present (/entry/sample/simulation)")
        if "log" in entry and entry["log"].shape[0]:
            lines.append(f"events      {entry['log'].shape[0]} (last: {_text(entry['log'][-1])})")
    return "\n".join(lines)
