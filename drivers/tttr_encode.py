"""Encode photon tags as PicoQuant 32-bit TTTR records (numpy, vectorised), for any layout of
``tttr_layouts``: what the simulated TCSPC libraries put in their FIFO and the PTU export writes.

Times are integers in the record type's units (T2: global-resolution units from the stream start; T3: sync
periods from the stream start and dtimes in TCSPC bins). The encoders are stateful: they insert overflow
records as needed and continue one stream across ``encode`` calls (times must not go back between calls),
so a stream produced piece by piece is the one produced in one go.
"""

from __future__ import annotations

import numpy as np

from tepl.drivers.tttr_layouts import RECORD_TYPES, layout_for, record_layout


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
        self.layout = layout_for(record_type, self.mode)
        lay = self.layout
        # the most wraps one v2 overflow record can carry: a full time field (10-bit nsync / 25-bit timetag)
        self._max_wraps = lay.bits.time_mask if lay.multi_wrap else 1
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
        bits = self.layout.bits
        word = np.uint32(bits.special | (bits.overflow << bits.kind_shift))
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

    def _finish(self, t: np.ndarray, photon: np.ndarray, mt: np.ndarray | None, mb: np.ndarray | None) -> np.ndarray:
        """Merge photon and marker records (times ``mt``, bits ``mb``) in time order and insert overflows."""
        t_all, order = self._merge(t, mt, "time" if self.mode == "T2" else "nsync")
        if order is None:
            return self._assemble(t, self._epochs(t), photon)
        bits = self.layout.bits
        _, m_field = self._epoch_field(mt)
        marker = (np.uint32(bits.special) | (mb.astype(np.uint32) << np.uint32(bits.kind_shift))
                  | (m_field & np.uint32(bits.marker_time_mask)))
        body = np.concatenate([marker, photon])[order]
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
        _, field = self._epoch_field(t)
        photon = (ch.astype(np.uint32) << np.uint32(lay.bits.channel_shift)) | field
        return self._finish(t, photon, mt, mb)


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
        bits = lay.bits
        _, field = self._epoch_field(s)
        photon = (((ch.astype(np.uint32) + np.uint32(bits.channel_base)) << np.uint32(bits.channel_shift))
                  | (dt.astype(np.uint32) << np.uint32(bits.dtime_shift)))
        photon |= field
        return self._finish(s, photon, ms, mb)




def encode_t2(time: np.ndarray, channel: np.ndarray, marker_time=None, marker_bits=None,
              record_type: int | str = RECORD_TYPES["HydraHarp2T2"]) -> np.ndarray:
    """One-shot ``T2Encoder(record_type).encode(...)``."""
    return T2Encoder(record_layout(record_type).code).encode(time, channel, marker_time, marker_bits)


def encode_t3(nsync: np.ndarray, dtime: np.ndarray, channel: np.ndarray, marker_nsync=None, marker_bits=None,
              record_type: int | str = RECORD_TYPES["HydraHarp2T3"]) -> np.ndarray:
    """One-shot ``T3Encoder(record_type).encode(...)``."""
    return T3Encoder(record_layout(record_type).code).encode(nsync, dtime, channel, marker_nsync, marker_bits)
