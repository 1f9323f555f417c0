"""Simulated PicoQuant TCSPC libraries: HHLib 3.0 (HydraHarp 400) and TH260Lib 3.1 (TimeHarp 260 P / N).

``SimHHLib`` and ``SimTH260Lib`` are Python objects with the libraries' C function names (``HH_StartMeas``,
``TH260_ReadFiFo``...), argument conventions (inputs as Python ints or ctypes simple objects, outputs through
``ctypes.byref``, char buffers from ``ctypes.create_string_buffer``, ``c_uint32`` arrays for the FIFO and
histograms) and return codes (0, or the negative codes of ``errorcodes.h``), so the driver code is the same
for the simulator and the rig. One unit sits at ``device_index``; the other indices answer "no device".

Physics: detector clicks come from ``world.detected_photons`` (times in ps from clock zero, 0-based
detector), laser pulses at multiples of ``world.laser.period_ps`` (none when the period is infinite: CW).
Every input has a hidden cable delay and the sync input one too (registered as ground truth "tcspc"); the
channel offsets set through the library add to them. An input counts the pulses its discriminator level
lies within (levels beyond the pulse height count nothing).

Time is the World's clock. ``StartMeas(tacq)`` notes the start; the measurement ends at start + tacq (or at
``StopMeas``). Each library call takes a little simulated time and first brings the measurement up to the
present: photons are taken from the World in pieces of ``MIN_PIECE_S`` to ``PIECE_S`` and turned into

* histogram mode: counts per input in ``HistoLen`` bins of base x 2**binning after the divided sync, minus
  the histogram offset (counts outside the range are dropped, as the hardware does);
* T2: time tags in units of the T2 resolution from the start, with sync records for every divided sync;
* T3: nsync (divided sync pulses since the start) and dtime in TCSPC bins (beyond 2**15 bins dropped),

encoded with ``tepl.drivers.tttr`` into records that wait in a FIFO of ``fifo_records``. When more arrive than
the FIFO holds, FLAG_FIFOFULL is set and recording stops (records already in the FIFO remain readable).
Count rates come from the photons of the last complete 100 ms gate after Initialize / SetSyncDiv (a
separate look at the World; the clock does not move); the sync rate is the laser rate / divider.

Layering: the simulator keeps its own table of the header constants (``picoquant_spec``) and imports nothing
from ``tepl.drivers`` except the TTTR record codec ``tepl.drivers.tttr``, which is the vendor's file format
shared by both ends (the unit encodes the records the driver decodes), not driver code.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tepl.drivers.tttr import RECORD_TYPES, T2Encoder, T3Encoder  # the one import from drivers: see above
from tepl.sims.andor import ArgError, c_array, set_out, set_text, val
from tepl.sims.picoquant_spec import (
    ACQTMAX_MS,
    ACQTMIN_MS,
    CHANOFFSMAX_PS,
    CHANOFFSMIN_PS,
    ERROR_DEVICE_BUSY,
    ERROR_DEVICE_NOT_OPEN,
    ERROR_DEVICE_OPEN_FAIL,
    ERROR_INVALID_ARGUMENT,
    ERROR_INVALID_MODE,
    ERROR_NOT_INITIALIZED,
    ERROR_UNSUPPORTED_FUNCTION,
    FLAG_FIFOFULL,
    FLAG_OVERFLOW,
    FLAG_SYNC_LOST,
    HH_DISCR_RANGE_MV,
    HH_FLAG_ACTIVE,
    HH_FLAG_REF_LOST,
    HH_HEADER,
    HH_ZC_RANGE_MV,
    MODE_HIST,
    MODE_T2,
    MODE_T3,
    STOPCNTMAX,
    STOPCNTMIN,
    TH260_CFD_LEVEL_RANGE_MV,
    TH260_CFD_ZC_RANGE_MV,
    TH260_HEADER,
    TH260_MODEL_NANO,
    TH260_MODEL_PICO,
    TH260_TRIGGER_LEVEL_RANGE_MV,
    TTREADMAX,
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
FEATURES = 0x0001 | 0x0002 | 0x0004  # FEATURE_DLL | FEATURE_TTTR | FEATURE_MARKERS

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
    part_number: str = "SIM0001"
    hardware_version: str = "1.0"


HYDRAHARP_400 = SimModel("HydraHarp 400", HH_HEADER, "3.0", 1.0, 1.0, "cfd", fifo_records=1 << 21,
                         max_input_rate_per_s=12.5e6, max_sync_rate_per_s=12.5e6, wire_time_s=100e-6,
                         transfer_bytes_per_s=30e6)
TIMEHARP_260_P = SimModel(TH260_MODEL_PICO, TH260_HEADER, "3.1", 25.0, 25.0, "cfd", fifo_records=1 << 21,
                          max_input_rate_per_s=40e6, max_sync_rate_per_s=40e6, wire_time_s=10e-6,
                          transfer_bytes_per_s=100e6)
TIMEHARP_260_N = SimModel(TH260_MODEL_NANO, TH260_HEADER, "3.1", 250.0, 250.0, "edge", fifo_records=1 << 21,
                          max_input_rate_per_s=40e6, max_sync_rate_per_s=40e6, wire_time_s=10e-6,
                          transfer_bytes_per_s=100e6)


def _merge_sorted(time_ps: np.ndarray, channel: np.ndarray, other_ps: np.ndarray,
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


def _int(arg: Any, position: int) -> int:
    """An int argument (Python int or ctypes integer); anything else is the library's invalid argument."""
    value = val(arg)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgError(position)
    return int(value)


def _in_range(value: int, low: int, high: int, position: int) -> int:
    if not low <= value <= high:
        raise ArgError(position)
    return value


class _Unsupported(Exception):
    """The function does not exist on this model (TH260Lib answers TH260_ERROR_UNSUPPORTED_FUNCTION)."""


def _api(needs: str = "init"):
    """Simulated library function: takes the call's wire time, checks the device state (``needs`` is
    "none", "open" or "init"), brings the measurement up to the present, maps argument errors to codes."""

    def wrap(fn):
        @functools.wraps(fn)
        def call(self, *args):
            with self._lock:
                self.world.clock.advance(self.model.wire_time_s)
                if needs != "none":
                    code = self._device_state(args[0] if args else None, needs)
                    if code:
                        return code
                    self._catch_up()
                try:
                    return fn(self, *args)
                except ArgError:
                    return ERROR_INVALID_ARGUMENT
                except _Unsupported:
                    return ERROR_UNSUPPORTED_FUNCTION

        return call

    return wrap


@dataclass
class _Settings:
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
    def defaults(cls, n_inputs: int, spec: LibraryHeader) -> _Settings:
        """Power-on values: 50 mV level and 10 mV zero cross (negative on the TimeHarp 260), no offsets."""
        sign = 1 if spec is HH_HEADER else -1
        return cls(sync_level_mV=50 * sign, sync_zero_cross_mV=10 * sign, input_level_mV=[50 * sign] * n_inputs,
                   input_zero_cross_mV=[10 * sign] * n_inputs, lencode=spec.max_lencode,
                   input_offset_ps=[0] * n_inputs, enabled=[True] * n_inputs)


class _Measurement:
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


class _SimPicoQuantLib:
    """The common part of the simulated HHLib and TH260Lib (one unit at ``device_index``)."""

    PREFIX = ""
    FUNCTIONS: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.FUNCTIONS:  # export the vendor's names: HH_OpenDevice -> _OpenDevice, ...
            setattr(cls, f"{cls.PREFIX}_{name}", getattr(cls, f"_{name}"))

    def __init__(self, world: Any, model: SimModel, serial: str, n_channels: int, device_index: int = 0,
                 fifo_records: int | None = None, pulse_height_mV: float = 400.0,
                 sync_pulse_height_mV: float = 800.0, record_type: str = ""):
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
        self._lock = threading.RLock()
        self._open = self._initialized = False
        self._mode = MODE_HIST
        self._external_reference = False
        self._calibrated = False
        self._settings = _Settings.defaults(self.n_channels, spec)
        self._flags = 0
        self._meas: _Measurement | None = None
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
            "fifo_records": self.fifo_records, "record_type": record_type, "measurement_start_ps": None,
        }
        world.record_truth("tcspc", dict(self._truth))

    # ------------------------------------------------------------------ state
    def _device_state(self, devidx: Any, needs: str) -> int:
        try:
            index = _int(devidx, 1)
        except ArgError:
            return ERROR_INVALID_ARGUMENT
        if not 0 <= index < self.spec.max_devices:
            return ERROR_INVALID_ARGUMENT
        if index != self.device_index or not self._open:
            return ERROR_DEVICE_NOT_OPEN
        if needs == "init" and not self._initialized:
            return ERROR_NOT_INITIALIZED
        return 0

    def _histogram_bins(self) -> int:
        return 1024 << self._settings.lencode

    def _base_resolution_ps(self) -> float:
        return self.model.base_resolution_ps * (100.0 if self._settings.lores else 1.0)

    def _resolution_ps(self) -> float:
        if self._mode == MODE_T2:
            return self.model.t2_resolution_ps
        return self._base_resolution_ps() * 2.0**self._settings.binning

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

    def _sync_index(self, m: _Measurement) -> tuple[int, float, float]:
        """(index k0 of the first sync pulse measured after the start, its measured time ps, divided period ps)."""
        period = self._period_ps()
        k0 = math.ceil((m.start_ps - self._sync_shift_ps()) / period)
        return k0, k0 * period + self._sync_shift_ps(), period * self._settings.sync_divider

    def _tcspc_bins(self, m: _Measurement, time_ps: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
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

    def _add_to_histogram(self, m: _Measurement, time_ps: np.ndarray, channel: np.ndarray, t1_s: float) -> None:
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

    def _records(self, m: _Measurement, time_ps: np.ndarray, channel: np.ndarray, t0_s: float, t1_s: float,
                 final: bool) -> np.ndarray:
        """TTTR records of the events that can no longer be preceded by a later one, in time order."""
        time_ps = np.concatenate([m.pending_ps, time_ps])
        channel = np.concatenate([m.pending_ch, channel])
        order = np.argsort(time_ps, kind="stable")
        time_ps, channel = time_ps[order], channel[order]
        if m.mode == MODE_T2 and self._sync_active():
            time_ps, channel = _merge_sorted(time_ps, channel, self._sync_times_ps(m, t0_s, t1_s), -1)
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
            tags = (time_ps - m.start_ps) // int(round(self._resolution_ps()))
            is_sync = channel < 0
            records = m.encoder.encode(tags, np.where(is_sync, SYNC_PLACEHOLDER, channel))
            placeholder = (records < np.uint32(0x80000000)) & ((records >> np.uint32(25)) == SYNC_PLACEHOLDER)
            records[placeholder] = np.uint32(0x80000000) | (records[placeholder] & np.uint32(0x1FFFFFF))
            return records
        nsync, bins = self._tcspc_bins(m, time_ps, T3_DTIME_BINS)
        ok = bins >= 0
        return m.encoder.encode(nsync[ok], bins[ok], channel[ok])

    def _sync_times_ps(self, m: _Measurement, t0_s: float, t1_s: float) -> np.ndarray:
        """Measured times (ps) of the divided sync pulses the laser fires between t0_s and t1_s."""
        k0, _, _ = self._sync_index(m)
        period, d = self._period_ps(), self._settings.sync_divider
        k_lo = max(math.ceil(t0_s * 1e12 / period), k0)
        first = k0 + -(-(k_lo - k0) // d) * d
        ks = np.arange(first, math.ceil(t1_s * 1e12 / period), d, dtype=np.int64)
        return np.round(ks * period).astype(np.int64) + self._sync_shift_ps()

    def _push(self, m: _Measurement, records: np.ndarray) -> None:
        room = self.fifo_records - m.fifo_count
        if records.size > room:
            records = records[:room]
            m.overrun = True
            self._flags |= FLAG_FIFOFULL
        if records.size:
            m.fifo.append(records)
            m.fifo_count += records.size

    def _pop(self, m: _Measurement, count: int) -> np.ndarray:
        out, n = [], 0
        while m.fifo and n < count:
            head = m.fifo[0]
            take = min(count - n, head.size)
            out.append(head[:take])
            n += take
            if take == head.size:
                m.fifo.pop(0)
            else:
                m.fifo[0] = head[take:]
        m.fifo_count -= n
        return np.concatenate(out) if out else np.zeros(0, np.uint32)

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

    # ================================================================== the library functions
    @_api("none")
    def _GetLibraryVersion(self, version: Any) -> int:
        set_text(version, self.model.library_version, 1)
        return 0

    @_api("none")
    def _GetErrorString(self, text: Any, code: Any) -> int:
        set_text(text, self.spec.error_name(_int(code, 2)), 1)
        return 0

    @_api("none")
    def _OpenDevice(self, devidx: Any, serial: Any) -> int:
        index = _in_range(_int(devidx, 1), 0, self.spec.max_devices - 1, 1)
        if index != self.device_index:
            set_text(serial, "", 2)
            return ERROR_DEVICE_OPEN_FAIL
        set_text(serial, self.serial, 2)
        self._open = True
        return 0

    @_api("none")
    def _CloseDevice(self, devidx: Any) -> int:
        index = _in_range(_int(devidx, 1), 0, self.spec.max_devices - 1, 1)
        if index == self.device_index:
            self._stop_measurement()
            self._open = self._initialized = False
        return 0

    def _initialize(self, mode: int) -> int:
        if mode not in (MODE_HIST, MODE_T2, MODE_T3):
            return ERROR_INVALID_MODE
        self._stop_measurement()
        self._meas = None
        self.world.clock.advance(0.2)  # FPGA set-up
        self._initialized, self._mode, self._calibrated = True, mode, False
        self._settings = _Settings.defaults(self.n_channels, self.spec)
        self._histogram = np.zeros((self.n_channels, self._histogram_bins()), np.int64)
        self._flags = HH_FLAG_REF_LOST if self._external_reference else 0
        self._rates_origin_s = self.world.clock.now()
        self._changed()
        return 0

    @_api()
    def _GetHardwareInfo(self, devidx: Any, model: Any, partno: Any, version: Any) -> int:
        set_text(model, self.model.name, 2)
        set_text(partno, self.model.part_number, 3)
        set_text(version, self.model.hardware_version, 4)
        return 0

    @_api()
    def _GetSerialNumber(self, devidx: Any, serial: Any) -> int:
        set_text(serial, self.serial, 2)
        return 0

    @_api()
    def _GetFeatures(self, devidx: Any, features: Any) -> int:
        set_out(features, FEATURES, 2)
        return 0

    @_api()
    def _GetBaseResolution(self, devidx: Any, resolution: Any, binsteps: Any) -> int:
        set_out(resolution, self._base_resolution_ps(), 2)
        set_out(binsteps, self.spec.max_binsteps, 3)
        return 0

    @_api()
    def _GetNumOfInputChannels(self, devidx: Any, n_channels: Any) -> int:
        set_out(n_channels, self.n_channels, 2)
        return 0

    # ------------------------------------------------------------------ inputs
    @_api()
    def _SetSyncDiv(self, devidx: Any, divider: Any) -> int:
        self._settings.sync_divider = _in_range(_int(divider, 2), *self.spec.syncdiv_range, 2)
        self._rates_origin_s = self.world.clock.now()  # the rate meter starts over
        self._changed()
        return 0

    def _cfd(self, level: Any, zero_cross: Any, first: int) -> tuple[int, int]:
        if self.model.trigger != "cfd":
            raise _Unsupported
        if self.spec is HH_HEADER:
            level_range, zc_range = HH_DISCR_RANGE_MV, HH_ZC_RANGE_MV
        else:
            level_range, zc_range = TH260_CFD_LEVEL_RANGE_MV, TH260_CFD_ZC_RANGE_MV
        return (_in_range(_int(level, first), *level_range, first),
                _in_range(_int(zero_cross, first + 1), *zc_range, first + 1))

    def _edge_trigger(self, level: Any, edge: Any, first: int) -> int:
        if self.model.trigger != "edge":
            raise _Unsupported
        _in_range(_int(edge, first + 1), 0, 1, first + 1)
        return _in_range(_int(level, first), *TH260_TRIGGER_LEVEL_RANGE_MV, first)

    @_api()
    def _SetSyncCFD(self, devidx: Any, level: Any, zero_cross: Any) -> int:
        s = self._settings
        s.sync_level_mV, s.sync_zero_cross_mV = self._cfd(level, zero_cross, 2)
        self._changed()
        return 0

    @_api()
    def _SetSyncEdgeTrg(self, devidx: Any, level: Any, edge: Any) -> int:
        self._settings.sync_level_mV = self._edge_trigger(level, edge, 2)
        self._changed()
        return 0

    @_api()
    def _SetSyncChannelOffset(self, devidx: Any, offset_ps: Any) -> int:
        self._settings.sync_offset_ps = _in_range(_int(offset_ps, 2), CHANOFFSMIN_PS, CHANOFFSMAX_PS, 2)
        self._changed()
        return 0

    def _channel(self, channel: Any, position: int) -> int:
        return _in_range(_int(channel, position), 0, self.n_channels - 1, position)

    @_api()
    def _SetInputCFD(self, devidx: Any, channel: Any, level: Any, zero_cross: Any) -> int:
        ch = self._channel(channel, 2)
        level_mV, zc_mV = self._cfd(level, zero_cross, 3)
        self._settings.input_level_mV[ch], self._settings.input_zero_cross_mV[ch] = level_mV, zc_mV
        self._changed()
        return 0

    @_api()
    def _SetInputEdgeTrg(self, devidx: Any, channel: Any, level: Any, edge: Any) -> int:
        ch = self._channel(channel, 2)
        self._settings.input_level_mV[ch] = self._edge_trigger(level, edge, 3)
        self._changed()
        return 0

    @_api()
    def _SetInputChannelOffset(self, devidx: Any, channel: Any, offset_ps: Any) -> int:
        ch = self._channel(channel, 2)
        self._settings.input_offset_ps[ch] = _in_range(_int(offset_ps, 3), CHANOFFSMIN_PS, CHANOFFSMAX_PS, 3)
        self._changed()
        return 0

    @_api()
    def _SetInputChannelEnable(self, devidx: Any, channel: Any, enable: Any) -> int:
        ch = self._channel(channel, 2)
        self._settings.enabled[ch] = bool(_in_range(_int(enable, 3), 0, 1, 3))
        self._changed()
        return 0

    # ------------------------------------------------------------------ histogram and timing settings
    @_api()
    def _SetStopOverflow(self, devidx: Any, stop: Any, stop_count: Any) -> int:
        s = self._settings
        s.stop_overflow = bool(_in_range(_int(stop, 2), 0, 1, 2))
        s.stop_count = _in_range(_int(stop_count, 3), STOPCNTMIN, STOPCNTMAX, 3)
        return 0

    @_api()
    def _SetBinning(self, devidx: Any, binning: Any) -> int:
        self._settings.binning = _in_range(_int(binning, 2), 0, self.spec.max_binsteps - 1, 2)
        self._changed()
        return 0

    @_api()
    def _SetOffset(self, devidx: Any, offset_ns: Any) -> int:
        self._settings.offset_ns = _in_range(_int(offset_ns, 2), *self.spec.offset_range_ns, 2)
        self._changed()
        return 0

    @_api()
    def _SetHistoLen(self, devidx: Any, lencode: Any, actual_length: Any) -> int:
        code = _in_range(_int(lencode, 2), 0, self.spec.max_lencode, 2)
        set_out(actual_length, 1024 << code, 3)
        if code != self._settings.lencode:
            self._settings.lencode = code
            self._histogram = np.zeros((self.n_channels, self._histogram_bins()), np.int64)
        return 0

    @_api()
    def _SetMeasControl(self, devidx: Any, control: Any, start_edge: Any, stop_edge: Any) -> int:
        if _int(control, 2) != 0:  # only MEASCTRL_SINGLESHOT_CTC: no external gating in the simulation
            raise ArgError(2)
        return 0

    @_api()
    def _SetMarkerEdges(self, devidx: Any, *edges: Any) -> int:
        self._settings.marker_edges = self._four(edges)
        return 0

    @_api()
    def _SetMarkerEnable(self, devidx: Any, *enable: Any) -> int:
        self._settings.marker_enable = self._four(enable)
        return 0

    @staticmethod
    def _four(values: tuple) -> tuple[int, ...]:
        if len(values) != 4:
            raise ArgError(min(len(values) + 2, 5))
        return tuple(_in_range(_int(v, i + 2), 0, 1, i + 2) for i, v in enumerate(values))

    @_api()
    def _SetMarkerHoldoffTime(self, devidx: Any, holdoff_ns: Any) -> int:
        _in_range(_int(holdoff_ns, 2), *self.spec.holdoff_range_ns, 2)
        return 0

    # ------------------------------------------------------------------ measurement
    @_api()
    def _ClearHistMem(self, devidx: Any) -> int:
        self._histogram[:] = 0
        return 0

    @_api()
    def _StartMeas(self, devidx: Any, tacq_ms: Any) -> int:
        tacq = _in_range(_int(tacq_ms, 2), ACQTMIN_MS, ACQTMAX_MS, 2)
        now = self.world.clock.now()
        if self._meas is not None and self._meas.running_at(now):
            return ERROR_DEVICE_BUSY
        self._flags = HH_FLAG_REF_LOST if self._external_reference else 0  # FIFO, overflow, sync flags clear
        self._meas = _Measurement(now, tacq, self._mode, self.record_type)
        self._truth["measurement_start_ps"] = self._meas.start_ps  # T2 tags count from here
        self.world.record_truth("tcspc", dict(self._truth))
        if self._mode == MODE_T3 and not self._sync_active():
            self._flags |= FLAG_SYNC_LOST
        return 0

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

    @_api()
    def _StopMeas(self, devidx: Any) -> int:
        self._stop_measurement()
        return 0

    @_api()
    def _CTCStatus(self, devidx: Any, status: Any) -> int:
        m = self._meas
        set_out(status, int(m is None or not m.running_at(self.world.clock.now())), 2)
        return 0

    @_api()
    def _GetElapsedMeasTime(self, devidx: Any, elapsed: Any) -> int:
        m = self._meas
        ms = 0.0 if m is None else (min(self.world.clock.now(), m.last_s()) - m.start_s) * 1000.0
        set_out(elapsed, ms, 2)
        return 0

    @_api()
    def _GetHistogram(self, devidx: Any, counts: Any, channel: Any, clear: Any) -> int:
        if self._mode != MODE_HIST:
            return ERROR_INVALID_MODE
        ch = self._channel(channel, 3)
        do_clear = bool(_in_range(_int(clear, 4), 0, 1, 4))
        n_bins = self._histogram.shape[1]
        out = c_array(counts, n_bins, np.uint32, 2)
        out[:n_bins] = np.minimum(self._histogram[ch], 0xFFFFFFFF).astype(np.uint32)
        if do_clear:
            self._histogram[ch] = 0
        return 0

    @_api()
    def _ReadFiFo(self, devidx: Any, buffer: Any, count: Any, n_actual: Any) -> int:
        if self._mode not in (MODE_T2, MODE_T3):
            return ERROR_INVALID_MODE
        n_max = _in_range(_int(count, 3), TTREADMIN, TTREADMAX, 3)
        out = c_array(buffer, n_max, np.uint32, 2)
        records = self._pop(self._meas, n_max) if self._meas is not None else np.zeros(0, np.uint32)
        out[: records.size] = records
        set_out(n_actual, int(records.size), 4)
        self.world.clock.advance(4.0 * records.size / self.model.transfer_bytes_per_s)
        return 0

    # ------------------------------------------------------------------ readings
    @_api()
    def _GetResolution(self, devidx: Any, resolution: Any) -> int:
        set_out(resolution, self._resolution_ps(), 2)
        return 0

    @_api()
    def _GetSyncRate(self, devidx: Any, rate: Any) -> int:
        set_out(rate, self._rates()[0], 2)
        return 0

    @_api()
    def _GetCountRate(self, devidx: Any, channel: Any, rate: Any) -> int:
        ch = self._channel(channel, 2)
        set_out(rate, int(self._rates()[1][ch]), 3)
        return 0

    @_api()
    def _GetSyncPeriod(self, devidx: Any, period: Any) -> int:
        sync = self._sync_active()
        set_out(period, self._period_ps() * self._settings.sync_divider * 1e-12 if sync else 0.0, 2)
        return 0

    @_api()
    def _GetFlags(self, devidx: Any, flags: Any) -> int:
        value = self._flags
        m = self._meas
        if self.spec is HH_HEADER and m is not None and m.running_at(self.world.clock.now()):
            value |= HH_FLAG_ACTIVE
        set_out(flags, value, 2)
        return 0

    @_api()
    def _GetWarnings(self, devidx: Any, warnings: Any) -> int:
        set_out(warnings, self._warnings(), 2)
        return 0

    @_api()
    def _GetWarningsText(self, devidx: Any, text: Any, warnings: Any) -> int:
        bits = _int(warnings, 3)
        lines = [f"{self.spec.warnings[b]}: {WARNING_TEXTS.get(b, '')}".rstrip(": ")
                 for b in sorted(self.spec.warnings) if bits & b]
        set_text(text, "\n".join(lines), 2)
        return 0


class SimHHLib(_SimPicoQuantLib):
    """HHLib 3.0 with one HydraHarp 400 (1 ps base resolution, CFD inputs, 2 M-record FIFO)."""

    PREFIX = "HH"
    FUNCTIONS = (
        "GetLibraryVersion", "GetErrorString", "OpenDevice", "CloseDevice", "Initialize", "GetHardwareInfo",
        "GetSerialNumber", "GetFeatures", "GetBaseResolution", "GetNumOfInputChannels", "Calibrate",
        "SetSyncDiv", "SetSyncCFD", "SetSyncChannelOffset", "SetInputCFD", "SetInputChannelOffset",
        "SetInputChannelEnable", "SetStopOverflow", "SetBinning", "SetOffset", "SetHistoLen", "SetMeasControl",
        "ClearHistMem", "StartMeas", "StopMeas", "CTCStatus", "GetHistogram", "GetResolution", "GetSyncRate",
        "GetCountRate", "GetFlags", "GetElapsedMeasTime", "GetWarnings", "GetWarningsText", "GetSyncPeriod",
        "ReadFiFo", "SetMarkerEdges", "SetMarkerEnable", "SetMarkerHoldoffTime",
    )

    def __init__(self, world: Any, serial: str = "1043210", n_channels: int = 2, device_index: int = 0,
                 fifo_records: int | None = None, **options: Any):
        super().__init__(world, HYDRAHARP_400, serial, n_channels, device_index, fifo_records,
                         record_type="HydraHarp2", **options)

    @_api("open")
    def _Initialize(self, devidx: Any, mode: Any, refsource: Any) -> int:
        mode_code = _int(mode, 2)
        self._external_reference = bool(_in_range(_int(refsource, 3), 0, 1, 3))
        return self._initialize(mode_code)

    @_api()
    def _Calibrate(self, devidx: Any) -> int:
        self.world.clock.advance(0.05)
        self._calibrated = True
        return 0


class SimTH260Lib(_SimPicoQuantLib):
    """TH260Lib 3.1 with one TimeHarp 260: model "TimeHarp 260 P" (25 ps, CFD inputs) or "TimeHarp 260 N"
    (250 ps, edge-trigger inputs), one or two inputs."""

    PREFIX = "TH260"
    FUNCTIONS = (
        "GetLibraryVersion", "GetErrorString", "OpenDevice", "CloseDevice", "Initialize", "GetHardwareInfo",
        "GetSerialNumber", "GetFeatures", "GetBaseResolution", "GetNumOfInputChannels", "SetSyncDiv",
        "SetSyncCFD", "SetSyncEdgeTrg", "SetSyncChannelOffset", "SetInputCFD", "SetInputEdgeTrg",
        "SetInputChannelOffset", "SetInputChannelEnable", "SetTimingMode", "SetStopOverflow", "SetBinning",
        "SetOffset", "SetHistoLen", "SetMeasControl", "ClearHistMem", "StartMeas", "StopMeas", "CTCStatus",
        "GetHistogram", "GetResolution", "GetSyncRate", "GetCountRate", "GetFlags", "GetElapsedMeasTime",
        "GetWarnings", "GetWarningsText", "GetSyncPeriod", "ReadFiFo", "SetMarkerEdges", "SetMarkerEnable",
        "SetMarkerHoldoffTime",
    )
    MODELS = {TH260_MODEL_PICO: TIMEHARP_260_P, TH260_MODEL_NANO: TIMEHARP_260_N}

    def __init__(self, world: Any, model: str = TH260_MODEL_PICO, serial: str = "1500123", n_channels: int = 2,
                 device_index: int = 0, fifo_records: int | None = None, **options: Any):
        if model not in self.MODELS:
            raise ValueError(f"TimeHarp 260 model {model!r} must be one of {sorted(self.MODELS)}")
        super().__init__(world, self.MODELS[model], serial, n_channels, device_index, fifo_records,
                         record_type="TimeHarp260N" if model == TH260_MODEL_NANO else "TimeHarp260P", **options)

    @_api("open")
    def _Initialize(self, devidx: Any, mode: Any) -> int:
        return self._initialize(_int(mode, 2))

    @_api()
    def _SetTimingMode(self, devidx: Any, mode: Any) -> int:
        if self.model.trigger != "cfd":
            raise _Unsupported
        self._settings.lores = bool(_in_range(_int(mode, 2), 0, 1, 2))
        self._changed()
        return 0
