"""The shear-force Z controller role: the tip apex height above the sample, nm."""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

from tepl.limits import LimitError, Range
from tepl.roles.base import DeviceError, Instrument

RETRACTED_TOLERANCE_NM = 1.0
"""How far below the upper end of its range Z may read and the tip still count as retracted, nm."""


@dataclass(frozen=True)
class ContactModel:
    """A linear tip-sample contact stated in the station's calibration: the force grows by
    ``stiffness_nN_per_nm`` for every nm pressed below the contact point and acts on ``area_nm2``
    (pressure = force / area; 1 nN on 1 nm² is 1 GPa). It lets the Z controller hold the force and pressure
    limits for every caller, before the tip moves; the pressure ramp also watches the pressure the spectra
    show."""

    stiffness_nN_per_nm: float
    area_nm2: float
    force_nN: Range
    pressure_GPa: Range

    def force_and_pressure(self, depth_nm: float) -> tuple[float, float]:
        """(force nN, pressure GPa) at ``depth_nm`` below the contact point."""
        force_nN = self.stiffness_nN_per_nm * max(depth_nm, 0.0)
        return force_nN, force_nN / self.area_nm2

    def check(self, depth_nm: float, where: str) -> None:
        force_nN, pressure_GPa = self.force_and_pressure(depth_nm)
        self.force_nN.check(force_nN, f"contact force {where}")
        self.pressure_GPa.check(pressure_GPa, f"contact pressure {where}")


class SurfaceOutOfReach(DeviceError):
    """Engaging ended with Z pinned at a bound of its range: ``bound`` is ``"lower"`` when the surface lies beyond
    the fully extended tip (step the coarse positioner in), ``"upper"`` when it is closer than the range allows
    (or the setpoint is above the free amplitude). ``z_nm`` is where Z settled."""

    def __init__(self, message: str, bound: str, z_nm: float):
        super().__init__(message)
        self.bound = bound
        self.z_nm = z_nm


class ZController(Instrument, abc.ABC):
    """Shear-force (tuning-fork) Z feedback holding the tip above the sample.

    ``z_nm`` is the tip apex height above the substrate reference (the topography channel). While the
    loop is frozen the tip can be placed at an absolute ``z_nm`` (a distance sweep or a press) inside the Z
    range and, when ``press_depth_nm`` is set, never deeper below the last contact point (the z at which
    the loop last engaged) than that limit, whoever asks.

    The coarse positioner moves the tip by about ``coarse_step_nm`` per step (nm, nominal), each step within
    ``±coarse_step_spread`` (a fraction) of it: what an approach needs to keep its steps inside the fine range.

    ``contact_gap_nm`` (nm, or None when not stated) is the apex-to-surface gap at which the shear-force loop
    settles at its setpoint: where the contact criterion triggers. An approach that finds contact declares the
    Z reference there (``set_z_reference_nm(contact_gap_nm)``), so that ``z_nm`` is the real gap above the
    surface it touched.
    """

    STATES = ("retracted", "engaged", "frozen")
    safe_group = "tip"

    def __init__(self, z_range_nm: Range, press_depth_nm: Range | None = None, contact: ContactModel | None = None,
                 coarse_step_nm: float = 80.0, coarse_step_spread: float = 0.25,
                 contact_gap_nm: float | None = None):
        self.z_range_nm = z_range_nm
        self.press_depth_nm = press_depth_nm
        self.contact = contact
        self.contact_z_nm: float | None = None  # z at the last engage: the reference of the press depth
        if not (coarse_step_nm > 0 and 0 <= coarse_step_spread < 1):
            raise LimitError(f"coarse step {coarse_step_nm!r} nm must be positive and its spread "
                             f"{coarse_step_spread!r} in [0, 1)")
        self.coarse_step_nm = float(coarse_step_nm)
        self.coarse_step_spread = float(coarse_step_spread)
        self.z_referenced = True  # z_nm is the apex height above the substrate reference (coarse steps lose it)
        if contact_gap_nm is not None and not (math.isfinite(contact_gap_nm) and 0 <= contact_gap_nm < 100):
            raise LimitError(f"zcontrol contact_gap_nm = {contact_gap_nm!r} nm must lie in [0, 100) nm (the gap at "
                             f"which the shear-force loop settles at its setpoint)")
        self.contact_gap_nm = None if contact_gap_nm is None else float(contact_gap_nm)

    def engage(self, setpoint_fraction: float | None = None, timeout_s: float = 5.0) -> float:
        """Close the loop at the amplitude setpoint (fraction of free amplitude); returns z_nm at rest, which
        becomes the contact reference of the press-depth limit. Raises ``SurfaceOutOfReach`` when Z settles
        pinned at a bound of its range (no contact)."""
        self.contact_z_nm = None
        self.contact_z_nm = z_nm = float(self._do_engage(setpoint_fraction, timeout_s))
        return z_nm

    @abc.abstractmethod
    def _do_engage(self, setpoint_fraction: float | None, timeout_s: float) -> float: ...

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
    def set_z_reference_nm(self, apex_z_nm: float) -> None:
        """Declare the apex height (nm above the substrate reference) at the present Z, after coarse steps
        moved the tip by an amount Z does not see; sets ``z_referenced``."""

    @abc.abstractmethod
    def z_bounds_nm(self) -> tuple[float, float]:
        """(lower, upper) end of the fine Z range in the frame of ``z_nm``, nm; lower = fully extended towards
        the sample, upper = retracted."""

    @abc.abstractmethod
    def amplitude(self) -> float:
        """Tuning-fork amplitude as a fraction of its free amplitude (1.0 far from the surface)."""

    @abc.abstractmethod
    def phase_deg(self) -> float:
        """Tuning-fork phase, degrees."""

    def refusal(self, z_nm: float) -> str | None:
        """Why ``set_z_nm(z_nm)`` would be refused (None: it would not), without moving anything."""
        try:
            self._check_z(z_nm)
        except LimitError as exc:
            return str(exc)
        return None

    def set_z_nm(self, z_nm: float) -> None:
        """Place the frozen tip at ``z_nm``; refused if outside the Z range, deeper below the contact point
        than the press-depth limit, or if the loop is not frozen."""
        self._do_set_z(self._check_z(z_nm))

    def _check_z(self, z_nm: float) -> float:
        z_nm = self.z_range_nm.check(z_nm, "tip z")
        if self.state() != "frozen":
            raise LimitError(f"tip z can only be set while the loop is frozen (it is {self.state()})")
        if self.press_depth_nm is not None:
            if self.contact_z_nm is None:
                raise LimitError("tip z: no contact reference (engage first), so the press depth cannot be held")
            depth = max(self.contact_z_nm - z_nm, 0.0)
            where = f"at tip z {z_nm:.2f} nm (contact at {self.contact_z_nm:.2f} nm)"
            self.press_depth_nm.check(depth, f"press depth {where}")
            if self.contact is not None:
                self.contact.check(depth, where)
        return z_nm

    @abc.abstractmethod
    def _do_set_z(self, z_nm: float) -> None: ...

    @abc.abstractmethod
    def coarse_step(self, steps: int) -> None:
        """Coarse positioner steps: positive towards the sample, negative away."""

    def make_safe(self) -> str:
        """Retract, then believe the readings rather than the reply: the controller must report ``retracted``
        and Z must read within ``RETRACTED_TOLERANCE_NM`` of the upper end of its range (a controller that
        acknowledges a retract without withdrawing the tip is a failure the station reports and retries)."""
        self.retract()
        state = self.state()
        if state != "retracted":
            raise DeviceError(f"the tip reports {state!r} after the retract")
        z_nm, (_, upper_nm) = self.z_nm(), self.z_bounds_nm()
        if upper_nm - z_nm > RETRACTED_TOLERANCE_NM:
            raise DeviceError(f"the tip reports retracted but Z reads {z_nm:.1f} nm, {upper_nm - z_nm:.1f} nm below "
                              f"the upper end {upper_nm:.1f} nm of its range")
        return state

    def status(self, name: str) -> dict[str, Any]:
        return {"tip": self.state(), "tip_z_nm": self.z_nm()}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("tip", "tip_z_nm")

    def settings(self) -> dict:
        depth = self.press_depth_nm.high if self.press_depth_nm is not None else None
        return {"z_range_nm": [self.z_range_nm.low, self.z_range_nm.high], "max_press_depth_nm": depth,
                "contact_gap_nm": self.contact_gap_nm}
