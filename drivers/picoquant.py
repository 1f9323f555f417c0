"""PicoQuant TCSPC units through their programming libraries: HydraHarp 400 (HHLib 3.0) and TimeHarp 260
(TH260Lib 3.1), and the ``PhotonCounter`` role on top of either.

A device object is given a library object exposing the vendor's C functions: on the rig ``load_hhlib(path)`` /
``load_th260lib(path)`` (``tepl.drivers.picoquant_lib``), in simulation ``tepl.sims.picoquant.SimHHLib`` /
``SimTH260Lib``. It passes what a C caller passes (ints, ``ctypes.byref`` outputs, char buffers, a
``c_uint32`` array for the FIFO and histograms) and checks every return code: anything but 0 raises
``DeviceError`` naming the function, the code and the library's own error text (``GetErrorString``).
Arguments are checked against the header's limits first, so a bad value is refused before anything is sent.

``TcspcCounter`` implements ``tepl.roles.PhotonCounter``: histograms, T2 and T3 streams decoded with
``tepl.data.tttr``. Units: mV for discriminator levels, ps for channel offsets and resolutions, ns for the
histogram offset, ms for the library's acquisition time, s for everything the role exposes.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tepl.data.tttr import RECORD_TYPES, T2Decoder, T3Decoder
from tepl.drivers.picoquant_lib import (
    ACQTMAX_MS,
    ACQTMIN_MS,
    CHANOFFSMAX_PS,
    CHANOFFSMIN_PS,
    EDGE_FALLING,
    EDGE_RISING,
    FLAG_FIFOFULL,
    HH_DISCR_RANGE_MV,
    HH_SPEC,
    HH_ZC_RANGE_MV,
    MAXSTRLEN_ERRSTR,
    MAXSTRLEN_LIBVER,
    MAXSTRLEN_MODEL,
    MAXSTRLEN_PART,
    MAXSTRLEN_SERIAL,
    MAXSTRLEN_VERSION,
    MAXSTRLEN_WRNTXT,
    MODES,
    STOPCNTMAX,
    STOPCNTMIN,
    TH260_CFD_LEVEL_RANGE_MV,
    TH260_CFD_ZC_RANGE_MV,
    TH260_MODEL_NANO,
    TH260_SPEC,
    TH260_TRIGGER_LEVEL_RANGE_MV,
    TTREADMAX,
    TTREADMIN,
    LibrarySpec,
    bit_names,
    load_hhlib,
    load_th260lib,
)
from tepl.roles import DeviceError, PhotonCounter, Range, T2Block, T3Block

__all__ = ["HydraHarp", "TimeHarp260", "TcspcCounter", "load_hhlib", "load_th260lib"]

EDGES = {"rising": EDGE_RISING, "falling": EDGE_FALLING}


def _check_int(value: Any, low: int, high: int, what: str, unit: str = "") -> int:
    """``value`` as an int within [low, high]; ValueError naming ``what`` otherwise."""
    unit = f" {unit}" if unit else ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number{unit}, got {value!r}") from None
    if not math.isfinite(number) or number != round(number) or not low <= number <= high:
        raise ValueError(f"{what} = {value}{unit} must be a whole number in [{low}, {high}]{unit}")
    return int(round(number))


class PicoQuantTcspc:
    """One PicoQuant TCSPC unit behind its library (the common part of HHLib and TH260Lib).

    ``device_index`` is the library's ``devidx`` (0 .. MAXDEVNUM-1). Channels are the detector inputs,
    0-based as the library numbers them.
    """

    spec: LibrarySpec = HH_SPEC

    def __init__(self, lib: Any, device_index: int = 0):
        self.lib = lib
        self.device_index = _check_int(device_index, 0, self.spec.max_devices - 1, "device index")
        self.mode: str | None = None  # "hist" | "t2" | "t3" after initialize
        self.model: str | None = None  # as GetHardwareInfo names it, once asked
        self.n_inputs = 0
        self.histogram_bins = self.spec.max_histogram_bins

    @property
    def name(self) -> str:
        return f"{self.spec.family} #{self.device_index}"

    # ------------------------------------------------------------------ library plumbing
    def _function(self, name: str) -> Callable[..., int]:
        return getattr(self.lib, f"{self.spec.prefix}_{name}")

    def error_text(self, code: int) -> str:
        """The library's text for an error code (``GetErrorString``), or the header's name if that fails."""
        buffer = ctypes.create_string_buffer(MAXSTRLEN_ERRSTR + 1)
        try:
            ok = int(self._function("GetErrorString")(buffer, int(code))) == 0
        except Exception:  # the text is a courtesy; never mask the original error
            ok = False
        text = buffer.value.decode(errors="replace").strip() if ok else ""
        return text or self.spec.error_name(code)

    def _call_plain(self, name: str, *args: Any) -> None:
        code = int(self._function(name)(*args))
        if code != 0:
            raise DeviceError(f"{self.name}: {self.spec.prefix}_{name} returned {code} ({self.error_text(code)})")

    def _call(self, name: str, *args: Any) -> None:
        """Call ``<prefix>_<name>(devidx, *args)``; a nonzero return raises DeviceError."""
        self._call_plain(name, self.device_index, *args)

    def _get(self, name: str, ctype: Any = ctypes.c_int, *inputs: Any) -> Any:
        out = ctype()
        self._call(name, *inputs, ctypes.byref(out))
        return out.value

    def _text(self, name: str, size: int, *inputs: Any) -> str:
        buffer = ctypes.create_string_buffer(size + 1)
        self._call(name, buffer, *inputs)
        return buffer.value.decode(errors="replace").strip()

    def _check_channel(self, channel: int) -> int:
        n = self.n_inputs or self.spec.max_inputs
        return _check_int(channel, 0, n - 1, "input channel")

    # ------------------------------------------------------------------ identity and set-up
    def library_version(self) -> str:
        """``GetLibraryVersion``: e.g. "3.0" (HHLib) or "3.1" (TH260Lib)."""
        buffer = ctypes.create_string_buffer(MAXSTRLEN_LIBVER + 1)
        self._call_plain("GetLibraryVersion", buffer)
        return buffer.value.decode(errors="replace").strip()

    def open(self) -> str:
        """``OpenDevice``: claim the unit; returns its serial number."""
        return self._text("OpenDevice", MAXSTRLEN_SERIAL)

    def close(self) -> None:
        """``CloseDevice``: release the unit (a running measurement ends)."""
        self._call("CloseDevice")
        self.mode = None

    def _initialize(self, mode_code: int) -> None:
        self._call("Initialize", mode_code)

    def initialize(self, mode: str) -> None:
        """``Initialize`` into "hist", "t2" or "t3"; every setting returns to its default."""
        if mode not in MODES:
            raise ValueError(f"measurement mode {mode!r} is not one of {sorted(MODES)}")
        self._initialize(MODES[mode])
        self.mode = mode
        self.histogram_bins = self.spec.max_histogram_bins
        self.n_inputs = self._get("GetNumOfInputChannels")

    def hardware_info(self) -> dict[str, str]:
        """``GetHardwareInfo``: model, part number and hardware version (the model is kept as ``model``)."""
        model = ctypes.create_string_buffer(MAXSTRLEN_MODEL + 1)
        part = ctypes.create_string_buffer(MAXSTRLEN_PART + 1)
        version = ctypes.create_string_buffer(MAXSTRLEN_VERSION + 1)
        self._call("GetHardwareInfo", model, part, version)
        info = {key: buf.value.decode(errors="replace").strip()
                for key, buf in (("model", model), ("part_number", part), ("version", version))}
        self.model = info["model"]
        return info

    def serial(self) -> str:
        """``GetSerialNumber``."""
        return self._text("GetSerialNumber", MAXSTRLEN_SERIAL)

    def base_resolution(self) -> tuple[float, int]:
        """``GetBaseResolution``: (base resolution ps, number of binning steps)."""
        res, steps = ctypes.c_double(), ctypes.c_int()
        self._call("GetBaseResolution", ctypes.byref(res), ctypes.byref(steps))
        return float(res.value), int(steps.value)

    def number_of_inputs(self) -> int:
        """``GetNumOfInputChannels``."""
        self.n_inputs = self._get("GetNumOfInputChannels")
        return self.n_inputs

    def calibrate(self) -> None:
        """Calibrate the timing electronics (HydraHarp; the TimeHarp 260 needs none)."""

    # ------------------------------------------------------------------ inputs
    def set_sync_divider(self, divider: int) -> None:
        """``SetSyncDiv``: count every ``divider``-th sync pulse (allow 100 ms before reading rates)."""
        self._call("SetSyncDiv", _check_int(divider, *self.spec.syncdiv_range, "sync divider"))

    def set_sync_channel_offset_ps(self, offset_ps: int) -> None:
        """``SetSyncChannelOffset``: delay added to the sync input, ps (like a longer cable)."""
        self._call("SetSyncChannelOffset", _check_int(offset_ps, CHANOFFSMIN_PS, CHANOFFSMAX_PS,
                                                     "sync channel offset", "ps"))

    def set_channel_offset_ps(self, channel: int, offset_ps: int) -> None:
        """``SetInputChannelOffset``: delay added to one detector input, ps."""
        self._call("SetInputChannelOffset", self._check_channel(channel),
                   _check_int(offset_ps, CHANOFFSMIN_PS, CHANOFFSMAX_PS, f"input {channel} channel offset", "ps"))

    def enable_channel(self, channel: int, enable: bool = True) -> None:
        """``SetInputChannelEnable``: a disabled input records nothing."""
        self._call("SetInputChannelEnable", self._check_channel(channel), int(bool(enable)))

    # ------------------------------------------------------------------ histogram and timing settings
    def set_stop_overflow(self, stop: bool, stop_count: int = STOPCNTMAX) -> None:
        """``SetStopOverflow``: histogram mode stops when a bin reaches ``stop_count``."""
        count = _check_int(stop_count, STOPCNTMIN, STOPCNTMAX, "stop count")
        self._call("SetStopOverflow", int(bool(stop)), ctypes.c_uint(count))

    def set_binning(self, binning: int) -> None:
        """``SetBinning``: TCSPC bin = base resolution x 2**binning (histogram and T3 modes)."""
        self._call("SetBinning", _check_int(binning, 0, self.spec.max_binsteps - 1, "binning"))

    def set_offset_ns(self, offset_ns: int) -> None:
        """``SetOffset``: start of the TCSPC window after the sync, ns (histogram and T3 modes)."""
        self._call("SetOffset", _check_int(offset_ns, *self.spec.offset_range_ns, "histogram offset", "ns"))

    def set_histogram_length(self, length_code: int) -> int:
        """``SetHistoLen``: 1024 * 2**length_code bins; returns the number of bins."""
        code = _check_int(length_code, 0, self.spec.max_lencode, "histogram length code")
        self.histogram_bins = self._get("SetHistoLen", ctypes.c_int, code)
        return self.histogram_bins

    def clear_histogram_memory(self) -> None:
        """``ClearHistMem``."""
        self._call("ClearHistMem")

    def set_marker_edges(self, rising: Sequence[bool] = (True, True, True, True)) -> None:
        """``SetMarkerEdges``: active edge of the four marker inputs (True = rising)."""
        self._call("SetMarkerEdges", *self._four(rising, "marker edges"))

    def set_marker_enable(self, enable: Sequence[bool] = (False, False, False, False)) -> None:
        """``SetMarkerEnable``: which of the four marker inputs write marker records."""
        self._call("SetMarkerEnable", *self._four(enable, "marker enable"))

    @staticmethod
    def _four(values: Sequence[bool], what: str) -> list[int]:
        values = list(values)
        if len(values) != 4:
            raise ValueError(f"{what} needs 4 values (one per marker input), got {len(values)}")
        return [int(bool(v)) for v in values]

    # ------------------------------------------------------------------ measurement
    def start(self, acquisition_ms: int) -> None:
        """``StartMeas``: run for ``acquisition_ms`` (1 ms .. 100 h)."""
        self._call("StartMeas", _check_int(acquisition_ms, ACQTMIN_MS, ACQTMAX_MS, "acquisition time", "ms"))

    def stop(self) -> None:
        """``StopMeas``: end the measurement (harmless when none runs)."""
        self._call("StopMeas")

    def ctc_done(self) -> bool:
        """``CTCStatus``: True once the acquisition time has elapsed."""
        return bool(self._get("CTCStatus"))

    def elapsed_ms(self) -> float:
        """``GetElapsedMeasTime``: time the present (or last) measurement has run, ms."""
        return float(self._get("GetElapsedMeasTime", ctypes.c_double))

    def read_fifo(self, buffer: Any) -> np.ndarray:
        """``ReadFiFo`` into ``buffer`` (a ctypes ``c_uint32`` array of TTREADMIN..TTREADMAX records);
        returns the records delivered (a uint32 copy, possibly empty)."""
        if not isinstance(buffer, ctypes.Array) or buffer._type_ is not ctypes.c_uint32:
            raise ValueError("read_fifo needs a ctypes c_uint32 array, e.g. (ctypes.c_uint32 * TTREADMAX)()")
        count = _check_int(len(buffer), TTREADMIN, TTREADMAX, "FIFO buffer length", "records")
        n_actual = ctypes.c_int()
        self._call("ReadFiFo", buffer, count, ctypes.byref(n_actual))
        n = int(n_actual.value)
        if not 0 <= n <= count:
            raise DeviceError(f"{self.name}: ReadFiFo reported {n} records for a {count}-record buffer")
        return np.ctypeslib.as_array(buffer)[:n].copy()

    def histogram(self, channel: int, clear: bool = False) -> np.ndarray:
        """``GetHistogram`` of one input (uint32, ``histogram_bins`` bins); ``clear`` empties it after."""
        buffer = (ctypes.c_uint32 * self.histogram_bins)()
        self._call("GetHistogram", buffer, self._check_channel(channel), int(bool(clear)))
        return np.ctypeslib.as_array(buffer).copy()

    # ------------------------------------------------------------------ readings
    def resolution_ps(self) -> float:
        """``GetResolution``: the present bin width (T3 and histogram) or time-tag unit (T2), ps."""
        return float(self._get("GetResolution", ctypes.c_double))

    def sync_rate_hz(self) -> int:
        """``GetSyncRate``: sync pulses per second after the divider."""
        return int(self._get("GetSyncRate"))

    def count_rate_hz(self, channel: int) -> int:
        """``GetCountRate``: counts per second on one input (a new value every 100 ms)."""
        return int(self._get("GetCountRate", ctypes.c_int, self._check_channel(channel)))

    def sync_period_s(self) -> float:
        """``GetSyncPeriod``: time between the sync pulses the unit counts, s (0 when there is none)."""
        return float(self._get("GetSyncPeriod", ctypes.c_double))

    def flags(self) -> int:
        """``GetFlags`` bits (``flag_names`` spells them)."""
        return int(self._get("GetFlags"))

    def flag_names(self, flags: int) -> list[str]:
        return bit_names(flags, self.spec.flags)

    def warnings(self) -> int:
        """``GetWarnings`` bits; read the sync and count rates first, as the library asks."""
        return int(self._get("GetWarnings"))

    def warnings_text(self, warnings: int) -> str:
        """``GetWarningsText``: the library's explanation of the warning bits."""
        return self._text("GetWarningsText", MAXSTRLEN_WRNTXT, int(warnings))

    # ------------------------------------------------------------------ discriminators (model specific)
    def set_sync_discriminator(self, level_mV: float, zero_cross_mV: float) -> None:
        """Sync threshold given as magnitudes of the (negative) sync pulse, in the unit's own convention."""
        raise NotImplementedError

    def set_input_discriminator(self, channel: int, level_mV: float, zero_cross_mV: float) -> None:
        """Input threshold given as magnitudes of the (negative) detector pulse."""
        raise NotImplementedError

    def record_type_prefix(self) -> str:
        """Name prefix of the TTTR record types this unit writes (``tepl.data.tttr.RECORD_TYPES``)."""
        raise NotImplementedError


class HydraHarp(PicoQuantTcspc):
    """HydraHarp 400 through HHLib 3.0: 1 ps base resolution, up to 8 CFD inputs, USB."""

    spec = HH_SPEC

    reference = "internal"  # 10 MHz reference clock: "internal" or "external"

    def _initialize(self, mode_code: int) -> None:
        self._call("Initialize", mode_code, {"internal": 0, "external": 1}[self.reference])

    def initialize(self, mode: str, reference: str = "internal") -> None:
        """``HH_Initialize`` into "hist", "t2" or "t3" with the internal or an external 10 MHz reference."""
        if reference not in ("internal", "external"):
            raise ValueError(f"reference clock {reference!r} must be 'internal' or 'external'")
        self.reference = reference
        super().initialize(mode)

    def calibrate(self) -> None:
        """``HH_Calibrate`` (after Initialize, before measuring)."""
        self._call("Calibrate")

    def set_sync_cfd_mV(self, level_mV: int, zero_cross_mV: int) -> None:
        """``HH_SetSyncCFD``: CFD level 0..1000 mV and zero cross 0..40 mV."""
        self._call("SetSyncCFD", _check_int(level_mV, *HH_DISCR_RANGE_MV, "sync CFD level", "mV"),
                   _check_int(zero_cross_mV, *HH_ZC_RANGE_MV, "sync CFD zero cross", "mV"))

    def set_input_cfd_mV(self, channel: int, level_mV: int, zero_cross_mV: int) -> None:
        """``HH_SetInputCFD``: CFD level 0..1000 mV and zero cross 0..40 mV of one input."""
        self._call("SetInputCFD", self._check_channel(channel),
                   _check_int(level_mV, *HH_DISCR_RANGE_MV, f"input {channel} CFD level", "mV"),
                   _check_int(zero_cross_mV, *HH_ZC_RANGE_MV, f"input {channel} CFD zero cross", "mV"))

    def set_sync_discriminator(self, level_mV: float, zero_cross_mV: float) -> None:
        self.set_sync_cfd_mV(level_mV, zero_cross_mV)

    def set_input_discriminator(self, channel: int, level_mV: float, zero_cross_mV: float) -> None:
        self.set_input_cfd_mV(channel, level_mV, zero_cross_mV)

    def record_type_prefix(self) -> str:
        return "HydraHarp2"  # HHLib 3.0 writes version-2 records


class TimeHarp260(PicoQuantTcspc):
    """TimeHarp 260 through TH260Lib 3.1: the P (25 ps, CFD inputs) or N (250 ps, edge triggers) board, PCIe.

    Levels are signed as the library takes them: the P board's CFD works on negative pulses (level
    -1200..0 mV, zero cross -40..0 mV), the N board triggers at -1200..1200 mV on a rising or falling edge.
    """

    spec = TH260_SPEC

    def set_sync_cfd_mV(self, level_mV: int, zero_cross_mV: int) -> None:
        """``TH260_SetSyncCFD`` (P board): level -1200..0 mV, zero cross -40..0 mV."""
        self._call("SetSyncCFD", _check_int(level_mV, *TH260_CFD_LEVEL_RANGE_MV, "sync CFD level", "mV"),
                   _check_int(zero_cross_mV, *TH260_CFD_ZC_RANGE_MV, "sync CFD zero cross", "mV"))

    def set_input_cfd_mV(self, channel: int, level_mV: int, zero_cross_mV: int) -> None:
        """``TH260_SetInputCFD`` (P board): level -1200..0 mV, zero cross -40..0 mV."""
        self._call("SetInputCFD", self._check_channel(channel),
                   _check_int(level_mV, *TH260_CFD_LEVEL_RANGE_MV, f"input {channel} CFD level", "mV"),
                   _check_int(zero_cross_mV, *TH260_CFD_ZC_RANGE_MV, f"input {channel} CFD zero cross", "mV"))

    def set_sync_edge_trigger_mV(self, level_mV: int, edge: str = "falling") -> None:
        """``TH260_SetSyncEdgeTrg`` (N board): level -1200..1200 mV, "rising" or "falling" edge."""
        self._call("SetSyncEdgeTrg",
                   _check_int(level_mV, *TH260_TRIGGER_LEVEL_RANGE_MV, "sync trigger level", "mV"),
                   self._edge(edge))

    def set_input_edge_trigger_mV(self, channel: int, level_mV: int, edge: str = "falling") -> None:
        """``TH260_SetInputEdgeTrg`` (N board): level -1200..1200 mV, "rising" or "falling" edge."""
        self._call("SetInputEdgeTrg", self._check_channel(channel),
                   _check_int(level_mV, *TH260_TRIGGER_LEVEL_RANGE_MV, f"input {channel} trigger level", "mV"),
                   self._edge(edge))

    @staticmethod
    def _edge(edge: str) -> int:
        if edge not in EDGES:
            raise ValueError(f"trigger edge {edge!r} must be 'rising' or 'falling'")
        return EDGES[edge]

    def is_nano(self) -> bool:
        """True for the N board (edge triggers, 250 ps), from GetHardwareInfo's model name."""
        return (self.model or self.hardware_info()["model"]) == TH260_MODEL_NANO

    def set_sync_discriminator(self, level_mV: float, zero_cross_mV: float) -> None:
        if self.is_nano():
            self.set_sync_edge_trigger_mV(-round(level_mV), "falling")
        else:
            self.set_sync_cfd_mV(-round(level_mV), -round(zero_cross_mV))

    def set_input_discriminator(self, channel: int, level_mV: float, zero_cross_mV: float) -> None:
        if self.is_nano():
            self.set_input_edge_trigger_mV(channel, -round(level_mV), "falling")
        else:
            self.set_input_cfd_mV(channel, -round(level_mV), -round(zero_cross_mV))

    def record_type_prefix(self) -> str:
        return "TimeHarp260N" if self.is_nano() else "TimeHarp260P"


# ==========================================================================================================
class TcspcCounter(PhotonCounter):
    """The ``PhotonCounter`` role on a HydraHarp 400 or TimeHarp 260.

    ``sleep`` waits between FIFO reads (``time.sleep`` on the rig, ``world.clock.advance`` in simulation);
    ``acquisition_s`` bounds every acquisition time. Discriminator levels
    are magnitudes in mV of the negative detector / sync pulses (NIM): the HydraHarp takes them as they
    are, the TimeHarp 260 P as negative CFD levels, the 260 N as falling-edge trigger levels.
    ``channel_offsets_ps`` delays each input (like a cable). ``histogram_length_code`` sets 1024 * 2**code
    bins for histogram mode (default: the unit's maximum). ``record_type`` is the name prefix of the TTTR
    records the unit writes (``tepl.data.tttr.RECORD_TYPES`` without the "T2"/"T3"; default: the unit's).

    The unit is initialised into a mode only when the mode changes; each initialisation is followed by the
    full configuration and a ``rate_settle_s`` wait so that count rates are valid. T2/T3 streams are read
    every ``fifo_poll_s`` at most (the FIFO must not overflow) and handed out in blocks of ``block_s``.
    """

    def __init__(self, device: PicoQuantTcspc, sleep: Callable[[float], None], acquisition_s: Range,
                 max_count_rate_per_s: float | None = None,
                 sync_divider: int = 1, sync_level_mV: float = 50.0, sync_zero_cross_mV: float = 10.0,
                 input_levels_mV: Sequence[float] | None = None, input_zero_cross_mV: float = 10.0,
                 binning: int = 0, offset_ns: float = 0.0, channel_offsets_ps: Sequence[float] | None = None,
                 histogram_length_code: int | None = None, record_type: str | None = None,
                 fifo_poll_s: float = 0.05, rate_settle_s: float = 0.15):
        super().__init__(acquisition_s, max_count_rate_per_s)
        if acquisition_s.low < ACQTMIN_MS / 1000.0 or acquisition_s.high > ACQTMAX_MS / 1000.0:
            raise ValueError(f"acquisition range [{acquisition_s.low:g}, {acquisition_s.high:g}] s exceeds what "
                             f"the unit can time ([{ACQTMIN_MS / 1000:g}, {ACQTMAX_MS / 1000:g}] s)")
        if not (fifo_poll_s > 0 and rate_settle_s >= 0):
            raise ValueError(f"fifo_poll_s = {fifo_poll_s} s must be > 0 and rate_settle_s = {rate_settle_s} s "
                             f">= 0")
        self.device, self.sleep = device, sleep
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

    def resolution_ps(self) -> float:
        """TCSPC bin width (histogram and T3 modes), ps: base resolution x 2**binning."""
        if self._mode in ("hist", "t3"):
            return self.device.resolution_ps()
        return self.base_resolution_ps * 2.0**self.binning

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

    def _do_histograms(self, acquisition_s: float) -> np.ndarray:
        self._ensure_mode("hist")
        dev = self.device
        dev.clear_histogram_memory()
        dev.start(self._acquisition_ms(acquisition_s))
        try:
            step_s = min(max(acquisition_s / 10.0, 0.005), 0.5)  # about ten looks at the rates
            while not dev.ctc_done():
                self.sleep(step_s)
                if self.max_count_rate_per_s is not None and not dev.ctc_done():
                    self.check_count_rates()  # LimitError here; the measurement stops below
            return np.stack([dev.histogram(ch).astype(np.int64) for ch in range(self.n_channels)])
        finally:
            dev.stop()

    def _do_iter(self, mode: str, acquisition_s: float, block_s: float) -> Iterator[T2Block | T3Block]:
        if mode not in ("t2", "t3"):
            raise ValueError(f"stream mode {mode!r} must be 't2' or 't3'")
        if not (block_s > 0 and math.isfinite(block_s)):
            raise ValueError(f"block length block_s = {block_s} s must be a positive number of seconds")
        self._ensure_mode(mode)
        dev = self.device
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
            elapsed_s, done = 0.0, False
            while not done:
                chunks, waited_s = [], 0.0
                while waited_s < block_s and not done:
                    step = min(self.fifo_poll_s, block_s - waited_s)
                    self.sleep(step)
                    waited_s += step
                    done = dev.ctc_done()  # asked before the last drain: nothing arrives after it
                    self._check_flags()
                    chunks.extend(self._drain(buffer))
                now_s = min(dev.elapsed_ms() / 1000.0, acquisition_s) if not done else acquisition_s
                duration_s, elapsed_s = max(now_s - elapsed_s, 0.0), max(now_s, elapsed_s)
                records = np.concatenate(chunks) if chunks else np.zeros(0, np.uint32)
                yield self._block(mode, decoder, records, n_ch, duration_s, resolution_ps, sync_period_ps)
        finally:
            dev.stop()

    def _drain(self, buffer: Any) -> list[np.ndarray]:
        """Read the FIFO until it delivers less than a full buffer."""
        chunks = []
        while True:
            records = self.device.read_fifo(buffer)
            if records.size:
                chunks.append(records)
            if records.size < len(buffer):
                return chunks

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
        return T3Block(nsync[keep].astype(np.int64), dtime[keep].astype(np.int32), channel[keep].astype(np.int8),
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
