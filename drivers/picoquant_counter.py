"""The ``PhotonCounter`` role (``tepl.roles``) on a PicoQuant HydraHarp 400 or TimeHarp 260
(``tepl.drivers.picoquant``): count rates, histograms, and T2 and T3 streams read from the FIFO and decoded
with ``tepl.drivers.tttr_decode``. Units: mV for discriminator levels, ps for channel offsets and resolutions, ns for
the histogram offset, s for everything the role exposes.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tepl.drivers.picoquant import PicoQuantTcspc
from tepl.drivers.picoquant_lib import ACQTMAX_MS, ACQTMIN_MS, FLAG_FIFOFULL, TTREADMAX, bit_names
from tepl.drivers.polling import Wait
from tepl.drivers.tttr_decode import T2Decoder, T3Decoder
from tepl.drivers.tttr_layouts import RECORD_TYPES
from tepl.roles import DeviceError, PhotonCounter, Range, T2Block, T3Block


class TcspcCounter(PhotonCounter):
    """The ``PhotonCounter`` role on a HydraHarp 400 or TimeHarp 260.

    ``sleep`` waits between FIFO reads (``time.sleep`` on the rig, ``world.clock.advance`` in simulation);
    ``acquisition_s`` bounds every acquisition time. Discriminator levels
    are magnitudes in mV of the negative detector / sync pulses (NIM): the HydraHarp takes them as they
    are, the TimeHarp 260 P as negative CFD levels, the 260 N as falling-edge trigger levels.
    ``channel_offsets_ps`` delays each input (like a cable). ``histogram_length_code`` sets 1024 * 2**code
    bins for histogram mode (default: the unit's maximum). ``record_type`` is the name prefix of the TTTR
    records the unit writes (``tepl.drivers.tttr_layouts.RECORD_TYPES`` without the "T2"/"T3"; default: the unit's).

    The unit is initialised into a mode only when the mode changes; each initialisation is followed by the
    full configuration and a ``rate_settle_s`` wait so that count rates are valid. T2/T3 streams are read
    every ``fifo_poll_s`` at most (the FIFO must not overflow) and handed out in blocks of ``block_s``.

    Every measurement waits for CTCStatus at most its acquisition time + ``timeout_margin_s`` (s), both in
    device time (the sleeps) and in wall-clock time (for a stream: the time spent in the driver, not in the
    consumer of its blocks); then the measurement is stopped and a ``WaitTimeout`` (a ``DeviceError``)
    names the unit, its library and the wait.
    """

    def __init__(self, device: PicoQuantTcspc, sleep: Callable[[float], None], acquisition_s: Range,
                 max_count_rate_per_s: float | None = None,
                 sync_divider: int = 1, sync_level_mV: float = 50.0, sync_zero_cross_mV: float = 10.0,
                 input_levels_mV: Sequence[float] | None = None, input_zero_cross_mV: float = 10.0,
                 binning: int = 0, offset_ns: float = 0.0, channel_offsets_ps: Sequence[float] | None = None,
                 histogram_length_code: int | None = None, record_type: str | None = None,
                 fifo_poll_s: float = 0.05, rate_settle_s: float = 0.15, timeout_margin_s: float = 10.0):
        super().__init__(acquisition_s, max_count_rate_per_s)
        if acquisition_s.low < ACQTMIN_MS / 1000.0 or acquisition_s.high > ACQTMAX_MS / 1000.0:
            raise ValueError(f"acquisition range [{acquisition_s.low:g}, {acquisition_s.high:g}] s exceeds what "
                             f"the unit can time ([{ACQTMIN_MS / 1000:g}, {ACQTMAX_MS / 1000:g}] s)")
        if not (fifo_poll_s > 0 and rate_settle_s >= 0):
            raise ValueError(f"fifo_poll_s = {fifo_poll_s} s must be > 0 and rate_settle_s = {rate_settle_s} s "
                             f">= 0")
        if not (math.isfinite(timeout_margin_s) and timeout_margin_s > 0):
            raise ValueError(f"timeout_margin_s = {timeout_margin_s} s must be a positive number of seconds")
        sync_divider = device.check_sync_divider(sync_divider, "sync_divider")  # before the unit is opened
        self.device, self.sleep = device, sleep
        self.timeout_margin_s = float(timeout_margin_s)
        self.fifo_poll_s, self.rate_settle_s = float(fifo_poll_s), float(rate_settle_s)
        self._mode: str | None = None
        self.library_version = device.library_version()
        self.serial_number = device.open()
        device.initialize("hist")
        info = device.hardware_info()
        self.model, self.part_number, self.hardware_version = info["model"], info["part_number"], info["version"]
        self.base_resolution_ps, self.binning_steps = device.base_resolution()
        n = device.n_inputs
        for what, value in (("sync level", sync_level_mV), ("sync zero cross", sync_zero_cross_mV),
                            ("input zero cross", input_zero_cross_mV)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{what} = {value} mV must be given as a magnitude (>= 0 mV)")
        levels = [50.0] * n if input_levels_mV is None else [float(v) for v in input_levels_mV]
        offsets = [0.0] * n if channel_offsets_ps is None else [float(v) for v in channel_offsets_ps]
        for what, values in (("input_levels_mV", levels), ("channel_offsets_ps", offsets)):
            if len(values) != n:
                raise ValueError(f"{what} needs {n} values (one per input of the {self.model}), got {len(values)}")
        if any(not (math.isfinite(v) and v >= 0) for v in levels):
            raise ValueError(f"input_levels_mV = {levels} must be magnitudes (>= 0 mV)")
        self.sync_divider = int(sync_divider)
        self.sync_level_mV, self.sync_zero_cross_mV = float(sync_level_mV), float(sync_zero_cross_mV)
        self.input_levels_mV, self.input_zero_cross_mV = levels, float(input_zero_cross_mV)
        self.channel_offsets_ps = offsets
        self.binning, self.offset_ns = int(binning), float(offset_ns)
        self.histogram_length_code = device.spec.max_lencode if histogram_length_code is None \
            else int(histogram_length_code)
        prefix = record_type or device.record_type_prefix()
        for suffix in ("T2", "T3"):
            if prefix + suffix not in RECORD_TYPES:
                prefixes = sorted({name[:-2] for name in RECORD_TYPES})
                raise ValueError(f"record_type {prefix!r} is not a TTTR record family; one of {prefixes}")
        self.record_type = prefix
        self._configure("hist")
        self._mode = "hist"

    # ------------------------------------------------------------------ set-up
    def _configure(self, mode: str) -> None:
        """Everything Initialize reset: calibration, sync, inputs, TCSPC window; then wait for valid rates."""
        dev = self.device
        dev.calibrate()
        dev.set_sync_divider(self.sync_divider)
        dev.set_sync_discriminator(self.sync_level_mV, self.sync_zero_cross_mV)
        dev.set_sync_channel_offset_ps(0)
        for ch in range(self.n_channels):
            dev.set_input_discriminator(ch, self.input_levels_mV[ch], self.input_zero_cross_mV)
            dev.set_channel_offset_ps(ch, round(self.channel_offsets_ps[ch]))
            dev.enable_channel(ch, True)
        dev.set_binning(self.binning)
        dev.set_offset_ns(round(self.offset_ns))
        if mode == "hist":
            dev.set_histogram_length(self.histogram_length_code)
            dev.set_stop_overflow(False)
        self.sleep(self.rate_settle_s)

    def _ensure_mode(self, mode: str) -> None:
        """Initialise into ``mode`` and configure, unless the unit is configured in it already."""
        if self._mode != mode:
            self._mode = None
            self.device.initialize(mode)
            self._configure(mode)
            self._mode = mode

    # ------------------------------------------------------------------ information
    @property
    def n_channels(self) -> int:
        return self.device.n_inputs

    def count_rates(self) -> tuple[float, np.ndarray]:
        """(sync rate Hz after the divider, counts/s on every input) as the unit reports them."""
        sync = float(self.device.sync_rate_hz())
        return sync, np.array([self.device.count_rate_hz(ch) for ch in range(self.n_channels)], float)

    def t2_resolution_ps(self) -> float:
        """The unit of T2 time tags, ps: the base resolution, whatever the binning."""
        return self.base_resolution_ps

    def resolution_ps(self) -> float:
        """In histogram and T3 mode the TCSPC bin width, ps (GetResolution: base resolution x 2**binning); in
        T2 mode the time-tag unit, ps: the base resolution, whatever the binning."""
        if self._mode == "t2":
            return self.base_resolution_ps
        return self.device.resolution_ps()

    def sync_period_ps(self) -> float:
        """Time between the sync pulses the unit counts (laser period x divider), ps; inf without sync."""
        period_s = self.device.sync_period_s()
        return period_s * 1e12 if period_s > 0 and math.isfinite(period_s) else math.inf

    def warnings(self) -> list[str]:
        """The unit's warnings (rates read first, as the library asks), one sentence each."""
        self.count_rates()
        bits = self.device.warnings()
        if not bits:
            return []
        lines = [line.strip() for line in self.device.warnings_text(bits).splitlines() if line.strip()]
        return lines or bit_names(bits, self.device.spec.warnings)

    # ------------------------------------------------------------------ measurements
    def stop(self) -> None:
        """StopMeas; nothing to stop while the unit is not initialised."""
        if self.device.mode is not None:
            self.device.stop()

    def close(self) -> None:
        """Stop and release the unit (CloseDevice); a new TcspcCounter opens it again."""
        try:
            self.stop()
        finally:
            self.device.close()
            self._mode = None

    def disconnect(self) -> None:
        """The station's release: ``close``."""
        self.close()

    def _acquisition_ms(self, acquisition_s: float) -> int:
        return max(ACQTMIN_MS, int(round(acquisition_s * 1000.0)))

    def _check_flags(self) -> None:
        flags = self.device.flags()
        if flags & FLAG_FIFOFULL:
            raise DeviceError(f"{self.model} FIFO overrun (FLAG_FIFOFULL): records were lost; read the FIFO "
                              f"more often (fifo_poll_s = {self.fifo_poll_s:g} s) or lower the count rates")

    def _wait(self, mode: str, acquisition_s: float) -> Wait:
        """The bounded wait for the end of one measurement (acquisition time + ``timeout_margin_s``)."""
        return Wait(f"{self.model} {self.device.where}",
                    f"the end of a {acquisition_s:g} s {mode} measurement (CTCStatus)",
                    acquisition_s + self.timeout_margin_s, self.sleep)

    def _stop_after_error(self) -> None:
        """StopMeas on the way out of a failed measurement; a unit that does not answer any more must not
        hide the error that ended the measurement."""
        with contextlib.suppress(DeviceError, OSError):
            self.device.stop()

    def _do_histograms(self, acquisition_s: float) -> np.ndarray:
        self._ensure_mode("hist")
        dev = self.device
        dev.clear_histogram_memory()
        dev.start(self._acquisition_ms(acquisition_s))
        try:
            step_s = min(max(acquisition_s / 10.0, 0.005), 0.5)  # about ten looks at the rates
            wait = self._wait("histogram", acquisition_s)
            while not dev.ctc_done():
                wait.check(detail="the measurement was stopped (StopMeas)")
                wait.pause(step_s)
                if self.max_count_rate_per_s is not None and not dev.ctc_done():
                    self.check_count_rates()  # LimitError here; the measurement stops below
            histograms = np.stack([dev.histogram(ch).astype(np.int64) for ch in range(self.n_channels)])
        except BaseException:  # a timeout, a limit, Ctrl-C: the unit stops, the error goes on
            self._stop_after_error()
            raise
        dev.stop()
        return histograms

    def _do_iter(self, mode: str, acquisition_s: float, block_s: float) -> Iterator[T2Block | T3Block]:
        if mode not in ("t2", "t3"):
            raise ValueError(f"stream mode {mode!r} must be 't2' or 't3'")
        if not (block_s > 0 and math.isfinite(block_s)):
            raise ValueError(f"block length block_s = {block_s} s must be a positive number of seconds")
        self._ensure_mode(mode)
        dev = self.device
        if mode == "t2":  # T2 tags count the base resolution; GetResolution's binned value does not apply
            self.base_resolution_ps, self.binning_steps = dev.base_resolution()
            resolution_ps = self.base_resolution_ps
        else:
            resolution_ps = dev.resolution_ps()
        sync_period_ps = math.inf
        if mode == "t3":
            sync_hz = dev.sync_rate_hz()
            sync_period_ps = self.sync_period_ps()
            if sync_hz <= 0 or not math.isfinite(sync_period_ps):
                raise DeviceError(f"T3 mode needs a sync signal, but the {self.model} sync input counts "
                                  f"{sync_hz} /s: connect the laser's sync output (or use T2 mode)")
        decoder: Any = T3Decoder(RECORD_TYPES[self.record_type + "T3"]) if mode == "t3" \
            else T2Decoder(RECORD_TYPES[self.record_type + "T2"])
        buffer = (ctypes.c_uint32 * TTREADMAX)()
        n_ch = self.n_channels
        dev.start(self._acquisition_ms(acquisition_s))
        try:
            wait = self._wait(mode.upper(), acquisition_s)
            elapsed_s, done = 0.0, False
            while not done:
                chunks, waited_s = [], 0.0
                while waited_s < block_s and not done:
                    wait.check(detail="the measurement was stopped (StopMeas)")
                    step = min(self.fifo_poll_s, block_s - waited_s)
                    wait.pause(step)
                    waited_s += step
                    done = dev.ctc_done()  # asked before the drain: once set, nothing arrives after it
                    self._check_flags()
                    chunks.extend(self._drain(buffer, wait, to_empty=done))
                now_s = min(dev.elapsed_ms() / 1000.0, acquisition_s) if not done else acquisition_s
                duration_s, elapsed_s = max(now_s - elapsed_s, 0.0), max(now_s, elapsed_s)
                records = np.concatenate(chunks) if chunks else np.zeros(0, np.uint32)
                with wait.outside():  # the consumer's time is not the unit's
                    yield self._block(mode, decoder, records, n_ch, duration_s, resolution_ps, sync_period_ps)
        except BaseException:  # a timeout, an overrun, Ctrl-C, the consumer closing the stream early
            self._stop_after_error()
            raise
        dev.stop()

    def _drain(self, buffer: Any, wait: Wait, to_empty: bool) -> list[np.ndarray]:
        """Read the FIFO. While the measurement runs (``to_empty`` False), until a read delivers less than a
        full buffer: what is left waits for the next poll. Once CTCStatus has said done (``to_empty``), until a
        read delivers 0 records, as the vendor's loop does: a short read is not an empty FIFO (USB 3.0 hands
        out 128-record chunks before the remainder, USB 2.0 returns after ~10 ms). Within ``wait``'s
        wall-clock deadline: a unit that keeps delivering past it is stopped."""
        chunks = []
        while True:
            records = self.device.read_fifo(buffer)
            if records.size == 0:
                return chunks
            chunks.append(records)
            if not to_empty and records.size < len(buffer):
                return chunks
            wait.check(detail="the FIFO was still delivering records; the measurement was stopped")

    @staticmethod
    def _block(mode: str, decoder: Any, records: np.ndarray, n_ch: int, duration_s: float, resolution_ps: float,
               sync_period_ps: float) -> T2Block | T3Block:
        if mode == "t2":
            tags, channel, _, _ = decoder.decode(records)
            keep = (channel >= 0) & (channel < n_ch)
            time_ps = np.round(tags[keep] * resolution_ps).astype(np.int64)
            return T2Block(time_ps, channel[keep].astype(np.int8), duration_s, resolution_ps)
        nsync, dtime, channel, _, _ = decoder.decode(records)
        keep = (channel >= 0) & (channel < n_ch)
        return T3Block(nsync[keep].astype(np.int64), dtime[keep].astype(np.int16), channel[keep].astype(np.int8),
                       duration_s, resolution_ps, sync_period_ps)

    def settings(self) -> dict:
        return {
            **super().settings(),
            "model": self.model, "serial": self.serial_number, "part_number": self.part_number,
            "hardware_version": self.hardware_version, "library_version": self.library_version,
            "device_index": self.device.device_index, "mode": self._mode, "n_channels": self.n_channels,
            "base_resolution_ps": self.base_resolution_ps, "resolution_ps": self.resolution_ps(),
            "sync_divider": self.sync_divider, "sync_level_mV": self.sync_level_mV,
            "sync_zero_cross_mV": self.sync_zero_cross_mV, "input_levels_mV": list(self.input_levels_mV),
            "input_zero_cross_mV": self.input_zero_cross_mV, "channel_offsets_ps": list(self.channel_offsets_ps),
            "binning": self.binning, "offset_ns": self.offset_ns,
            "histogram_bins": 1024 << self.histogram_length_code, "record_type": self.record_type,
        }
