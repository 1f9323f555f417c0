"""One self-describing, NeXus-compatible HDF5 file per run, written as the run goes.

Layout (see docs/design.md, "HDF5 contract")::

    /entry                      NXentry; @procedure @status @start_time @end_time @error @reason
                                @software_version
    /entry/parameters           NXcollection: one dataset per parameter, with @units
    /entry/config               the station config text
    /entry/instrument/<name>    NXcollection per instrument (nested dicts are groups): the settings the run
                                acquired with; @snapshot_taken says when they were read
    /entry/data                 NXdata: @signal, @axes, @<axis>_indices
    /entry/sample/simulation    the twin's ground truth (simulated stations only)
    /entry/log                  time-stamped event lines

Crash safety: every dataset is allocated in full (and filled with its fill value) when it is created, so
writing data later only touches raw data, never the file's metadata. After ``flush()`` the file on disk is
complete and consistent; a writer killed afterwards loses only what it wrote since the last flush.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tepl.data.storage import RecorderClosedError, StorageError, guard_storage, writer_alive, writer_attrs
from tepl.data.values import STR, as_attr, utc_now_iso, write_value

STATUSES_AT_CLOSE = ("complete", "aborted", "failed", "stopped")


def _chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """One chunk per scan line: 1 along the first axis, whole along the others (1-D: the whole axis);
    trailing axes are shrunk only if a chunk would exceed 16 MiB."""
    if len(shape) == 1:
        return (shape[0],)
    chunk = [1, *shape[1:]]
    i = 1
    while int(np.prod(chunk)) * itemsize > 16 * 2**20 and i < len(chunk):
        chunk[i] = max(1, chunk[i] // 2)
        if chunk[i] == 1:
            i += 1
    return tuple(chunk)


class RowBuffer:
    """One row (index along the first axis: a scan line) of a dataset, held in memory while it is written pixel
    by pixel, written to the file whole."""

    MAX_BYTES = 64 * 2**20  # larger rows are written as they come

    def __init__(self, ds: h5py.Dataset, row: int, whole: bool, fill: Any = None, shape: tuple[int, ...] = ()):
        """``fill``: the dataset's fill value when the file holds nothing else in this row (then it is not read
        back); ``shape``: the dataset's shape, if known (asking h5py for it costs more than a pixel's write)."""
        self.ds, self.row = ds, row
        row_shape = shape[1:] if shape else ds.shape[1:]
        # a write of the whole row needs nothing from the file; a part of it keeps what the file holds
        if whole:
            self.values = np.empty(row_shape, ds.dtype)
        elif fill is not None:
            self.values = np.full(row_shape, fill, ds.dtype)
        else:
            self.values = ds[row]
        self.depth = len(row_shape) + 1  # indices a write inside the row may have

    @staticmethod
    def bufferable_shape(ds: h5py.Dataset) -> tuple[int, ...] | None:
        """The shape of ``ds`` if its rows may be held in memory (numeric, two or more dimensions, rows of at
        most ``MAX_BYTES``), else None."""
        shape, dtype = ds.shape, ds.dtype
        if len(shape) < 2 or dtype.kind not in "biufc" \
                or int(np.prod(shape[1:])) * dtype.itemsize > RowBuffer.MAX_BYTES:
            return None
        return tuple(shape)

    @staticmethod
    def row_of(shape: tuple[int, ...], index) -> tuple[int, tuple] | None:
        """(row, index within the row) when ``index`` of a bufferable dataset of ``shape`` falls inside one
        row: a whole-number first index within the shape, the others whole numbers or slices; None otherwise."""
        if len(shape) < 2:
            return None
        parts = index if isinstance(index, tuple) else (index,)
        if not parts or len(parts) > len(shape):
            return None
        first = parts[0]
        if isinstance(first, bool | np.bool_) or not isinstance(first, int | np.integer) \
                or not -shape[0] <= first < shape[0]:
            return None
        rest = parts[1:]
        if not all(isinstance(i, slice) or (isinstance(i, int | np.integer) and not isinstance(i, bool | np.bool_))
                   for i in rest):
            return None
        return int(first) % shape[0], tuple(rest)

    def write(self) -> None:
        self.ds[self.row] = self.values


class Recorder:
    """Writes one run to ``path``. Use as a context manager or call ``close()`` in a ``finally``.

    ``parameters``: ``{"exposure_s": {"value": 0.5, "unit": "s"}, ...}``; ``instruments``:
    ``{"stage": {nested settings}, ...}`` written at once, or None to record them later with
    ``record_instruments`` or, deferred with ``defer_instruments``, at the first data write of the signal;
    ``simulation``: the twin's ground truth (nested dict of arrays, scalars, strings), or None on real
    hardware. The file is refused if it exists, unless ``overwrite``.
    """

    def __init__(self, path, procedure: str, parameters: dict[str, dict], config_text: str,
                 instruments: dict[str, dict] | None, software_version: str, simulation: dict | None = None,
                 overwrite: bool = False):
        self._path = Path(path)
        self._closed = False
        self._pending_snapshot: Callable[[], Mapping[str, Mapping]] | None = None
        self._datasets: dict[str, h5py.Dataset] = {}  # handles of the datasets written per pixel
        self._rows: dict[str, RowBuffer] = {}  # the scan line being written, per dataset, until the next flush
        self._layouts: dict[str, tuple[int, ...] | None] = {}  # shapes of datasets whose rows may be buffered
        # datasets this recorder created, with their fill value and the rows written since: a row not written
        # yet holds the fill value only, so its buffer starts from that instead of reading the file
        self._fresh: dict[str, tuple[Any, set[int]]] = {}
        self._objects: dict[str, Any] = {}  # groups and datasets found by path for set_attrs
        self._streams: dict[str, h5py.Dataset] = {}  # extendable datasets, by path relative to /entry
        self._signal: str | None = None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._file = h5py.File(self._path, "w" if overwrite else "x", locking=False)
        except FileExistsError as exc:
            raise FileExistsError(f"{self._path} already exists; pass overwrite=True to replace it") from exc
        except OSError as exc:
            if self._path.exists() and not overwrite:
                raise FileExistsError(
                    f"{self._path} already exists; pass overwrite=True to replace it") from exc
            raise
        try:
            self._write_header(procedure, parameters, config_text, instruments, software_version, simulation)
            self._file.flush()
        except BaseException:
            self._file.close()
            self._closed = True
            self._path.unlink(missing_ok=True)
            raise

    def _write_header(self, procedure, parameters, config_text, instruments, software_version, simulation):
        f = self._file
        f.attrs["default"] = "entry"
        f.attrs["file_name"] = self._path.name
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
            self._write_instruments(inst, instruments, "when the file was created")
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        log = entry.create_dataset("log", shape=(0,), maxshape=(None,), chunks=(64,), dtype=STR)
        log.attrs["NX_class"] = "NXnote"
        if simulation is not None:
            sample = entry.create_group("sample")
            sample.attrs["NX_class"] = "NXsample"
            write_value(sample, "simulation", dict(simulation))

    @classmethod
    def reopen(cls, path, reason: str) -> Recorder:
        """Open an interrupted run file (status aborted, failed, or running with its writer gone) to go on
        writing it: the status goes back to ``running``, the log says ``reason``, ``/entry@resumed`` lists
        every resumption with the status and reason the file had."""
        self = cls.__new__(cls)
        self._path = Path(path)
        self._closed = False
        self._streams = {}
        self._rows = {}
        self._layouts = {}
        self._fresh = {}
        self._objects = {}
        self._pending_snapshot = None
        self._file = h5py.File(self._path, "r+", locking=False)
        try:
            entry = self._file["entry"]
            status = str(entry.attrs.get("status", ""))
            if status == "complete":
                raise ValueError(f"{self._path} is a complete run: there is nothing to resume")
            if status == "running" and writer_alive(entry.attrs):
                raise ValueError(f"{self._path} is being written by process {int(entry.attrs['pid'])}")
            data = self._file["entry/data"]
            self._datasets = {name: ds for name, ds in data.items() if "dims" in ds.attrs}
            self._signal = str(data.attrs["signal"]) if "signal" in data.attrs else None
            previous = json.loads(entry.attrs.get("resumed", "[]"))
            previous.append({"time": utc_now_iso(), "previous_status": status,
                             "previous_reason": str(entry.attrs.get("reason", "the writing process ended")),
                             "steps_done": int(entry.attrs.get("steps_done", 0))})
            entry.attrs["resumed"] = json.dumps(previous)
            entry.attrs.update({"status": "running", **writer_attrs()})
            for key in ("reason", "error", "end_time"):
                if key in entry.attrs:
                    del entry.attrs[key]
            self._file.flush()
            self.append_event(reason)
        except BaseException:
            self._file.close()
            self._closed = True
            raise
        return self

    # ---- the instruments' settings
    @staticmethod
    def _write_instruments(group: h5py.Group, instruments: Mapping[str, Mapping], when: str) -> None:
        for name, settings in instruments.items():
            if not isinstance(settings, Mapping):
                kind = type(settings).__name__
                raise ValueError(f"instrument {name!r} settings must be a dict, got {kind}")
        for name, settings in instruments.items():
            write_value(group, name, settings)
        group.attrs["snapshot_taken"] = f"{utc_now_iso()} {when}"
        if "snapshot_missing" in group.attrs:  # an interrupted run that wrote nothing, now resumed
            del group.attrs["snapshot_missing"]

    @property
    def instruments_recorded(self) -> bool:
        """True once /entry/instrument holds a snapshot (files from before ``snapshot_taken``: any member)."""
        self._check_open()
        group = self._file["entry/instrument"]
        return "snapshot_taken" in group.attrs or len(group) > 0

    @guard_storage
    def record_instruments(self, instruments: Mapping[str, Mapping], when: str) -> None:
        """Write ``{"stage": {nested settings}, ...}`` under /entry/instrument, once per file (a deferred
        snapshot is dropped), with ``@snapshot_taken`` = time and ``when`` (in words); flushed."""
        self._check_open()
        self._pending_snapshot = None
        if self.instruments_recorded:
            raise ValueError(f"{self._path}: /entry/instrument already holds a snapshot")
        self._write_instruments(self._file["entry/instrument"], instruments, when)
        self._file.flush()

    def defer_instruments(self, snapshot: Callable[[], Mapping[str, Mapping]]) -> None:
        """Record ``snapshot()`` (the station's settings) just before the first data of the signal is
        written (``write`` of the NXdata @signal dataset, or of any dataset while there is no signal yet;
        any ``append`` to a stream): that data follows the signal's first acquisition, made with the
        settings the procedure applies (often in the acquiring call itself: the exposure of
        ``acquire(exposure_s)``), so the file holds the settings the run acquired with, not those the
        station had before. Data a procedure writes before it (the height before a pixel's spectrum) do
        not trigger it."""
        self._check_open()
        if not self.instruments_recorded:
            self._pending_snapshot = snapshot

    @property
    def snapshot_pending(self) -> bool:
        return self._pending_snapshot is not None

    def take_deferred_snapshot(self, when: str) -> None:
        """Take the deferred snapshot now, if there is one; a snapshot that fails is noted, never raised
        (it must not stop the data it precedes)."""
        take, self._pending_snapshot = self._pending_snapshot, None
        if take is None:
            return
        try:
            instruments = dict(take())
        except Exception as exc:  # noqa: BLE001 - the run's data matter more than its snapshot
            self.set_attrs("/entry/instrument", snapshot_error=f"{type(exc).__name__}: {exc}")
            return
        self.record_instruments(instruments, when)

    def dataset(self, name: str) -> h5py.Dataset:
        """``/entry/data/<name>`` as it is in the file (to read back what an interrupted run measured), with
        what was written to it so far."""
        self._check_open()
        self._write_rows(name)
        self._fresh.pop(name, None)  # the caller may write through the handle
        return self._data[name]

    def attrs(self, path: str = "/entry") -> dict:
        """The attributes of ``path``."""
        self._check_open()
        return dict(self._file[path].attrs)

    # ------------------------------------------------------------------ data
    @property
    def path(self) -> Path:
        """The run file's path."""
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RecorderClosedError(f"recorder for {self._path} is closed")

    @property
    def _data(self) -> h5py.Group:
        return self._file["entry/data"]

    @guard_storage
    def add_axis(self, name: str, values, unit: str, dim: str | None = None) -> None:
        """A 1-D axis ``/entry/data/<name>`` with @units. ``dim`` names the dimension an auxiliary axis
        lies along (``energy_eV`` along ``wavelength_nm``); it defaults to the axis itself. An index axis
        created automatically for a signal dimension is replaced."""
        self._check_open()
        values = np.asarray(values)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"axis {name!r} must be a non-empty 1-D array, got shape {values.shape}")
        if values.dtype.kind not in "biuf":
            raise ValueError(f"axis {name!r} must be numeric, got dtype {values.dtype}")
        data = self._data
        if name in data:
            if not data[name].attrs.get("auto_index", False):
                raise ValueError(f"/entry/data/{name} already exists in {self._path}")
            del data[name]
            self._objects.pop(f"/entry/data/{name}", None)
        ds = data.create_dataset(name, data=values)
        ds.attrs["units"] = str(unit)
        ds.attrs["dim"] = str(dim or name)
        self._index_axis(name, str(dim or name))

    def _index_axis(self, name: str, dim: str) -> None:
        if self._signal is None:
            return
        dims = [str(d) for d in self._data.attrs["axes"]]
        if dim in dims:
            self._data.attrs[f"{name}_indices"] = np.int32(dims.index(dim))

    @guard_storage
    def add_dataset(self, name: str, shape: tuple, dims: tuple[str, ...], unit: str, dtype="f4",
                    fill=float("nan"), signal: bool = False) -> None:
        """Pre-allocate ``/entry/data/<name>`` of ``shape`` (chunked one scan line per chunk, filled with
        ``fill``; NaN fill on an integer dtype becomes 0). ``dims`` names each dimension. With
        ``signal=True`` it becomes the NXdata signal: @signal, @axes=dims and @<axis>_indices for every axis
        (dimensions without an axis get an integer index axis until one is added)."""
        self._check_open()
        shape = tuple(int(n) for n in shape)
        dims = tuple(str(d) for d in dims)
        if not shape or any(n <= 0 for n in shape):
            raise ValueError(f"dataset {name!r}: shape must be non-empty with positive sizes, got {shape}")
        if len(dims) != len(shape):
            raise ValueError(f"dataset {name!r}: {len(dims)} dims {dims} for a {len(shape)}-D shape {shape}")
        if name in self._data:
            raise ValueError(f"/entry/data/{name} already exists in {self._path}")
        dtype = np.dtype(dtype)
        if dtype.kind not in "fc" and isinstance(fill, float) and math.isnan(fill):
            fill = 0
        chunks = _chunks(shape, dtype.itemsize)
        chunk_bytes = int(np.prod(chunks)) * dtype.itemsize
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        ds = self._data.create_dataset(
            name, shape=shape, dtype=dtype, chunks=chunks, fillvalue=fill, dcpl=dcpl,
            rdcc_nbytes=min(64 * 2**20, max(2**20, 4 * chunk_bytes)))
        ds.attrs["units"] = str(unit)
        ds.attrs["dims"] = np.array(dims, dtype=STR)
        self._datasets[name] = ds
        self._fresh[name] = (ds.fillvalue, set())
        if signal:
            self._set_signal(name, dims, shape)
        self._file.flush()

    def _set_signal(self, name: str, dims: tuple[str, ...], shape: tuple[int, ...]) -> None:
        data = self._data
        if self._signal is not None:
            raise ValueError(f"{self._path} already has a signal ({self._signal!r}); {name!r} cannot be one")
        self._signal = name
        data.attrs["signal"] = name
        data.attrs["axes"] = np.array(dims, dtype=STR)
        for dim, n in zip(dims, shape, strict=True):
            if dim not in data:
                ds = data.create_dataset(dim, data=np.arange(n, dtype="i4"))
                ds.attrs["units"] = ""
                ds.attrs["dim"] = dim
                ds.attrs["auto_index"] = True
        for axis_name, ds in data.items():
            if "dim" in ds.attrs:
                self._index_axis(axis_name, str(ds.attrs["dim"]))

    @guard_storage
    def add_stream(self, path: str, dtype, unit: str, chunk: int = 65536, **attrs) -> None:
        """An extendable 1-D dataset at ``path`` (relative to /entry, e.g. ``tags/time_ps``) for data whose
        length is not known in advance (photon time tags); grow it with ``append``. Groups on the way are
        created as NXcollection. ``attrs`` are set on the dataset."""
        self._check_open()
        group_path, _, name = path.rpartition("/")
        group = self._file["entry"]
        for part in filter(None, group_path.split("/")):
            if part not in group:
                group.create_group(part).attrs["NX_class"] = "NXcollection"
            group = group[part]
        if name in group:
            raise ValueError(f"/entry/{path} already exists in {self._path}")
        ds = group.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(int(chunk),), dtype=np.dtype(dtype))
        ds.attrs["units"] = str(unit)
        for key, value in attrs.items():
            ds.attrs[key] = as_attr(value)
        self._streams[path] = ds
        self._file.flush()

    @guard_storage
    def append(self, path: str, values) -> None:
        """Append ``values`` to the stream at ``path`` (not flushed: call ``flush()``)."""
        self._check_open()
        if self._pending_snapshot is not None:
            self.take_deferred_snapshot("at the first data write of a stream, after its first acquisition")
        ds = self._streams.get(path)
        if ds is None:
            raise KeyError(f"no stream /entry/{path} in {self._path}; add it with add_stream first")
        values = np.asarray(values, dtype=ds.dtype).ravel()
        if values.size == 0:
            return
        n = ds.shape[0]
        ds.resize((n + values.size,))
        ds[n:] = values

    @guard_storage
    def write(self, name: str, index, value) -> None:
        """``/entry/data/<name>[index] = value`` (not flushed: call ``flush()`` once per scan line).

        A write inside one row of a dataset of two or more dimensions (the first index a whole number: a
        pixel, a spectrum or a whole line of a scan) goes to that row's copy in memory, and the row goes to
        the file whole at the next ``flush`` (or when a write moves on to another row, or on ``close``): one
        file write per scan line instead of one per pixel. A writer killed before the flush loses that row's
        writes, as it would lose any write not flushed."""
        self._check_open()
        if self._pending_snapshot is not None and (self._signal is None or name == self._signal):
            self.take_deferred_snapshot("at the first data write of the signal, after its first acquisition")
        buffered = self._rows.get(name)
        if buffered is not None and type(index) is tuple and 1 < len(index) <= buffered.depth \
                and index[0] == buffered.row and all(type(i) is int for i in index):
            buffered.values[index[1:]] = value  # the row in memory, whole numbers (a pixel of a scan line)
            return
        ds = self._datasets.get(name)
        if ds is None:
            if name not in self._data:
                raise KeyError(f"no dataset /entry/data/{name} in {self._path}")
            ds = self._datasets[name] = self._data[name]
        if name not in self._layouts:  # asking h5py for a shape costs more than the write itself
            self._layouts[name] = RowBuffer.bufferable_shape(ds)
        shape = self._layouts[name]
        row = None if shape is None else RowBuffer.row_of(shape, index)
        if row is None:  # anything else is written as it comes, after the row in memory (order kept)
            self._write_rows(name)
            self._fresh.pop(name, None)  # which rows it reaches is not followed
            ds[index] = value
            return
        if buffered is None or buffered.row != row[0]:
            self._write_rows(name)
            whole = row[1] == () and np.shape(value) == shape[1:]
            fresh = self._fresh.get(name)
            fill = None
            if fresh is not None:
                if row[0] not in fresh[1]:
                    fill = fresh[0]
                    fresh[1].add(row[0])
            buffered = self._rows[name] = RowBuffer(ds, row[0], whole, fill, shape)
        buffered.values[row[1]] = value

    def _write_rows(self, name: str | None = None) -> None:
        """Write the rows held in memory (of dataset ``name``, or of every dataset) to the file."""
        for key in ([name] if name is not None else list(self._rows)):
            buffered = self._rows.pop(key, None)
            if buffered is not None:
                buffered.write()

    @guard_storage
    def flush(self) -> None:
        """Push everything written so far to the file on disk."""
        self._check_open()
        self._write_rows()
        self._file.flush()

    @guard_storage
    def set_attrs(self, path: str, **attrs) -> None:
        """Set attributes on an object: ``path`` is absolute ("/entry") or a name in /entry/data.
        None deletes an attribute; dicts are stored as JSON text."""
        self._check_open()
        obj_path = path if path.startswith("/") else f"/entry/data/{path}"
        obj = self._objects.get(obj_path)
        if obj is None:  # looking a path up in the file takes a millisecond once the file has grown
            if obj_path not in self._file:
                raise KeyError(f"no object {obj_path} in {self._path}")
            obj = self._objects[obj_path] = self._file[obj_path]
        for key, value in attrs.items():
            if value is None:
                if key in obj.attrs:
                    del obj.attrs[key]
            else:
                obj.attrs[key] = as_attr(value)

    @guard_storage
    def append_event(self, message: str) -> None:
        """Append ``"<ISO time> <message>"`` to /entry/log and flush."""
        self._check_open()
        log = self._file["entry/log"]
        n = log.shape[0]
        log.resize((n + 1,))
        log[n] = f"{utc_now_iso()} {message}"
        self._file.flush()

    def close(self, status: str, reason: str | None = None, error: str | None = None) -> None:
        """Record how the run ended (``status`` in complete|aborted|failed|stopped, ``reason`` why it
        ended, ``error`` on failure), set end_time, flush and close. Later calls do nothing."""
        if self._closed:
            return
        if status not in STATUSES_AT_CLOSE:
            raise ValueError(f"status must be one of {STATUSES_AT_CLOSE}, got {status!r}")
        failure: BaseException | None = None
        try:
            self._write_rows()  # the line in progress of a stopped, aborted or failed run is kept
            entry = self._file["entry"]
            entry.attrs["status"] = status
            entry.attrs["end_time"] = utc_now_iso()
            if reason is not None:
                entry.attrs["reason"] = str(reason)
            if error is not None:
                entry.attrs["error"] = str(error)
            self._file.flush()
        except (OSError, RuntimeError) as exc:
            failure = exc
        finally:
            failure = self._release() or failure
            self._closed = True
        if failure is not None:
            number = getattr(failure, "errno", None)
            raise StorageError(f"{self._path}: the run's end ({status}) could not be written "
                               f"({os.strerror(number) if number else failure}); its data up to the last flush "
                               f"is kept") from failure

    def _release(self) -> BaseException | None:
        """Close the file even when it can no longer be written: every handle dropped, the HDF5 file id closed
        (a file id left open makes the library crash at exit). Returns the failure, if any."""
        self._datasets.clear()
        self._streams.clear()
        self._rows.clear()
        self._layouts.clear()
        self._fresh.clear()
        self._objects.clear()
        try:
            self._file.close()
            return None
        except (OSError, RuntimeError) as exc:
            try:
                self._file.id.close()
            except Exception:  # already closed, or the library refuses: nothing more can be done here
                pass
            return exc

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close as "complete" on a normal exit, "aborted" on KeyboardInterrupt, "failed" otherwise."""
        if exc_type is None:
            self.close("complete")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("aborted", reason="interrupted")
        else:
            self.close("failed", reason="exception", error=f"{exc_type.__name__}: {exc}")

    def __del__(self) -> None:
        try:
            if not self._closed:
                self._write_rows()
                self._file.flush()
                self._file.close()
        except Exception:
            pass

