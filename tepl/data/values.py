"""Python values as HDF5: units from key suffixes, values as datasets or attributes, JSON where nothing fits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import h5py
import numpy as np

UNIT_BY_SUFFIX = {
    "s": "s", "ms": "ms", "us": "us", "ns": "ns", "ps": "ps", "min": "min",
    "m": "m", "mm": "mm", "um": "µm", "nm": "nm",
    "eV": "eV", "meV": "meV",
    "GPa": "GPa", "MPa": "MPa", "Pa": "Pa",
    "N": "N", "nN": "nN", "uN": "uN",
    "V": "V", "mV": "mV", "A": "A", "mA": "mA",
    "W": "W", "mW": "mW", "uW": "uW",
    "deg": "deg", "rad": "rad",
    "Hz": "Hz", "kHz": "kHz", "MHz": "MHz",
    "K": "K", "c": "degC", "C": "degC",
    "pct": "%", "percent": "%",
}

STR = h5py.string_dtype("utf-8")
_JSON_ATTR = "encoding"
_CONDITION = re.compile(r"_at_[A-Za-z]*\d.*$")  # "_at_minus80_c": the condition of a value, not its unit


def unit_from_key(key: str) -> str:
    """The unit named by a key's suffix (``exposure_s`` -> "s", ``travel_um`` -> "µm", ``temperature_c`` ->
    "degC"), or "". A trailing condition ``_at_<number>...`` (``..._at_minus80_c``) is dropped first; a ratio
    ``<name>[_<unit>]_per_<unit>`` gets a compound unit (``drift_nm_per_s`` -> "nm/s", ``lines_per_mm`` ->
    "1/mm"), or "" when its denominator is not a single unit (``gain_e_per_count``)."""
    key = _CONDITION.sub("", key)
    if "_per_" in key:
        numerator, denominator = key.split("_per_", 1)
        per = UNIT_BY_SUFFIX.get(denominator, "")
        return f"{UNIT_BY_SUFFIX.get(numerator.rsplit('_', 1)[-1], '') or '1'}/{per}" if per else ""
    return UNIT_BY_SUFFIX.get(key.rsplit("_", 1)[1], "") if "_" in key else ""


def utc_now_iso() -> str:
    """The current time as ISO 8601 UTC, millisecond resolution."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) > 0 and all(isinstance(v, str) for v in value)


def as_attr(value: Any) -> Any:
    """A Python value converted to something h5py stores as an attribute."""
    if value is None:
        return h5py.Empty("f4")
    if isinstance(value, str | bool | int | float | np.generic | np.ndarray):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if _is_str_list(value):
        return np.array(value, dtype=STR)
    if isinstance(value, list | tuple):
        try:
            arr = np.asarray(value)
        except ValueError:
            arr = None
        if arr is not None and arr.dtype.kind in "biuf":
            return arr
    return json.dumps(value, default=str)


def write_value(group: h5py.Group, key: str, value: Any, unit: str | None = None) -> None:
    """Store ``value`` under ``group[key]``: dicts become NXcollection groups, scalars and arrays become
    datasets with @units (given, or derived from the key's suffix), strings and lists of strings are stored
    as-is, None as an empty attribute; anything else is stored as JSON text with @encoding="json"."""
    key = str(key).replace("/", "_")
    if isinstance(value, Mapping):
        sub = group.create_group(key)
        sub.attrs["NX_class"] = "NXcollection"
        for k, v in value.items():
            write_value(sub, k, v)
        return
    if value is None:
        group.attrs[key] = h5py.Empty("f4")
        return
    unit = unit_from_key(key) if unit is None else unit
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        ds = group.create_dataset(key, data=value, dtype=STR)
    elif _is_str_list(value) or (isinstance(value, np.ndarray) and value.dtype.kind in "UO"):
        ds = group.create_dataset(key, data=np.asarray(value, dtype=object).astype(str).astype(STR),
                                  dtype=STR)
    else:
        arr = None
        if isinstance(value, bool | int | float | complex | np.generic | np.ndarray | list | tuple):
            try:
                arr = np.asarray(value)
            except ValueError:
                arr = None
        if arr is not None and arr.dtype.kind in "biufcV" and arr.dtype != object:
            ds = group.create_dataset(key, data=arr)
        else:
            ds = group.create_dataset(key, data=json.dumps(value, default=_json_default), dtype=STR)
            ds.attrs[_JSON_ATTR] = "json"
    if unit:
        ds.attrs["units"] = unit


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)
