"""The one virtual microscope behind every simulator: sample, tip, optics and a clock.

Each protocol simulator (PI GCS controller, RHK R9, Andor library) holds a reference to the same
``World``: the stage simulator writes ``stage_um``, the R9 simulator writes ``tip_z_nm``, the shutter
writes ``shutter_open`` (the spectrograph's entrance shutter), the excitation shutter's controller writes
``excitation_open``, a picomotor controller ``picomotor_nm``, a cryostat's temperature controller
``sample_temperature_k``, and the CCD simulator asks ``spectrum_photons`` what light reaches the detector.

Time: ``world.clock`` is simulated. In tests and scripted runs it advances only when a simulator says an
operation took time (an exposure, a servo settle, a command on the wire), so a 1 s exposure returns at
once with 1 s worth of photons. ``real_time=True`` makes it follow the wall clock (used when a simulator
is served on a TCP port for third-party clients, or to pace a demo).

Randomness: every stream comes from ``world.rng(name)``, derived from the world seed and the stream's
name, so each run replays exactly.

Ground truth (emitter table, tip and sample parameters, the spectrograph's true dispersion) is kept in
``world.ground_truth()``; only tests and the recorder's simulation block may read it.
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any

import numpy as np

from tepl.sims.tepl_memo import LastCall

# Light reaching the spectrograph from the sample passes a 633 nm long-pass edge filter (paper 000).
LONGPASS_EDGE_NM = 636.0
LONGPASS_WIDTH_NM = 1.0
ROOM_TEMPERATURE_K = 295.0  # the sample's temperature on a station without a cryostat


class Clock:
    """Simulated time in seconds. Manual by default; follows the wall clock when ``real_time``."""

    def __init__(self, real_time: bool = False):
        self.real_time = real_time
        self._t_s = 0.0
        self._wall0 = time.monotonic()
        self._lock = threading.Lock()

    def now(self) -> float:
        if self.real_time:
            return time.monotonic() - self._wall0
        return self._t_s  # one attribute read is atomic; the lock orders the read-modify-writes of ``advance``

    def advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds pass (sleeps when real-time, else moves simulated time on)."""
        if dt_s <= 0:
            return
        if self.real_time:
            time.sleep(dt_s)
            return
        with self._lock:
            self._t_s += dt_s

    def advance_and_now(self, dt_s: float) -> float:
        """``advance(dt_s)`` and then the time (s) it brought the clock to, read under the same lock."""
        if self.real_time or dt_s <= 0:
            self.advance(dt_s)
            return self.now()
        with self._lock:
            self._t_s += dt_s
            return self._t_s

    sleep = advance


class World:
    """Shared state of the simulated microscope.

    Coordinates: the tip and the laser focus are fixed; the sample rides on the XYZ stage. The sample
    point under the tip is ``stage_um[:2] * 1000`` nm plus the slow thermal drift. ``tip_z_nm`` is the
    tip apex height above the Au substrate plane (z = 0); the dot surfaces stand above it.
    """

    def __init__(self, sample: Any = None, seed: int = 0, real_time: bool = False,
                 drift_nm_per_s: tuple[float, float] = (0.004, -0.003)):
        self.seed = int(seed)
        self.clock = Clock(real_time)
        self.lock = threading.RLock()
        if sample is None:
            from tepl.sims.tepl_sample import TeplSample

            sample = TeplSample.generate(seed=self.seed)
        self.sample = sample
        self.stage_um = np.array([50.0, 50.0, 50.0])
        self.tip_z_nm = 2000.0  # retracted
        self.shutter_open = False  # the spectrograph's entrance shutter: no light reaches the CCD when closed
        self.lamp_on = False  # Ar-Hg calibration lamp in front of the slit
        # the laser reaches the sample; an excitation shutter's simulator sets it (a station without one: always)
        self.excitation_open = True
        # the laser emits, at this fraction of its rated power; a laser's simulator sets them (else: always, full)
        self.laser_emitting = True
        self.excitation_power_fraction = 1.0
        # travel (nm) of each picomotor actuator since power-up, by controller axis; a picomotor simulator fills it
        # (for the tip-laser alignment to use); empty on a station without one
        self.picomotor_nm: dict[int, float] = {}
        # the sample stage's true temperature (K): room temperature without a cryostat; a cryostat's simulator
        # keeps it (samples that follow temperature read it)
        self.sample_temperature_k = ROOM_TEMPERATURE_K
        # the tip apex relative to the laser focus centre (nm, sample x and y) before any picomotor travel, and the
        # controller axes whose actuators move the tip along x and y (None: no picomotor moves it that way)
        self.tip_focus_offset_nm = np.zeros(2)
        self.tip_picomotor_axes: tuple[int | None, int | None] = (None, None)
        self.drift_nm_per_s = np.asarray(drift_nm_per_s, float)
        self.crashed = False  # set when the tip is driven into the hard substrate
        # the tip's coarse positioner at power-up: the retracted apex height above the substrate (nm; None: the
        # coarse base at 0) and the spread of its steps (each within ±jitter of nominal); a Z controller reads them
        self.tip_start_nm: float | None = None
        self.coarse_step_jitter = 0.0
        self.lowest_tip_distance_nm = float("inf")  # closest approach to the surface so far (truth)
        self.longpass_edge_nm: float | None = LONGPASS_EDGE_NM  # filter before the spectrograph (None: none)
        self.laser: Any = None  # sims.photons.Laser exciting the sample (confocal stations)
        self.detection: Any = None  # sims.detection.DetectionPath: splitter, filters and SPADs
        self._photon_rng: np.random.Generator | None = None
        self._truth: dict[str, dict] = {}

    # ------------------------------------------------------------------ randomness and truth
    def rng(self, name: str) -> np.random.Generator:
        """A reproducible random stream for the named subsystem (e.g. ``"ccd"``)."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def record_truth(self, name: str, values: dict) -> None:
        """Simulators register their hidden parameters here (e.g. the true dispersion)."""
        self._truth[name] = values

    def ground_truth(self) -> dict:
        """Everything the twin knows that a measurement must find out. Tests only."""
        truth = {"sample": self.sample.ground_truth(), "world": {
            "seed": self.seed,
            "clock_s": self.clock.now(),  # simulated time of this snapshot (a run's start)
            "drift_nm_per_s": self.drift_nm_per_s.tolist(),
            "longpass_edge_nm": self.longpass_edge_nm,
            "crashed": self.crashed,  # the tip was driven into the substrate (so far)
        }}
        if self.laser is not None:
            truth["world"]["laser"] = self.laser.describe()
        if self.detection is not None:
            truth["world"]["detection"] = self.detection.describe()
        if self.tip_picomotor_axes != (None, None) or np.any(self.tip_focus_offset_nm):
            truth["world"]["tip_focus"] = {
                "start_offset_nm": np.asarray(self.tip_focus_offset_nm, float).tolist(),
                "apex_offset_nm": list(self.apex_offset_nm()),  # now: the focus centre is at (0, 0)
                "picomotor_axes": list(self.tip_picomotor_axes),
            }
        truth.update(self._truth)
        return truth

    # ------------------------------------------------------------------ geometry
    def focus_xy_nm(self, t_s: float | None = None) -> tuple[float, float]:
        """Sample coordinates (nm) in the laser focus centre at time ``t_s`` (default now), drift included."""
        t = self.clock.now() if t_s is None else t_s
        x = self.stage_um[0] * 1000.0 + self.drift_nm_per_s[0] * t
        y = self.stage_um[1] * 1000.0 + self.drift_nm_per_s[1] * t
        return float(x), float(y)

    def apex_offset_nm(self) -> tuple[float, float]:
        """Where the tip apex is relative to the focus centre (nm, x and y): the start offset plus the travel of
        the picomotors that carry the tip."""
        dx, dy = float(self.tip_focus_offset_nm[0]), float(self.tip_focus_offset_nm[1])
        axis_x, axis_y = self.tip_picomotor_axes
        if axis_x is not None:
            dx += self.picomotor_nm.get(axis_x, 0.0)
        if axis_y is not None:
            dy += self.picomotor_nm.get(axis_y, 0.0)
        return dx, dy

    def tip_xy_nm(self, t_s: float | None = None) -> tuple[float, float]:
        """Sample coordinates (nm) under the tip apex at time ``t_s`` (default now), drift included: the focus
        point plus the apex offset."""
        x, y = self.focus_xy_nm(t_s)
        dx, dy = self.apex_offset_nm()
        return x + dx, y + dy

    def surface_nm(self) -> float:
        """Height (nm) of the surface the tip apex would touch at its present lateral position."""
        return self.sample.height_at_nm(*self.tip_xy_nm())

    def tip_distance_nm(self) -> float:
        """Apex-to-surface distance (nm); negative when the tip is pressed into a dot."""
        return self.tip_z_nm - self.surface_nm()

    def set_tip_z_nm(self, z_nm: float) -> None:
        """Place the apex; below the hard Au plane it stops there and the world records a crash."""
        if z_nm < 0.0:
            self.crashed = True
            z_nm = 0.0
        self.tip_z_nm = float(z_nm)
        self.lowest_tip_distance_nm = min(self.lowest_tip_distance_nm, self.tip_distance_nm())

    def shear_amplitude(self) -> float:
        """Tuning-fork amplitude as a fraction of free amplitude at the present tip position."""
        return float(self.sample.shear_amplitude(np.array([self.tip_distance_nm()]))[0])

    # ------------------------------------------------------------------ optics
    @property
    def sample_excited(self) -> bool:
        """Whether laser light reaches the sample: the laser emits, at some power, and the excitation shutter is
        open."""
        return self.excitation_open and self.laser_emitting and self.excitation_power_fraction > 0

    def spectrum_photons(self, wavelength_nm: np.ndarray, exposure_s: float,
                         resolution_fwhm_nm: float = 0.62, start_s: float | None = None) -> np.ndarray:
        """Expected photons per pixel reaching the CCD during the ``exposure_s`` seconds from ``start_s``
        (default now; a camera catching up on a series passes each exposure's own start).

        ``wavelength_nm`` holds the true centre wavelength of every pixel. Nothing arrives while the entrance
        shutter is closed. The sample emits only while ``excitation_open`` (always on a station without an
        excitation shutter) and the laser emits, in proportion to the laser's power; its light passes the long-pass
        filter. The calibration lamp shines straight into the slit whatever the excitation does. With the apex away
        from the focus centre the sample is asked for its emission with that offset (a sample without a tip model
        refuses it).
        """
        wl = np.asarray(wavelength_nm, float)
        if not self.shutter_open:
            return np.zeros_like(wl)
        photons = None
        if self.sample_excited:
            t0 = self.clock.now() if start_s is None else float(start_s)
            x, y = self.focus_xy_nm(t0 + 0.5 * exposure_s)
            dx, dy = self.apex_offset_nm()
            if dx or dy:
                rate = self.sample.photon_rate(x + dx, y + dy, self.tip_z_nm, wl, t0, exposure_s,
                                               apex_offset_nm=(dx, dy))
            else:
                rate = self.sample.photon_rate(x, y, self.tip_z_nm, wl, t0, exposure_s)
            if self.longpass_edge_nm is not None:
                photons = rate * _longpass(wl, self.longpass_edge_nm)
                photons *= exposure_s * self.excitation_power_fraction  # in place: ``photons`` is this call's own
            else:
                photons = rate * (exposure_s * self.excitation_power_fraction)
        if photons is None:
            photons = np.zeros_like(wl)
        if self.lamp_on:
            photons += arhg_lamp_rate(wl, resolution_fwhm_nm) * exposure_s
        return photons

    # ------------------------------------------------------------------ photon counting
    def detected_photons(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Detector clicks between simulated times ``t0_s`` and ``t1_s``: (time_ps int64, counted from
        clock zero, sorted; channel int8, the 0-based detector). The sample point under the focus is taken
        at the interval's middle (drift included); callers ask for short intervals (a FIFO read). While the
        excitation is blocked (``excitation_open`` False) the sample emits nothing and only the detectors' dark
        counts (and their afterpulses) click."""
        if self.detection is None or self.laser is None:
            raise RuntimeError("this World has no laser and detection path (not a photon-counting station)")
        if t1_s <= t0_s:
            return np.zeros(0, np.int64), np.zeros(0, np.int8)
        if self._photon_rng is None:
            self._photon_rng = self.rng("photons")
        if self.sample_excited:
            x, y = self.focus_xy_nm(0.5 * (t0_s + t1_s))
            time_ps, wavelength_nm = self.sample.collected_photons(x, y, t0_s, t1_s - t0_s, self.laser,
                                                                   self._photon_rng)
            if self.excitation_power_fraction < 1.0:  # linear regime: fewer photons in proportion
                kept = self._photon_rng.random(time_ps.size) < self.excitation_power_fraction
                time_ps, wavelength_nm = time_ps[kept], wavelength_nm[kept]
        else:
            time_ps, wavelength_nm = np.zeros(0, np.int64), np.zeros(0, float)
        return self.detection.detect(time_ps, wavelength_nm, t0_s, t1_s, self._photon_rng)


# Ar-Hg pencil-lamp lines in air (nm) with rough relative intensities (photons/s at the CCD, peak line).
ARHG_LINES_NM = np.array([
    404.656, 435.833, 546.074, 576.960, 579.066, 696.543, 706.722, 714.704, 727.294, 738.398,
    750.387, 763.511, 772.376, 794.818, 800.616, 811.531, 826.452, 842.465, 852.144, 866.794,
    912.297, 922.450,
])
ARHG_RATES = np.array([
    2e4, 4e4, 6e4, 2e4, 2e4, 1.5e4, 1e4, 3e3, 5e3, 8e3,
    2e4, 4e4, 1.2e4, 1e4, 1e4, 2e4, 1e4, 1.5e4, 5e3, 3e3,
    8e3, 4e3,
])


def longpass_transmission(wavelength_nm: np.ndarray, edge_nm: float) -> np.ndarray:
    """Transmission (fraction) of the collection path's long-pass filter of edge ``edge_nm`` at each wavelength."""
    return 0.5 * (1.0 + np.tanh((np.asarray(wavelength_nm, float) - edge_nm) / LONGPASS_WIDTH_NM))


_longpass = LastCall(longpass_transmission)  # the same axis every pixel of a scan


def arhg_lamp_rate(wavelength_nm: np.ndarray, resolution_fwhm_nm: float) -> np.ndarray:
    """Photons/s per pixel from the Ar-Hg lamp, each line a Gaussian of the instrument width."""
    wl = np.asarray(wavelength_nm, float)
    pitch = np.abs(np.gradient(wl)) if wl.size > 1 else np.ones_like(wl)
    sigma = resolution_fwhm_nm / 2.3548
    d = (wl[:, None] - ARHG_LINES_NM[None, :]) / sigma
    profile = np.exp(-0.5 * d * d) / (sigma * np.sqrt(2 * np.pi))
    return (profile * ARHG_RATES[None, :]).sum(axis=1) * pitch * sigma * np.sqrt(2 * np.pi)
