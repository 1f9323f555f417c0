"""One measurement of the simulated PicoQuant unit: its times, its FIFO of TTTR records and their encoder;
and how one ReadFiFo call hands the FIFO out over the unit's link (``fifo_delivery``).

Times: ``start_s`` / ``end_s`` / ``done_s`` / ``stopped_s`` on the World's clock (s), ``start_ps`` and event
times in ps from clock zero. The FIFO holds uint32 records in the order the unit wrote them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.drivers.tttr import RECORD_TYPES, T2Encoder, T3Encoder  # the vendor record format (see picoquant.py)
from tepl.sims.picoquant_spec import MODE_T2, MODE_T3

USB_CHUNK_RECORDS = 128  # USB 3.0 HydraHarp: records cross the link in blocks of 128 (512 bytes)
USB2_READ_TIMEOUT_S = 0.010  # USB 2.0: ReadFiFo returns what it fetched within ~10 ms
LINKS = ("usb3", "usb2", "pcie")


def fifo_delivery(link: str, available: int, count: int, transfer_bytes_per_s: float) -> tuple[int, float]:
    """(records one ReadFiFo call hands out, seconds the call takes) for a FIFO holding ``available`` records
    and a buffer of ``count`` records, over the unit's ``link``:

    * "usb3" (HydraHarp 400 on USB 3.0): whole 128-record chunks; a remainder under 128 only when no full
      chunk is left in the FIFO;
    * "usb2" (HydraHarp 400 on USB 2.0): what the link moves within ~10 ms (the call then returns short,
      however much is still waiting);
    * "pcie" (TimeHarp 260): everything up to ``count``.
    """
    if link not in LINKS:
        raise ValueError(f"FIFO link {link!r} must be one of {LINKS}")
    n = min(int(available), int(count))
    transfer_s = 4.0 * n / transfer_bytes_per_s
    if link == "usb3" and n >= USB_CHUNK_RECORDS:
        n -= n % USB_CHUNK_RECORDS
        transfer_s = 4.0 * n / transfer_bytes_per_s
    elif link == "usb2" and transfer_s > USB2_READ_TIMEOUT_S:
        n = int(USB2_READ_TIMEOUT_S * transfer_bytes_per_s / 4.0)
        transfer_s = USB2_READ_TIMEOUT_S
    return n, transfer_s


def merge_sorted(time_ps: np.ndarray, channel: np.ndarray, other_ps: np.ndarray,
                  other_channel: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge two time-sorted event lists (the second all on ``other_channel``), earlier list first at ties."""
    if other_ps.size == 0:
        return time_ps, channel
    slots = np.searchsorted(other_ps, time_ps, side="left") + np.arange(time_ps.size)
    out_t = np.empty(time_ps.size + other_ps.size, np.int64)
    out_c = np.full(out_t.size, other_channel, np.int64)
    is_first = np.zeros(out_t.size, bool)
    is_first[slots] = True
    out_t[slots], out_c[slots] = time_ps, channel
    out_t[~is_first] = other_ps
    return out_t, out_c



class Measurement:
    """One StartMeas: its times (s), the divided sync grid, the pieces done, the FIFO and its encoder."""

    def __init__(self, start_s: float, tacq_ms: int, mode: int, record_type: str | None):
        self.start_s, self.end_s = start_s, start_s + tacq_ms / 1000.0
        self.start_ps = int(round(start_s * 1e12))
        self.mode = mode
        self.done_s = start_s  # photons up to here are processed
        self.stopped_s: float | None = None
        self.overrun = False
        self.fifo: list[np.ndarray] = []
        self.fifo_count = 0
        self.pending_ps = np.zeros(0, np.int64)  # measured times held back until no earlier event can come
        self.pending_ch = np.zeros(0, np.int64)
        self.released_ps = -(1 << 62)  # latest measured time already encoded
        self.encoder: Any = None
        if mode == MODE_T2:
            self.encoder = T2Encoder(RECORD_TYPES[record_type + "T2"])
        elif mode == MODE_T3:
            self.encoder = T3Encoder(RECORD_TYPES[record_type + "T3"])

    def running_at(self, now_s: float) -> bool:
        return self.stopped_s is None and now_s < self.end_s

    def last_s(self) -> float:
        """When data taking ends: the stop, the end of the acquisition time, whichever is first."""
        return self.end_s if self.stopped_s is None else min(self.stopped_s, self.end_s)


    def push(self, records: np.ndarray, capacity: int) -> bool:
        """Append ``records`` to the FIFO of ``capacity`` records; False (and the rest lost) when it overruns."""
        room = capacity - self.fifo_count
        fits = records.size <= room
        if not fits:
            records = records[:room]
            self.overrun = True
        if records.size:
            self.fifo.append(records)
            self.fifo_count += records.size
        return fits

    def pop(self, count: int) -> np.ndarray:
        """Take up to ``count`` records from the head of the FIFO (uint32, possibly empty)."""
        out, n = [], 0
        while self.fifo and n < count:
            head = self.fifo[0]
            take = min(count - n, head.size)
            out.append(head[:take])
            n += take
            if take == head.size:
                self.fifo.pop(0)
            else:
                self.fifo[0] = head[take:]
        self.fifo_count -= n
        return np.concatenate(out) if out else np.zeros(0, np.uint32)
