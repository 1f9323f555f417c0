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
* T2: time tags from the start in units of the base resolution whatever the binning (HydraHarp: 1 ps), with
  sync records for every divided sync; GetResolution still reports base x 2**binning, as the library does;
* T3: nsync (divided sync pulses since the start) and dtime in TCSPC bins (beyond 2**15 bins dropped),

encoded with ``tepl.drivers.tttr`` into records that wait in a FIFO of ``fifo_records``. When more arrive than
the FIFO holds, FLAG_FIFOFULL is set and recording stops (records already in the FIFO remain readable).
ReadFiFo hands the FIFO out as the unit's link does (``link``: the HydraHarp on USB 3.0 in whole 128-record
chunks, a remainder under 128 only when no full chunk is left; on USB 2.0, ``link="usb2"``, what ~10 ms of
transfer moves; the TimeHarp 260 on PCIe everything up to the count), so a short read does not mean an empty
FIFO. The library's argument rules are enforced with its error code: SetSyncDiv takes 1, 2, 4, .., SYNCDIVMAX
only, HHLib's ReadFiFo counts are whole multiples of 128 records within TTREADMIN..TTREADMAX.
Count rates come from the photons of the last complete 100 ms gate after Initialize / SetSyncDiv (a
separate look at the World; the clock does not move); the sync rate is the laser rate / divider.

Modules: this one holds the HydraHarp and TimeHarp 260 specifics (``SimHHLib``, ``SimTH260Lib``);
``picoquant_functions`` the C functions both libraries share, ``picoquant_api`` how they are called,
``picoquant_unit`` the unit's settings, physics and measurement engine, ``picoquant_fifo`` one
measurement's FIFO of records, ``picoquant_spec`` the header constants.

Layering: the simulator keeps its own table of the header constants (``picoquant_spec``) and imports nothing
from ``tepl.drivers`` except the TTTR record codec ``tepl.drivers.tttr``, which is the vendor's file format
shared by both ends (the unit encodes the records the driver decodes), not driver code.
"""

from __future__ import annotations

from typing import Any

from tepl.sims.picoquant_api import Unsupported, api, in_range, int_arg
from tepl.sims.picoquant_functions import SimPicoQuantLib
from tepl.sims.picoquant_spec import TH260_MODEL_NANO, TH260_MODEL_PICO
from tepl.sims.picoquant_unit import HYDRAHARP_400, TIMEHARP_260_N, TIMEHARP_260_P

__all__ = ["SimHHLib", "SimTH260Lib"]


class SimHHLib(SimPicoQuantLib):
    """HHLib 3.0 with one HydraHarp 400 (1 ps base resolution, CFD inputs, 2 M-record FIFO, USB 3.0; pass
    ``link="usb2"`` for a unit on a USB 2.0 port)."""

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

    @api("open")
    def _Initialize(self, devidx: Any, mode: Any, refsource: Any) -> int:
        mode_code = int_arg(mode, 2)
        self._external_reference = bool(in_range(int_arg(refsource, 3), 0, 1, 3))
        return self._initialize(mode_code)

    @api()
    def _Calibrate(self, devidx: Any) -> int:
        self.world.clock.advance(0.05)
        self._calibrated = True
        return 0


class SimTH260Lib(SimPicoQuantLib):
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

    @api("open")
    def _Initialize(self, devidx: Any, mode: Any) -> int:
        return self._initialize(int_arg(mode, 2))

    @api()
    def _SetTimingMode(self, devidx: Any, mode: Any) -> int:
        if self.model.trigger != "cfd":
            raise Unsupported
        self._settings.lores = bool(in_range(int_arg(mode, 2), 0, 1, 2))
        self._changed()
        return 0
