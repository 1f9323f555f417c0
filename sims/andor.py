"""Pieces shared by the Andor library simulators: the function-call wrapper and the CCD and TE cooler models.

The SDK2 (camera) and ShamrockCIF (spectrograph) libraries are C libraries called through ctypes; their
simulators read the arguments with ``tepl.sims.c_args`` and answer a malformed one with the library's
"parameter n invalid" code.

``SimSDK2`` lives in ``tepl.sims.andor_sdk2``, ``SimShamrock`` in ``tepl.sims.andor_shamrock``;
``make_sim_libraries(world)`` builds the pair that share one optical path.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import numpy as np

from tepl import kernels
from tepl.kernels import twin as twin_kernels
from tepl.sims.c_args import ArgError
from tepl.sims.tepl_memo import LastCall


def make_sim_libraries(world: Any, **ccd_options: Any) -> tuple[Any, Any]:
    """A simulated SDK2 library (iDus 420) behind a simulated ShamrockCIF library (Kymera 328i)."""
    from tepl.sims.andor_sdk2 import SimSDK2
    from tepl.sims.andor_shamrock import SimShamrock

    shamrock = SimShamrock(world)
    ccd_options.setdefault("platform", "windows" if os.name == "nt" else "linux")  # the SDK of this machine
    return SimSDK2(world, shamrock, **ccd_options), shamrock


class Busy(Exception):
    """The request needs an idle camera; the library answers DRV_ACQUIRING."""


def api_factory(not_initialized: int, p_invalid: dict[int, int], wire_time_s: float,
                busy: int | None = None, before: str | None = None):
    """Decorator factory for simulated library functions.

    Each call takes ``wire_time_s`` of simulated time, is refused with ``not_initialized`` before the
    library is initialised (unless ``requires_init=False``), runs ``self.<before>(now_s)`` first when named
    (``now_s``: the simulated time after the wire time),
    and maps ``ArgError`` / ``Busy`` to the library's codes. Calls are serialised by ``self._lock``.
    A simulator with a ``faults`` switchboard (``tepl.sims.faults.Faults``) answers a call the faults apply
    to with ``self._faulty_call(fault, name, args)`` (a return code, or None to run the call as usual).
    """

    def api(requires_init: bool = True):
        def wrap(fn):
            name = fn.__name__

            @functools.wraps(fn)
            def call(self, *args):
                faults = getattr(self, "faults", None)
                if faults is not None and faults.any and (fault := faults.hit(name)) is not None:
                    answer = self._faulty_call(fault, name, args)
                    if answer is not None:
                        return answer
                with self._lock:
                    now_s = self.world.clock.advance_and_now(wire_time_s)
                    if requires_init and not self._initialized:
                        return not_initialized
                    if before is not None:
                        getattr(self, before)(now_s)
                    try:
                        return fn(self, *args)
                    except ArgError as e:
                        return p_invalid.get(e.position, max(p_invalid.values()))
                    except Busy:
                        return busy

            return call

        return wrap

    return api


QE_PEAK, QE_PEAK_NM, QE_WIDTH_NM = 0.58, 680.0, 250.0
SATURATION_COUNTS = 65535  # 16-bit ADC
COSMIC_RATE_PER_S = 0.05  # cosmic-ray hits on the whole 26.6 x 6.6 mm chip
DARK_E_PER_PX_S_AT_M80 = 0.004  # dark current at -80 °C, doubling every 7 °C


def quantum_efficiency(wavelength_nm: np.ndarray) -> np.ndarray:
    """Open-electrode CCD quantum efficiency (fraction) vs wavelength (nm): ~0.5 across 600-800 nm."""
    wl = np.asarray(wavelength_nm, float)
    return np.clip(QE_PEAK * np.exp(-0.5 * ((wl - QE_PEAK_NM) / QE_WIDTH_NM) ** 2), 0.01, 1.0)


_chip_qe = LastCall(quantum_efficiency)  # the same axis every exposure of a scan


class AcquisitionSchedule:
    """The exposure schedule of one StartAcquisition and the frames it fills.

    Exposure ``a`` of frame ``k`` starts at t0 + k·kinetic_cycle + a·accumulate_cycle and is read out
    ``exposure_s + readout_s`` later. ``WaitForAcquisition`` moves the clock to each exposure's start,
    takes the world's light then, and moves it on to the end of the readout. A client that polls
    ``GetStatus`` while sleeping on the clock gets the exposures whose end has passed, and those take the
    world's light at the time of the poll.
    """

    def __init__(self, t0_s: float, frames: int, accumulations: int, exposure_s: float, readout_s: float,
                 accumulate_cycle_s: float, kinetic_cycle_s: float, n_pixels: int):
        self.frames, self.accumulations, self.exposure_s = frames, accumulations, exposure_s
        self.schedule = [(k, t0_s + k * kinetic_cycle_s + a * accumulate_cycle_s)
                         for k in range(frames) for a in range(accumulations)]
        self.readout_s = readout_s
        self._shape = (frames, n_pixels)
        self._data: np.ndarray | None = None  # made by the first readout (or the first look at it)
        self.done = 0  # exposures read out
        self.aborted = False

    @property
    def data(self) -> np.ndarray:
        """Counts (int64) of each frame so far, summed over its accumulations; shape (frames, pixels)."""
        if self._data is None:
            self._data = np.zeros(self._shape, np.int64)
        return self._data

    def add_readout(self, frame: int, counts: np.ndarray) -> None:
        """Add the ``counts`` of one readout to ``frame``. A single frame's first readout is kept as it is (the
        caller hands it over), without a frame of zeros to add it to."""
        if self._data is None and self._shape[0] == 1 and counts.dtype == np.int64 \
                and counts.shape == (self._shape[1],):
            self._data = counts.reshape(self._shape)
        else:
            self.data[frame] += counts

    @staticmethod
    def cycle_times(acq_mode: int, exposure_s: float, readout_s: float, accumulations: int,
                    accumulate_cycle_s: float, kinetic_cycle_s: float) -> tuple[float, float, float]:
        """(exposure, accumulate cycle, kinetic cycle) in s, as GetAcquisitionTimings reports them."""
        exposure = float(np.float32(exposure_s))
        n_acc = accumulations if acq_mode in (2, 3) else 1
        acc = max(accumulate_cycle_s, exposure + readout_s) if acq_mode in (2, 3) else exposure + readout_s
        kin = max(kinetic_cycle_s, n_acc * acc) if acq_mode == 3 else n_acc * acc
        return exposure, acc, kin

    @property
    def running(self) -> bool:
        return not self.aborted and self.done < len(self.schedule)

    def next_end_s(self) -> float:
        return self.schedule[self.done][1] + self.exposure_s + self.readout_s

    def due(self, now_s: float) -> bool:
        """An exposure is still to be read out and its readout has ended by ``now_s``."""
        return self.running and self.next_end_s() <= now_s

    def frames_done(self) -> int:
        return self.done // self.accumulations


class FvbSensor:
    """The CCD read in full vertical binning: one column sum of ``n_y`` pixels per spectral pixel."""

    def __init__(self, rng: np.random.Generator, n_x: int, n_y: int, gain_e_per_count: float,
                 baseline_counts: float):
        self.rng, self.n_x, self.n_y = rng, n_x, n_y
        self.gain_e_per_count, self.baseline_counts = float(gain_e_per_count), float(baseline_counts)
        self.cosmic_ray_hits: list[tuple[int, int, float]] = []  # (exposure, column, electrons)
        # scratch of the compiled path, rewritten by every readout (readouts are serialised by the camera)
        self._mean_e, self._electrons = np.empty(self.n_x), np.empty(self.n_x)
        self._dark_at: tuple[float, float] = (math.nan, 0.0)  # (temperature °C, dark e-/pixel/s) last asked

    @staticmethod
    def dark_e_per_pixel_s(temperature_c: float) -> float:
        """Dark current per pixel (e-/s) at ``temperature_c``."""
        return DARK_E_PER_PX_S_AT_M80 * 2.0 ** ((temperature_c + 80.0) / 7.0)

    def read(self, photons: np.ndarray | None, wavelength_nm: np.ndarray | None, exposure_s: float,
             temperature_c: float, read_noise_e: float, exposure_index: int = 0) -> np.ndarray:
        """ADC counts (int64) of one readout: Poisson(QE·photons + dark) + read noise, gain, baseline."""
        rng = self.rng
        if temperature_c != self._dark_at[0]:  # the same temperature, to the bit, every exposure once stable
            self._dark_at = (temperature_c, self.dark_e_per_pixel_s(temperature_c))
        dark_e = self._dark_at[1] * self.n_y * exposure_s
        if kernels.ENABLED and photons is not None:
            electrons = self._electrons_compiled(photons, _chip_qe(wavelength_nm), dark_e)
            noise = rng.standard_normal(self.n_x)  # read noise = read_noise_e x this, added in the compiled step
            self._cosmic_rays(electrons, exposure_s, exposure_index)
            return twin_kernels.counts_from_electrons(electrons, noise, float(read_noise_e), self.gain_e_per_count,
                                                      self.baseline_counts, float(SATURATION_COUNTS),
                                                      np.empty(self.n_x, np.int64))
        mean_e = np.full(self.n_x, dark_e)
        if photons is not None:
            mean_e += _chip_qe(wavelength_nm) * np.maximum(photons, 0.0)
        electrons = rng.poisson(mean_e).astype(float)
        electrons += rng.normal(0.0, read_noise_e, self.n_x)
        self._cosmic_rays(electrons, exposure_s, exposure_index)
        counts = electrons  # from here on in place: baseline + electrons / gain, rounded, within the ADC's range
        counts /= self.gain_e_per_count
        counts += self.baseline_counts
        np.rint(counts, out=counts)
        np.maximum(counts, 0, out=counts)
        np.minimum(counts, SATURATION_COUNTS, out=counts)
        return counts.astype(np.int64)

    def _cosmic_rays(self, electrons: np.ndarray, exposure_s: float, exposure_index: int) -> None:
        """Add the cosmic-ray hits of one exposure to ``electrons`` (in place) and remember them as truth."""
        rng = self.rng
        for _ in range(rng.poisson(COSMIC_RATE_PER_S * exposure_s)):
            column = int(rng.integers(0, self.n_x))
            deposit_e = float(rng.lognormal(math.log(2000.0), 0.6))
            electrons[column] += deposit_e
            self.cosmic_ray_hits.append((exposure_index, column, deposit_e))

    def _electrons_compiled(self, photons: np.ndarray, quantum_efficiency: np.ndarray, dark_e: float) -> np.ndarray:
        """Poisson electrons (float) of each pixel, mean ``dark_e`` + QE x photons: the dim pixels (nearly all of
        a raster's) by inverting the Poisson CDF at one uniform number each, in one compiled loop; the bright
        ones, if any, by ``Generator.poisson``. The same distribution as ``rng.poisson(mean)`` in ``read``, from
        other draws of the same stream."""
        if type(photons) is not np.ndarray or photons.dtype != np.float64:
            photons = np.asarray(photons, float)
        if photons.shape != (self.n_x,):
            raise ValueError(f"photons must hold one value per pixel ({self.n_x}), got shape {photons.shape}")
        electrons, mean_e = self._electrons, self._mean_e
        if twin_kernels.electrons_by_search(photons, quantum_efficiency, dark_e, self.rng.random(self.n_x), mean_e,
                                            electrons):
            bright = ~(mean_e < twin_kernels.POISSON_BY_SEARCH_BELOW)
            electrons[bright] = self.rng.poisson(mean_e[bright])
        return electrons

    def truth(self) -> dict:
        return {
            "baseline_counts": self.baseline_counts, "gain_e_per_count": self.gain_e_per_count,
            "saturation_counts": SATURATION_COUNTS,
            "qe": {"peak": QE_PEAK, "peak_nm": QE_PEAK_NM, "width_nm": QE_WIDTH_NM},
            "dark_e_per_pixel_s_at_minus80_c": DARK_E_PER_PX_S_AT_M80,
            "cosmic_ray_hits": list(self.cosmic_ray_hits),
        }


class CoolerModel:
    """Thermoelectric cooler and sensor temperature, integrated exactly over simulated time.

    Cooling runs at ``COOL_C_PER_S`` towards the setpoint (or the lowest temperature the TEC reaches on
    air, ``FLOOR_C``); raising the setpoint warms at ``WARM_C_PER_S``; with the cooler off the sensor
    relaxes to ambient with time constant ``OFF_TAU_S``. The status follows the SDK: OFF, NOT_REACHED
    while more than ``TOLERANCE_C`` from the setpoint, NOT_STABILIZED for ``STABILIZE_S`` after arriving,
    STABILIZED afterwards, DRIFT when it leaves the setpoint again after having stabilised.
    """

    OFF, NOT_STABILIZED, STABILIZED, NOT_REACHED, DRIFT = 20034, 20035, 20036, 20037, 20040
    RANGE_C = (-100, 20)
    AMBIENT_C = 20.0
    FLOOR_C = -85.0
    COOL_C_PER_S = 10.0 / 60.0
    WARM_C_PER_S = 6.0 / 60.0
    OFF_TAU_S = 150.0
    TOLERANCE_C = 1.0
    STABILIZE_S = 90.0

    def __init__(self, now_s: float):
        self.temperature_c = self.AMBIENT_C
        self.setpoint_c = float(self.RANGE_C[1])
        self.on = False
        self._last_s = now_s
        self._arrived_s: float | None = None
        self._was_stable = False

    def update(self, now_s: float) -> None:
        dt = now_s - self._last_s
        if dt <= 0.0:
            return
        if self._was_stable and self.on and self.temperature_c == max(self.setpoint_c, self.FLOOR_C):
            self._last_s = now_s  # holding a setpoint it has stabilised at: nothing else changes
            return
        t0, self._last_s = self._last_s, now_s
        if not self.on:
            self.temperature_c = self.AMBIENT_C + (self.temperature_c - self.AMBIENT_C) * math.exp(-dt / self.OFF_TAU_S)
            return
        target = max(self.setpoint_c, self.FLOOR_C)
        gap = target - self.temperature_c
        if gap == 0.0:
            if self._arrived_s is None:
                self._arrived_s = t0
        else:
            rate = self.WARM_C_PER_S if gap > 0 else self.COOL_C_PER_S
            need_s = abs(gap) / rate
            if need_s <= dt:
                self.temperature_c = target
                self._arrived_s = t0 + need_s
            else:
                self.temperature_c += math.copysign(rate * dt, gap)
        if self._arrived_s is not None and now_s - self._arrived_s >= self.STABILIZE_S \
                and abs(self.temperature_c - self.setpoint_c) <= self.TOLERANCE_C:
            self._was_stable = True

    def set_setpoint(self, setpoint_c: float, now_s: float) -> None:
        self.update(now_s)
        self.setpoint_c = float(setpoint_c)
        self._arrived_s, self._was_stable = None, False

    def switch(self, on: bool, now_s: float) -> None:
        self.update(now_s)
        if on != self.on:
            self.on = on
            self._arrived_s, self._was_stable = None, False

    def disturb(self, delta_c: float, now_s: float) -> None:
        """A sudden heat load (e.g. the fan stops for a moment): the sensor jumps by ``delta_c``."""
        self.update(now_s)
        self.temperature_c += delta_c
        self._arrived_s = None

    def status(self, now_s: float) -> int:
        self.update(now_s)
        if not self.on:
            return self.OFF
        if abs(self.temperature_c - self.setpoint_c) > self.TOLERANCE_C:
            return self.DRIFT if self._was_stable else self.NOT_REACHED
        if self._arrived_s is None or now_s - self._arrived_s < self.STABILIZE_S:
            return self.NOT_STABILIZED
        self._was_stable = True
        return self.STABILIZED
