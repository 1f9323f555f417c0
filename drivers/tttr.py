"""PicoQuant 32-bit TTTR records: decode to photon tags and encode tags back to records (numpy, vectorised).

Record types are named as ``ptufile.PtuRecordType`` names them (``RECORD_TYPES``). Layouts (LSB = bit 0):

* PicoHarp T3 (0x00010303): nsync 0-15, dtime 16-27, channel 28-31 (1-4 = inputs 0-3). Channel 0xF with
  dtime 0 is an overflow (+65 536 sync periods), with dtime != 0 a marker (dtime = marker bits).
* PicoHarp T2 (0x00010203): timetag 0-27, channel 28-31 (0-4). Channel 0xF with low 4 bits 0 is an overflow
  (+210 698 240), otherwise a marker (low 4 bits = marker bits, which also are the low bits of its timetag).
* HydraHarp T3 (v1 0x00010304; v2 0x01010304 and TimeHarp 260 N/P, MultiHarp/Generic with the same layout):
  nsync 0-9, dtime 10-24, channel 25-30, special 31. Special with channel 0x3F is an overflow: +1024 (v1),
  or nsync x 1024 (v2; nsync 0 or 1 means 1024); special with channel 1-15 is a marker.
* HydraHarp T2 (v1 0x00010204; v2 0x01010204 and the same layouts): timetag 0-24, channel 25-30, special 31.
  Overflow (special, channel 0x3F): +33 552 000 (v1) or timetag x 2**25 (v2); special channel 0 is a sync
  event (consumed, not a photon); special channels 1-15 are markers.

Times are integers: T2 times in units of the global resolution (``MeasDesc_GlobalResolution``, 1 ps for
HydraHarp T2, 4 ps for PicoHarp T2), T3 macro times in sync periods and dtimes in TCSPC bins
(``MeasDesc_Resolution``). Decoders and encoders keep the overflow count between calls, so a stream read
in FIFO chunks decodes (or is produced) piece by piece exactly as in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RECORD_TYPES: dict[str, int] = {
    "PicoHarpT3": 0x00010303,
    "PicoHarpT2": 0x00010203,
    "HydraHarpT3": 0x00010304,
    "HydraHarpT2": 0x00010204,
    "HydraHarp2T3": 0x01010304,
    "HydraHarp2T2": 0x01010204,
    "TimeHarp260NT3": 0x00010305,
    "TimeHarp260NT2": 0x00010205,
    "TimeHarp260PT3": 0x00010306,
    "TimeHarp260PT2": 0x00010206,
    "GenericT3": 0x00010307,
    "GenericT2": 0x00010207,
    # ptufile calls the MultiHarp / PicoHarp 330 record types "Generic"; the instrument names are aliases
    "MultiHarpT3": 0x00010307,
    "MultiHarpT2": 0x00010207,
}

_NAMES: dict[int, str] = {}
for _name, _code in RECORD_TYPES.items():
    _NAMES.setdefault(_code, _name)

# the most wraps one v2 overflow record can carry (its 10-bit nsync / 25-bit timetag field)
_HT3_MAX_WRAPS = (1 << 10) - 1
_HT2_MAX_WRAPS = (1 << 25) - 1


@dataclass(frozen=True)
class RecordLayout:
    """Bit layout facts of one record type."""

    code: int
    name: str
    mode: str  # "T2" or "T3"
    family: str  # "pt2", "pt3", "ht2", "ht3"
    wrap: int  # time units (T2) or sync periods (T3) added per overflow
    multi_wrap: bool  # v2 layouts: one overflow record carries a count of wraps
    n_channels: int  # detector inputs the record can name
    dtime_bins: int  # 0 for T2


def record_layout(record_type: int | str) -> RecordLayout:
    """Layout of a record type given by code (e.g. 0x01010304) or ptufile name (e.g. "HydraHarp2T3").

    Raises ValueError for unknown record types.
    """
    if isinstance(record_type, str):
        if record_type not in RECORD_TYPES:
            raise ValueError(f"unknown TTTR record type name {record_type!r}; known: {sorted(RECORD_TYPES)}")
        code = RECORD_TYPES[record_type]
    else:
        try:
            code = int(record_type)
        except (TypeError, ValueError):
            raise ValueError(f"TTTR record type must be an int code or a name, got {record_type!r}") from None
    if code not in _NAMES:
        raise ValueError(f"unknown or unsupported TTTR record type 0x{code:08X}; supported: "
                         + ", ".join(f"{n} (0x{c:08X})" for c, n in _NAMES.items()))
    name = _NAMES[code]
    if code == 0x00010303:
        return RecordLayout(code, name, "T3", "pt3", 65536, False, 4, 4096)
    if code == 0x00010203:
        return RecordLayout(code, name, "T2", "pt2", 210698240, False, 5, 0)
    if code == 0x00010304:
        return RecordLayout(code, name, "T3", "ht3", 1024, False, 63, 32768)
    if code == 0x00010204:
        return RecordLayout(code, name, "T2", "ht2", 33552000, False, 63, 0)
    if name.endswith("T3"):
        return RecordLayout(code, name, "T3", "ht3", 1024, True, 63, 32768)
    return RecordLayout(code, name, "T2", "ht2", 1 << 25, True, 63, 0)


def record_type_name(record_type: int | str) -> str:
    """ptufile's name of a record type code (e.g. 0x01010304 -> "HydraHarp2T3")."""
    return record_layout(record_type).name


def record_mode(record_type: int | str) -> str:
    """"T2" or "T3" for a record type."""
    return record_layout(record_type).mode


def _layout_for(record_type: int | str, mode: str) -> RecordLayout:
    layout = record_layout(record_type)
    if layout.mode != mode:
        raise ValueError(f"record type {layout.name} (0x{layout.code:08X}) is a {layout.mode} format, "
                         f"not {mode}")
    return layout


def _as_records(records) -> np.ndarray:
    arr = np.asarray(records)
    if arr.ndim != 1:
        raise ValueError(f"TTTR records must be a 1-D array, got shape {arr.shape}")
    if arr.dtype == np.uint32:
        return arr
    if arr.size == 0:
        return arr.astype(np.uint32)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"TTTR records must be unsigned 32-bit integers, got dtype {arr.dtype}")
    if int(arr.min()) < 0 or int(arr.max()) > 0xFFFFFFFF:
        raise ValueError("TTTR records must be unsigned 32-bit integers; values out of range")
    return arr.astype(np.uint32)


def _split_special(r: np.ndarray, first_special: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split records into photons and special records (all records >= ``first_special`` are special).

    Returns (photon records, indices of the special records, special records). Special records are sparse
    in real streams, so everything after this works on the photons alone or on the few special records.
    """
    is_special = r >= np.uint32(first_special)
    sidx = np.flatnonzero(is_special)
    if sidx.size == 0:
        return r, sidx, r[:0]
    return r[~is_special], sidx, r[sidx]


def _apply_offsets(sidx: np.ndarray, inc: np.ndarray, n_photon: int, base: int,
                   photon_time: np.ndarray) -> tuple[np.ndarray, int]:
    """Add the overflow offset to photon times in place: ``inc`` is the time added at each special record.

    Returns (offset at every special record, offset after the chunk), both including ``base``.
    """
    if inc.size == 0 or not inc.any():
        photon_time += base
        return np.full(sidx.size, base, np.int64), base
    after = np.cumsum(inc)
    after += base
    # photons before special record j: sidx[j] - j; photons between consecutive special records share an offset
    before = sidx - np.arange(sidx.size)
    counts = np.diff(before, prepend=0, append=n_photon)
    photon_time += np.repeat(np.concatenate([[base], after]), counts)
    return after, int(after[-1])


class T2Decoder:
    """Decode T2 records to photon times and channels; keeps the overflow count across ``decode`` calls.

    ``time`` counts global-resolution units since the epoch of the first record decoded (the start of the
    stream); sync (HydraHarp-family special channel 0) and overflow records are consumed.
    """

    def __init__(self, record_type: int):
        self.layout = _layout_for(record_type, "T2")
        self.offset = 0  # accumulated overflow time, global-resolution units
        self.n_sync = 0  # sync records consumed so far (HydraHarp-family T2)

    def reset(self) -> None:
        """Start a new stream (overflow count back to zero)."""
        self.offset = 0
        self.n_sync = 0

    def decode(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """uint32 records -> (time int64 in global-resolution units since the first record's epoch,
        channel int8 = 0-based detector input, marker_time int64, marker_bits uint8)."""
        r = _as_records(records)
        lay = self.layout
        if lay.family == "pt2":
            photons, sidx, spec = _split_special(r, 0xF0000000)
            time = (photons & np.uint32(0x0FFFFFFF)).astype(np.int64)
            channel = (photons >> np.uint32(28)).astype(np.int8)
            spec_time = (spec & np.uint32(0x0FFFFFFF)).astype(np.int64)
            bits = spec & np.uint32(0xF)
            is_overflow = bits == 0
            is_marker = ~is_overflow
            inc = is_overflow.astype(np.int64) * lay.wrap
        else:
            photons, sidx, spec = _split_special(r, 0x80000000)
            time = (photons & np.uint32(0x1FFFFFF)).astype(np.int64)
            channel = (photons >> np.uint32(25)).astype(np.int8)
            spec_time = (spec & np.uint32(0x1FFFFFF)).astype(np.int64)
            bits = (spec >> np.uint32(25)) & np.uint32(0x3F)
            is_overflow = bits == 0x3F
            is_marker = (bits >= 1) & (bits <= 15)
            self.n_sync += int(np.count_nonzero(bits == 0))
            wraps = np.maximum(spec_time, 1) if lay.multi_wrap else 1
            inc = np.where(is_overflow, wraps * lay.wrap, 0)
        at_special, self.offset = _apply_offsets(sidx, inc, photons.size, self.offset, time)
        marker_time = spec_time[is_marker] + at_special[is_marker]
        return time, channel, marker_time, bits[is_marker].astype(np.uint8)


class T3Decoder:
    """Decode T3 records to (sync index, dtime, channel); keeps the overflow count across ``decode`` calls.

    ``nsync`` counts sync periods since the epoch of the first record decoded; ``dtime`` is in TCSPC bins.
    PicoHarp T3 channel fields 1-4 become inputs 0-3 (an invalid field 0 or 5-14 reads as 4, as ptufile does).
    """

    def __init__(self, record_type: int):
        self.layout = _layout_for(record_type, "T3")
        self.offset = 0  # accumulated overflow, sync periods

    def reset(self) -> None:
        """Start a new stream (overflow count back to zero)."""
        self.offset = 0

    def decode(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """uint32 records -> (nsync int64, dtime int32, channel int8, marker_nsync int64, marker_bits uint8)."""
        r = _as_records(records)
        lay = self.layout
        if lay.family == "pt3":
            photons, sidx, spec = _split_special(r, 0xF0000000)
            nsync = (photons & np.uint32(0xFFFF)).astype(np.int64)
            dtime = ((photons >> np.uint32(16)) & np.uint32(0xFFF)).astype(np.int32)
            ch = (photons >> np.uint32(28)).astype(np.int8)
            channel = np.where((ch >= 1) & (ch <= 4), ch - 1, np.int8(4)).astype(np.int8)
            spec_nsync = (spec & np.uint32(0xFFFF)).astype(np.int64)
            bits = (spec >> np.uint32(16)) & np.uint32(0xFFF)
            is_overflow = bits == 0
            is_marker = ~is_overflow
            inc = is_overflow.astype(np.int64) * lay.wrap
        else:
            photons, sidx, spec = _split_special(r, 0x80000000)
            nsync = (photons & np.uint32(0x3FF)).astype(np.int64)
            dtime = ((photons >> np.uint32(10)) & np.uint32(0x7FFF)).astype(np.int32)
            channel = (photons >> np.uint32(25)).astype(np.int8)
            spec_nsync = (spec & np.uint32(0x3FF)).astype(np.int64)
            bits = (spec >> np.uint32(25)) & np.uint32(0x3F)
            is_overflow = bits == 0x3F
            is_marker = (bits >= 1) & (bits <= 15)
            wraps = np.maximum(spec_nsync, 1) if lay.multi_wrap else 1
            inc = np.where(is_overflow, wraps * lay.wrap, 0)
        at_special, self.offset = _apply_offsets(sidx, inc, photons.size, self.offset, nsync)
        marker_nsync = spec_nsync[is_marker] + at_special[is_marker]
        return nsync, dtime, channel, marker_nsync, bits[is_marker].astype(np.uint8)


# ------------------------------------------------------------------------------------------------------
def _int_array(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype == np.uint64:
        if int(arr.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"{name} value {int(arr.max())} does not fit in int64")
        return arr.astype(np.int64)
    return arr


def _check_range(arr: np.ndarray, low: int, high: int | None, name: str, unit: str = "") -> None:
    if arr.size == 0:
        return
    lo = int(arr.min())
    hi = int(arr.max()) if high is not None else lo
    if lo < low or (high is not None and hi > high):
        bad = lo if lo < low else hi
        span = f"[{low}, {high}]{unit}" if high is not None else f">= {low}{unit}"
        raise ValueError(f"{name} {bad}{unit} out of range {span} for this record type")


class _Encoder:
    mode = ""

    def __init__(self, record_type: int):
        self.layout = _layout_for(record_type, self.mode)
        lay = self.layout
        if lay.multi_wrap:
            self._max_wraps = _HT3_MAX_WRAPS if lay.mode == "T3" else _HT2_MAX_WRAPS
        else:
            self._max_wraps = 1
        self._shift = lay.wrap.bit_length() - 1 if lay.wrap & (lay.wrap - 1) == 0 else None
        self.epoch = 0  # overflows emitted so far (in wraps)
        self.last_time = 0  # latest event time encoded, time units of the record type

    def reset(self) -> None:
        """Start a new stream."""
        self.epoch = 0
        self.last_time = 0

    def _epochs(self, t: np.ndarray) -> np.ndarray:
        return t >> self._shift if self._shift is not None else t // self.layout.wrap

    def _epoch_field(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(epoch = t // wrap, time field = t % wrap as uint32)."""
        if self._shift is not None:
            return t >> self._shift, (t & (self.layout.wrap - 1)).astype(np.uint32)
        epochs = t // self.layout.wrap
        return epochs, (t - epochs * self.layout.wrap).astype(np.uint32)

    def _overflow_word(self, counts: np.ndarray) -> np.ndarray:
        if self.layout.family in ("pt2", "pt3"):
            return np.full(counts.size, 0xF0000000, np.uint32)
        word = np.uint32(0x80000000 | (0x3F << 25))
        if self.layout.multi_wrap:
            return counts.astype(np.uint32) | word
        return np.full(counts.size, word, np.uint32)

    def _overflow_counts(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Overflow records needed for epoch jumps ``d`` (> 0): (records per jump, wraps per record)."""
        if self._max_wraps == 1:
            return d, np.ones(int(d.sum()), np.int64)
        k = -(-d // self._max_wraps)
        counts = np.full(int(k.sum()), self._max_wraps, np.int64)
        counts[np.cumsum(k) - 1] = d - (k - 1) * self._max_wraps
        return k, counts

    def _assemble(self, t: np.ndarray, epochs: np.ndarray, body: np.ndarray) -> np.ndarray:
        """Insert overflow records before the events (sorted times ``t``, their epochs, records ``body``)."""
        if t.size == 0:
            return np.zeros(0, np.uint32)
        d = np.diff(epochs, prepend=self.epoch)
        jumps = np.flatnonzero(d)
        self.epoch = int(epochs[-1])
        self.last_time = int(t[-1])
        if jumps.size == 0:
            return body
        k, counts = self._overflow_counts(d[jumps])
        # the m-th overflow record before event jumps[j] lands at jumps[j] + (records inserted before it)
        ovf_pos = np.repeat(jumps, k) + np.arange(counts.size)
        out = np.empty(t.size + counts.size, np.uint32)
        is_event = np.ones(out.size, bool)
        is_event[ovf_pos] = False
        out[is_event] = body
        out[ovf_pos] = self._overflow_word(counts)
        return out

    def advance_to(self, time: int) -> np.ndarray:
        """Overflow records that bring the stream's epoch up to ``time`` (e.g. the end of an acquisition
        with no photons near it), in the record type's time units. Returns uint32 records (maybe none)."""
        time = int(time)
        if time < self.last_time:
            raise ValueError(f"cannot advance to time {time}: events up to {self.last_time} already encoded")
        target = time // self.layout.wrap
        d = target - self.epoch
        self.last_time = time
        if d <= 0:
            return np.zeros(0, np.uint32)
        self.epoch = target
        return self._overflow_word(self._overflow_counts(np.array([d], np.int64))[1])

    def _merge(self, t_photon: np.ndarray, t_marker: np.ndarray | None,
               what: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Check sorting and merge photon and marker times: returns (times, order of [markers, photons]),
        markers first at equal times; order is None without markers."""
        for arr, name in ((t_photon, what), (t_marker, f"marker_{what}")):
            if arr is None or arr.size == 0:
                continue
            if int(arr[0]) < self.last_time:
                raise ValueError(f"{name} must not go back in time: first value {int(arr[0])} is before the "
                                 f"last one already encoded ({self.last_time})")
            if arr.size > 1:
                down = arr[1:] < arr[:-1]
                if down.any():
                    i = int(np.argmax(down))
                    raise ValueError(f"{name} must be sorted (non-decreasing): value {int(arr[i + 1])} at index "
                                     f"{i + 1} follows {int(arr[i])}")
        if t_marker is None or t_marker.size == 0:
            return t_photon, None
        t_all = np.concatenate([t_marker, t_photon])
        order = np.argsort(t_all, kind="stable")
        return t_all[order], order

    @staticmethod
    def _markers(marker_time, marker_bits, what: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        if marker_time is None and marker_bits is None:
            return None, None
        if marker_time is None or marker_bits is None:
            raise ValueError(f"marker_{what} and marker_bits must be given together")
        mt = _int_array(marker_time, f"marker_{what}").astype(np.int64, copy=False)
        mb = _int_array(marker_bits, "marker_bits")
        if mt.size != mb.size:
            raise ValueError(f"marker_{what} ({mt.size}) and marker_bits ({mb.size}) differ in length")
        _check_range(mt, 0, None, f"marker_{what}")
        _check_range(mb, 1, 15, "marker_bits")
        return mt, mb

    def _finish(self, t: np.ndarray, photon: np.ndarray, mt: np.ndarray | None, marker_body) -> np.ndarray:
        """Merge photon and marker records in time order and insert overflows."""
        t_all, order = self._merge(t, mt, "time" if self.mode == "T2" else "nsync")
        if order is None:
            return self._assemble(t, self._epochs(t), photon)
        _, m_field = self._epoch_field(mt)
        body = np.concatenate([marker_body(m_field), photon])[order]
        return self._assemble(t_all, self._epochs(t_all), body)


class T2Encoder(_Encoder):
    """Encode photon times (global-resolution units from the stream start) and channels as T2 records.

    Stateful: inserts overflow records as needed and continues the same stream across ``encode`` calls
    (times must not go back between calls). PicoHarp T2 markers carry their bits in the low 4 bits of the
    timetag, so their times decode with those bits replaced.
    """

    mode = "T2"

    def __init__(self, record_type: int = RECORD_TYPES["HydraHarp2T2"]):
        super().__init__(record_type)

    def encode(self, time: np.ndarray, channel: np.ndarray, marker_time=None, marker_bits=None) -> np.ndarray:
        """(time int, channel 0-based input[, marker times, marker bits 1-15]) -> uint32 records."""
        lay = self.layout
        t = _int_array(time, "time").astype(np.int64, copy=False)
        ch = _int_array(channel, "channel")
        if t.size != ch.size:
            raise ValueError(f"time ({t.size}) and channel ({ch.size}) differ in length")
        _check_range(t, 0, None, "time")
        _check_range(ch, 0, lay.n_channels - 1, "channel")
        mt, mb = self._markers(marker_time, marker_bits, "time")
        shift = np.uint32(28 if lay.family == "pt2" else 25)
        _, field = self._epoch_field(t)
        photon = (ch.astype(np.uint32) << shift) | field

        def marker_body(m_field: np.ndarray) -> np.ndarray:
            if lay.family == "pt2":
                return np.uint32(0xF0000000) | (m_field & np.uint32(0x0FFFFFF0)) | mb.astype(np.uint32)
            return np.uint32(0x80000000) | (mb.astype(np.uint32) << np.uint32(25)) | m_field

        return self._finish(t, photon, mt, marker_body)


class T3Encoder(_Encoder):
    """Encode T3 photons (sync index from the stream start, dtime in TCSPC bins, channel) as T3 records.

    Stateful like ``T2Encoder``: overflow records are inserted as needed and the stream continues across calls.
    """

    mode = "T3"

    def __init__(self, record_type: int = RECORD_TYPES["HydraHarp2T3"]):
        super().__init__(record_type)

    def encode(self, nsync: np.ndarray, dtime: np.ndarray, channel: np.ndarray, marker_nsync=None,
               marker_bits=None) -> np.ndarray:
        """(nsync, dtime bins, channel 0-based input[, marker nsync, marker bits 1-15]) -> uint32 records."""
        lay = self.layout
        s = _int_array(nsync, "nsync").astype(np.int64, copy=False)
        dt = _int_array(dtime, "dtime")
        ch = _int_array(channel, "channel")
        if not s.size == dt.size == ch.size:
            raise ValueError(f"nsync ({s.size}), dtime ({dt.size}) and channel ({ch.size}) differ in length")
        _check_range(s, 0, None, "nsync")
        _check_range(dt, 0, lay.dtime_bins - 1, "dtime", " bins")
        _check_range(ch, 0, lay.n_channels - 1, "channel")
        ms, mb = self._markers(marker_nsync, marker_bits, "nsync")
        _, field = self._epoch_field(s)
        if lay.family == "pt3":
            photon = ((ch.astype(np.uint32) + np.uint32(1)) << np.uint32(28)) | (dt.astype(np.uint32) << np.uint32(16))
        else:
            photon = (ch.astype(np.uint32) << np.uint32(25)) | (dt.astype(np.uint32) << np.uint32(10))
        photon |= field

        def marker_body(m_field: np.ndarray) -> np.ndarray:
            if lay.family == "pt3":
                return np.uint32(0xF0000000) | (mb.astype(np.uint32) << np.uint32(16)) | m_field
            return np.uint32(0x80000000) | (mb.astype(np.uint32) << np.uint32(25)) | m_field

        return self._finish(s, photon, ms, marker_body)


# ------------------------------------------------------------------------------------------------------
def decode_t2(records: np.ndarray, record_type: int | str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-shot ``T2Decoder(record_type).decode(records)``."""
    return T2Decoder(record_layout(record_type).code).decode(records)


def decode_t3(records: np.ndarray, record_type: int | str) -> tuple[np.ndarray, ...]:
    """One-shot ``T3Decoder(record_type).decode(records)``."""
    return T3Decoder(record_layout(record_type).code).decode(records)


def encode_t2(time: np.ndarray, channel: np.ndarray, marker_time=None, marker_bits=None,
              record_type: int | str = RECORD_TYPES["HydraHarp2T2"]) -> np.ndarray:
    """One-shot ``T2Encoder(record_type).encode(...)``."""
    return T2Encoder(record_layout(record_type).code).encode(time, channel, marker_time, marker_bits)


def encode_t3(nsync: np.ndarray, dtime: np.ndarray, channel: np.ndarray, marker_nsync=None, marker_bits=None,
              record_type: int | str = RECORD_TYPES["HydraHarp2T3"]) -> np.ndarray:
    """One-shot ``T3Encoder(record_type).encode(...)``."""
    return T3Encoder(record_layout(record_type).code).encode(nsync, dtime, channel, marker_nsync, marker_bits)
