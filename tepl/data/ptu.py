"""PicoQuant PTU files: read (through ``ptufile``), import into a tepl run file, export a run's tags as PTU.

Import (``import_ptu``) writes one run file (procedure "import-ptu", status "complete"):

* ``/entry/parameters``: ``source_file``, ``source_sha256``;
* ``/entry/instrument/picoquant_ptu``: every PTU header tag (indexed tags as arrays; the PTU tag type of each
  in the group's ``pq_tag_types`` attribute, JSON), units on the resolution / time / rate tags;
* ``/entry/data`` (NXdata): T3 files ``decay[channel, tcspc_time_ns]`` (counts per TCSPC bin, axis at bin
  centres, ns); T2 files ``counts[channel, time_s]`` (binned intensity trace, axis at bin centres, s);
* ``/entry/tags``: all photons, markers and the original records (see ``tepl.data.tags``).

Export (``export_ptu``) writes a PTU file that ptufile reads back with the same records: an imported run
gives its original record type and raw records (header tags carried over), a run recorded by tepl is
encoded as HydraHarp2T2 (1 ps time tags) or HydraHarp2T3. Header layout: ``PQTTTR\\0\\0`` magic, version
``1.0.00``, TagHead records (32-byte ident, int32 index, uint32 type, 8-byte value, string/blob data after,
padded to 8 bytes), ``Header_End``, then little-endian uint32 records.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tepl import __version__
from tepl.drivers.tttr import RECORD_TYPES, T2Decoder, T2Encoder, T3Decoder, T3Encoder, record_layout
from tepl.roles import T2Block, T3Block

PQ_TAG_TYPES: dict[str, int] = {
    "Empty8": 0xFFFF0008, "Bool8": 0x00000008, "Int8": 0x10000008, "BitSet64": 0x11000008,
    "Color8": 0x12000008, "Float8": 0x20000008, "TDateTime": 0x21000008, "Float8Array": 0x2001FFFF,
    "AnsiString": 0x4001FFFF, "WideString": 0x4002FFFF, "BinaryBlob": 0xFFFFFFFF,
}
_MAGIC = b"PQTTTR\0\0"
_VERSION = b"1.0.00\0\0"
_EPOCH = datetime(1899, 12, 30)
TAG_UNITS = {"MeasDesc_GlobalResolution": "s", "MeasDesc_Resolution": "s", "HW_BaseResolution": "s",
             "MeasDesc_AcquisitionTime": "ms", "TTResult_StopAfter": "ms", "TTResult_SyncRate": "Hz",
             "TTResult_InputRate": "Hz"}
# written by export from the data itself, never copied from an imported header
_COMPUTED_TAGS = ("TTResultFormat_TTTRRecType", "TTResultFormat_BitsPerRecord", "TTResult_NumberOfRecords",
                  "Measurement_Mode", "MeasDesc_GlobalResolution", "MeasDesc_Resolution", "TTResult_SyncRate",
                  "MeasDesc_AcquisitionTime", "Header_End", "Fast_Load_End")
INSTRUMENT = "picoquant_ptu"


class PtuImportError(ValueError):
    """A PTU file that cannot be imported: missing, not a PTU file, damaged or of an unsupported record type."""


@dataclass
class PtuData:
    """A PTU file read and decoded. Times: T2 ``block.time_ps`` in ps; T3 ``block.sync`` in sync periods and
    ``block.dtime`` in TCSPC bins. ``marker_time`` in ps (T2) or sync periods (T3)."""

    path: Path
    tags: dict[str, Any]
    record_type: int
    record_type_name: str
    mode: str
    global_resolution_s: float
    resolution_s: float
    sync_rate_hz: float
    duration_s: float
    n_channels: int
    records: np.ndarray
    block: T2Block | T3Block
    marker_time: np.ndarray
    marker_bits: np.ndarray
    warnings: list[str] = field(default_factory=list)

    @property
    def global_resolution_ps(self) -> float:
        """T2: time-tag unit; T3: sync period, ps."""
        return self.global_resolution_s * 1e12

    @property
    def resolution_ps(self) -> float:
        """TCSPC bin width (T3) or time-tag unit (T2), ps."""
        return self.resolution_s * 1e12

    @property
    def n_records(self) -> int:
        return int(self.records.size)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _ptufile_messages():
    """Collect ptufile's warnings (e.g. out-of-order indexed tags) instead of letting them reach the console."""
    logger = logging.getLogger("ptufile")
    handler = _Collect()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _ps_times(ticks: np.ndarray, unit_ps: float) -> np.ndarray:
    """Integer ticks of ``unit_ps`` as int64 ps (exact when the unit is a whole number of ps)."""
    unit_int = round(unit_ps)
    if unit_int >= 1 and abs(unit_ps - unit_int) <= 1e-6 * unit_ps:
        return ticks * np.int64(unit_int)
    return np.rint(ticks * unit_ps).astype(np.int64)


def _n_inputs(tags: dict[str, Any], channel: np.ndarray, family: str) -> int:
    n = int(channel.max()) + 1 if channel.size else 1
    for key in ("HWInpChan_Enabled", "HWInpChan_CFDLevel", "HWInpChan_TrgLevel", "HWInpChan_Offset"):
        if isinstance(tags.get(key), list):
            n = max(n, len(tags[key]))
            break
    if family == "pt2":  # the PicoHarp's sync input is a detector input in T2 mode
        n = max(n, 2)
    return n


def read_ptu(path) -> PtuData:
    """Read and decode a PTU file completely. Raises PtuImportError naming the file when it is missing, not a
    PTU file, truncated or damaged, or holds records of a type tepl cannot decode."""
    import ptufile

    path = Path(path)
    if not path.is_file():
        raise PtuImportError(f"{path}: no such PTU file")
    with _ptufile_messages() as messages:
        try:
            with ptufile.PtuFile(path) as ptu:
                tags = dict(ptu.tags)
                code = tags.get("TTResultFormat_TTTRRecType")
                bits = tags.get("TTResultFormat_BitsPerRecord")
                expected = int(tags.get("TTResult_NumberOfRecords", 0) or 0)
                if code is None:
                    raise PtuImportError(f"{path}: PTU header has no TTResultFormat_TTTRRecType (not a TTTR file)")
                if bits not in (0, 32, None):
                    raise PtuImportError(f"{path}: {bits} bits per record; only 32-bit TTTR records are supported")
                available = (path.stat().st_size - ptu.record_offset) // 4
                if expected > available:
                    raise PtuImportError(f"{path}: truncated PTU file: the header announces {expected} records, "
                                         f"the file holds {available}")
                records = np.array(ptu.read_records(), dtype=np.uint32)
        except PtuImportError:
            raise
        except Exception as exc:
            raise PtuImportError(f"{path}: not a readable PicoQuant PTU file: {exc}") from exc
    if expected > 0 and records.size != expected:
        raise PtuImportError(f"{path}: damaged PTU file: the header announces {expected} records, "
                             f"{records.size} were read")
    try:
        layout = record_layout(int(code))
    except ValueError as exc:
        raise PtuImportError(f"{path}: unsupported TTTR record type 0x{int(code):08X}: {exc}") from None
    mode_tag = tags.get("Measurement_Mode")
    if mode_tag is not None and int(mode_tag) != int(layout.mode[1]):
        raise PtuImportError(f"{path}: inconsistent header: Measurement_Mode {mode_tag} for {layout.name} records")
    global_res_s = float(tags.get("MeasDesc_GlobalResolution", 0.0) or 0.0)
    if not (np.isfinite(global_res_s) and global_res_s > 0):
        raise PtuImportError(f"{path}: MeasDesc_GlobalResolution {global_res_s!r} s is not a positive time")
    res_s = float(tags.get("MeasDesc_Resolution", 0.0) or 0.0)
    if layout.mode == "T3" and not (np.isfinite(res_s) and res_s > 0):
        raise PtuImportError(f"{path}: MeasDesc_Resolution {res_s!r} s is not a positive TCSPC bin width")
    if layout.mode == "T2" and not res_s > 0:
        res_s = global_res_s
    sync_rate = float(tags.get("TTResult_SyncRate", 0.0) or 0.0)
    # a measurement stopped early (e.g. on a count overflow) ran TTResult_StopAfter ms, not the time asked for
    acq_ms = float(tags.get("TTResult_StopAfter", 0.0) or tags.get("MeasDesc_AcquisitionTime", 0.0) or 0.0)

    if layout.mode == "T2":
        time, channel, marker_time, marker_bits = T2Decoder(layout.code).decode(records)
        time_ps = _ps_times(time, global_res_s * 1e12)
        marker_time = _ps_times(marker_time, global_res_s * 1e12)
        last_s = float(time_ps[-1]) * 1e-12 if time_ps.size else 0.0
        duration_s = acq_ms * 1e-3 if acq_ms > 0 else last_s
        block: T2Block | T3Block = T2Block(time_ps, channel, duration_s, global_res_s * 1e12)
    else:
        nsync, dtime, channel, marker_time, marker_bits = T3Decoder(layout.code).decode(records)
        last_s = float(nsync[-1]) * global_res_s if nsync.size else 0.0
        duration_s = acq_ms * 1e-3 if acq_ms > 0 else last_s
        block = T3Block(nsync, dtime, channel, duration_s, res_s * 1e12, global_res_s * 1e12)
    if sync_rate <= 0 and layout.mode == "T3":
        sync_rate = 1.0 / global_res_s
    return PtuData(path=path, tags=tags, record_type=layout.code, record_type_name=layout.name, mode=layout.mode,
                   global_resolution_s=global_res_s, resolution_s=res_s, sync_rate_hz=sync_rate,
                   duration_s=duration_s, n_channels=_n_inputs(tags, channel, layout.family), records=records,
                   block=block, marker_time=marker_time, marker_bits=marker_bits, warnings=list(messages))


# ------------------------------------------------------------------------------------------------------
def _tag_type(value: Any) -> str:
    if value is None:
        return "Empty8"
    if isinstance(value, bool | np.bool_):
        return "Bool8"
    if isinstance(value, int | np.integer):
        return "Int8"
    if isinstance(value, float | np.floating):
        return "Float8"
    if isinstance(value, datetime):
        return "TDateTime"
    if isinstance(value, str):
        return "AnsiString"
    if isinstance(value, bytes | np.ndarray):
        return "BinaryBlob"
    if isinstance(value, tuple):
        return "Float8Array"
    if isinstance(value, list) and value:
        return _tag_type(value[0])
    return "Empty8"


def _tag_for_hdf5(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return np.frombuffer(value, np.uint8)
    if isinstance(value, tuple):
        return np.asarray(value, float)
    if isinstance(value, list):
        items = [_tag_for_hdf5(v) for v in value]
        if all(isinstance(v, str) for v in items) or all(isinstance(v, bool | int | float) for v in items):
            return items
        return json.dumps(items, default=str)
    return value


def header_for_hdf5(tags: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """PTU header tags as values the Recorder stores, and each tag's PTU type name."""
    return ({key: _tag_for_hdf5(value) for key, value in tags.items()},
            {key: _tag_type(value) for key, value in tags.items()})


def _nice_bin_s(duration_s: float, max_bins: int = 2000) -> float:
    """The smallest of 1, 2, 5 x 10^k s giving at most ``max_bins`` bins over ``duration_s``."""
    target = max(duration_s, 1e-6) / max_bins
    exponent = int(np.floor(np.log10(target)))
    for k in (exponent, exponent + 1):
        for m in (1.0, 2.0, 5.0):
            step = float(f"{m}e{k}")
            if step >= target * (1 - 1e-9):
                return step
    return float(f"1e{exponent + 2}")


def import_ptu(ptu_path, h5_path, overwrite: bool = False, trace_bin_s: float | None = None) -> Path:
    """Convert the PTU file at ``ptu_path`` into a tepl run file at ``h5_path`` and return its path.

    The PTU is read and decoded completely before anything is written; a bad file raises PtuImportError and
    leaves no output behind. An existing ``h5_path`` is refused (FileExistsError) unless ``overwrite``.
    ``trace_bin_s`` sets the T2 trace bin (default: 1-2-5 steps, at most 2000 bins).
    """
    from tepl.analysis.tcspc import bin_trace, decay_histogram
    from tepl.data.importing import import_recorder, refuse_existing, source_parameters
    from tepl.data.tags import add_tags, append_tags

    ptu_path, h5_path = Path(ptu_path), Path(h5_path)
    ptu = read_ptu(ptu_path)
    refuse_existing(h5_path, overwrite)
    header, types = header_for_hdf5(ptu.tags)
    parameters = source_parameters(ptu_path)
    if trace_bin_s is not None and not (np.isfinite(trace_bin_s) and trace_bin_s > 0):
        raise ValueError(f"trace_bin_s must be a positive number of s, got {trace_bin_s!r}")
    block, n_ch = ptu.block, ptu.n_channels
    if ptu.mode == "T3":
        n_bins = int(block.dtime.max()) + 1 if block.dtime.size else 1
        decay = decay_histogram(block.dtime, block.channel, n_bins, n_ch)
    else:
        bin_s = float(trace_bin_s) if trace_bin_s else _nice_bin_s(ptu.duration_s)
        time_s, trace = bin_trace(block.time_ps, block.channel, bin_s, max(ptu.duration_s, bin_s), n_ch)
    with import_recorder(h5_path, "import-ptu", parameters, {INSTRUMENT: header}, overwrite) as recorder:
        recorder.set_attrs(f"/entry/instrument/{INSTRUMENT}", pq_tag_types=json.dumps(types))
        for key, unit in TAG_UNITS.items():
            if key in header:
                recorder.set_attrs(f"/entry/instrument/{INSTRUMENT}/{key}", units=unit)
        for message in ptu.warnings:
            recorder.append_event(f"ptufile: {message}")
        if ptu.mode == "T3":
            recorder.add_dataset("decay", decay.shape, ("channel", "tcspc_time_ns"), "counts", dtype="i8",
                                 signal=True)
            recorder.add_axis("tcspc_time_ns", (np.arange(n_bins) + 0.5) * ptu.resolution_s * 1e9, "ns")
            recorder.write("decay", slice(None), decay)
            recorder.set_attrs("decay", long_name="photons per TCSPC bin and detector channel")
        else:
            recorder.add_dataset("counts", trace.shape, ("channel", "time_s"), "counts", dtype="i8", signal=True)
            recorder.add_axis("time_s", time_s, "s")
            recorder.write("counts", slice(None), trace)
            recorder.set_attrs("counts", long_name="photons per time bin and detector channel", bin_s=bin_s)
        sync_period_ps = ptu.global_resolution_ps if ptu.mode == "T3" else (
            1e12 / ptu.sync_rate_hz if ptu.sync_rate_hz > 0 else float("inf"))
        add_tags(recorder, ptu.mode, resolution_ps=block.resolution_ps, sync_period_ps=sync_period_ps,
                 n_channels=n_ch, duration_s=ptu.duration_s, markers=True, raw_records=True,
                 chunk=int(np.clip(ptu.n_records, 1 << 12, 1 << 20)), record_type=ptu.record_type,
                 record_type_name=ptu.record_type_name, global_resolution_ps=ptu.global_resolution_ps,
                 source_file=ptu_path.name)
        append_tags(recorder, block, ptu.marker_time, ptu.marker_bits, ptu.records)
        recorder.set_attrs("/entry", source_format="PicoQuant PTU", source_file=ptu_path.name)
        recorder.append_event(f"imported {ptu.n_records} {ptu.record_type_name} records, {block.n_photons} photons, "
                              f"{ptu.marker_bits.size} markers from {ptu_path.name}")
    return h5_path


# ------------------------------------------------------------------------------------------------------
def _pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def _tag_bytes(ident: str, type_name: str, value: Any, index: int = -1) -> bytes:
    """One TagHead record (48 bytes) plus its data for string, array and blob types."""
    name = ident.encode("ascii", errors="replace")
    if len(name) > 32:
        raise ValueError(f"PTU tag identifier {ident!r} is longer than 32 characters")
    head = name.ljust(32, b"\0") + struct.pack("<iI", int(index), PQ_TAG_TYPES[type_name])
    if type_name == "Empty8":
        return head + bytes(8)
    if type_name in ("Bool8", "Int8", "BitSet64", "Color8"):
        return head + struct.pack("<q", int(value))
    if type_name == "Float8":
        return head + struct.pack("<d", float(value))
    if type_name == "TDateTime":
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        days = (value - _EPOCH) / timedelta(days=1) if isinstance(value, datetime) else float(value)
        return head + struct.pack("<d", days)
    if type_name == "AnsiString":
        data = _pad8(str(value).encode("windows-1252", errors="replace") + b"\0")
    elif type_name == "WideString":
        data = _pad8(str(value).encode("utf-16-le") + b"\0\0")
    elif type_name == "Float8Array":
        data = np.asarray(value, "<f8").tobytes()
    elif type_name == "BinaryBlob":
        data = _pad8(value if isinstance(value, bytes) else np.asarray(value).tobytes())
    else:
        raise ValueError(f"unknown PTU tag type {type_name!r}")
    return head + struct.pack("<q", len(data)) + data


def _header_tag_bytes(key: str, value: Any, type_name: str) -> bytes:
    if isinstance(value, np.ndarray) and type_name not in ("BinaryBlob", "Float8Array"):
        value = value.tolist()
    if isinstance(value, list | tuple) and type_name not in ("Float8Array", "BinaryBlob"):
        return b"".join(_tag_bytes(key, type_name, v, i) for i, v in enumerate(value))
    return _tag_bytes(key, type_name, value)


def write_ptu(path, records: np.ndarray, record_type: int | str, global_resolution_s: float,
              resolution_s: float, acquisition_time_ms: float | None = None, sync_rate_hz: float | None = None,
              n_channels: int | None = None, extra_tags: dict[str, tuple[str, Any]] | None = None,
              overwrite: bool = False) -> Path:
    """Write ``records`` (uint32) as a PTU file. ``global_resolution_s``: T2 time-tag unit or T3 sync period, s;
    ``resolution_s``: TCSPC bin width, s; ``extra_tags``: {ident: (PTU type name, value or list of values)}.
    Written to a temporary file first: an error leaves no file behind; an existing file is refused unless
    ``overwrite``."""
    layout = record_layout(record_type)
    records = np.ascontiguousarray(records, dtype="<u4")
    if records.ndim != 1:
        raise ValueError(f"records must be a 1-D array, got shape {records.shape}")
    for name, value in (("global_resolution_s", global_resolution_s), ("resolution_s", resolution_s)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive time in s, got {value!r}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if sync_rate_hz is None:
        sync_rate_hz = 1.0 / global_resolution_s if layout.mode == "T3" else 0.0
    extra = dict(extra_tags or {})
    hw_type = extra.pop("HW_Type", ("AnsiString", "HydraHarp" if layout.family in ("ht2", "ht3") else "PicoHarp 300"))
    now = datetime.now()
    tags: list[bytes] = [
        _tag_bytes("File_GUID", "AnsiString", "{00000000-0000-0000-0000-000000000000}"),
        _tag_bytes("File_CreatingTime", "TDateTime", now),
        _tag_bytes("CreatorSW_Name", "AnsiString", "tepl"),
        _tag_bytes("CreatorSW_Version", "AnsiString", __version__),
        _tag_bytes("Measurement_Mode", "Int8", int(layout.mode[1])),
        _tag_bytes("Measurement_SubMode", "Int8", 0),
        _tag_bytes("TTResultFormat_TTTRRecType", "Int8", layout.code),
        _tag_bytes("TTResultFormat_BitsPerRecord", "Int8", 32),
        _tag_bytes("MeasDesc_GlobalResolution", "Float8", float(global_resolution_s)),
        _tag_bytes("MeasDesc_Resolution", "Float8", float(resolution_s)),
        _tag_bytes("MeasDesc_BinningFactor", "Int8", 1),
        _tag_bytes("TTResult_SyncRate", "Int8", int(round(sync_rate_hz))),
        _tag_bytes("TTResult_NumberOfRecords", "Int8", int(records.size)),
        _tag_bytes("HW_Type", *hw_type),
    ]
    if acquisition_time_ms is not None:
        tags.append(_tag_bytes("MeasDesc_AcquisitionTime", "Int8", int(round(acquisition_time_ms))))
    if n_channels is not None:
        tags.append(_tag_bytes("HW_InpChannels", "Int8", int(n_channels)))
    written = {"File_GUID", "File_CreatingTime", "CreatorSW_Name", "CreatorSW_Version", "Measurement_SubMode",
               "MeasDesc_BinningFactor", "HW_InpChannels", *_COMPUTED_TAGS}
    for key, (type_name, value) in extra.items():
        if key in _COMPUTED_TAGS:
            continue
        if key in written:  # an original value replaces the default written above
            tags = [t for t in tags if t[:32].rstrip(b"\0").decode("ascii", "replace") != key]
        tags.append(_header_tag_bytes(key, value, type_name))
    tags.append(_tag_bytes("Header_End", "Empty8", None))
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(_MAGIC + _VERSION)
            for tag in tags:
                fh.write(tag)
            fh.write(records.tobytes())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _imported_header(h5_path: Path) -> dict[str, tuple[str, Any]]:
    """The original PTU header of an imported run as {ident: (type name, value)}, or {}."""
    import h5py

    from tepl.data.runfile import read_tree

    with h5py.File(h5_path, "r", locking=False) as f:
        group = f.get(f"/entry/instrument/{INSTRUMENT}")
        if group is None or "pq_tag_types" not in group.attrs:
            return {}
        types = json.loads(group.attrs["pq_tag_types"])
        values = read_tree(group)
    out = {}
    for key, type_name in types.items():
        if key not in values or type_name == "Empty8" or type_name not in PQ_TAG_TYPES:
            continue
        value = values[key]
        if isinstance(value, str) and value.startswith("[") and type_name != "AnsiString":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = (type_name, value)
    return out


def export_ptu(h5_path, ptu_path, overwrite: bool = False) -> Path:
    """Write the photon tags of the run file ``h5_path`` as a PTU file at ``ptu_path`` and return its path.

    Imported runs are written with their original record type, raw records and header tags; runs recorded by
    tepl are encoded as HydraHarp2T2 (1 ps time tags) or HydraHarp2T3 (sync period and TCSPC bin width from
    the tags). Raises ValueError when the run has no tags or they cannot be represented; an existing
    ``ptu_path`` is refused (FileExistsError) unless ``overwrite``.
    """
    from tepl.data.tags import StoredT2, read_tags

    h5_path, ptu_path = Path(h5_path), Path(ptu_path)
    if ptu_path.exists() and not overwrite:
        raise FileExistsError(f"{ptu_path} already exists; pass overwrite=True to replace it")
    tags = read_tags(h5_path)
    attrs = tags.attrs
    n_channels = int(attrs.get("n_channels", 1))
    duration_ms = tags.duration_s * 1e3 if tags.duration_s > 0 else None
    if tags.raw_records is not None and attrs.get("record_type") is not None:
        header = _imported_header(h5_path)
        code = int(attrs["record_type"])
        layout = record_layout(code)

        def original(key: str, fallback: float) -> float:
            return float(header[key][1]) if key in header else fallback

        global_res_s = original("MeasDesc_GlobalResolution", float(attrs.get("global_resolution_ps", 0.0)) * 1e-12)
        res_s = original("MeasDesc_Resolution", tags.resolution_ps * 1e-12)
        sync_rate = original("TTResult_SyncRate", 1e12 / tags.sync_period_ps if layout.mode == "T3" else 0.0)
        acq_ms = original("MeasDesc_AcquisitionTime", duration_ms or 0.0) or None
        return write_ptu(ptu_path, tags.raw_records, code, global_res_s, res_s, acq_ms, sync_rate, None,
                         extra_tags=header, overwrite=overwrite)
    if isinstance(tags, StoredT2):
        enc = T2Encoder(RECORD_TYPES["HydraHarp2T2"])
        try:
            records = enc.encode(tags.time_ps, tags.channel, tags.marker_time_ps, tags.marker_bits)
        except ValueError as exc:
            raise ValueError(f"{h5_path}: T2 tags cannot be written as HydraHarp2T2 records: {exc}") from None
        sync_period_ps = float(attrs.get("sync_period_ps", float("inf")))
        sync_rate = 1e12 / sync_period_ps if np.isfinite(sync_period_ps) else 0.0
        return write_ptu(ptu_path, records, enc.layout.code, 1e-12, tags.resolution_ps * 1e-12, duration_ms,
                         sync_rate, n_channels, overwrite=overwrite)
    if not np.isfinite(tags.sync_period_ps) or tags.sync_period_ps <= 0:
        raise ValueError(f"{h5_path}: T3 tags need a finite sync_period_ps, got {tags.sync_period_ps!r}")
    enc3 = T3Encoder(RECORD_TYPES["HydraHarp2T3"])
    try:
        records = enc3.encode(tags.sync, tags.dtime, tags.channel, tags.marker_sync, tags.marker_bits)
    except ValueError as exc:
        raise ValueError(f"{h5_path}: T3 tags cannot be written as HydraHarp2T3 records: {exc}") from None
    return write_ptu(ptu_path, records, enc3.layout.code, tags.sync_period_ps * 1e-12, tags.resolution_ps * 1e-12,
                     duration_ms, 1e12 / tags.sync_period_ps, n_channels, overwrite=overwrite)
