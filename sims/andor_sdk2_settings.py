"""The settings of the simulated iDus 420 (``tepl.sims.andor_sdk2.SimSDK2``): read, acquisition and trigger
modes, exposure and cycle times (s), the camera's capabilities, its shutter and the horizontal readout speeds,
as SDK2 functions (``SDK2Settings``, a part of ``SimSDK2``). A setting is refused with DRV_ACQUIRING while
the camera acquires and with DRV_P<n>INVALID when argument n is out of range.
"""

from __future__ import annotations

import math
from typing import Any

from tepl.sims.andor import AcquisitionSchedule, Busy
from tepl.sims.andor_sdk2_api import (
    AC_FEATURES_EVENTS,
    AC_FEATURES_POLLING,
    AC_FEATURES_SHUTTER,
    AC_FEATURES_SHUTTEREX,
    AC_FEATURES_TEMPERATUREDURINGACQUISITION,
    DRV_NOT_SUPPORTED,
    DRV_P1INVALID,
    DRV_SUCCESS,
    api,
    referenced,
    reports,
    sets,
)
from tepl.sims.c_args import ArgError, set_out, val

HS_SPEEDS_MHZ = (0.1, 0.05, 0.033)  # index 0 is the fastest, as the SDK lists them
READ_NOISE_E = (7.0, 5.0, 4.0)  # rms electrons at each horizontal speed
VERTICAL_SHIFT_S = 4.25e-6  # per row, FVB


class SDK2Settings:
    """The SDK2 functions that set and report how the camera acquires; the settings live on the camera
    (``_acq_mode``, ``_exposure_s``, ``_n_acc``, ``_acc_cycle_s``, ``_n_kin``, ``_kin_cycle_s``, ``_hs_index``,
    ``_shutter_mode``, reset by ``_reset_settings``)."""

    n_x: int
    n_y: int
    shutter_fitted: bool
    shutter_min_times_ms: tuple[int, int]

    def _reset_settings(self) -> None:
        self._acq_mode, self._exposure_s, self._n_acc, self._acc_cycle_s = 1, 0.01, 1, 0.0
        self._n_kin, self._kin_cycle_s, self._hs_index, self._shutter_mode = 1, 0.0, 0, 0

    def _readout_s(self) -> float:
        return self.n_x / (HS_SPEEDS_MHZ[self._hs_index] * 1e6) + self.n_y * VERTICAL_SHIFT_S

    def _timings(self) -> tuple[float, float, float]:
        return AcquisitionSchedule.cycle_times(self._acq_mode, self._exposure_s, self._readout_s(), self._n_acc,
                                               self._acc_cycle_s, self._kin_cycle_s)

    def _setting(self, value: Any, allowed: Any, position: int = 1) -> Any:
        if self._busy():
            raise Busy
        v = val(value)
        if not allowed(v):
            raise ArgError(position)
        return v

    # ------------------------------------------------------------------ modes and timing
    @api()
    def SetReadMode(self, mode: Any) -> int:
        """Only 0 (full vertical binning) is simulated."""
        return DRV_SUCCESS if int(self._setting(mode, lambda v: int(v) in range(5))) == 0 else DRV_NOT_SUPPORTED

    @api()
    def SetAcquisitionMode(self, mode: Any) -> int:
        m = int(self._setting(mode, lambda v: int(v) in range(1, 6)))
        if m not in (1, 2, 3):
            return DRV_NOT_SUPPORTED
        self._acq_mode = m
        return DRV_SUCCESS

    @api()
    def SetTriggerMode(self, mode: Any) -> int:
        """Only 0 (internal) is simulated: nothing in the simulated rig sends trigger pulses."""
        m = int(self._setting(mode, lambda v: int(v) in (0, 1, 6, 7, 9, 10, 12)))
        return DRV_SUCCESS if m == 0 else DRV_NOT_SUPPORTED

    SetExposureTime = sets("_exposure_s", float, lambda v: math.isfinite(v) and 0.0 <= v <= 1e5)  # s
    SetNumberAccumulations = sets("_n_acc", int, lambda v: int(v) >= 1)
    SetAccumulationCycleTime = sets("_acc_cycle_s", float, lambda v: math.isfinite(v) and v >= 0.0)  # s
    SetNumberKinetics = sets("_n_kin", int, lambda v: int(v) >= 1)
    SetKineticCycleTime = sets("_kin_cycle_s", float, lambda v: math.isfinite(v) and v >= 0.0)  # s

    @api()
    def GetAcquisitionTimings(self, exposure_ref: Any, accumulate_ref: Any, kinetic_ref: Any) -> int:
        exposure, acc, kin = self._timings()
        set_out(exposure_ref, exposure, 1)
        set_out(accumulate_ref, acc, 2)
        set_out(kinetic_ref, kin, 3)
        return DRV_SUCCESS

    GetReadOutTime = reports(lambda c: c._readout_s())  # s

    # ------------------------------------------------------------------ capabilities and shutter
    @property
    def features(self) -> int:
        """AndorCapabilities.ulFeatures: polling, events, temperature during acquisition, and the shutter bits
        when a shutter is fitted."""
        base = AC_FEATURES_POLLING | AC_FEATURES_EVENTS | AC_FEATURES_TEMPERATUREDURINGACQUISITION
        return base | (AC_FEATURES_SHUTTER | AC_FEATURES_SHUTTEREX if self.shutter_fitted else 0)

    @api()
    def GetCapabilities(self, caps_ref: Any) -> int:
        """Fill an ``AndorCapabilities`` passed by reference; its ``ulSize`` must be at least the 12 fields."""
        caps = referenced(caps_ref)
        if caps is None or not hasattr(caps, "ulFeatures") or caps.ulSize < 48:
            return DRV_P1INVALID
        caps.ulAcqModes = 1 | 4 | 8  # single, accumulate, kinetic
        caps.ulReadModes = 8  # full vertical binning (the only one simulated)
        caps.ulTriggerModes = 1  # internal
        caps.ulCameraType = 7  # AC_CAMERATYPE_IDUS
        caps.ulPixelMode = 4  # 16 bit
        caps.ulSetFunctions = 0x01 | 0x02 | 0x04  # vertical / horizontal readout, temperature
        caps.ulGetFunctions = 0x01 | 0x02 | 0x04 | 0x08  # temperature, target, range, detector size
        caps.ulFeatures = self.features
        return DRV_SUCCESS

    @api()
    def GetShutterMinTimes(self, closing_ref: Any, opening_ref: Any) -> int:
        """Minimum (closing, opening) times of the shutter in ms; DRV_NOT_SUPPORTED without a shutter."""
        if not self.shutter_fitted:
            return DRV_NOT_SUPPORTED
        set_out(closing_ref, self.shutter_min_times_ms[0], 1)
        set_out(opening_ref, self.shutter_min_times_ms[1], 2)
        return DRV_SUCCESS

    @api()
    def SetShutter(self, ttl_type: Any, mode: Any, closing_ms: Any, opening_ms: Any) -> int:
        """Camera shutter: mode 0 auto (opens for each exposure), 1 permanently open, 2 permanently closed.
        DRV_NOT_SUPPORTED on a camera without a shutter."""
        if not self.shutter_fitted:
            return DRV_NOT_SUPPORTED
        self._setting(ttl_type, lambda v: int(v) in (0, 1), 1)
        m = int(self._setting(mode, lambda v: int(v) in (0, 1, 2), 2))
        self._setting(closing_ms, lambda v: int(v) >= self.shutter_min_times_ms[0], 3)
        self._setting(opening_ms, lambda v: int(v) >= self.shutter_min_times_ms[1], 4)
        self._shutter_mode = m
        return DRV_SUCCESS

    # ------------------------------------------------------------------ horizontal readout speed
    @staticmethod
    def _check_channel_amp(channel: Any, amplifier: Any) -> None:
        if int(val(channel)) != 0 or int(val(amplifier)) != 0:
            raise ArgError(1 if int(val(channel)) != 0 else 2)

    @api()
    def GetNumberHSSpeeds(self, channel: Any, amplifier: Any, number_ref: Any) -> int:
        self._check_channel_amp(channel, amplifier)
        set_out(number_ref, len(HS_SPEEDS_MHZ), 3)
        return DRV_SUCCESS

    @api()
    def GetHSSpeed(self, channel: Any, amplifier: Any, index: Any, speed_ref: Any) -> int:
        """Horizontal readout speed number ``index`` in MHz."""
        self._check_channel_amp(channel, amplifier)
        if not 0 <= int(val(index)) < len(HS_SPEEDS_MHZ):
            raise ArgError(3)
        set_out(speed_ref, HS_SPEEDS_MHZ[int(val(index))], 4)
        return DRV_SUCCESS

    @api()
    def SetHSSpeed(self, amplifier: Any, index: Any) -> int:
        self._setting(amplifier, lambda v: int(v) == 0, 1)
        self._hs_index = int(self._setting(index, lambda v: 0 <= int(v) < len(HS_SPEEDS_MHZ), 2))
        self._record_truth()
        return DRV_SUCCESS
