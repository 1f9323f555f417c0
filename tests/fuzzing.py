"""Fuzzing tepl's entry points: hypothesis strategies over station configs, procedure parameters, SIF and PTU
files and device replies, and the check each case must pass. Shared by ``tests/test_fuzz.py`` (a bounded,
derandomized set in ``make test``) and ``bench/fuzz.py`` (a longer run that prints its counts).

A case ends one of three ways (``Outcome.kind``):

* ``accepted``: the entry point took the input;
* ``refused``: it raised one of the project's own errors (``CLEAR_ERRORS``) with a one-line message;
* ``uncaught``: anything else: a bare KeyError / TypeError / OverflowError / struct.error / numpy error, a
  project error with an empty or multi-line message, or (for the command line) an exit other than 0 or 2
  with one ``tepl <command>: error: ...`` line.

Each target is a ``Target``: a strategy drawing cases and ``check(case) -> Outcome``.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import struct
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import strategies as st

from tepl.config import CONFIG_DIR, ConfigError, parse_config
from tepl.data.ptu import PtuImportError
from tepl.data.sif import SifImportError
from tepl.procedures import PROCEDURES
from tepl.procedures.params import ParameterError
from tepl.roles import DeviceError, LimitError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CLEAR_ERRORS: tuple[type[BaseException], ...] = (ConfigError, ParameterError, LimitError, DeviceError,
                                                  SifImportError, PtuImportError)


# ---------------------------------------------------------------------------------------- outcomes
@dataclass
class Outcome:
    kind: str  # accepted | refused | uncaught
    error: str = ""  # "Type: message" of a refusal or of what escaped

    @property
    def uncaught(self) -> bool:
        return self.kind == "uncaught"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def _where(exc: BaseException) -> str:
    """The innermost frame of the project's own code the exception passed through, as ``file:line``."""
    frames = traceback.extract_tb(exc.__traceback__)
    root = str(Path(__file__).resolve().parents[1])
    ours = [f for f in frames if f.filename.startswith(root) and "fuzzing" not in f.filename
            and ".venv" not in f.filename]
    frame = (ours or frames or [None])[-1]
    return f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Run ``call`` and sort what happens: accepted, refused with a clear one-line error, or uncaught."""
    try:
        call()
    except CLEAR_ERRORS as exc:
        message = str(exc)
        if not message.strip() or "\n" in message or "\r" in message:
            return Outcome("uncaught", f"unclear message: {_describe(exc)!r}")
        return Outcome("refused", _describe(exc))
    except Exception as exc:  # noqa: BLE001 - that is what we are counting
        return Outcome("uncaught", _describe(exc) + _where(exc))
    return Outcome("accepted")


@dataclass
class Target:
    """One fuzzing target: ``strategy`` draws a case, ``check(case)`` runs it through the entry point."""

    name: str
    strategy: st.SearchStrategy
    check: Callable[[Any], Outcome]
    share: float  # fraction of a bench run's cases


def _scratch_dir() -> Path:
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.TemporaryDirectory(prefix="tepl-fuzz-")
    return Path(_SCRATCH.name)


_SCRATCH: tempfile.TemporaryDirectory | None = None

# ---------------------------------------------------------------------------------------- shared values
WEIRD_NUMBERS = [0, -1, 1, -0.0, 2**31, 2**63, -(2**63), 10**30, 10**400, 1e308, -1e308, 5e-324, math.nan,
                 math.inf, -math.inf, 0.5, 1e-300]
WEIRD_TEXT = ["", " ", "nan", "NaN", "inf", "-inf", "1e999", "-1e999", "1e5", "5.0e6", "0x10", "1_000", "+", "-",
              "٣", "５", "²", "½", "true", "false", "yes", "None", "null", "~", "[]", "{}", "é", "µm", "\x00",
              "\u202e", "a" * 200, "1,5", "1.5.5", " 3 ", "--set", "="]


def weird_values() -> st.SearchStrategy:
    """Any value a YAML file or a Python caller might put where something else was expected."""
    return st.one_of(
        st.none(), st.booleans(), st.sampled_from(WEIRD_NUMBERS), st.integers(),
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(WEIRD_TEXT), st.text(max_size=12),
        st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
        st.just({}), st.just([]), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )


# ---------------------------------------------------------------------------------------- station configs
CONFIG_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in sorted(CONFIG_DIR.glob("*.yaml"))}


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


def _mutate_tree(draw, data: Any) -> Any:
    paths = _paths(data)
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(["delete", "replace", "replace", "reverse", "unknown_key", "scale", "enum",
                               "wrap"]))
    if not path:
        return draw(weird_values()) if op in ("replace", "delete") else data
    parent, key = _get(data, path[:-1]), path[-1]
    value = parent[key]
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = draw(weird_values())
    elif op == "reverse" and isinstance(value, list):
        parent[key] = value[::-1]
    elif op == "unknown_key" and isinstance(value, dict):
        key = draw(st.sampled_from(["extra", "Stage", "limit", "é", "1", "", 1, 2.5, None, True, -3])
                   | st.text(max_size=8))
        value[key] = draw(weird_values())
    elif op == "scale" and isinstance(value, int | float) and not isinstance(value, bool):
        factor = draw(st.sampled_from([-1, 0, 1e300, -1e300, 1e-300, 1000, math.nan, math.inf]))
        parent[key] = value * factor if isinstance(value, float) or isinstance(factor, float) else value * factor
    elif op == "enum" and isinstance(value, str):
        parent[key] = draw(st.sampled_from(["", "SIM", "pi-e728", "hydraharp ", "dichroic\n", "50/50",
                                            "tcp://", "tcp://host:99999", "ASRL::INSTR"]) | st.text(max_size=10))
    elif op == "wrap":
        parent[key] = [value]
    return data


@st.composite
def config_texts(draw) -> str:
    """Station config text: a shipped config mutated as data (keys dropped, wrong types, NaN / inf / huge /
    negative numbers, reversed ranges, unknown keys, wrong enum strings) or as text (truncated, characters
    inserted or replaced), or something that is not a mapping at all."""
    name = draw(st.sampled_from(sorted(CONFIG_TEXTS)))
    text = CONFIG_TEXTS[name]
    mode = draw(st.sampled_from(["tree"] * 6 + ["text", "text", "other"]))
    if mode == "tree":
        data = yaml.safe_load(text)
        for _ in range(draw(st.integers(1, 3))):
            data = _mutate_tree(draw, data)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if mode == "text":
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(text)))
            how = draw(st.sampled_from(["truncate", "insert", "replace", "delete"]))
            if how == "truncate":
                text = text[:i]
            elif how == "insert":
                insert = draw(st.sampled_from(["9" * 400, "1" * 5000, ":", "-", "\t", "[", "{", "&a", "*a",
                                               "!!python/object", "'", '"', "\n  ", "é", "\x00"])
                              | st.text(max_size=4))
                text = text[:i] + insert + text[i:]
            elif how == "replace":
                text = text[:i] + draw(st.text(min_size=1, max_size=3)) + text[i + 1:]
            else:
                text = text[:i] + text[i + draw(st.integers(1, 40)):]
        return text
    return draw(st.sampled_from(["", "~", "[]", "- a\n- b", "42", "'text'", "!!binary aGk=", "a: [", "{",
                                 "\t", "station: 1\n" * 3, "%YAML 9.9\n---\na: 1", "\ufeffstation: {}",
                                 "a: " + "9" * 5000, "[" * 3000 + "]" * 3000, "a: &x [1]\nb: *y",
                                 "{a: " * 2000 + "1" + "}" * 2000])
                | st.text(max_size=40))


def check_config(text: str) -> Outcome:
    return outcome_of(lambda: parse_config(text, "fuzz.yaml"))


# ---------------------------------------------------------------------------------------- procedure parameters
SIM_STATIONS = ("sim.yaml", "confocal-sim.yaml", "confocal-hbt-sim.yaml", "cryo-sim.yaml", "film-cryo-sim.yaml")
_stations: dict[str, Any] = {}
_stations_lock = threading.Lock()


def station_for(config_name: str):
    """One simulated station per config, built once (connect and read only, as a dry run builds it)."""
    from tepl.station import build_station

    with _stations_lock:
        if config_name not in _stations:
            _stations[config_name] = build_station(CONFIG_DIR / config_name, cool=False, safe=False)
        return _stations[config_name]


def close_stations() -> None:
    with _stations_lock:
        for station in _stations.values():
            with contextlib.suppress(Exception):
                station.close()
        _stations.clear()


def _typed_value(kind: type) -> st.SearchStrategy:
    numbers = st.one_of(st.sampled_from(WEIRD_NUMBERS), st.integers(-(10**6), 10**6),
                        st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e3, 1e3))
    others = st.one_of(st.booleans(), st.none(), st.just([1.0]), st.just({"value": 1}), st.just(b"1"),
                       st.just(1 + 2j), st.just(np.float64("nan")), st.just(np.int64(7)), st.just(np.float32(2.5)))
    strings = st.one_of(st.sampled_from(WEIRD_TEXT), st.text(max_size=10),
                        st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str))
    return st.one_of(numbers, numbers, others, strings)


@st.composite
def procedure_cases(draw) -> tuple[str, dict[str, Any], str]:
    """(procedure name, parameter values, station config): each parameter left at its default, set near its
    bounds, set as a ``--set`` style string, or set to a strange Python value; now and then an unknown name."""
    name = draw(st.sampled_from(sorted(PROCEDURES)))
    cls = PROCEDURES[name]
    values: dict[str, Any] = {}
    odd = set(draw(st.lists(st.sampled_from([p.name for p in cls.parameters]), max_size=2)))
    for p in cls.parameters:
        if p.name in odd:
            how = draw(st.sampled_from(["string", "typed", "edge"]))
        else:
            how = draw(st.sampled_from(["default", "default", "default", "valid", "edge"]))
        if how == "valid" and p.kind in (int, float) and p.low is not None and p.high is not None:
            number = draw(st.floats(p.low, p.high) if p.kind is float else st.integers(math.ceil(p.low),
                                                                                       math.floor(p.high)))
            values[p.name] = draw(st.sampled_from([number, str(number)]))
        elif how == "edge" and (p.low is not None or p.high is not None):
            edges = [b for b in (p.low, p.high) if b is not None]
            edge = draw(st.sampled_from(edges))
            values[p.name] = draw(st.sampled_from([edge, edge * 1.0000001 + 1e-9, edge - 1e-9, edge * 0.5,
                                                   edge * 2]))
        elif how == "edge" and p.choices:
            values[p.name] = draw(st.sampled_from(p.choices))
        elif how == "string":
            values[p.name] = draw(st.one_of(st.sampled_from(WEIRD_TEXT), st.text(max_size=8),
                                            st.floats(allow_nan=True, allow_infinity=True).map(str),
                                            st.integers(-(10**20), 10**20).map(str)))
        elif how == "typed":
            values[p.name] = draw(_typed_value(p.kind))
    if draw(st.integers(0, 15)) == 0:
        values[draw(st.sampled_from(["pixel", "x", "", "é", "size_x_nm", "order "]))] = 1
    station = draw(st.sampled_from(["auto"] * 6 + list(SIM_STATIONS)))  # auto: one with the roles it needs
    return name, values, station


def _station_with_roles(roles: tuple[str, ...]) -> Any:
    for config_name in SIM_STATIONS:
        station = station_for(config_name)
        if all(station.has_role(r) for r in roles):
            return station
    return station_for(SIM_STATIONS[0])


def check_procedure(case: tuple[str, dict[str, Any], str]) -> Outcome:
    from tepl.procedures import make_procedure

    name, values, config_name = case
    made: list[Any] = []
    result = outcome_of(lambda: made.append(make_procedure(name, **values)))
    if result.kind != "accepted":
        return result
    station = _station_with_roles(made[0].roles) if config_name == "auto" else station_for(config_name)
    return outcome_of(lambda: made[0].plan(station))


# ---------------------------------------------------------------------------------------- byte mutations
INTERESTING_INTS = [0, 1, -1, 2, 7, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, -(2**63),
                    10**9, 10**12]
INTERESTING_FLOATS = [0.0, -0.0, -1.0, 1e-300, 5e-324, 1e300, math.nan, math.inf, -math.inf, 1.0, 1e-12]


@st.composite
def _byte_mutation(draw, data: bytes, header_end: int) -> bytes:
    """Truncate, flip bytes (mostly in the header), splice in a chunk, delete or duplicate a chunk."""
    buf = bytearray(data)
    op = draw(st.sampled_from(["truncate", "flip", "flip", "flip_any", "splice", "delete", "duplicate",
                               "append"]))
    if op == "truncate":
        cut = draw(st.one_of(st.integers(0, header_end + 16), st.integers(0, len(buf))))
        return bytes(buf[:cut])
    if op in ("flip", "flip_any"):
        limit = header_end if op == "flip" else len(buf)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, max(limit - 1, 0)))
            if i < len(buf):
                buf[i] = draw(st.sampled_from([0, 0xFF, 0x20, 0x0A, 0x30, 0x39, 0x2D, 0x80]) | st.integers(0, 255))
        return bytes(buf)
    i = draw(st.integers(0, len(buf)))
    if op == "splice":
        chunk = draw(st.binary(min_size=1, max_size=64) | st.sampled_from([b"\n", b" ", b"-1 ", b"99999999 ",
                                                                          b"0 ", b"\x00" * 8, b"\xff" * 8]))
        return bytes(buf[:i] + chunk + buf[i:])
    n = draw(st.integers(1, 256))
    if op == "delete":
        return bytes(buf[:i] + buf[i + n:])
    if op == "duplicate":
        return bytes(buf[:i] + buf[i:i + n] + buf[i:])
    return bytes(buf) + draw(st.binary(max_size=64))


# ---------------------------------------------------------------------------------------- SIF files
SIF_GOOD = (FIXTURES / "idus420_kymera193_cli-0.sif").read_bytes()


def _sif_data_offset(data: bytes) -> int:
    import sif_parser

    with tempfile.NamedTemporaryFile(suffix=".sif") as fh:
        fh.write(data)
        fh.flush()
        _, info = sif_parser.np_open(fh.name)
    return int(info["offset"])


SIF_HEADER_END = _sif_data_offset(SIF_GOOD)
_DIGITS = re.compile(rb"-?\d+(\.\d+)?(e[-+]?\d+)?")


@st.composite
def sif_files(draw) -> bytes:
    """The real iDus 420 SIF fixture with its header numbers rewritten, truncated, bytes flipped or spliced,
    or random bytes behind the SIF magic."""
    mode = draw(st.sampled_from(["number", "number", "bytes", "bytes", "bytes", "random"]))
    data = SIF_GOOD
    if mode == "number":
        header = data[:SIF_HEADER_END]
        spans = [m.span() for m in _DIGITS.finditer(header)]
        for _ in range(draw(st.integers(1, 3))):
            a, b = draw(st.sampled_from(spans))
            new = draw(st.sampled_from([b"0", b"-1", b"1", b"2", b"99999999", b"4294967296", b"1e308", b"nan",
                                        b"inf", b"", b"x", b"65567", b"65540", b"1024", b"2048"]))
            header = header[:a] + new + header[b:]
            spans = [m.span() for m in _DIGITS.finditer(header)]
        data = header + data[SIF_HEADER_END:]
        if draw(st.booleans()):
            return data
    if mode == "random":
        return b"Andor Technology Multi-Channel File\n" + draw(st.binary(max_size=400))
    return draw(_byte_mutation(data, SIF_HEADER_END))


def check_sif(data: bytes) -> Outcome:
    from tepl.data.sif import import_sif

    scratch = _scratch_dir()
    src = scratch / f"fuzz-{threading.get_ident()}.sif"
    src.write_bytes(data)
    return outcome_of(lambda: import_sif(src, scratch / f"fuzz-{threading.get_ident()}-sif.h5", overwrite=True))


# ---------------------------------------------------------------------------------------- PTU files
PTU_TAG_HEAD = struct.Struct("<32siI")
_VARLEN = {0x2001FFFF, 0x4001FFFF, 0x4002FFFF, 0xFFFFFFFF}


@dataclass
class PtuTag:
    ident: str
    index: int
    type_code: int
    head: int  # offset of the TagHead record
    value: int  # offset of its 8-byte value


def ptu_tags(data: bytes) -> tuple[list[PtuTag], int]:
    """The TagHead records of a well-formed PTU header and the offset of the first record."""
    tags, pos = [], 16
    while True:
        ident, index, type_code = PTU_TAG_HEAD.unpack_from(data, pos)
        name = ident.rstrip(b"\0").decode("ascii")
        tags.append(PtuTag(name, index, type_code, pos, pos + 40))
        pos += 48
        if type_code in _VARLEN:
            pos += struct.unpack_from("<q", data, pos - 8)[0]
        if name == "Header_End":
            return tags, pos


def _small_ptu(path: Path, n_records: int = 600) -> bytes:
    """A real PTU file cut to its header and first ``n_records`` records (the header's count set to match)."""
    data = path.read_bytes()
    tags, start = ptu_tags(data)
    buf = bytearray(data[: start + 4 * n_records])
    for tag in tags:
        if tag.ident == "TTResult_NumberOfRecords":
            struct.pack_into("<q", buf, tag.value, n_records)
    return bytes(buf)


PTU_SEEDS = {p.name: _small_ptu(p) for p in sorted((FIXTURES / "picoquant").glob("*.ptu"))}
PTU_KEY_TAGS = ["TTResultFormat_TTTRRecType", "TTResultFormat_BitsPerRecord", "TTResult_NumberOfRecords",
                "MeasDesc_GlobalResolution", "MeasDesc_Resolution", "TTResult_SyncRate", "TTResult_StopAfter",
                "MeasDesc_AcquisitionTime", "Measurement_Mode", "HWInpChan_Enabled", "HWInpChan_CFDLevel",
                "HW_InpChannels", "File_CreatingTime"]
RECORD_TYPES = [0x00010303, 0x00010304, 0x01010304, 0x00010204, 0x01010204, 0x00010203, 0x00010205,
                0x00010206, 0x00010207, 0x00010305, 0x00010306, 0x00010307, 0x00010404, 0x00010504]


@st.composite
def ptu_files(draw) -> bytes:
    """A real PTU file (T2 PicoHarp, T3 HydraHarp; cut to 600 records) with header tag values or types
    rewritten (record type, counts, resolutions, modes), its records replaced by random words, truncated,
    bytes flipped, or random bytes behind the PTU magic."""
    seed = PTU_SEEDS[draw(st.sampled_from(sorted(PTU_SEEDS)))]
    tags, start = ptu_tags(seed)
    buf = bytearray(seed)
    mode = draw(st.sampled_from(["tag", "tag", "tag", "type", "records", "bytes", "bytes", "random"]))
    if mode == "random":
        return b"PQTTTR\0\0" + draw(st.sampled_from([b"1.0.00\0\0", b"\0" * 8])) + draw(st.binary(max_size=300))
    if mode == "bytes":
        return draw(_byte_mutation(seed, start))
    if mode == "records":
        n = draw(st.integers(0, 64))
        words = draw(st.lists(st.sampled_from([0, 0xFFFFFFFF, 0x7E000000, 0xFE000001, 0xFE000000, 0x80000000,
                                               0x82000000, 0x0C000001]) | st.integers(0, 2**32 - 1),
                              min_size=n, max_size=n))
        body = struct.pack(f"<{n}I", *words)
        for tag in tags:
            if tag.ident == "TTResult_NumberOfRecords":
                struct.pack_into("<q", buf, tag.value, n if draw(st.booleans()) else draw(st.integers(0, 2 * n)))
        return bytes(buf[:start]) + body
    for _ in range(draw(st.integers(1, 3))):
        names = [t for t in tags if t.ident in PTU_KEY_TAGS] or tags
        tag = draw(st.sampled_from(names) | st.sampled_from(tags))
        if mode == "type":
            struct.pack_into("<I", buf, tag.head + 36, draw(st.sampled_from(
                [0xFFFF0008, 0x00000008, 0x10000008, 0x20000008, 0x21000008, 0x2001FFFF, 0x4001FFFF, 0x4002FFFF,
                 0xFFFFFFFF, 0x12345678])))
        elif tag.ident == "TTResultFormat_TTTRRecType" and draw(st.booleans()):
            struct.pack_into("<q", buf, tag.value, draw(st.sampled_from(RECORD_TYPES)))
        elif draw(st.booleans()):
            struct.pack_into("<q", buf, tag.value, draw(st.sampled_from(INTERESTING_INTS)))
        else:
            struct.pack_into("<d", buf, tag.value, draw(st.sampled_from(INTERESTING_FLOATS)))
    return bytes(buf)


def check_ptu(data: bytes) -> Outcome:
    from tepl.data.ptu import read_ptu
    from tepl.ptu_import import import_ptu

    scratch = _scratch_dir()
    src = scratch / f"fuzz-{threading.get_ident()}.ptu"
    src.write_bytes(data)
    result = outcome_of(lambda: read_ptu(src))
    if result.kind != "accepted":
        return result
    return outcome_of(lambda: import_ptu(src, scratch / f"fuzz-{threading.get_ident()}-ptu.h5", overwrite=True))


# ---------------------------------------------------------------------------------------- device replies
class ScriptedSession:
    """A device session that answers each command it is sent with the next scripted reply (then nothing)."""

    def __init__(self, replies: list[bytes], single_bytes: bytes = b"", terminator: bytes = b"\n"):
        self.replies = list(replies)
        self.single_bytes, self.terminator = single_bytes, terminator

    def feed(self, content: bytes) -> bytes:
        if content.endswith(self.terminator) or (len(content) == 1 and content in self.single_bytes):
            return self.replies.pop(0) if self.replies else b""
        return b""

    def close(self) -> None:
        self.replies.clear()


def _mutated_reply(valid: bytes, terminator: bytes) -> st.SearchStrategy:
    tokens = [t.encode("cp1252", "replace") for t in WEIRD_TEXT] + [b"\x81", b"\x8d", b"\xb2", b"\xff", b"\xb0",
                                                                     b"\xb1", b" \n", b"=", b"\r", b"> "]

    @st.composite
    def mutate(draw) -> bytes:
        op = draw(st.sampled_from(["valid", "token", "token", "flip", "cut", "random", "random_term", "lines"]))
        if op == "valid":
            return valid
        if op == "random":
            return draw(st.binary(max_size=40))
        if op == "random_term":
            return draw(st.binary(max_size=40)) + terminator
        if op == "lines":
            return b"".join(draw(st.lists(st.sampled_from([b"1=1 \n", b"1=2 \n", b" \n", b"2=x \n", b"=\n",
                                                           b"4=4\n"]), min_size=1, max_size=6)))
        body = bytearray(valid)
        i = draw(st.integers(0, len(body)))
        if op == "token":
            j = draw(st.integers(i, len(body)))
            return bytes(body[:i]) + draw(st.sampled_from(tokens)) + bytes(body[j:])
        if op == "flip" and body:
            body[min(i, len(body) - 1)] = draw(st.integers(0, 255))
            return bytes(body)
        return bytes(body[:i])

    return mutate()


# E-727: (name, call on the driver, a valid reply to each command it sends)
E727_CALLS: list[tuple[str, Callable[[Any], Any], list[bytes]]] = [
    ("idn", lambda d: d.idn, [b"(c)2015-2018 Physik Instrumente (PI) GmbH & Co. KG, E-727.3CDA, 1, 14\n"]),
    ("gcs_version", lambda d: d.gcs_version, [b"2.0\n"]),
    ("error_code", lambda d: d.error_code, [b"0\n"]),
    ("check_error", lambda d: d.check_error("MOV 1 10"), [b"0\n"]),
    ("axes", lambda d: d.axes(), [b"1 \n2 \n3\n"]),
    ("positions", lambda d: d.positions_um(), [b"1=1.883246040e+01 \n2=1.747353172e+01 \n3=0.000000000e+00\n"]),
    ("targets", lambda d: d.targets_um(["1", "2"]), [b"1=10 \n2=20.5\n"]),
    ("on_target", lambda d: d.on_target_states(["1"]), [b"1=1\n"]),
    ("servo", lambda d: d.servo_states(), [b"1=1 \n2=1 \n3=0\n"]),
    ("travel", lambda d: d.travel_range_um(["1"]), [b"1=0\n", b"1=100\n"]),
    ("velocities", lambda d: d.velocities_um_s(["3"]), [b"3=100\n"]),
    ("axis_position", lambda d: d.axis_1.position_um, [b"1=12.5\n"]),
    ("axis_on_target", lambda d: d.axis_2.on_target, [b"2=0\n"]),
    ("axis_servo", lambda d: d.axis_3.servo_enabled, [b"3=1\n"]),
    ("axis_stage_type", lambda d: d.axis_1.stage_type, [b"1=P-611.3S\n"]),
    ("move", lambda d: d.move_um({"1": 10.0}), [b"0\n"]),
    ("set_velocity", lambda d: setattr(d.axis_1, "velocity_um_s", 50.0), [b"0\n", b"0\n"]),
    ("stop", lambda d: d.stop(), [b"10\n"]),
    ("halt", lambda d: d.halt(["1"]), [b"10\n"]),
    ("is_ready", lambda d: d.is_ready(), [b"\xb1\n"]),
    ("moving", lambda d: d.moving(), [b"1 \n2 \n3\n", b"0\n"]),
]


@st.composite
def e727_cases(draw) -> tuple[str, list[bytes]]:
    i = draw(st.integers(0, len(E727_CALLS) - 1))
    name, _, valid = E727_CALLS[i]
    replies = [draw(_mutated_reply(v, b"\n")) for v in valid]
    if draw(st.integers(0, 7)) == 0:
        replies = replies[:-1]
    return name, replies


def check_e727(case: tuple[str, list[bytes]]) -> Outcome:
    from tepl.drivers.pi_e727 import E727
    from tepl.sims.session_adapter import SessionAdapter

    name, replies = case
    call = next(c for n, c, _ in E727_CALLS if n == name)
    session = ScriptedSession(replies, single_bytes=bytes([5, 7, 24]))
    driver = E727(SessionAdapter(session, "E-727", "cp1252", "\n", "\n"))
    return outcome_of(lambda: call(driver))


class ScriptedR9:
    """An R9 transport answering each line with the next scripted reply (then an empty reply)."""

    def __init__(self, replies: list[str]):
        self.replies = list(replies)

    def query(self, line: str) -> str:
        return self.replies.pop(0) if self.replies else ""

    def close(self) -> None:
        pass


R9_CALLS: list[tuple[str, Callable[[Any], Any], list[str]]] = [
    ("setpoint", lambda r: r.setpoint_V(), ["0.45"]),
    ("set_setpoint", lambda r: r.set_setpoint_V(0.4), ["Done"]),
    ("integral_gain", lambda r: r.integral_gain(), ["1e-3"]),
    ("proportional_gain", lambda r: r.proportional_gain(), ["0"]),
    ("z_bounds", lambda r: r.z_bounds_m(), ["-2e-6", "2e-6"]),
    ("tip_control", lambda r: r.tip_control(), ["Freeze"]),
    ("set_tip_control", lambda r: r.set_tip_control("Retract"), ["Done"]),
    ("set_z", lambda r: r.set_z_position_m(1e-7), ["Done"]),
    ("z", lambda r: r.z_m(), ["1.25e-07"]),
    ("amplitude", lambda r: r.amplitude_V(), ["0.5"]),
    ("phase", lambda r: r.phase_deg(), ["-12.5"]),
    ("step_in", lambda r: r.step_in(), ["DoneDone"]),
    ("stop_procedure", lambda r: r.stop_procedure("Pan Single Step In"), ["Done"]),
]


@st.composite
def r9_cases(draw) -> tuple[str, list[str]]:
    i = draw(st.integers(0, len(R9_CALLS) - 1))
    name, _, valid = R9_CALLS[i]
    replies = []
    for v in valid:
        raw = draw(_mutated_reply(v.encode(), b""))
        replies.append(draw(st.sampled_from([raw.decode("utf-8", errors="replace")]) | st.text(max_size=12)
                            | st.sampled_from(WEIRD_TEXT + ["Done", "DoneError: busy", "Error: unknown", "Unlimit ",
                                                            "1e-3\n", "Donedone", "1e308", "-1e309"])))
    return name, replies


def check_r9(case: tuple[str, list[str]]) -> Outcome:
    from tepl.drivers.rhk_r9 import R9

    name, replies = case
    call = next(c for n, c, _ in R9_CALLS if n == name)
    return outcome_of(lambda: call(R9(ScriptedR9(replies))))


def _q(command: str, value: str) -> bytes:
    return f"{command}\r{value}\r> ".encode()


SC10_CALLS: list[tuple[str, Callable[[Any], Any], list[bytes]]] = [
    ("idn", lambda c: c.idn, [_q("id?", "THORLABS SC10 VERSION 1.07")]),
    ("enabled", lambda c: c.enabled, [_q("ens?", "0")]),
    ("closed", lambda c: c.closed, [_q("closed?", "1")]),
    ("interlock", lambda c: c.interlock_tripped, [_q("interlock?", "0")]),
    ("mode", lambda c: c.mode, [_q("mode?", "1")]),
    ("open_time", lambda c: c.open_time_ms, [_q("open?", "250")]),
    ("repeat", lambda c: c.repeat_count, [_q("rep?", "5")]),
    ("set_mode", lambda c: setattr(c, "mode", 1), [b"mode=1\r> "]),
    ("toggle", lambda c: c.toggle_enable(), [b"ens\r> "]),
    ("set_enabled", lambda c: c.set_enabled(True), [_q("ens?", "0"), b"ens\r> "]),
    ("shutter", lambda c: _sc10_shutter(c).is_open(), [_q("id?", "THORLABS SC10 VERSION 1.07"), b"mode=1\r> ",
                                                       _q("closed?", "1")]),
    ("shutter_open", lambda c: _sc10_shutter(c).open(),
     [_q("id?", "THORLABS SC10 VERSION 1.07"), b"mode=1\r> ", _q("interlock?", "0"), _q("ens?", "0"), b"ens\r> ",
      _q("closed?", "0")]),
]


def _sc10_shutter(controller):
    from tepl.drivers.thorlabs_sc10 import SC10Shutter

    return SC10Shutter(controller, open_timeout_s=0.05, poll_interval_s=0.01, sleep=lambda s: None)


@st.composite
def sc10_cases(draw) -> tuple[str, list[bytes]]:
    i = draw(st.integers(0, len(SC10_CALLS) - 1))
    name, _, valid = SC10_CALLS[i]
    k = draw(st.integers(0, len(valid) - 1))  # one reply garbled, the others as the manual has them
    replies = [draw(_mutated_reply(v, b"\r> ")) if j == k else v for j, v in enumerate(valid)]
    return name, replies


def check_sc10(case: tuple[str, list[bytes]]) -> Outcome:
    from tepl.drivers.thorlabs_sc10 import SC10
    from tepl.sims.session_adapter import SessionAdapter

    name, replies = case
    call = next(c for n, c, _ in SC10_CALLS if n == name)
    session = ScriptedSession(replies, terminator=b"\r")
    controller = SC10(SessionAdapter(session, "SC10", "ascii"), address="fuzz")
    return outcome_of(lambda: call(controller))


# ---------------------------------------------------------------------------------------- the command line
@st.composite
def cli_cases(draw) -> tuple[list[str], bytes | str | None, str]:
    """(argv, file content, file suffix): ``tepl list --config``, ``tepl run --dry-run --set``, ``tepl import``."""
    kind = draw(st.sampled_from(["list", "run", "import-sif", "import-ptu"]))
    if kind == "list":
        return ["list", "--config", "{file}"], draw(config_texts()), ".yaml"
    if kind == "run":
        name, values, _ = draw(procedure_cases())
        sets = [f"--set={k}={v}" for k, v in values.items() if isinstance(v, str | int | float)]
        return ["run", name, "--dry-run", "--out", "{dir}/run.h5", *sets], None, ""
    if kind == "import-sif":
        return ["import", "{file}", "--out", "{dir}/out.h5", "--overwrite"], draw(sif_files()), ".sif"
    return ["import", "{file}", "--out", "{dir}/out.h5", "--overwrite"], draw(ptu_files()), ".ptu"


def run_cli(argv: list[str]) -> tuple[int | None, str, str, BaseException | None]:
    """``tepl.cli.main(argv)`` in a worker thread (so it installs no signal handlers): exit code, stdout,
    stderr and what escaped it."""
    from tepl.cli import main

    out, err = io.StringIO(), io.StringIO()
    result: dict[str, Any] = {}

    def target() -> None:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result["rc"] = main(argv)
            except SystemExit as exc:
                result["rc"] = exc.code
            except BaseException as exc:  # noqa: BLE001
                result["exc"] = exc

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    return result.get("rc"), out.getvalue(), err.getvalue(), result.get("exc")


def check_cli(case: tuple[list[str], bytes | str | None, str]) -> Outcome:
    argv, content, suffix = case
    scratch = _scratch_dir()
    path = scratch / f"fuzz-cli{suffix}"
    if content is not None:
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    argv = [a.replace("{file}", str(path)).replace("{dir}", str(scratch)) for a in argv]
    rc, _, err, exc = run_cli(argv)
    if exc is not None:
        return Outcome("uncaught", f"{argv[:2]}: {_describe(exc)}")
    lines = err.strip("\n").split("\n") if err.strip() else []
    if rc == 0:
        return Outcome("accepted")
    prefix = f"tepl {argv[0]}: error: "
    if rc == 2 and len(lines) == 1 and lines[0].startswith(prefix) and len(lines[0]) > len(prefix):
        return Outcome("refused", lines[0])
    return Outcome("uncaught", f"{argv[:2]}: exit {rc}, stderr {err[-300:]!r}")


# ---------------------------------------------------------------------------------------- the targets
TARGETS: list[Target] = [
    Target("config", config_texts(), check_config, 0.25),
    Target("parameters", procedure_cases(), check_procedure, 0.25),
    Target("sif", sif_files(), check_sif, 0.10),
    Target("ptu", ptu_files(), check_ptu, 0.12),
    Target("reply:e727", e727_cases(), check_e727, 0.09),
    Target("reply:r9", r9_cases(), check_r9, 0.07),
    Target("reply:sc10", sc10_cases(), check_sc10, 0.08),
    Target("cli", cli_cases(), check_cli, 0.04),
]
