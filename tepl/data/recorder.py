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

``Recorder`` ties the parts together: ``run_entry`` (header, status), ``instrument_snapshot`` (settings),
``nxdata`` (axes, datasets, signal), ``row_buffer`` (the scan line in memory), ``streams`` (streams, log).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tepl.data import nxdata
from tepl.data.instrument_snapshot import InstrumentSnapshots
from tepl.data.row_buffer import RowBuffer
from tepl.data.run_entry import check_end_status, create_entry, end_entry, resume_entry
from tepl.data.storage import RecorderClosedError, StorageError, guard_storage
from tepl.data.streams import Streams
from tepl.data.values import as_attr


class Recorder(InstrumentSnapshots, Streams):
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
        self._start(path)
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
            create_entry(self._file, self._path.name, procedure, parameters, config_text, instruments,
                         software_version, simulation)
            self._file.flush()
        except BaseException:
            self._file.close()
            self._closed = True
            self._path.unlink(missing_ok=True)
            raise

    def _start(self, path) -> None:
        """The state of a recorder before its file is open: nothing written, nothing held."""
        self._path = Path(path)
        self._closed = False
        self._pending_snapshot = None  # the deferred instruments' snapshot (``defer_instruments``)
        self._datasets: dict[str, h5py.Dataset] = {}  # handles of the datasets written per pixel
        self._rows: dict[str, RowBuffer] = {}  # the scan line being written, per dataset, until the next flush
        self._layouts: dict[str, tuple[int, ...] | None] = {}  # shapes of datasets whose rows may be buffered
        # datasets this recorder created, with their fill value and the rows written since: a row not written
        # yet holds the fill value only, so its buffer starts from that instead of reading the file
        self._fresh: dict[str, tuple[Any, set[int]]] = {}
        self._objects: dict[str, Any] = {}  # groups and datasets found by path for set_attrs
        self._streams: dict[str, h5py.Dataset] = {}  # extendable datasets, by path relative to /entry
        self._signal: str | None = None

    @classmethod
    def reopen(cls, path, reason: str) -> Recorder:
        """Open an interrupted run file (status aborted, failed, or running with its writer gone) to go on
        writing it: the status goes back to ``running``, the log says ``reason``, ``/entry@resumed`` lists
        every resumption with the status and reason the file had."""
        self = cls.__new__(cls)
        self._start(path)
        self._file = h5py.File(self._path, "r+", locking=False)
        try:
            resume_entry(self._file["entry"], self._path)
            data = self._file["entry/data"]
            self._datasets = {name: ds for name, ds in data.items() if "dims" in ds.attrs}
            self._signal = str(data.attrs["signal"]) if "signal" in data.attrs else None
            self._file.flush()
            self.append_event(reason)
        except BaseException:
            self._file.close()
            self._closed = True
            raise
        return self

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
        dim = str(dim or name)
        nxdata.create_axis(self._data, name, values, unit, dim, self._path)
        self._objects.pop(f"/entry/data/{name}", None)  # a replaced index axis
        if self._signal is not None:
            nxdata.index_axis(self._data, name, dim)

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
        ds = nxdata.create_dataset(self._data, name, shape, dims, unit, dtype, fill, self._path)
        self._datasets[name] = ds
        self._fresh[name] = (ds.fillvalue, set())
        if signal:
            if self._signal is not None:
                raise ValueError(f"{self._path} already has a signal ({self._signal!r}); {name!r} cannot be one")
            self._signal = name
            nxdata.set_signal(self._data, name, dims, shape)
        self._file.flush()

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

    def close(self, status: str, reason: str | None = None, error: str | None = None) -> None:
        """Record how the run ended (``status`` in complete|aborted|failed|stopped, ``reason`` why it
        ended, ``error`` on failure), set end_time, flush and close. Later calls do nothing."""
        if self._closed:
            return
        check_end_status(status)
        failure: BaseException | None = None
        try:
            self._write_rows()  # the line in progress of a stopped, aborted or failed run is kept
            end_entry(self._file["entry"], status, reason, error)
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
        for held in (self._datasets, self._streams, self._rows, self._layouts, self._fresh, self._objects):
            held.clear()
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
