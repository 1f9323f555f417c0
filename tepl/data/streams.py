"""Extendable datasets of a run file, grown as the run goes: streams of data whose length is not known in
advance (photon time tags, see ``tepl.data.tags``) and the event log ``/entry/log``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import h5py
import numpy as np

from tepl.data.storage import guard_storage
from tepl.data.values import as_attr, utc_now_iso


class Streams:
    """The stream and log methods of ``tepl.data.recorder.Recorder``, which provides the open file (``_file``,
    ``_path``, ``_check_open``), the streams by path (``_streams``) and the deferred instruments' snapshot."""

    _file: h5py.File
    _path: Path
    _streams: dict[str, h5py.Dataset]
    _pending_snapshot: Callable[[], Mapping[str, Mapping]] | None

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
    def append_event(self, message: str) -> None:
        """Append ``"<ISO time> <message>"`` to /entry/log and flush."""
        self._check_open()
        log = self._file["entry/log"]
        n = log.shape[0]
        log.resize((n + 1,))
        log[n] = f"{utc_now_iso()} {message}"
        self._file.flush()
