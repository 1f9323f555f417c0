"""PicoQuant PTU files: read one completely and decode its records (through ``ptufile``), or write records
as one.

Layout: ``PQTTTR\\0\\0`` magic, version ``1.0.00``, the header's TagHead records (``tepl.data.ptu_header``)
ending with ``Header_End``, then little-endian uint32 TTTR records (``tepl.drivers.tttr``).
Importing a PTU file into a run file is ``tepl.ptu_import``; exporting a run's tags is ``tepl.data.ptu_export``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from tepl import __version__
from tepl.data.ptu_header import COMPUTED_TAGS, header_tag_bytes, tag_bytes
from tepl.drivers.tttr import T2Decoder, T3Decoder, record_layout
from tepl.roles import T2Block, T3Block

_MAGIC = b"PQTTTR\0\0"
_VERSION = b"1.0.00\0\0"


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


# what a header may state and still describe a measurement: a time unit of at least 1 fs, a sync period of at
# most 1 s, a rate of at most 10 GHz, an acquisition of at most a year
_TAG_NAME = re.compile(r"[!-.0-~]{1,32}")
_MIN_TIME_S, _MAX_PERIOD_S, _MAX_RATE_HZ, _MAX_ACQUISITION_MS = 1e-15, 1.0, 1e10, 3.2e10


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _header_number(path: Path, tags: dict[str, Any], key: str, unit: str) -> float:
    """The header tag ``key`` as a finite float (0 when it is absent or empty); PtuImportError otherwise."""
    value = tags.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise PtuImportError(f"{path}: header tag {key} is {value!r}, not a number of {unit}")
    number = float(value)
    if not np.isfinite(number):
        raise PtuImportError(f"{path}: header tag {key} is {number!r} {unit}, not a finite number")
    return number


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
    for key in tags:
        if not _TAG_NAME.fullmatch(key):
            raise PtuImportError(f"{path}: damaged PTU header: tag name {key!r} (a name is printable ASCII, no '/')")
    if not _is_int(code):
        raise PtuImportError(f"{path}: TTResultFormat_TTTRRecType {code!r} is not a record type code")
    try:
        layout = record_layout(int(code))
    except ValueError as exc:
        raise PtuImportError(f"{path}: unsupported TTTR record type 0x{int(code) & 0xFFFFFFFF:08X}: {exc}") from None
    mode_tag = tags.get("Measurement_Mode")
    if mode_tag is not None and (not _is_int(mode_tag) or int(mode_tag) != int(layout.mode[1])):
        raise PtuImportError(f"{path}: inconsistent header: Measurement_Mode {mode_tag!r} for {layout.name} records")
    global_res_s = _header_number(path, tags, "MeasDesc_GlobalResolution", "s")
    if not _MIN_TIME_S <= global_res_s <= _MAX_PERIOD_S:
        raise PtuImportError(f"{path}: MeasDesc_GlobalResolution {global_res_s!r} s is not a time unit or sync "
                             f"period in [{_MIN_TIME_S:g}, {_MAX_PERIOD_S:g}] s")
    res_s = _header_number(path, tags, "MeasDesc_Resolution", "s")
    if layout.mode == "T3" and not _MIN_TIME_S <= res_s <= _MAX_PERIOD_S:
        raise PtuImportError(f"{path}: MeasDesc_Resolution {res_s!r} s is not a TCSPC bin width in "
                             f"[{_MIN_TIME_S:g}, {_MAX_PERIOD_S:g}] s")
    if layout.mode == "T2" and not _MIN_TIME_S <= res_s <= _MAX_PERIOD_S:
        res_s = global_res_s
    sync_rate = _header_number(path, tags, "TTResult_SyncRate", "Hz")
    if not 0 <= sync_rate <= _MAX_RATE_HZ:
        raise PtuImportError(f"{path}: TTResult_SyncRate {sync_rate!r} Hz is not a rate in [0, {_MAX_RATE_HZ:g}] Hz")
    # a measurement stopped early (e.g. on a count overflow) ran TTResult_StopAfter ms, not the time asked for
    acq_ms = (_header_number(path, tags, "TTResult_StopAfter", "ms")
              or _header_number(path, tags, "MeasDesc_AcquisitionTime", "ms"))
    if not 0 <= acq_ms <= _MAX_ACQUISITION_MS:
        raise PtuImportError(f"{path}: acquisition time {acq_ms!r} ms (TTResult_StopAfter or "
                             f"MeasDesc_AcquisitionTime) is not in [0, {_MAX_ACQUISITION_MS:g}] ms")

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
        tag_bytes("File_GUID", "AnsiString", "{00000000-0000-0000-0000-000000000000}"),
        tag_bytes("File_CreatingTime", "TDateTime", now),
        tag_bytes("CreatorSW_Name", "AnsiString", "tepl"),
        tag_bytes("CreatorSW_Version", "AnsiString", __version__),
        tag_bytes("Measurement_Mode", "Int8", int(layout.mode[1])),
        tag_bytes("Measurement_SubMode", "Int8", 0),
        tag_bytes("TTResultFormat_TTTRRecType", "Int8", layout.code),
        tag_bytes("TTResultFormat_BitsPerRecord", "Int8", 32),
        tag_bytes("MeasDesc_GlobalResolution", "Float8", float(global_resolution_s)),
        tag_bytes("MeasDesc_Resolution", "Float8", float(resolution_s)),
        tag_bytes("MeasDesc_BinningFactor", "Int8", 1),
        tag_bytes("TTResult_SyncRate", "Int8", int(round(sync_rate_hz))),
        tag_bytes("TTResult_NumberOfRecords", "Int8", int(records.size)),
        tag_bytes("HW_Type", *hw_type),
    ]
    if acquisition_time_ms is not None:
        tags.append(tag_bytes("MeasDesc_AcquisitionTime", "Int8", int(round(acquisition_time_ms))))
    if n_channels is not None:
        tags.append(tag_bytes("HW_InpChannels", "Int8", int(n_channels)))
    written = {"File_GUID", "File_CreatingTime", "CreatorSW_Name", "CreatorSW_Version", "Measurement_SubMode",
               "MeasDesc_BinningFactor", "HW_InpChannels", *COMPUTED_TAGS}
    for key, (type_name, value) in extra.items():
        if key in COMPUTED_TAGS:
            continue
        if key in written:  # an original value replaces the default written above
            tags = [t for t in tags if t[:32].rstrip(b"\0").decode("ascii", "replace") != key]
        tags.append(header_tag_bytes(key, value, type_name))
    tags.append(tag_bytes("Header_End", "Empty8", None))
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
