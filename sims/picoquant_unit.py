"""The simulated PicoQuant TCSPC unit behind the library functions: its settings, the physics of its inputs
and the measurement engine that turns the World's photons into histograms or TTTR records.

Detector clicks come from ``world.detected_photons`` (times in ps from clock zero, 0-based detector), laser
pulses at multiples of ``world.laser.period_ps`` (none when the period is infinite: CW). Every input has a
hidden cable delay and the sync input one too (ground truth "tcspc"); the channel offsets add to them. An
input counts the pulses its discriminator level lies within. The running measurement is brought up to the
present in pieces of ``MIN_PIECE_S`` to ``PIECE_S`` (s) whenever the library is called. Units: ps for times
and offsets, mV for levels, s for the clock, counts per second for rates.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tepl.sims.faults import Faults
from tepl.sims.picoquant_fifo import LINKS, Measurement, merge_sorted
from tepl.sims.picoquant_spec import (
    FLAG_FIFOFULL,
    FLAG_OVERFLOW,
    FLAG_SYNC_LOST,
    HH_HEADER,
    MODE_HIST,
    MODE_T2,
    MODE_T3,
    STOPCNTMAX,
    TH260_HEADER,
    TH260_MODEL_NANO,
    TH260_MODEL_PICO,
    TTREADMIN,
    WARNING_DIVIDER_GREATER_ONE,
    WARNING_INPT_RATE_RATIO,
    WARNING_INPT_RATE_TOO_HIGH,
    WARNING_INPT_RATE_ZERO,
    WARNING_SYNC_RATE_TOO_HIGH,
    WARNING_SYNC_RATE_ZERO,
    WARNING_TIME_SPAN_TOO_SMALL,
    LibraryHeader,
)

PIECE_S = 0.05  # photons are taken from the World in pieces no longer than this
MIN_PIECE_S = 0.002  # and no shorter, except at the end: records reach the FIFO in blocks, as by DMA
JITTER_MARGIN_PS = 10_000  # a click may be timed this much before its piece starts (detector jitter)
RATE_GATE_S = 0.1  # count-rate meters integrate over 100 ms
T3_DTIME_BINS = 1 << 15  # 15-bit dtime field
SYNC_PLACEHOLDER = 62  # input number the T2 encoder writes sync events under before they become sync records

WARNING_TEXTS = {
    WARNING_SYNC_RATE_ZERO: "The sync rate is zero: no sync signal reaches the sync input.",
    WARNING_SYNC_RATE_TOO_HIGH: "The sync rate after the divider is too high for the unit: raise the divider.",
    WARNING_INPT_RATE_ZERO: "An enabled input counts nothing: check the detector, cable and level.",
    WARNING_INPT_RATE_TOO_HIGH: "An input counts faster than the unit can time: lower the light.",
    WARNING_INPT_RATE_RATIO: "An input counts more than 5 % of the sync rate: pile-up distorts the histogram.",
    WARNING_DIVIDER_GREATER_ONE: "In T2 mode the sync divider should be 1: sync events are recorded divided.",
    WARNING_TIME_SPAN_TOO_SMALL: "The histogram span is shorter than the sync period: photons are dropped.",
}



@dataclass(frozen=True)
class SimModel:
    """What a simulated unit reports and how it behaves; numbers without a header source are the simulator's."""

    name: str  # GetHardwareInfo model string
    spec: LibraryHeader
    library_version: str
    base_resolution_ps: float
    t2_resolution_ps: float
    trigger: str  # "cfd" (HydraHarp, TimeHarp 260 P) or "edge" (TimeHarp 260 N)
    fifo_records: int
    max_input_rate_per_s: float  # above this GetWarnings reports WARNING_INPT_RATE_TOO_HIGH
    max_sync_rate_per_s: float  # after the divider
    wire_time_s: float  # one library call
    transfer_bytes_per_s: float  # FIFO readout
    link: str = "pcie"  # how ReadFiFo hands records out: "usb3", "usb2" or "pcie" (picoquant_fifo.fifo_delivery)
    part_number: str = "SIM0001"
    hardware_version: str = "1.0"


HYDRAHARP_400 = SimModel("HydraHarp 400", HH_HEADER, "3.0", 1.0, 1.0, "cfd", fifo_records=1 << 21,
                         max_input_rate_per_s=12.5e6, max_sync_rate_per_s=12.5e6, wire_time_s=100e-6,
                         transfer_bytes_per_s=30e6, link="usb3")
TIMEHARP_260_P = SimModel(TH260_MODEL_PICO, TH260_HEADER, "3.1", 25.0, 25.0, "cfd", fifo_records=1 << 21,
                          max_input_rate_per_s=40e6, max_sync_rate_per_s=40e6, wire_time_s=10e-6,
                          transfer_bytes_per_s=100e6)
TIMEHARP_260_N = SimModel(TH260_MODEL_NANO, TH260_HEADER, "3.1", 250.0, 250.0, "edge", fifo_records=1 << 21,
                          max_input_rate_per_s=40e6, max_sync_rate_per_s=40e6, wire_time_s=10e-6,
                          transfer_bytes_per_s=100e6)



@dataclass
class Settings:
    """Everything Initialize resets (levels in the library's own sign convention)."""

    sync_level_mV: int
    sync_zero_cross_mV: int
    input_level_mV: list[int]
    input_zero_cross_mV: list[int]
    lencode: int
    input_offset_ps: list[int]
    enabled: list[bool]
    sync_divider: int = 1
    sync_offset_ps: int = 0
    binning: int = 0
    offset_ns: int = 0
    stop_overflow: bool = False
    stop_count: int = STOPCNTMAX
    marker_edges: tuple[int, ...] = (1, 1, 1, 1)
    marker_enable: tuple[int, ...] = (0, 0, 0, 0)
    lores: bool = False

    @classmethod
    def defaults(cls, n_inputs: int, spec: LibraryHeader) -> Settings:
        """Power-on values: 50 mV level and 10 mV zero cross (negative on the TimeHarp 260), no offsets."""
        sign = 1 if spec is HH_HEADER else -1
        return cls(sync_level_mV=50 * sign, sync_zero_cross_mV=10 * sign, input_level_mV=[50 * sign] * n_inputs,
                   input_zero_cross_mV=[10 * sign] * n_inputs, lencode=spec.max_lencode,
                   input_offset_ps=[0] * n_inputs, enabled=[True] * n_inputs)



class SimTcspcUnit:
    """One simulated PicoQuant unit (HydraHarp 400 or TimeHarp 260): state, physics and measurement engine."""

    def __init__(self, world: Any, model: SimModel, serial: str, n_channels: int, device_index: int = 0,
                 fifo_records: int | None = None, pulse_height_mV: float = 400.0,
                 sync_pulse_height_mV: float = 800.0, record_type: str = "", link: str | None = None):
        spec = model.spec
        if not 1 <= int(n_channels) <= spec.max_inputs:
            raise ValueError(f"a {model.name} has 1..{spec.max_inputs} inputs, not n_channels = {n_channels}")
        if not 0 <= int(device_index) < spec.max_devices:
            raise ValueError(f"device_index = {device_index} must be in 0..{spec.max_devices - 1}")
        if len(serial) > 8:
            raise ValueError(f"serial {serial!r} is longer than the 8 characters the library returns")
        self.world, self.model, self.spec = world, model, spec
        self.serial, self.n_channels, self.device_index = serial, int(n_channels), int(device_index)
        self.fifo_records = int(fifo_records if fifo_records is not None else model.fifo_records)
        if self.fifo_records < TTREADMIN:
            raise ValueError(f"fifo_records = {self.fifo_records} is below TTREADMIN = {TTREADMIN}")
        self.record_type = record_type
        self.link = model.link if link is None else link  # the HydraHarp 400 also runs on USB 2.0: "usb2"
        if self.link not in LINKS:
            raise ValueError(f"link = {self.link!r} must be one of {LINKS}")
        self._lock = threading.RLock()
        self.faults = Faults()  # off: see tepl.sims.picoquant_api
        self._open = self._initialized = False
        self._mode = MODE_HIST
        self._external_reference = False
        self._calibrated = False
        self._settings = Settings.defaults(self.n_channels, spec)
        self._flags = 0
        self._meas: Measurement | None = None
        self._histogram = np.zeros((self.n_channels, self._histogram_bins()), np.int64)
        self._rates_origin_s = 0.0
        self._rates_cache: dict[tuple, tuple[int, np.ndarray]] = {}
        self._settings_version = 0
        rng = world.rng(f"tcspc-{serial}")
        # cable and detector delays: the decays start a few ns into the TCSPC window, as on a real rig
        self.input_delay_ps = rng.integers(1500, 3001, self.n_channels).astype(np.int64)
        self.sync_delay_ps = int(rng.integers(0, 501))
        self.pulse_height_mV, self.sync_pulse_height_mV = float(pulse_height_mV), float(sync_pulse_height_mV)
        self._truth = {
            "model": model.name, "serial": serial, "n_channels": self.n_channels,
            "base_resolution_ps": model.base_resolution_ps, "t2_resolution_ps": model.t2_resolution_ps,
            "input_delay_ps": self.input_delay_ps.tolist(), "sync_delay_ps": self.sync_delay_ps,
            "pulse_height_mV": self.pulse_height_mV, "sync_pulse_height_mV": self.sync_pulse_height_mV,
            "fifo_records": self.fifo_records, "record_type": record_type, "fifo_link": self.link,
            "measurement_start_ps": None,
        }
        world.record_truth("tcspc", dict(self._truth))

    # ------------------------------------------------------------------ state
    def _histogram_bins(self) -> int:
        return 1024 << self._settings.lencode

    def _base_resolution_ps(self) -> float:
        return self.model.base_resolution_ps * (100.0 if self._settings.lores else 1.0)

    def _resolution_ps(self) -> float:
        """What GetResolution reports: base x 2**binning, in every mode. It is the TCSPC bin of histogram and
        T3 mode; in T2 mode it means nothing (the vendor demos call it "meaningful only in T3 mode")."""
        return self._base_resolution_ps() * 2.0**self._settings.binning

    def _t2_tag_unit_ps(self) -> float:
        """The unit of T2 time tags, ps: the base resolution whatever the binning (HydraHarp: 1 ps)."""
        return self.model.t2_resolution_ps

    def _changed(self) -> None:
        self._settings_version += 1

    # ------------------------------------------------------------------ physics
    def _period_ps(self) -> float:
        laser = getattr(self.world, "laser", None)
        period = float(getattr(laser, "period_ps", math.inf)) if laser is not None else math.inf
        return period if period > 0 else math.inf

    def _triggers(self, level_mV: float, height_mV: float) -> bool:
        """Whether a discriminator at ``level_mV`` (the library's sign convention) fires on the pulses."""
        if self.spec is HH_HEADER:
            return 0 <= level_mV < height_mV
        return -height_mV < level_mV < 0 if self.model.trigger == "edge" else -height_mV < level_mV <= 0

    def _sync_active(self) -> bool:
        return math.isfinite(self._period_ps()) and self._triggers(self._settings.sync_level_mV,
                                                                   self.sync_pulse_height_mV)

    def _input_triggers(self) -> np.ndarray:
        s = self._settings
        return np.array([self._triggers(s.input_level_mV[c], self.pulse_height_mV) for c in range(self.n_channels)])

    def _input_shift_ps(self) -> np.ndarray:
        return self.input_delay_ps + np.asarray(self._settings.input_offset_ps, np.int64)

    def _sync_shift_ps(self) -> int:
        return self.sync_delay_ps + self._settings.sync_offset_ps

    def _photons(self, t0_s: float, t1_s: float, enabled_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Clicks the unit registers between t0_s and t1_s: (measured time ps from clock zero, input)."""
        world = self.world
        if getattr(world, "laser", None) is None or getattr(world, "detection", None) is None or t1_s <= t0_s:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        time_ps, channel = world.detected_photons(t0_s, t1_s)
        channel = np.asarray(channel, np.int64)
        live = self._input_triggers()
        if enabled_only:
            live &= np.asarray(self._settings.enabled)
        keep = (channel >= 0) & (channel < self.n_channels)
        keep[keep] = live[channel[keep]]
        channel = channel[keep]
        return np.asarray(time_ps, np.int64)[keep] + self._input_shift_ps()[channel], channel

    def _sync_index(self, m: Measurement) -> tuple[int, float, float]:
        """(index k0 of the first sync pulse measured after the start, its measured time ps, divided period ps)."""
        period = self._period_ps()
        k0 = math.ceil((m.start_ps - self._sync_shift_ps()) / period)
        return k0, k0 * period + self._sync_shift_ps(), period * self._settings.sync_divider

    def _tcspc_bins(self, m: Measurement, time_ps: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(divided-sync index since the start, TCSPC bin) of each measured time; bin -1 when out of range."""
        if not self._sync_active():
            return np.zeros(time_ps.size, np.int64), np.full(time_ps.size, -1, np.int64)
        _, first_ps, divided_ps = self._sync_index(m)
        since = (time_ps - m.start_ps).astype(np.float64) - (first_ps - m.start_ps)
        nsync = np.floor(since / divided_ps)
        delay_ps = since - nsync * divided_ps - self._settings.offset_ns * 1000.0
        bins = np.floor(delay_ps / self._resolution_ps()).astype(np.int64)
        bins[(nsync < 0) | (bins < 0) | (bins >= n_bins)] = -1
        return nsync.astype(np.int64), bins

    # ------------------------------------------------------------------ the running measurement
    def _catch_up(self) -> None:
        """Process the photons of the running measurement up to now (or its end)."""
        m = self._meas
        if m is None:
            return
        until = min(self.world.clock.now(), m.last_s())
        if until < min(m.done_s + MIN_PIECE_S, m.last_s()):
            return
        while m.done_s < until and not m.overrun:
            t1 = min(until, m.done_s + PIECE_S)
            final = t1 >= m.last_s()
            time_ps, channel = self._photons(m.done_s, t1)
            if m.mode == MODE_HIST:
                self._add_to_histogram(m, time_ps, channel, t1)
            else:
                self._push(m, self._records(m, time_ps, channel, m.done_s, t1, final))
            m.done_s = t1

    def _add_to_histogram(self, m: Measurement, time_ps: np.ndarray, channel: np.ndarray, t1_s: float) -> None:
        n_bins = self._histogram.shape[1]
        _, bins = self._tcspc_bins(m, time_ps, n_bins)
        ok = bins >= 0
        flat = np.bincount(channel[ok] * n_bins + bins[ok], minlength=self._histogram.size)
        self._histogram += flat.reshape(self._histogram.shape)
        s = self._settings
        if s.stop_overflow and self._histogram.max(initial=0) >= s.stop_count:
            np.minimum(self._histogram, s.stop_count, out=self._histogram)
            self._flags |= FLAG_OVERFLOW
            m.stopped_s = t1_s  # the unit stops at the overflow

    def _records(self, m: Measurement, time_ps: np.ndarray, channel: np.ndarray, t0_s: float, t1_s: float,
                 final: bool) -> np.ndarray:
        """TTTR records of the events that can no longer be preceded by a later one, in time order."""
        time_ps = np.concatenate([m.pending_ps, time_ps])
        channel = np.concatenate([m.pending_ch, channel])
        order = np.argsort(time_ps, kind="stable")
        time_ps, channel = time_ps[order], channel[order]
        if m.mode == MODE_T2 and self._sync_active():
            time_ps, channel = merge_sorted(time_ps, channel, self._sync_times_ps(m, t0_s, t1_s), -1)
        elif m.mode == MODE_T3 and not self._sync_active():
            self._flags |= FLAG_SYNC_LOST
        if final:
            n_out = time_ps.size
        else:
            earliest_shift = min(int(self._input_shift_ps().min()), self._sync_shift_ps()) - JITTER_MARGIN_PS
            n_out = int(np.searchsorted(time_ps, int(round(t1_s * 1e12)) + earliest_shift))
        m.pending_ps, m.pending_ch = time_ps[n_out:], channel[n_out:]
        # a click jittered past the margin is timed with the last one encoded, never before it
        time_ps, channel = np.maximum(time_ps[:n_out], m.released_ps), channel[:n_out]
        if time_ps.size:
            m.released_ps = int(time_ps[-1])
        keep = time_ps >= m.start_ps
        time_ps, channel = time_ps[keep], channel[keep]
        if m.mode == MODE_T2:
            tags = (time_ps - m.start_ps) // int(round(self._t2_tag_unit_ps()))
            is_sync = channel < 0
            records = m.encoder.encode(tags, np.where(is_sync, SYNC_PLACEHOLDER, channel))
            placeholder = (records < np.uint32(0x80000000)) & ((records >> np.uint32(25)) == SYNC_PLACEHOLDER)
            records[placeholder] = np.uint32(0x80000000) | (records[placeholder] & np.uint32(0x1FFFFFF))
            return records
        nsync, bins = self._tcspc_bins(m, time_ps, T3_DTIME_BINS)
        ok = bins >= 0
        return m.encoder.encode(nsync[ok], bins[ok], channel[ok])

    def _sync_times_ps(self, m: Measurement, t0_s: float, t1_s: float) -> np.ndarray:
        """Measured times (ps) of the divided sync pulses the laser fires between t0_s and t1_s."""
        k0, _, _ = self._sync_index(m)
        period, d = self._period_ps(), self._settings.sync_divider
        k_lo = max(math.ceil(t0_s * 1e12 / period), k0)
        first = k0 + -(-(k_lo - k0) // d) * d
        ks = np.arange(first, math.ceil(t1_s * 1e12 / period), d, dtype=np.int64)
        return np.round(ks * period).astype(np.int64) + self._sync_shift_ps()

    def _push(self, m: Measurement, records: np.ndarray) -> None:
        if not m.push(records, self.fifo_records):
            self._flags |= FLAG_FIFOFULL

    # ------------------------------------------------------------------ count rates and warnings
    def _rates(self) -> tuple[int, np.ndarray]:
        """(sync rate /s, counts /s per input) of the last complete 100 ms gate; zeros before the first."""
        now = self.world.clock.now()
        gate = math.floor((now - self._rates_origin_s) / RATE_GATE_S + 1e-9) - 1
        key = (gate, self._rates_origin_s, self._settings_version)
        if key not in self._rates_cache:
            if gate < 0:
                result = (0, np.zeros(self.n_channels, np.int64))
            else:
                t0 = self._rates_origin_s + gate * RATE_GATE_S
                _, channel = self._photons(t0, t0 + RATE_GATE_S, enabled_only=False)
                counts = np.bincount(channel, minlength=self.n_channels)
                sync = int(round(1e12 / self._period_ps() / self._settings.sync_divider)) if self._sync_active() else 0
                result = (sync, np.round(counts / RATE_GATE_S).astype(np.int64))
            self._rates_cache = {key: result}
        return self._rates_cache[key]

    def _warnings(self) -> int:
        sync, rates = self._rates()
        s, bits = self._settings, 0
        timing = self._mode in (MODE_HIST, MODE_T3)
        enabled = np.asarray(s.enabled)
        if timing and sync == 0:
            bits |= WARNING_SYNC_RATE_ZERO
        if sync > self.model.max_sync_rate_per_s:
            bits |= WARNING_SYNC_RATE_TOO_HIGH
        if np.any(enabled & (rates == 0)):
            bits |= WARNING_INPT_RATE_ZERO
        if np.any(rates > self.model.max_input_rate_per_s):
            bits |= WARNING_INPT_RATE_TOO_HIGH
        if timing and sync > 0 and np.any(enabled & (rates > 0.05 * sync)):
            bits |= WARNING_INPT_RATE_RATIO
        if self._mode == MODE_T2 and s.sync_divider > 1:
            bits |= WARNING_DIVIDER_GREATER_ONE
        if timing and sync > 0:
            n_bins = self._histogram_bins() if self._mode == MODE_HIST else T3_DTIME_BINS
            if n_bins * self._resolution_ps() < 1e12 / sync:
                bits |= WARNING_TIME_SPAN_TOO_SMALL
        return bits

    def _stop_measurement(self) -> None:
        m = self._meas
        if m is not None and m.stopped_s is None:
            now = self.world.clock.now()
            if now < m.end_s:
                self._catch_up()
                m.stopped_s = now
                if m.mode in (MODE_T2, MODE_T3) and not m.overrun:  # the events held back go out now
                    empty = np.zeros(0, np.int64)
                    self._push(m, self._records(m, empty, empty, now, now, final=True))
