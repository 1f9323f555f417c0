"""Role interfaces: the small contracts procedures are written against.

A procedure never talks to a concrete driver; it asks the station for a role (``stage``, ``zcontrol``,
``spectrometer``, ``shutter``) and uses these methods only. Each base class does the checks once (limits,
bounds, state) and delegates to ``_do_*`` hooks that a driver-backed implementation fills in, so an
out-of-limit request is refused here, before any byte reaches a device.

Units are in the names: ``_um`` micrometres, ``_nm`` nanometres, ``_s`` seconds, ``_c`` degrees Celsius.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tepl.limits import LimitError, Range

__all__ = ["DeviceError", "Instrument", "LimitError", "PhotonCounter", "Range", "SAFE_ORDER", "Shutter",
           "Spectrometer", "Stage", "T2Block", "T3Block", "ZController"]


class DeviceError(RuntimeError):
    """A device (or its simulator) reported an error or replied something we cannot accept."""


SAFE_ORDER = {"excitation": 0, "tip": 10, "shutter": 20, "counting": 30, "camera": 40, "motion": 50}
"""The order in which a station makes its instruments safe (lowest first): excitation blocked, tip
withdrawn, shutters closed, counting stopped, camera idle, stages stopped."""


# --------------------------------------------------------------------------------------------------
class Instrument:
    """What every role shares: its safe state, its status, its settings and its release.

    The station calls ``make_safe`` on every instrument in ``SAFE_ORDER`` of their ``safe_group`` without
    knowing their types, then ``close`` once when it closes."""

    safe_group: ClassVar[str] = "motion"

    @property
    def safe_rank(self) -> int:
        """Position in the station's safe-state order (``SAFE_ORDER``)."""
        return SAFE_ORDER[self.safe_group]

    def make_safe(self) -> str:
        """Put the instrument in its safe state from any state, repeatedly; return what holds afterwards in a
        word or two ("retracted", "closed", "stopped"). Raise DeviceError when it cannot."""
        return "nothing to make safe"

    def status(self, name: str) -> dict[str, Any]:
        """What the operator watches, read without moving anything; keys are prefixed by the role's duty
        (``stage_um``, ``tip_z_nm``...) and ``name`` is the role's name in the station."""
        return {}

    def status_keys(self, name: str) -> tuple[str, ...]:
        """The keys ``status`` fills (so a failed read can be shown under them)."""
        return ()

    def settings(self) -> dict:
        """The instrument's settings for the run file."""
        return {}

    def start(self, wait: bool) -> None:
        """Bring the instrument to its working condition once the station is built (a CCD cooled to its
        target); ``wait`` blocks until it is there. Default: nothing to do."""

    def close(self) -> None:
        """Release what the driver holds (socket, serial port, library handle); the instrument is not used
        after this. The station calls it once, after the safe state."""
        self.disconnect()

    def disconnect(self) -> None:
        """Driver hook of ``close``. Default: nothing is held."""


# --------------------------------------------------------------------------------------------------
class Stage(Instrument, abc.ABC):
    """Closed-loop XYZ sample scanner. Positions in micrometres."""

    axes: tuple[str, ...] = ("x", "y", "z")

    def __init__(self, travel_um: Mapping[str, Range]):
        missing = set(self.axes) - set(travel_um)
        if missing:
            raise ValueError(f"stage travel limits missing for axes {sorted(missing)}")
        self.travel_um = dict(travel_um)

    def move_to_um(self, **targets_um: float) -> None:
        """Start an absolute move of the named axes (``x=10.0, y=12.5``); limits checked first."""
        checked = {}
        for axis, value in targets_um.items():
            if axis not in self.axes:
                raise LimitError(f"unknown stage axis {axis!r}; this stage has {list(self.axes)}")
            checked[axis] = self.travel_um[axis].check(value, f"stage {axis} target")
        if checked:
            self._do_move_to(checked)

    def move_and_wait_um(self, timeout_s: float | None = None, **targets_um: float) -> None:
        """Move and wait on target; ``timeout_s`` None uses the stage's configured settle timeout."""
        self.move_to_um(**targets_um)
        self.wait_on_target(timeout_s)

    @abc.abstractmethod
    def position_um(self) -> dict[str, float]:
        """Measured (sensor) position of every axis, µm."""

    @abc.abstractmethod
    def on_target(self) -> bool:
        """True when every axis has settled on its commanded target."""

    @abc.abstractmethod
    def wait_on_target(self, timeout_s: float | None = None) -> None:
        """Block until on target; raise DeviceError after ``timeout_s`` seconds (None: the configured one)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop all motion at once."""

    @abc.abstractmethod
    def _do_move_to(self, targets_um: dict[str, float]) -> None: ...

    def make_safe(self) -> str:
        self.stop()
        return "stopped"

    def status(self, name: str) -> dict[str, Any]:
        return {"stage_um": self.position_um()}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("stage_um",)

    def settings(self) -> dict:
        return {"travel_um": {a: [r.low, r.high] for a, r in self.travel_um.items()}}


# --------------------------------------------------------------------------------------------------
class ZController(Instrument, abc.ABC):
    """Shear-force (tuning-fork) Z feedback holding the tip above the sample.

    ``z_nm`` is the tip apex height above the substrate reference (the topography channel). While the
    loop is frozen the tip can be placed at an absolute ``z_nm`` (a distance sweep or a press); the
    lowest allowed ``z_nm`` is the configured floor, so a press never goes deeper than the limit.
    """

    STATES = ("retracted", "engaged", "frozen")
    safe_group = "tip"

    def __init__(self, z_range_nm: Range):
        self.z_range_nm = z_range_nm

    @abc.abstractmethod
    def engage(self, setpoint_fraction: float | None = None, timeout_s: float = 5.0) -> float:
        """Close the loop at the amplitude setpoint (fraction of free amplitude); returns z_nm at rest."""

    @abc.abstractmethod
    def freeze(self) -> None:
        """Hold Z where it is (feedback off, position kept)."""

    @abc.abstractmethod
    def retract(self) -> None:
        """Withdraw the tip fully. Must be safe to call in any state, repeatedly."""

    @abc.abstractmethod
    def state(self) -> str:
        """One of ``retracted``, ``engaged``, ``frozen``."""

    @abc.abstractmethod
    def z_nm(self) -> float:
        """Tip apex height above the substrate reference, nm."""

    @abc.abstractmethod
    def amplitude(self) -> float:
        """Tuning-fork amplitude as a fraction of its free amplitude (1.0 far from the surface)."""

    @abc.abstractmethod
    def phase_deg(self) -> float:
        """Tuning-fork phase, degrees."""

    def set_z_nm(self, z_nm: float) -> None:
        """Place the frozen tip at ``z_nm``; refused if outside the Z range or if the loop is not frozen."""
        z_nm = self.z_range_nm.check(z_nm, "tip z")
        if self.state() != "frozen":
            raise LimitError(f"tip z can only be set while the loop is frozen (it is {self.state()})")
        self._do_set_z(z_nm)

    @abc.abstractmethod
    def _do_set_z(self, z_nm: float) -> None: ...

    @abc.abstractmethod
    def coarse_step(self, steps: int) -> None:
        """Coarse positioner steps: positive towards the sample, negative away."""

    def make_safe(self) -> str:
        self.retract()
        state = self.state()
        if state != "retracted":
            raise DeviceError(f"the tip reports {state!r} after the retract")
        return state

    def status(self, name: str) -> dict[str, Any]:
        return {"tip": self.state(), "tip_z_nm": self.z_nm()}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("tip", "tip_z_nm")

    def settings(self) -> dict:
        return {"z_range_nm": [self.z_range_nm.low, self.z_range_nm.high]}


# --------------------------------------------------------------------------------------------------
class Spectrometer(Instrument, abc.ABC):
    """Spectrograph + CCD read in full vertical binning: one spectrum per acquisition."""

    safe_group = "camera"
    target_temperature_c: float | None = None
    """CCD temperature (°C) ``start`` cools to; None leaves the cooler as it is."""

    def __init__(self, exposure_s: Range):
        self.exposure_range_s = exposure_s
        self._calibration_nm: np.ndarray | None = None

    def start(self, wait: bool) -> None:
        """Cool the CCD to ``target_temperature_c``; ``wait`` blocks until it is stable."""
        if self.target_temperature_c is not None:
            self.cool(self.target_temperature_c, wait=wait)

    def acquire(self, exposure_s: float, accumulations: int = 1) -> np.ndarray:
        """One spectrum (CCD counts per pixel, float64), summed over ``accumulations`` exposures."""
        exposure_s = self.exposure_range_s.check(exposure_s, "exposure")
        if int(accumulations) < 1:
            raise LimitError(f"accumulations = {accumulations} must be at least 1")
        return self._do_acquire(exposure_s, int(accumulations))

    def acquire_series(self, exposure_s: float, frames: int, cycle_s: float | None = None) -> np.ndarray:
        """Kinetic series: ``frames`` spectra, one every ``cycle_s`` (≥ exposure); shape (frames, pixels)."""
        exposure_s = self.exposure_range_s.check(exposure_s, "exposure")
        if int(frames) < 1:
            raise LimitError(f"frames = {frames} must be at least 1")
        return self._do_acquire_series(exposure_s, int(frames), cycle_s or exposure_s)

    def wavelengths_nm(self) -> np.ndarray:
        """Wavelength of each pixel, nm: the station's calibration if one is set, else the spectrograph's."""
        if self._calibration_nm is not None:
            return self._calibration_nm.copy()
        return self._do_wavelengths()

    def set_calibration_nm(self, wavelengths_nm: np.ndarray | None) -> None:
        """Install a measured pixel-to-wavelength table (or None to fall back to the spectrograph's)."""
        if wavelengths_nm is None:
            self._calibration_nm = None
            return
        table = np.asarray(wavelengths_nm, float)
        pixels = self._do_wavelengths().size
        if table.shape != (pixels,) or not np.all(np.isfinite(table)) or not np.all(np.diff(table) > 0):
            raise ValueError(f"a wavelength calibration needs {pixels} finite increasing values, got shape "
                             f"{table.shape}")
        self._calibration_nm = table

    def spectrograph_wavelengths_nm(self) -> np.ndarray:
        """The spectrograph's own pixel-to-wavelength table (nm), whatever calibration is installed."""
        return self._do_wavelengths()

    def set_center_wavelength_nm(self, center_wavelength_nm: float) -> None:
        """Turn the grating to a new centre (nm). A measured calibration belongs to the old setting: dropped."""
        self._do_set_center_wavelength_nm(center_wavelength_nm)
        self._calibration_nm = None

    def set_grating(self, grating: int) -> None:
        """Change grating (1..n). A measured calibration belongs to the old grating: dropped."""
        self._do_set_grating(grating)
        self._calibration_nm = None

    @abc.abstractmethod
    def _do_set_center_wavelength_nm(self, center_wavelength_nm: float) -> None: ...

    @abc.abstractmethod
    def _do_set_grating(self, grating: int) -> None: ...

    @abc.abstractmethod
    def center_wavelength_nm(self) -> float: ...

    @abc.abstractmethod
    def grating(self) -> int: ...

    @abc.abstractmethod
    def temperature_c(self) -> tuple[float, str]:
        """(sensor temperature °C, status word: off / not_reached / not_stabilized / stabilized / drift)."""

    @abc.abstractmethod
    def cool(self, target_c: float, wait: bool = True, timeout_s: float = 900.0) -> float:
        """Switch the cooler on to ``target_c``; if ``wait``, block until stabilized. Returns °C."""

    @abc.abstractmethod
    def _do_acquire(self, exposure_s: float, accumulations: int) -> np.ndarray: ...

    @abc.abstractmethod
    def _do_acquire_series(self, exposure_s: float, frames: int, cycle_s: float) -> np.ndarray: ...

    @abc.abstractmethod
    def _do_wavelengths(self) -> np.ndarray: ...

    def make_safe(self) -> str:
        """Nothing is exposed between acquisitions (each acquisition waits for its own end); the CCD stays
        cold until the station closes."""
        return "idle"

    def status(self, name: str) -> dict[str, Any]:
        temperature_c, state = self.temperature_c()
        return {"ccd_temperature_c": temperature_c, "ccd_status": state}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("ccd_temperature_c", "ccd_status")

    def settings(self) -> dict:
        return {"exposure_range_s": [self.exposure_range_s.low, self.exposure_range_s.high]}


# --------------------------------------------------------------------------------------------------
class Shutter(Instrument, abc.ABC):
    """A shutter (or a switchable light source, e.g. a calibration lamp): open lets light through."""

    safe_group = "shutter"

    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def shut(self) -> None:
        """Block the light. Must be safe to call in any state, repeatedly."""

    @abc.abstractmethod
    def is_open(self) -> bool: ...

    def make_safe(self) -> str:
        self.shut()
        if self.is_open():
            raise DeviceError("still open after shutting")
        return "closed"

    def status(self, name: str) -> dict[str, Any]:
        return {name: "open" if self.is_open() else "closed"}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return (name,)

    def settings(self) -> dict:
        return {"open": self.is_open()}


# --------------------------------------------------------------------------------------------------
@dataclass
class T2Block:
    """Photon time tags from T2 mode. ``time_ps`` (int64) counts from the start of the measurement;
    ``channel`` (int8) is the 0-based detector input. Sorted by time."""

    time_ps: np.ndarray
    channel: np.ndarray
    duration_s: float
    resolution_ps: float

    @property
    def n_photons(self) -> int:
        return int(self.time_ps.size)


@dataclass
class T3Block:
    """Photon records from T3 mode: ``sync`` (int64) is the laser pulse index since the start of the
    measurement, ``dtime`` (int32) the delay after that pulse in TCSPC bins of ``resolution_ps``,
    ``channel`` (int8) the 0-based detector input."""

    sync: np.ndarray
    dtime: np.ndarray
    channel: np.ndarray
    duration_s: float
    resolution_ps: float
    sync_period_ps: float

    @property
    def n_photons(self) -> int:
        return int(self.sync.size)


class PhotonCounter(Instrument, abc.ABC):
    """A TCSPC unit with single-photon detectors on its inputs: count rates, histograms, T2 and T3 streams.

    Channels are the detector inputs, numbered from 0. Every acquisition time is checked against
    ``acquisition_s``; the count rate on every input is checked against ``max_count_rate_per_s`` before a
    measurement starts and on every block read, so a detector is never left in light brighter than its limit.
    """

    safe_group = "counting"

    def __init__(self, acquisition_s: Range, max_count_rate_per_s: float | None = None):
        self.acquisition_range_s = acquisition_s
        self.max_count_rate_per_s = max_count_rate_per_s

    # ---- information ---------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def n_channels(self) -> int:
        """Number of detector inputs."""

    @abc.abstractmethod
    def count_rates(self) -> tuple[float, np.ndarray]:
        """(sync rate Hz, counts/s on every detector input)."""

    @abc.abstractmethod
    def resolution_ps(self) -> float:
        """TCSPC bin width in the present mode, ps."""

    @abc.abstractmethod
    def sync_period_ps(self) -> float:
        """Laser period seen on the sync input, ps (inf when there is no sync signal)."""

    # ---- measurements --------------------------------------------------------------------------
    def check_count_rates(self, rates_per_s: np.ndarray | None = None) -> np.ndarray:
        """Raise LimitError when an input counts faster than the limit (reads the rates if not given)."""
        if rates_per_s is None:
            rates_per_s = self.count_rates()[1]
        rates = np.asarray(rates_per_s, float)
        if self.max_count_rate_per_s is not None:
            over = np.flatnonzero(rates > self.max_count_rate_per_s)
            if over.size:
                ch = int(over[0])
                raise LimitError(f"detector channel {ch} counts {rates[ch]:.3g} /s, above the limit "
                                 f"limits.max_count_rate_per_s = {self.max_count_rate_per_s:.3g} /s")
        return rates

    def histograms(self, acquisition_s: float) -> np.ndarray:
        """Histogram mode: TCSPC decay histograms, shape (channel, bin), counts (int64)."""
        acquisition_s = self.acquisition_range_s.check(acquisition_s, "acquisition time")
        self.check_count_rates()
        return self._do_histograms(acquisition_s)

    def iter_t2(self, acquisition_s: float, block_s: float = 0.1):
        """T2 mode: yield T2Block pieces of about ``block_s`` until ``acquisition_s`` has passed."""
        acquisition_s = self.acquisition_range_s.check(acquisition_s, "acquisition time")
        self.check_count_rates()
        for block in self._do_iter("t2", acquisition_s, block_s):
            self._check_block(block)
            yield block

    def iter_t3(self, acquisition_s: float, block_s: float = 0.1):
        """T3 mode: yield T3Block pieces of about ``block_s`` until ``acquisition_s`` has passed."""
        acquisition_s = self.acquisition_range_s.check(acquisition_s, "acquisition time")
        self.check_count_rates()
        for block in self._do_iter("t3", acquisition_s, block_s):
            self._check_block(block)
            yield block

    def t2(self, acquisition_s: float) -> T2Block:
        """All T2 tags of one measurement, times from its start."""
        return _concat_t2(list(self.iter_t2(acquisition_s, block_s=max(0.1, acquisition_s / 20))), acquisition_s)

    def t3(self, acquisition_s: float) -> T3Block:
        """All T3 records of one measurement, pulse indices from its start."""
        return _concat_t3(list(self.iter_t3(acquisition_s, block_s=max(0.1, acquisition_s / 20))), acquisition_s)

    def _check_block(self, block: T2Block | T3Block) -> None:
        if self.max_count_rate_per_s is None or block.duration_s <= 0:
            return
        counts = np.bincount(block.channel.astype(np.int64), minlength=self.n_channels)[: self.n_channels]
        try:
            self.check_count_rates(counts / block.duration_s)
        except LimitError:
            self.stop()
            raise

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop any running measurement. Must be safe to call in any state, repeatedly."""

    def make_safe(self) -> str:
        self.stop()
        return "stopped"

    def status(self, name: str) -> dict[str, Any]:
        sync_per_s, rates_per_s = self.count_rates()
        return {"sync_rate_per_s": float(sync_per_s), "count_rates_per_s": [float(r) for r in rates_per_s]}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("sync_rate_per_s", "count_rates_per_s")

    @abc.abstractmethod
    def _do_histograms(self, acquisition_s: float) -> np.ndarray: ...

    @abc.abstractmethod
    def _do_iter(self, mode: str, acquisition_s: float, block_s: float):
        """Yield T2Block (mode "t2") or T3Block (mode "t3") pieces, times counted from the measurement start."""

    def settings(self) -> dict:
        return {"acquisition_range_s": [self.acquisition_range_s.low, self.acquisition_range_s.high],
                "max_count_rate_per_s": self.max_count_rate_per_s}


def _concat_t2(blocks: list[T2Block], duration_s: float) -> T2Block:
    if not blocks:
        return T2Block(np.zeros(0, np.int64), np.zeros(0, np.int8), duration_s, 1.0)
    return T2Block(np.concatenate([b.time_ps for b in blocks]), np.concatenate([b.channel for b in blocks]),
                   duration_s, blocks[0].resolution_ps)


def _concat_t3(blocks: list[T3Block], duration_s: float) -> T3Block:
    if not blocks:
        return T3Block(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8), duration_s, 1.0,
                       float("inf"))
    return T3Block(np.concatenate([b.sync for b in blocks]), np.concatenate([b.dtime for b in blocks]),
                   np.concatenate([b.channel for b in blocks]), duration_s, blocks[0].resolution_ps,
                   blocks[0].sync_period_ps)
