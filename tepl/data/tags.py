"""Photon time tags in a run file: the ``/entry/tags`` group (NXcollection).

Group attributes: ``mode`` ("T2" or "T3"), ``resolution_ps`` (T2: the time-tag unit; T3: the TCSPC bin width),
``sync_period_ps`` (laser period on the sync input, inf without one), ``n_channels``, ``duration_s``
(measurement time), optional ``record_type`` (PicoQuant record type code of ``raw_records``),
``record_type_name``, ``global_resolution_ps`` and ``source_file``.

Datasets (extendable, appended block by block):

* T2: ``time_ps`` int64 (ps since the measurement start), ``channel`` int8 (0-based detector input);
  markers: ``marker_time_ps`` int64, ``marker_bits`` uint8.
* T3: ``sync`` int64 (laser pulse index since the start), ``dtime`` int16 (TCSPC bins of ``resolution_ps``
  after that pulse, 0..32767: every PicoQuant T3 dtime field has at most 15 bits), ``channel`` int8; markers:
  ``marker_sync`` int64, ``marker_bits`` uint8. Files written before dtime became int16 hold it as int32; they
  read back as int16 all the same.
* optional ``raw_records`` uint32: a source file's original TTTR records, so that an import followed by an
  export gives back the very same records.

Written through ``tepl.data.recorder.Recorder`` streams (``add_tags`` once, ``append_tags`` per block, the
caller flushes); read back with ``read_tags``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tepl.data.runfile import open_hdf5
from tepl.roles import T2Block, T3Block

GROUP = "tags"
MODES = ("T2", "T3")
_CHUNK = 1 << 16


def _fields(mode: str) -> dict[str, tuple[type, str, str]]:
    """Per-photon datasets of a mode: name -> (dtype, unit, description)."""
    if mode == "T2":
        return {"time_ps": (np.int64, "ps", "photon arrival time since the measurement start"),
                "channel": (np.int8, "", "0-based detector input")}
    return {"sync": (np.int64, "", "laser pulse (sync) index since the measurement start"),
            "dtime": (np.int16, "", "TCSPC bin after the sync pulse, bins of resolution_ps"),
            "channel": (np.int8, "", "0-based detector input")}


def _marker_fields(mode: str) -> dict[str, tuple[type, str, str]]:
    first = ("marker_time_ps", (np.int64, "ps", "marker time since the measurement start")) if mode == "T2" \
        else ("marker_sync", (np.int64, "", "sync index of the marker"))
    return dict([first, ("marker_bits", (np.uint8, "", "marker input bits (1-15)"))])


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"tag mode must be 'T2' or 'T3', got {mode!r}")
    return mode


def add_tags(recorder, mode: str, resolution_ps: float, sync_period_ps: float, n_channels: int,
             duration_s: float = 0.0, markers: bool = False, raw_records: bool = False, chunk: int = _CHUNK,
             **attrs: Any) -> None:
    """Create ``/entry/tags`` in the recorder's file for ``mode`` ("T2"/"T3") tags.

    ``resolution_ps``: T2 time-tag unit or T3 TCSPC bin width, ps; ``sync_period_ps``: laser period, ps (inf
    without a sync signal); ``duration_s``: measurement time, s (update it at the end with
    ``recorder.set_attrs("/entry/tags", duration_s=...)``). ``markers`` / ``raw_records`` add those streams.
    Further ``attrs`` (``record_type``, ``source_file``, ...) go on the group.
    """
    _check_mode(mode)
    if not (np.isfinite(resolution_ps) and resolution_ps > 0):
        raise ValueError(f"resolution_ps must be a positive number of ps, got {resolution_ps!r}")
    if not (sync_period_ps > 0):
        raise ValueError(f"sync_period_ps must be positive (inf without sync), got {sync_period_ps!r} ps")
    if int(n_channels) < 1:
        raise ValueError(f"n_channels must be at least 1, got {n_channels!r}")
    streams = dict(_fields(mode))
    if markers:
        streams.update(_marker_fields(mode))
    if raw_records:
        streams["raw_records"] = (np.uint32, "", "the source file's TTTR records, unchanged")
    for name, (dtype, unit, description) in streams.items():
        recorder.add_stream(f"{GROUP}/{name}", dtype, unit, chunk=chunk, description=description)
    recorder.set_attrs(f"/entry/{GROUP}", NX_class="NXcollection", mode=mode, resolution_ps=float(resolution_ps),
                       sync_period_ps=float(sync_period_ps), n_channels=int(n_channels),
                       duration_s=float(duration_s), **attrs)


def append_tags(recorder, block: T2Block | T3Block, marker_time=None, marker_bits=None,
                raw_records=None) -> None:
    """Append one block's photons (and optional markers / raw records) to ``/entry/tags`` (not flushed).

    ``marker_time`` is in ps (T2) or sync periods (T3), like the block's own times.
    """
    mode = "T2" if isinstance(block, T2Block) else "T3" if isinstance(block, T3Block) else None
    if mode is None:
        raise TypeError(f"append_tags needs a T2Block or T3Block, got {type(block).__name__}")
    values = {"time_ps": block.time_ps, "channel": block.channel} if mode == "T2" else \
        {"sync": block.sync, "dtime": _dtime16(block.dtime, f"{recorder.path}: T3 block"), "channel": block.channel}
    if marker_time is not None or marker_bits is not None:
        if marker_time is None or marker_bits is None or np.size(marker_time) != np.size(marker_bits):
            raise ValueError("marker_time and marker_bits must be given together, with the same length")
        values["marker_time_ps" if mode == "T2" else "marker_sync"] = marker_time
        values["marker_bits"] = marker_bits
    if raw_records is not None:
        values["raw_records"] = raw_records
    for name, arr in values.items():
        try:
            recorder.append(f"{GROUP}/{name}", arr)
        except KeyError:
            raise ValueError(f"{recorder.path}: /entry/{GROUP} has no {name!r} stream for a {mode} block "
                             f"(created for another mode, or without markers / raw records)") from None


@dataclass
class _Stored:
    """What a run file holds beside the photons: the group's attributes, and marker bits and raw records
    when stored (None otherwise)."""

    attrs: dict[str, Any] = field(default_factory=dict)
    marker_bits: np.ndarray | None = None
    raw_records: np.ndarray | None = None


@dataclass
class StoredT2(_Stored, T2Block):
    """T2 tags read from a run file, with the group's attributes, markers and raw records when stored."""

    marker_time_ps: np.ndarray | None = None


@dataclass
class StoredT3(_Stored, T3Block):
    """T3 tags read from a run file, with the group's attributes, markers and raw records when stored."""

    marker_sync: np.ndarray | None = None


_DTIME_MAX = np.iinfo(np.int16).max  # 32767: the widest PicoQuant T3 dtime field has 15 bits


def _dtime16(dtime, source: str) -> np.ndarray:
    """``dtime`` as int16 (the dataset's type); values of a wider array outside 0..32767 raise ValueError naming
    ``source`` instead of wrapping."""
    arr = np.asarray(dtime)
    if arr.dtype == np.int16 or arr.size == 0:
        return arr.astype(np.int16, copy=False)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{source}: dtime must hold whole TCSPC bins, got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > _DTIME_MAX:
        raise ValueError(f"{source}: dtime {lo if lo < 0 else hi} bins out of range [0, {_DTIME_MAX}] "
                         "(int16 TCSPC bins)")
    return arr.astype(np.int16)


def _attr_value(value: Any) -> Any:
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_tags(path_or_h5file, raw_records: bool = True) -> StoredT2 | StoredT3:
    """The tags of a run file (a path or an open ``h5py.File``) as a ``T2Block`` / ``T3Block`` subclass with
    ``attrs``, markers and (if ``raw_records``) the raw records. Raises ValueError when there are none."""
    if isinstance(path_or_h5file, h5py.File | h5py.Group):
        return _read(path_or_h5file, Path(path_or_h5file.file.filename), raw_records)
    path = Path(path_or_h5file)
    if not path.is_file():  # a directory too: nothing to open
        raise FileNotFoundError(f"{path}: no such run file")
    with open_hdf5(path, "is not an HDF5 run file") as f:
        return _read(f, path, raw_records)


def _read(f, path: Path, raw_records: bool) -> StoredT2 | StoredT3:
    group = f.get(f"/entry/{GROUP}")
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{path}: no photon tags (/entry/{GROUP}) in this run file")
    attrs = {key: _attr_value(value) for key, value in group.attrs.items()}
    mode = attrs.get("mode")
    if mode not in MODES:
        raise ValueError(f"{path}: /entry/{GROUP} has mode {mode!r}, expected 'T2' or 'T3'")
    missing = [name for name in _fields(mode) if name not in group]
    if missing:
        raise ValueError(f"{path}: /entry/{GROUP} ({mode}) lacks the datasets {missing}")

    def get(name: str, dtype) -> np.ndarray | None:
        return np.asarray(group[name][()], dtype=dtype) if name in group else None

    common = {"duration_s": float(attrs.get("duration_s", 0.0)), "resolution_ps": float(attrs["resolution_ps"]),
              "attrs": attrs, "marker_bits": get("marker_bits", np.uint8),
              "raw_records": get("raw_records", np.uint32) if raw_records else None}
    if mode == "T2":
        return StoredT2(time_ps=get("time_ps", np.int64), channel=get("channel", np.int8),
                        marker_time_ps=get("marker_time_ps", np.int64), **common)
    dtime = _dtime16(group["dtime"][()], f"{path}: /entry/{GROUP}/dtime")  # int32 in files written before
    return StoredT3(sync=get("sync", np.int64), dtime=dtime, channel=get("channel", np.int8),
                    sync_period_ps=float(attrs.get("sync_period_ps", float("inf"))),
                    marker_sync=get("marker_sync", np.int64), **common)
