"""PicoQuant TCSPC units through their programming libraries: what HydraHarp 400 (HHLib 3.0) and TimeHarp 260
(TH260Lib 3.1) share. The two models are ``tepl.drivers.picoquant_models`` (``HydraHarp``, ``TimeHarp260``);
the ``PhotonCounter`` role on top of either is ``tepl.drivers.picoquant_counter``.

A device object is given a library object exposing the vendor's C functions: on the rig ``load_hhlib(path)`` /
``load_th260lib(path)`` (``tepl.drivers.picoquant_lib``), in simulation ``tepl.sims.picoquant.SimHHLib`` /
``SimTH260Lib``. It passes what a C caller passes (ints, ``ctypes.byref`` outputs, char buffers, a
``c_uint32`` array for the FIFO and histograms) and checks every return code: anything but 0 raises
``DeviceError`` naming the function, the code and the library's own error text (``GetErrorString``).
Arguments are checked against the header's limits first, so a bad value is refused before anything is sent.

Units: mV for discriminator levels, ps for channel offsets and resolutions, ns for the histogram offset, ms
for the library's acquisition time.
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tepl.drivers.ctypes_lib import call_checked, library_name, read_outputs, text_buffer, text_of
from tepl.drivers.picoquant_lib import (
    ACQTMAX_MS,
    ACQTMIN_MS,
    CHANOFFSMAX_PS,
    CHANOFFSMIN_PS,
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
    TTREAD_CHUNK,
    TTREADMAX,
    TTREADMIN,
    LibrarySpec,
    bit_names,
)
from tepl.roles import DeviceError


def check_int(value: Any, low: int, high: int, what: str, unit: str = "") -> int:
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
    cfd_level_range_mV: tuple[int, int] = HH_DISCR_RANGE_MV  # CFD inputs, mV as the library takes them
    cfd_zero_cross_range_mV: tuple[int, int] = HH_ZC_RANGE_MV

    def __init__(self, lib: Any, device_index: int = 0):
        self.lib = lib
        self.device_index = check_int(device_index, 0, self.spec.max_devices - 1, "device index")
        self.mode: str | None = None  # "hist" | "t2" | "t3" after initialize
        self.model: str | None = None  # as GetHardwareInfo names it, once asked
        self.n_inputs = 0
        self.histogram_bins = self.spec.max_histogram_bins

    @property
    def name(self) -> str:
        return f"{self.spec.family} #{self.device_index}"

    @property
    def library_name(self) -> str:
        """Where the unit is reached: the library's path (a loaded CDLL) or the simulator's class name."""
        return library_name(self.lib)

    @property
    def where(self) -> str:
        """The unit and its library, for error messages: ``HydraHarp #0 (libhh400.so)``."""
        return f"{self.name} ({self.library_name})"

    # ------------------------------------------------------------------ library plumbing
    def _function(self, name: str) -> Callable[..., int]:
        return getattr(self.lib, f"{self.spec.prefix}_{name}")

    def error_text(self, code: int) -> str:
        """The library's text for an error code (``GetErrorString``), or the header's name if that fails."""
        buffer = text_buffer(MAXSTRLEN_ERRSTR)
        try:
            ok = int(self._function("GetErrorString")(buffer, int(code))) == 0
        except Exception:  # the text is a courtesy; never mask the original error
            ok = False
        text = text_of(buffer) if ok else ""
        return text or self.spec.error_name(code)

    def _call_plain(self, name: str, *args: Any) -> None:
        function = f"{self.spec.prefix}_{name}"
        try:
            call_checked(self._function(name), args, (0,),
                         lambda code: f"{self.where}: {function} returned {code} ({self.error_text(code)})")
        except OSError as exc:  # a library call that fails in the OS (Windows access violation, lost USB)
            raise DeviceError(f"{self.where}: {function} failed: {exc}") from exc

    def _call(self, name: str, *args: Any) -> None:
        """Call ``<prefix>_<name>(devidx, *args)``; a nonzero return raises DeviceError."""
        self._call_plain(name, self.device_index, *args)

    def _get(self, name: str, ctype: Any = ctypes.c_int, *inputs: Any) -> Any:
        return read_outputs(self._call, ctype, 1, name, *inputs)[0]

    def _texts(self, call: Callable[..., None], sizes: Sequence[int], *inputs: Any) -> list[str]:
        """Call with one char buffer per size (then ``inputs``); the texts the library wrote."""
        buffers = [text_buffer(size) for size in sizes]
        call(*buffers, *inputs)
        return [text_of(b) for b in buffers]

    def _text(self, name: str, size: int, *inputs: Any) -> str:
        return self._texts(functools.partial(self._call, name), [size], *inputs)[0]

    def _check_channel(self, channel: int) -> int:
        n = self.n_inputs or self.spec.max_inputs
        return check_int(channel, 0, n - 1, "input channel")

    # ------------------------------------------------------------------ identity and set-up
    def library_version(self) -> str:
        """``GetLibraryVersion``: e.g. "3.0" (HHLib) or "3.1" (TH260Lib)."""
        return self._texts(functools.partial(self._call_plain, "GetLibraryVersion"), [MAXSTRLEN_LIBVER])[0]

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
        texts = self._texts(functools.partial(self._call, "GetHardwareInfo"),
                            [MAXSTRLEN_MODEL, MAXSTRLEN_PART, MAXSTRLEN_VERSION])
        info = dict(zip(("model", "part_number", "version"), texts, strict=True))
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
    def check_sync_divider(self, divider: int, what: str = "sync divider") -> int:
        """``divider`` as SetSyncDiv takes it: 1, 2, 4, .., SYNCDIVMAX (the library refuses 3, 12...);
        ValueError naming the unit and the value otherwise."""
        value = check_int(divider, *self.spec.syncdiv_range, f"{self.where}: {what}")
        if value not in self.spec.sync_dividers:
            raise ValueError(f"{self.where}: {what} = {divider} is refused by {self.spec.prefix}_SetSyncDiv; "
                             f"it must be one of {', '.join(map(str, self.spec.sync_dividers))}")
        return value

    def set_sync_divider(self, divider: int) -> None:
        """``SetSyncDiv``: count every ``divider``-th sync pulse, 1, 2, 4, .., SYNCDIVMAX (allow 100 ms before
        reading rates)."""
        self._call("SetSyncDiv", self.check_sync_divider(divider))

    def set_sync_channel_offset_ps(self, offset_ps: int) -> None:
        """``SetSyncChannelOffset``: delay added to the sync input, ps (like a longer cable)."""
        self._call("SetSyncChannelOffset", check_int(offset_ps, CHANOFFSMIN_PS, CHANOFFSMAX_PS,
                                                     "sync channel offset", "ps"))

    def set_channel_offset_ps(self, channel: int, offset_ps: int) -> None:
        """``SetInputChannelOffset``: delay added to one detector input, ps."""
        self._call("SetInputChannelOffset", self._check_channel(channel),
                   check_int(offset_ps, CHANOFFSMIN_PS, CHANOFFSMAX_PS, f"input {channel} channel offset", "ps"))

    def enable_channel(self, channel: int, enable: bool = True) -> None:
        """``SetInputChannelEnable``: a disabled input records nothing."""
        self._call("SetInputChannelEnable", self._check_channel(channel), int(bool(enable)))

    # ------------------------------------------------------------------ histogram and timing settings
    def set_stop_overflow(self, stop: bool, stop_count: int = STOPCNTMAX) -> None:
        """``SetStopOverflow``: histogram mode stops when a bin reaches ``stop_count``."""
        count = check_int(stop_count, STOPCNTMIN, STOPCNTMAX, "stop count")
        self._call("SetStopOverflow", int(bool(stop)), ctypes.c_uint(count))

    def set_binning(self, binning: int) -> None:
        """``SetBinning``: TCSPC bin = base resolution x 2**binning (histogram and T3 modes)."""
        self._call("SetBinning", check_int(binning, 0, self.spec.max_binsteps - 1, "binning"))

    def set_offset_ns(self, offset_ns: int) -> None:
        """``SetOffset``: start of the TCSPC window after the sync, ns (histogram and T3 modes)."""
        self._call("SetOffset", check_int(offset_ns, *self.spec.offset_range_ns, "histogram offset", "ns"))

    def set_histogram_length(self, length_code: int) -> int:
        """``SetHistoLen``: 1024 * 2**length_code bins; returns the number of bins."""
        code = check_int(length_code, 0, self.spec.max_lencode, "histogram length code")
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
        self._call("StartMeas", check_int(acquisition_ms, ACQTMIN_MS, ACQTMAX_MS, "acquisition time", "ms"))

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
        """``ReadFiFo`` into ``buffer`` (a ctypes ``c_uint32`` array of TTREADMIN..TTREADMAX records, a whole
        number of 128-record chunks); returns the records delivered (a uint32 copy, possibly empty).

        A short read does not mean the FIFO is empty: a HydraHarp on USB 3.0 hands out whole 128-record
        chunks (the remainder only when no full chunk is left), on USB 2.0 what ~10 ms of transfer moves.
        Only a read of 0 records says that nothing is waiting."""
        if not isinstance(buffer, ctypes.Array) or buffer._type_ is not ctypes.c_uint32:
            raise ValueError("read_fifo needs a ctypes c_uint32 array, e.g. (ctypes.c_uint32 * TTREADMAX)()")
        count = check_int(len(buffer), TTREADMIN, TTREADMAX, f"{self.where}: FIFO buffer length", "records")
        if count % TTREAD_CHUNK:
            raise ValueError(f"{self.where}: FIFO buffer length = {count} records is refused by "
                             f"{self.spec.prefix}_ReadFiFo; it must be a multiple of {TTREAD_CHUNK} records")
        n_actual = ctypes.c_int()
        self._call("ReadFiFo", buffer, count, ctypes.byref(n_actual))
        n = int(n_actual.value)
        if not 0 <= n <= count:
            raise DeviceError(f"{self.where}: ReadFiFo reported {n} records for a {count}-record buffer")
        return np.ctypeslib.as_array(buffer)[:n].copy()

    def histogram(self, channel: int, clear: bool = False) -> np.ndarray:
        """``GetHistogram`` of one input (uint32, ``histogram_bins`` bins); ``clear`` empties it after."""
        buffer = (ctypes.c_uint32 * self.histogram_bins)()
        self._call("GetHistogram", buffer, self._check_channel(channel), int(bool(clear)))
        return np.ctypeslib.as_array(buffer).copy()

    # ------------------------------------------------------------------ readings
    def resolution_ps(self) -> float:
        """``GetResolution``: base resolution x 2**binning, ps. It is the TCSPC bin of histogram and T3 mode;
        T2 time tags ignore the binning and count the base resolution (``base_resolution``)."""
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

    # ------------------------------------------------------------------ discriminators
    def set_sync_cfd_mV(self, level_mV: int, zero_cross_mV: int) -> None:
        """``SetSyncCFD``: CFD level and zero cross of the sync input, mV within the model's
        ``cfd_level_range_mV`` and ``cfd_zero_cross_range_mV``."""
        self._call("SetSyncCFD", check_int(level_mV, *self.cfd_level_range_mV, "sync CFD level", "mV"),
                   check_int(zero_cross_mV, *self.cfd_zero_cross_range_mV, "sync CFD zero cross", "mV"))

    def set_input_cfd_mV(self, channel: int, level_mV: int, zero_cross_mV: int) -> None:
        """``SetInputCFD``: CFD level and zero cross of one input, mV within the model's ranges."""
        self._call("SetInputCFD", self._check_channel(channel),
                   check_int(level_mV, *self.cfd_level_range_mV, f"input {channel} CFD level", "mV"),
                   check_int(zero_cross_mV, *self.cfd_zero_cross_range_mV, f"input {channel} CFD zero cross",
                             "mV"))

    def set_sync_discriminator(self, level_mV: float, zero_cross_mV: float) -> None:
        """Sync threshold given as magnitudes of the (negative) sync pulse, in the unit's own convention."""
        raise NotImplementedError

    def set_input_discriminator(self, channel: int, level_mV: float, zero_cross_mV: float) -> None:
        """Input threshold given as magnitudes of the (negative) detector pulse."""
        raise NotImplementedError

    def record_type_prefix(self) -> str:
        """Name prefix of the TTTR record types this unit writes (``tepl.drivers.tttr_layouts.RECORD_TYPES``)."""
        raise NotImplementedError
