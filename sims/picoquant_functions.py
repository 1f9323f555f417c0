"""The function surface of the simulated PicoQuant libraries: the C functions HHLib and TH260Lib share, with
their argument conventions (inputs as ints or ctypes simple objects, outputs through ``ctypes.byref``, char
buffers, ``c_uint32`` arrays) and return codes (0 or the negative codes of ``errorcodes.h``).

Each function takes the call's wire time, checks the device state and brings the measurement of the unit
(``tepl.sims.picoquant_unit``) up to the present before it runs (``tepl.sims.picoquant_api``). Units follow the
headers: mV, ps, ns, ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.sims.c_args import ArgError, c_array, set_out, set_text
from tepl.sims.picoquant_api import Unsupported, api, in_range, int_arg, reports
from tepl.sims.picoquant_fifo import Measurement, fifo_delivery
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
    TH260_TRIGGER_LEVEL_RANGE_MV,
    TTREADMAX,
    TTREADMIN,
)
from tepl.sims.picoquant_unit import WARNING_TEXTS, Settings, SimTcspcUnit

FEATURES = 0x0001 | 0x0002 | 0x0004  # FEATURE_DLL | FEATURE_TTTR | FEATURE_MARKERS


class SimPicoQuantLib(SimTcspcUnit):
    """The common part of the simulated HHLib and TH260Lib (one unit at ``device_index``)."""

    PREFIX = ""
    FUNCTIONS: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.FUNCTIONS:  # export the vendor's names: HH_OpenDevice -> _OpenDevice, ...
            setattr(cls, f"{cls.PREFIX}_{name}", getattr(cls, f"_{name}"))

    # ------------------------------------------------------------------ state
    def _device_state(self, devidx: Any, needs: str) -> int:
        try:
            index = int_arg(devidx, 1)
        except ArgError:
            return ERROR_INVALID_ARGUMENT
        if not 0 <= index < self.spec.max_devices:
            return ERROR_INVALID_ARGUMENT
        if index != self.device_index or not self._open:
            return ERROR_DEVICE_NOT_OPEN
        if needs == "init" and not self._initialized:
            return ERROR_NOT_INITIALIZED
        return 0

    # ================================================================== the library functions
    @api("none")
    def _GetLibraryVersion(self, version: Any) -> int:
        set_text(version, self.model.library_version, 1)
        return 0

    @api("none")
    def _GetErrorString(self, text: Any, code: Any) -> int:
        set_text(text, self.spec.error_name(int_arg(code, 2)), 1)
        return 0

    @api("none")
    def _OpenDevice(self, devidx: Any, serial: Any) -> int:
        index = in_range(int_arg(devidx, 1), 0, self.spec.max_devices - 1, 1)
        if index != self.device_index:
            set_text(serial, "", 2)
            return ERROR_DEVICE_OPEN_FAIL
        set_text(serial, self.serial, 2)
        self._open = True
        return 0

    @api("none")
    def _CloseDevice(self, devidx: Any) -> int:
        index = in_range(int_arg(devidx, 1), 0, self.spec.max_devices - 1, 1)
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
        self._settings = Settings.defaults(self.n_channels, self.spec)
        self._histogram = np.zeros((self.n_channels, self._histogram_bins()), np.int64)
        self._flags = HH_FLAG_REF_LOST if self._external_reference else 0
        self._rates_origin_s = self.world.clock.now()
        self._changed()
        return 0

    # functions that only report: (devidx, output, ...) -> the values of the unit
    _GetHardwareInfo = reports(lambda u: u.model.name, lambda u: u.model.part_number,
                               lambda u: u.model.hardware_version)
    _GetSerialNumber = reports(lambda u: u.serial)
    _GetFeatures = reports(lambda u: FEATURES)
    _GetBaseResolution = reports(lambda u: u._base_resolution_ps(), lambda u: u.spec.max_binsteps)  # ps, steps
    _GetNumOfInputChannels = reports(lambda u: u.n_channels)

    # ------------------------------------------------------------------ inputs
    @api()
    def _SetSyncDiv(self, devidx: Any, divider: Any) -> int:
        value = int_arg(divider, 2)
        if value not in self.spec.sync_dividers:  # 1, 2, 4, .., SYNCDIVMAX: 3 or 12 are refused as well
            raise ArgError(2)
        self._settings.sync_divider = value
        self._rates_origin_s = self.world.clock.now()  # the rate meter starts over
        self._changed()
        return 0

    def _cfd(self, level: Any, zero_cross: Any, first: int) -> tuple[int, int]:
        if self.model.trigger != "cfd":
            raise Unsupported
        if self.spec is HH_HEADER:
            level_range, zc_range = HH_DISCR_RANGE_MV, HH_ZC_RANGE_MV
        else:
            level_range, zc_range = TH260_CFD_LEVEL_RANGE_MV, TH260_CFD_ZC_RANGE_MV
        return (in_range(int_arg(level, first), *level_range, first),
                in_range(int_arg(zero_cross, first + 1), *zc_range, first + 1))

    def _edge_trigger(self, level: Any, edge: Any, first: int) -> int:
        if self.model.trigger != "edge":
            raise Unsupported
        in_range(int_arg(edge, first + 1), 0, 1, first + 1)
        return in_range(int_arg(level, first), *TH260_TRIGGER_LEVEL_RANGE_MV, first)

    @api()
    def _SetSyncCFD(self, devidx: Any, level: Any, zero_cross: Any) -> int:
        s = self._settings
        s.sync_level_mV, s.sync_zero_cross_mV = self._cfd(level, zero_cross, 2)
        self._changed()
        return 0

    @api()
    def _SetSyncEdgeTrg(self, devidx: Any, level: Any, edge: Any) -> int:
        self._settings.sync_level_mV = self._edge_trigger(level, edge, 2)
        self._changed()
        return 0

    @api()
    def _SetSyncChannelOffset(self, devidx: Any, offset_ps: Any) -> int:
        self._settings.sync_offset_ps = in_range(int_arg(offset_ps, 2), CHANOFFSMIN_PS, CHANOFFSMAX_PS, 2)
        self._changed()
        return 0

    def _channel(self, channel: Any, position: int) -> int:
        return in_range(int_arg(channel, position), 0, self.n_channels - 1, position)

    @api()
    def _SetInputCFD(self, devidx: Any, channel: Any, level: Any, zero_cross: Any) -> int:
        ch = self._channel(channel, 2)
        level_mV, zc_mV = self._cfd(level, zero_cross, 3)
        self._settings.input_level_mV[ch], self._settings.input_zero_cross_mV[ch] = level_mV, zc_mV
        self._changed()
        return 0

    @api()
    def _SetInputEdgeTrg(self, devidx: Any, channel: Any, level: Any, edge: Any) -> int:
        ch = self._channel(channel, 2)
        self._settings.input_level_mV[ch] = self._edge_trigger(level, edge, 3)
        self._changed()
        return 0

    @api()
    def _SetInputChannelOffset(self, devidx: Any, channel: Any, offset_ps: Any) -> int:
        ch = self._channel(channel, 2)
        self._settings.input_offset_ps[ch] = in_range(int_arg(offset_ps, 3), CHANOFFSMIN_PS, CHANOFFSMAX_PS, 3)
        self._changed()
        return 0

    @api()
    def _SetInputChannelEnable(self, devidx: Any, channel: Any, enable: Any) -> int:
        ch = self._channel(channel, 2)
        self._settings.enabled[ch] = bool(in_range(int_arg(enable, 3), 0, 1, 3))
        self._changed()
        return 0

    # ------------------------------------------------------------------ histogram and timing settings
    @api()
    def _SetStopOverflow(self, devidx: Any, stop: Any, stop_count: Any) -> int:
        s = self._settings
        s.stop_overflow = bool(in_range(int_arg(stop, 2), 0, 1, 2))
        s.stop_count = in_range(int_arg(stop_count, 3), STOPCNTMIN, STOPCNTMAX, 3)
        return 0

    @api()
    def _SetBinning(self, devidx: Any, binning: Any) -> int:
        self._settings.binning = in_range(int_arg(binning, 2), 0, self.spec.max_binsteps - 1, 2)
        self._changed()
        return 0

    @api()
    def _SetOffset(self, devidx: Any, offset_ns: Any) -> int:
        self._settings.offset_ns = in_range(int_arg(offset_ns, 2), *self.spec.offset_range_ns, 2)
        self._changed()
        return 0

    @api()
    def _SetHistoLen(self, devidx: Any, lencode: Any, actual_length: Any) -> int:
        code = in_range(int_arg(lencode, 2), 0, self.spec.max_lencode, 2)
        set_out(actual_length, 1024 << code, 3)
        if code != self._settings.lencode:
            self._settings.lencode = code
            self._histogram = np.zeros((self.n_channels, self._histogram_bins()), np.int64)
        return 0

    @api()
    def _SetMeasControl(self, devidx: Any, control: Any, start_edge: Any, stop_edge: Any) -> int:
        if int_arg(control, 2) != 0:  # only MEASCTRL_SINGLESHOT_CTC: no external gating in the simulation
            raise ArgError(2)
        return 0

    @api()
    def _SetMarkerEdges(self, devidx: Any, *edges: Any) -> int:
        self._settings.marker_edges = self._four(edges)
        return 0

    @api()
    def _SetMarkerEnable(self, devidx: Any, *enable: Any) -> int:
        self._settings.marker_enable = self._four(enable)
        return 0

    @staticmethod
    def _four(values: tuple) -> tuple[int, ...]:
        if len(values) != 4:
            raise ArgError(min(len(values) + 2, 5))
        return tuple(in_range(int_arg(v, i + 2), 0, 1, i + 2) for i, v in enumerate(values))

    @api()
    def _SetMarkerHoldoffTime(self, devidx: Any, holdoff_ns: Any) -> int:
        in_range(int_arg(holdoff_ns, 2), *self.spec.holdoff_range_ns, 2)
        return 0

    # ------------------------------------------------------------------ measurement
    @api()
    def _ClearHistMem(self, devidx: Any) -> int:
        self._histogram[:] = 0
        return 0

    @api()
    def _StartMeas(self, devidx: Any, tacq_ms: Any) -> int:
        tacq = in_range(int_arg(tacq_ms, 2), ACQTMIN_MS, ACQTMAX_MS, 2)
        now = self.world.clock.now()
        if self._meas is not None and self._meas.running_at(now):
            return ERROR_DEVICE_BUSY
        self._flags = HH_FLAG_REF_LOST if self._external_reference else 0  # FIFO, overflow, sync flags clear
        self._meas = Measurement(now, tacq, self._mode, self.record_type)
        self._truth["measurement_start_ps"] = self._meas.start_ps  # T2 tags count from here
        self.world.record_truth("tcspc", dict(self._truth))
        if self._mode == MODE_T3 and not self._sync_active():
            self._flags |= FLAG_SYNC_LOST
        return 0

    @api()
    def _StopMeas(self, devidx: Any) -> int:
        self._stop_measurement()
        return 0

    @api()
    def _CTCStatus(self, devidx: Any, status: Any) -> int:
        m = self._meas
        set_out(status, int(m is None or not m.running_at(self.world.clock.now())), 2)
        return 0

    @api()
    def _GetElapsedMeasTime(self, devidx: Any, elapsed: Any) -> int:
        m = self._meas
        ms = 0.0 if m is None else (min(self.world.clock.now(), m.last_s()) - m.start_s) * 1000.0
        set_out(elapsed, ms, 2)
        return 0

    @api()
    def _GetHistogram(self, devidx: Any, counts: Any, channel: Any, clear: Any) -> int:
        if self._mode != MODE_HIST:
            return ERROR_INVALID_MODE
        ch = self._channel(channel, 3)
        do_clear = bool(in_range(int_arg(clear, 4), 0, 1, 4))
        n_bins = self._histogram.shape[1]
        out = c_array(counts, n_bins, np.uint32, 2)
        out[:n_bins] = np.minimum(self._histogram[ch], 0xFFFFFFFF).astype(np.uint32)
        if do_clear:
            self._histogram[ch] = 0
        return 0

    @api()
    def _ReadFiFo(self, devidx: Any, buffer: Any, count: Any, n_actual: Any) -> int:
        if self._mode not in (MODE_T2, MODE_T3):
            return ERROR_INVALID_MODE
        n_max = in_range(int_arg(count, 3), TTREADMIN, TTREADMAX, 3)
        if n_max % self.spec.fifo_read_multiple:
            raise ArgError(3)
        out = c_array(buffer, n_max, np.uint32, 2)
        available = self._meas.fifo_count if self._meas is not None else 0
        n, took_s = fifo_delivery(self.link, available, n_max, self.model.transfer_bytes_per_s)
        records = self._meas.pop(n) if n else np.zeros(0, np.uint32)
        out[: records.size] = records
        set_out(n_actual, int(records.size), 4)
        self.world.clock.advance(took_s)
        return 0

    # ------------------------------------------------------------------ readings
    _GetResolution = reports(lambda u: u._resolution_ps())  # ps
    _GetSyncRate = reports(lambda u: u._rates()[0])  # /s

    @api()
    def _GetCountRate(self, devidx: Any, channel: Any, rate: Any) -> int:
        ch = self._channel(channel, 2)
        set_out(rate, int(self._rates()[1][ch]), 3)
        return 0

    @api()
    def _GetSyncPeriod(self, devidx: Any, period: Any) -> int:
        sync = self._sync_active()
        set_out(period, self._period_ps() * self._settings.sync_divider * 1e-12 if sync else 0.0, 2)
        return 0

    @api()
    def _GetFlags(self, devidx: Any, flags: Any) -> int:
        value = self._flags
        m = self._meas
        if self.spec is HH_HEADER and m is not None and m.running_at(self.world.clock.now()):
            value |= HH_FLAG_ACTIVE
        set_out(flags, value, 2)
        return 0

    _GetWarnings = reports(lambda u: u._warnings())

    @api()
    def _GetWarningsText(self, devidx: Any, text: Any, warnings: Any) -> int:
        bits = int_arg(warnings, 3)
        lines = [f"{self.spec.warnings[b]}: {WARNING_TEXTS.get(b, '')}".rstrip(": ")
                 for b in sorted(self.spec.warnings) if bits & b]
        set_text(text, "\n".join(lines), 2)
        return 0
