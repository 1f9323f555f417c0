"""The instruments' settings in a run file (``/entry/instrument/<name>``, nested dicts as groups): written at
once, or deferred until the first data of the signal, so the file holds the settings the run acquired with;
``@snapshot_taken`` says when they were read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import h5py

from tepl.data.storage import guard_storage
from tepl.data.values import utc_now_iso, write_value


def write_instruments(group: h5py.Group, instruments: Mapping[str, Mapping], when: str) -> None:
    """Each instrument's settings under ``group`` with ``@snapshot_taken`` = time and ``when`` (in words)."""
    for name, settings in instruments.items():
        if not isinstance(settings, Mapping):
            kind = type(settings).__name__
            raise ValueError(f"instrument {name!r} settings must be a dict, got {kind}")
    for name, settings in instruments.items():
        write_value(group, name, settings)
    group.attrs["snapshot_taken"] = f"{utc_now_iso()} {when}"
    if "snapshot_missing" in group.attrs:  # an interrupted run that wrote nothing, now resumed
        del group.attrs["snapshot_missing"]


class InstrumentSnapshots:
    """The snapshot methods of ``tepl.data.recorder.Recorder``, which provides the open file (``_file``,
    ``_path``, ``_check_open``, ``set_attrs``) and checks ``_pending_snapshot`` before its data writes."""

    _file: h5py.File
    _path: Path
    _pending_snapshot: Callable[[], Mapping[str, Mapping]] | None

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
        write_instruments(self._file["entry/instrument"], instruments, when)
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
