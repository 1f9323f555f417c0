"""The shear-force ``ZController`` role on an RHK R9 (``tepl.drivers.rhk_r9.R9``): engage at a fraction of the
free tuning-fork amplitude, freeze, place Z, retract, coarse steps.

Units: Z in nm (the R9 reports m on the ``z0-src`` channel), the amplitude as a fraction of the free
amplitude measured while retracted (the R9 reports V), phase in degrees, times in s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from tepl.drivers.polling import Wait
from tepl.drivers.rhk_r9 import R9, finite
from tepl.roles import ContactModel, DeviceError, LimitError, Range, SurfaceOutOfReach, ZController

_STATE_OF_WORD = {"Unlimit": "engaged", "Freeze": "frozen", "Retract": "retracted"}


class R9ZController(ZController):
    """Shear-force Z controller on an R9: engage at a fraction of the free amplitude, freeze, place, retract.

    ``z_nm`` is the ``z0-src`` channel in nm. The free amplitude is measured at every ``retract`` that ends
    with Z at its upper bound (and before the first ``engage`` if no retract happened yet): a retract that
    left Z elsewhere (the tip may still be near the surface) keeps the last one. ``sleep`` waits between Z reads
    (``world.clock.advance`` on a simulated station); Z counts as settled when two reads ``settle_s``
    apart differ by less than ``settle_tolerance_nm``. A settle wait lasts at most its ``timeout_s`` (s) of
    device time (the sleeps) and of wall-clock time (an R9 that answers slowly), then raises ``DeviceError``.
    """

    def __init__(self, r9: R9, z_range_nm: Range, setpoint_fraction: float = 0.9,
                 sleep: Callable[[float], None] = time.sleep, settle_s: float = 0.05,
                 settle_tolerance_nm: float = 0.1, bound_margin_nm: float = 0.5,
                 free_amplitude_reads: int = 5, press_depth_nm: Range | None = None,
                 contact: ContactModel | None = None, coarse_step_nm: float = 80.0,
                 coarse_step_spread: float = 0.25, contact_gap_nm: float | None = None):
        super().__init__(z_range_nm, press_depth_nm, contact, coarse_step_nm, coarse_step_spread, contact_gap_nm)
        self.r9 = r9
        self.setpoint_fraction = self._check_fraction(setpoint_fraction)
        self.sleep = sleep
        self.settle_s = float(settle_s)
        self.settle_tolerance_nm = float(settle_tolerance_nm)
        self.bound_margin_nm = float(bound_margin_nm)
        self.free_amplitude_reads = int(free_amplitude_reads)
        self.free_amplitude_V: float | None = None
        self.z_offset_nm = 0.0  # apex height above the substrate reference minus the Z piezo reading

    @staticmethod
    def _check_fraction(fraction: float) -> float:
        fraction = float(fraction)
        if not 0.0 < fraction < 1.0:
            raise LimitError(f"setpoint fraction = {fraction:g} must lie between 0 and 1 "
                             f"(of the free amplitude)")
        return fraction

    def z_bounds_nm(self) -> tuple[float, float]:
        """The Z piezo's range in the frame of ``z_nm`` (lower = fully extended), nm."""
        lower_m, upper_m = self.r9.z_bounds_m()
        return lower_m * 1e9 + self.z_offset_nm, upper_m * 1e9 + self.z_offset_nm

    def _wait_settled(self, timeout_s: float, what: str) -> float:
        """Poll Z until two reads agree; return z_nm. At least three reads, then at most ``timeout_s`` of
        device time and of wall-clock time."""
        tries = max(3, math.ceil(timeout_s / max(self.settle_s, 1e-6)))
        wait = Wait(self.r9.where, f"Z to settle after {what}", max(timeout_s, 3 * self.settle_s), self.sleep)
        previous = self.z_nm()
        for n in range(tries):
            if n >= 3 and wait.expired:
                break
            wait.pause(self.settle_s)
            z = self.z_nm()
            if abs(z - previous) < self.settle_tolerance_nm:
                return z
            previous = z
        raise DeviceError(f"{self.r9.where}: Z did not settle within {timeout_s:g} s after {what} "
                          f"(last Z {previous:.2f} nm; {wait.waited_s:.3g} s of device time, "
                          f"{wait.wall_elapsed_s:.3g} s of wall time)")

    def _measure_free_amplitude(self) -> float:
        reads = [self.r9.amplitude_V() for _ in range(max(self.free_amplitude_reads, 1))]
        free = sum(reads) / len(reads)
        if not free > 0:
            raise DeviceError(f"free tuning-fork amplitude is {free!r} V while retracted; check the dither")
        self.free_amplitude_V = free
        return free

    # ------------------------------------------------------------------ role
    def _do_engage(self, setpoint_fraction: float | None, timeout_s: float) -> float:
        if setpoint_fraction is None:
            setpoint_fraction = self.setpoint_fraction
        fraction = self._check_fraction(setpoint_fraction)
        if self.free_amplitude_V is None:
            self.retract()
        lower_nm, upper_nm = self.z_bounds_nm()
        self.r9.set_setpoint_V(fraction * self.free_amplitude_V)
        self.r9.set_tip_control("Unlimit")
        z = self._wait_settled(timeout_s, "engaging")
        if z - lower_nm < self.bound_margin_nm:
            raise SurfaceOutOfReach(f"{self.r9.where}: surface not reached within the Z range; step the coarse "
                                    f"positioner in (Z {z:.1f} nm pinned at the lower bound {lower_nm:.1f} nm)",
                                    "lower", z)
        if upper_nm - z < self.bound_margin_nm:
            raise SurfaceOutOfReach(f"{self.r9.where}: Z {z:.1f} nm pinned at the upper bound {upper_nm:.1f} nm: "
                                    f"the surface is closer than the Z range allows or the setpoint is above the "
                                    f"free amplitude; step the coarse positioner out", "upper", z)
        return z

    def freeze(self) -> None:
        self.r9.set_tip_control("Freeze")

    def retract(self, timeout_s: float = 5.0) -> None:
        self.r9.set_tip_control("Retract")
        z = self._wait_settled(timeout_s, "retracting")
        if self.free_amplitude_V is None or self.z_bounds_nm()[1] - z < self.bound_margin_nm:
            self._measure_free_amplitude()

    def state(self) -> str:
        return _STATE_OF_WORD[self.r9.tip_control()]

    def z_nm(self) -> float:
        return self.r9.z_m() * 1e9 + self.z_offset_nm

    def set_z_reference_nm(self, apex_z_nm: float) -> None:
        """Declare the apex height (nm above the substrate reference) at the present Z, e.g. the shear-force
        contact distance after engaging on bare substrate; needed again after coarse steps. The contact point of
        the press-depth limit moves with the frame (it stays the same height)."""
        offset_nm = finite(apex_z_nm, "apex z") - self.r9.z_m() * 1e9
        if self.contact_z_nm is not None:
            self.contact_z_nm += offset_nm - self.z_offset_nm
        self.z_offset_nm = offset_nm
        self.z_referenced = True

    def amplitude(self) -> float:
        if self.free_amplitude_V is None:
            if self.state() != "retracted":
                raise DeviceError("free tuning-fork amplitude not measured yet: retract once first")
            self._measure_free_amplitude()
        return self.r9.amplitude_V() / self.free_amplitude_V

    def phase_deg(self) -> float:
        return self.r9.phase_deg()

    def _do_set_z(self, z_nm: float) -> None:
        if not self.z_referenced:
            raise LimitError("tip z lost its reference in the last coarse steps: engage on bare substrate and "
                             "call set_z_reference_nm first")
        self.r9.set_z_position_m((z_nm - self.z_offset_nm) * 1e-9)

    def coarse_step(self, steps: int) -> None:
        """Coarse steps (positive towards the sample), only with the tip retracted: a step of tens of nm with
        the tip engaged or frozen near the surface would crash it. The apex then stands at a new height that
        the Z channel does not see, so ``set_z_nm`` is refused until ``set_z_reference_nm`` is called."""
        if isinstance(steps, bool) or int(steps) != steps:
            raise LimitError(f"coarse steps = {steps!r} must be a whole number")
        if int(steps) != 0 and self.state() != "retracted":
            raise LimitError(f"coarse steps only with the tip retracted (it is {self.state()}): retract first")
        if int(steps) != 0:
            self.z_referenced = False
        for _ in range(abs(int(steps))):
            if steps > 0:
                self.r9.step_in()
            else:
                self.r9.step_out()

    def disconnect(self) -> None:
        """Close the connection to the R9 (after the station's retract)."""
        self.r9.close()

    def settings(self) -> dict:
        lower_m, upper_m = self.r9.z_bounds_m()
        return {
            **super().settings(),
            "coarse_step_nm": self.coarse_step_nm,
            "coarse_step_spread": self.coarse_step_spread,
            "controller": self.r9.controller,
            "setpoint_fraction": self.setpoint_fraction,
            "setpoint_V": self.r9.setpoint_V(),
            "free_amplitude_V": self.free_amplitude_V,
            "integral_gain": self.r9.integral_gain(),
            "proportional_gain": self.r9.proportional_gain(),
            "z_bounds_m": [lower_m, upper_m],
            "channels": {"z": self.r9.z_channel, "amplitude": self.r9.amplitude_channel,
                         "phase": self.r9.phase_channel},
            "tip_control": self.r9.tip_control(),
        }
