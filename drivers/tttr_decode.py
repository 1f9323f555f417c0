"""Decode PicoQuant 32-bit TTTR records to photon tags (numpy, vectorised), for any layout of
``tttr_layouts``.

T2 records become photon times in global-resolution units and 0-based detector inputs, T3 records sync
indices (sync periods), dtimes (TCSPC bins) and inputs; markers come out separately with their bits. The
decoders keep the overflow count between calls, so a stream read in FIFO chunks decodes piece by piece
exactly as in one go.

With numba (``tepl.kernels.ENABLED``) each record type decodes in one compiled pass
(``tepl.kernels.tttr``); the numpy path below gives identical results where numba is absent or switched off.
"""

from __future__ import annotations

import numpy as np

from tepl import kernels
from tepl.drivers.tttr_layouts import RecordLayout, layout_for, record_layout


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


class _Decoder:
    """What T2 and T3 decoding share: the photon records with their time field (timetag or nsync) moved on by
    the overflows, the special records told apart, and the overflow count kept across ``decode`` calls."""

    mode = ""

    def __init__(self, record_type: int):
        self.layout: RecordLayout = layout_for(record_type, self.mode)
        self.offset = 0  # accumulated overflow, time units of the record type

    def reset(self) -> None:
        """Start a new stream (overflow count back to zero)."""
        self.offset = 0

    def _records(self, records) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """uint32 records -> (photon records, their times with the overflows added, the kind field of each
        special record, times of the markers, marker bits uint8)."""
        lay = self.layout
        bits = lay.bits
        photons, sidx, spec = _split_special(_as_records(records), bits.special)
        time = (photons & np.uint32(bits.time_mask)).astype(np.int64)
        spec_time = (spec & np.uint32(bits.time_mask)).astype(np.int64)
        kind = (spec >> np.uint32(bits.kind_shift)) & np.uint32(bits.kind_mask)
        is_overflow = kind == bits.overflow
        is_marker = (kind >= 1) & (kind <= bits.last_marker)
        wraps = np.maximum(spec_time, 1) if lay.multi_wrap else 1
        inc = np.where(is_overflow, wraps * lay.wrap, 0)
        at_special, self.offset = _apply_offsets(sidx, inc, photons.size, self.offset, time)
        marker_time = spec_time[is_marker] + at_special[is_marker]
        return photons, time, kind, marker_time, kind[is_marker].astype(np.uint8)


class T2Decoder(_Decoder):
    """Decode T2 records to photon times and channels; keeps the overflow count across ``decode`` calls.

    ``time`` counts global-resolution units since the epoch of the first record decoded (the start of the
    stream); sync (HydraHarp-family special channel 0) and overflow records are consumed.
    """

    mode = "T2"

    def __init__(self, record_type: int):
        super().__init__(record_type)
        self.n_sync = 0  # sync records consumed so far (HydraHarp-family T2)

    def reset(self) -> None:
        """Start a new stream (overflow count back to zero)."""
        super().reset()
        self.n_sync = 0

    def decode(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """uint32 records -> (time int64 in global-resolution units since the first record's epoch,
        channel int8 = 0-based detector input, marker_time int64, marker_bits uint8)."""
        if kernels.ENABLED:
            return self._decode_compiled(_as_records(records))
        photons, time, kind, marker_time, marker_bits = self._records(records)
        if self.layout.family == "ht2":
            self.n_sync += int(np.count_nonzero(kind == 0))
        channel = (photons >> np.uint32(self.layout.bits.channel_shift)).astype(np.int8)
        return time, channel, marker_time, marker_bits

    def _decode_compiled(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        from tepl.kernels import tttr

        lay, b = self.layout, self.layout.bits
        n = records.size
        time, channel = np.empty(n, np.int64), np.empty(n, np.int8)
        k, m_time, m_bits, n_sync, self.offset = tttr.decode_t2(
            records, time, channel, self.offset, b.special, b.time_mask, b.channel_shift,
            b.kind_shift, b.kind_mask, b.overflow, b.last_marker, lay.wrap, lay.multi_wrap)
        if lay.family == "ht2":
            self.n_sync += int(n_sync)
        return time[:k], channel[:k], m_time, m_bits


class T3Decoder(_Decoder):
    """Decode T3 records to (sync index, dtime, channel); keeps the overflow count across ``decode`` calls.

    ``nsync`` counts sync periods since the epoch of the first record decoded; ``dtime`` is in TCSPC bins.
    PicoHarp T3 channel fields 1-4 become inputs 0-3 (an invalid field 0 or 5-14 reads as 4, as ptufile does).
    """

    mode = "T3"

    def decode(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """uint32 records -> (nsync int64, dtime int16, channel int8, marker_nsync int64, marker_bits uint8).

        dtime is int16 (as in ptufile): every PicoQuant T3 dtime field has at most 15 bits, 0..32767."""
        if kernels.ENABLED:
            return self._decode_compiled(_as_records(records))
        photons, nsync, _, marker_nsync, marker_bits = self._records(records)
        bits, n = self.layout.bits, self.layout.n_channels
        dtime = ((photons >> np.uint32(bits.dtime_shift)) & np.uint32(bits.dtime_mask)).astype(np.int16)
        channel = (photons >> np.uint32(bits.channel_shift)).astype(np.int8)
        if bits.channel_base:
            field = channel
            valid = (field >= bits.channel_base) & (field < bits.channel_base + n)
            channel = np.where(valid, field - bits.channel_base, np.int8(n)).astype(np.int8)
        return nsync, dtime, channel, marker_nsync, marker_bits

    def _decode_compiled(self, records: np.ndarray) -> tuple[np.ndarray, ...]:
        n = records.size
        return self._decode_into(records, np.empty(n, np.int64), np.empty(n, np.int16), np.empty(n, np.int8))

    def _decode_into(self, records: np.ndarray, nsync: np.ndarray, dtime: np.ndarray,
                     channel: np.ndarray) -> tuple[np.ndarray, ...]:
        """The compiled decode into arrays at least as long as ``records``; returns views of them (the kernel
        keeps the markers at the end of the first ``records.size`` entries of ``nsync`` and ``channel`` while it
        runs, so entries past the photons are scratch)."""
        from tepl.kernels import tttr

        lay, b = self.layout, self.layout.bits
        k, m_nsync, m_bits, self.offset = tttr.decode_t3(
            records, nsync, dtime, channel, self.offset, b.special, b.time_mask, b.dtime_shift,
            b.dtime_mask, b.channel_shift, b.channel_base, lay.n_channels, b.kind_shift, b.kind_mask, b.overflow,
            b.last_marker, lay.wrap, lay.multi_wrap)
        return nsync[:k], dtime[:k], channel[:k], m_nsync, m_bits


def decode_t2(records: np.ndarray, record_type: int | str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-shot ``T2Decoder(record_type).decode(records)``."""
    return T2Decoder(record_layout(record_type).code).decode(records)


def decode_t3(records: np.ndarray, record_type: int | str) -> tuple[np.ndarray, ...]:
    """One-shot ``T3Decoder(record_type).decode(records)``."""
    return T3Decoder(record_layout(record_type).code).decode(records)
