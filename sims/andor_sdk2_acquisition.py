"""Acquisition and data of the simulated iDus 420 (``tepl.sims.andor_sdk2.SimSDK2``), as SDK2 functions
(``SDK2Acquisition``, a part of ``SimSDK2``): StartAcquisition lays out the exposures on a schedule in
simulated time (``tepl.sims.andor.AcquisitionSchedule``), every library call first reads out the exposures
whose end has passed (``_catch_up``), the waits move the clock to the next readout, and the data come out
as int32 or uint16 arrays, frame after frame.

Each exposure takes the light that reaches the chip through the attached spectrograph simulator
(``world.spectrum_photons`` at the true wavelength of each pixel, through the slit, the filter and the exit
port) and the CCD model (``tepl.sims.andor.FvbSensor``) turns it into counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.sims.andor import SATURATION_COUNTS, AcquisitionSchedule
from tepl.sims.andor_sdk2_api import (
    DRV_ACQUIRING,
    DRV_IDLE,
    DRV_NO_NEW_DATA,
    DRV_P2INVALID,
    DRV_SUCCESS,
    api,
    check_width,
)
from tepl.sims.andor_sdk2_settings import READ_NOISE_E
from tepl.sims.c_args import c_array, set_out, val

# the values the data array of each GetAcquiredData variant holds (int32, uint16)
_LIMITS = {dtype: (np.iinfo(dtype).min, np.iinfo(dtype).max) for dtype in (np.int32, np.uint16)}


class SDK2Acquisition:
    """The SDK2 functions that run an acquisition and hand out its data; the running one is ``_acq``."""

    _acq: AcquisitionSchedule | None

    # ------------------------------------------------------------------ model
    def _expose(self, exposure_s: float, start_s: float | None = None) -> np.ndarray:
        """Counts of one FVB readout after ``exposure_s`` of the light reaching the chip from ``start_s``
        (default now)."""
        photons = wl = None
        optics = self.spectrograph
        if optics is not None and (self._shutter_mode in (0, 1) or not self.shutter_fitted) \
                and optics.light_reaches_ccd():
            wl = optics.true_wavelengths_nm(self.n_x, self.pixel_um)
            # the width the lamp's lines are drawn at: only asked for while the lamp shines
            lamp = {"resolution_fwhm_nm": optics.lamp_render_fwhm_nm(wl)} if self.world.lamp_on else {}
            photons = self.world.spectrum_photons(wl, exposure_s, start_s=start_s, **lamp)
            photons = optics.pass_light(photons, wl, self.pixel_um)
        return self.sensor.read(photons, wl, exposure_s, self.cooler.temperature_c,
                                READ_NOISE_E[self._hs_index], self._acq.done if self._acq else 0)

    def _run_next_exposure(self, on_time: bool) -> None:
        """Read out the next scheduled exposure; ``on_time`` first moves the clock to its start."""
        acq = self._acq
        frame, start_s = acq.schedule[acq.done]
        clock = self.world.clock
        now = clock.now()
        if on_time and now < start_s:
            now = clock.advance_and_now(start_s - now)
        self.cooler.update(now)
        acq.add_readout(frame, self._expose(acq.exposure_s, start_s))  # the light of its own exposure time
        if on_time:
            now, end_s = clock.now(), start_s + acq.exposure_s + acq.readout_s
            if now < end_s:
                clock.advance(end_s - now)
        acq.done += 1
        self._record_truth()

    def _catch_up(self, now_s: float | None = None) -> None:
        """Bring the cooler and any running acquisition up to the present simulated time (``now_s``, s, when
        the caller has just read the clock)."""
        now = self.world.clock.now() if now_s is None else now_s
        self.cooler.update(now)
        acq = self._acq
        while acq is not None and acq.due(now):
            self._run_next_exposure(on_time=False)

    def _busy(self) -> bool:
        return self._acq is not None and self._acq.running

    # ------------------------------------------------------------------ acquisition
    @api()
    def StartAcquisition(self) -> int:
        if self._busy():
            return DRV_ACQUIRING
        exposure, acc, kin = self._timings()
        self.sensor.cosmic_ray_hits = []
        self._acq = AcquisitionSchedule(self.world.clock.now(), self._n_kin if self._acq_mode == 3 else 1,
                                        self._n_acc if self._acq_mode in (2, 3) else 1, exposure,
                                        self._readout_s(), acc, kin, self.n_x)
        return DRV_SUCCESS

    @api()
    def GetStatus(self, status_ref: Any) -> int:
        set_out(status_ref, DRV_ACQUIRING if self._busy() else DRV_IDLE, 1)
        return DRV_SUCCESS

    @api()
    def WaitForAcquisition(self) -> int:
        """Returns after the next exposure is read out; DRV_NO_NEW_DATA at once when nothing runs."""
        if not self._busy():
            return DRV_NO_NEW_DATA
        self._run_next_exposure(on_time=True)
        return DRV_SUCCESS

    @api()
    def WaitForAcquisitionTimeOut(self, timeout_ms: Any) -> int:
        timeout_s = max(0, int(val(timeout_ms))) / 1000.0
        clock = self.world.clock
        if not self._busy() or self._acq.next_end_s() - clock.now() > timeout_s:
            clock.advance(timeout_s)
            self._catch_up()
            return DRV_NO_NEW_DATA
        self._run_next_exposure(on_time=True)
        return DRV_SUCCESS

    @api()
    def AbortAcquisition(self) -> int:
        if not self._busy():
            return DRV_IDLE
        self._acq.aborted = True
        return DRV_SUCCESS

    @api()
    def GetAcquisitionProgress(self, accumulations_ref: Any, series_ref: Any) -> int:
        """Writes two ``at_32`` (32-bit) counts; an output of another width is refused (P1 / P2 invalid), as a
        64-bit C ``long`` would be misread by a big-endian or a stack-checking build."""
        check_width(accumulations_ref, 4, 1)
        check_width(series_ref, 4, 2)
        acq = self._acq
        done, n_acc = (acq.done, acq.accumulations) if acq is not None else (0, 1)
        complete = acq is not None and not acq.running and not acq.aborted
        set_out(accumulations_ref, n_acc if complete else done % n_acc, 1)
        set_out(series_ref, done // n_acc, 2)
        return DRV_SUCCESS

    # ------------------------------------------------------------------ data
    def _copy_out(self, array: Any, size: Any, frames: np.ndarray, dtype: Any) -> int:
        n = int(val(size))
        if n != frames.size:
            return DRV_P2INVALID
        low, high = _LIMITS[dtype]
        out = c_array(array, n, dtype, 1)[:n]
        if high >= SATURATION_COUNTS * self._acq.accumulations:  # every count fits (each readout is 0..65535)
            out[:] = frames.ravel()
            return DRV_SUCCESS
        values = np.maximum(frames.ravel(), low)  # a new array: clipped in place
        np.minimum(values, high, out=values)
        out[:] = values
        return DRV_SUCCESS

    def _acquired(self, array: Any, size: Any, dtype: Any) -> int:
        acq = self._acq
        if self._busy():
            return DRV_ACQUIRING
        if acq is None or acq.aborted:
            return DRV_NO_NEW_DATA
        return self._copy_out(array, size, acq.data, dtype)

    @api()
    def GetAcquiredData(self, array: Any, size: Any) -> int:
        """The whole acquisition as int32, frame after frame; ``size`` must be frames × 1024."""
        return self._acquired(array, size, np.int32)

    @api()
    def GetAcquiredData16(self, array: Any, size: Any) -> int:
        """As GetAcquiredData, into a uint16 array (values above 65535 are clipped)."""
        return self._acquired(array, size, np.uint16)

    @api()
    def GetMostRecentImage(self, array: Any, size: Any) -> int:
        """The last completed frame (works during a kinetic series)."""
        acq = self._acq
        if acq is None or acq.frames_done() == 0:
            return DRV_NO_NEW_DATA
        return self._copy_out(array, size, acq.data[acq.frames_done() - 1], np.int32)
