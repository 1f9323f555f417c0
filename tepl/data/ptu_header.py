"""PicoQuant PTU header tags: their types, their TagHead records in a PTU file, and their form in a run file.

A TagHead record is a 32-byte ident, an int32 index (-1 unless the tag is indexed), a uint32 type code
(``PQ_TAG_TYPES``) and an 8-byte value; string, array and blob tags put their length there and their data
after, padded to 8 bytes. An imported run keeps every header tag in ``/entry/instrument/picoquant_ptu``
(``header_for_hdf5``), with each tag's PTU type in the group's ``pq_tag_types`` attribute (JSON), so that an
export can write the original header again (``stored_header``).
"""

from __future__ import annotations

import contextlib
import json
import struct
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

PQ_TAG_TYPES: dict[str, int] = {
    "Empty8": 0xFFFF0008, "Bool8": 0x00000008, "Int8": 0x10000008, "BitSet64": 0x11000008,
    "Color8": 0x12000008, "Float8": 0x20000008, "TDateTime": 0x21000008, "Float8Array": 0x2001FFFF,
    "AnsiString": 0x4001FFFF, "WideString": 0x4002FFFF, "BinaryBlob": 0xFFFFFFFF,
}
_EPOCH = datetime(1899, 12, 30)
TAG_UNITS = {"MeasDesc_GlobalResolution": "s", "MeasDesc_Resolution": "s", "HW_BaseResolution": "s",
             "MeasDesc_AcquisitionTime": "ms", "TTResult_StopAfter": "ms", "TTResult_SyncRate": "Hz",
             "TTResult_InputRate": "Hz"}
# written by export from the data itself, never copied from an imported header
COMPUTED_TAGS = ("TTResultFormat_TTTRRecType", "TTResultFormat_BitsPerRecord", "TTResult_NumberOfRecords",
                 "Measurement_Mode", "MeasDesc_GlobalResolution", "MeasDesc_Resolution", "TTResult_SyncRate",
                 "MeasDesc_AcquisitionTime", "Header_End", "Fast_Load_End")
INSTRUMENT = "picoquant_ptu"


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
    if isinstance(value, str):
        return value.split("\0", 1)[0]  # a PTU string ends at its first NUL (HDF5 strings cannot hold one)
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


def _pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def tag_bytes(ident: str, type_name: str, value: Any, index: int = -1) -> bytes:
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


def header_tag_bytes(key: str, value: Any, type_name: str) -> bytes:
    """The TagHead record(s) of one header tag: one per element, indexed, for a list of values."""
    if isinstance(value, np.ndarray) and type_name not in ("BinaryBlob", "Float8Array"):
        value = value.tolist()
    if isinstance(value, list | tuple) and type_name not in ("Float8Array", "BinaryBlob"):
        return b"".join(tag_bytes(key, type_name, v, i) for i, v in enumerate(value))
    return tag_bytes(key, type_name, value)


def stored_header(h5_path: Path) -> dict[str, tuple[str, Any]]:
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

