"""The shear-force Z loop of the simulated RHK R9 (``tepl.sims.rhk_r9``) over the shared World: the model
behind the remote interface's commands (``ShearForceLoop``, the base of ``rhk_r9_protocol.R9Controller``).

State: amplitude setpoint (V), PI gains, the tip-control mode (``Unlimit`` = feedback on, ``Freeze`` = hold,
``Retract`` = withdraw to the upper bound), the Z piezo output and the coarse positioner's base height. The
tip apex height above the substrate is ``coarse_base_nm + piezo_nm`` and is written to ``world.tip_z_nm``.
At power-up the retracted apex stands ``world.tip_start_nm`` above the substrate (None: coarse base 0); each
coarse step moves the base by ``coarse_step_nm`` times a factor drawn uniformly within
``1 ± world.coarse_step_jitter``; the ground truth (``r9``) keeps the start height and the true signed size
of every step. The feedback is evaluated lazily from the World clock (``_relax``, at every command): Z relaxes
(first order, time constant of a few ms) towards the height where the tuning-fork amplitude equals the
setpoint, clipped to the Z range, so it follows the topography as the stage moves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PAN_STEP_S = 0.01  # one stick-slip coarse step
LOOP_TAU_S = 3e-3  # feedback time constant at the default integral gain
RETRACT_TAU_S = 2e-3  # withdrawal time constant
DEFAULT_INTEGRAL_GAIN = 50.0
DEFAULT_PROPORTIONAL_GAIN = 0.5
SEARCH_DISTANCE_NM = (-50.0, 1.0e4)  # where the setpoint distance is searched for


class ShearForceLoop:
    """The Z PI loop, the Z piezo and the coarse positioner of an R9 over ``world``.

    ``free_amplitude_V``: tuning-fork amplitude far from the surface, V. ``z_lower_m`` / ``z_upper_m``: Z
    piezo range, m (lower = fully extended towards the sample). ``coarse_step_nm``: height change of one
    coarse step. ``tip_control`` is one of the logical modes ``Unlimit``, ``Freeze``, ``Retract``.
    """

    def __init__(self, world: Any, free_amplitude_V: float = 0.1, z_lower_m: float = 0.0,
                 z_upper_m: float = 2.0e-6, coarse_step_nm: float = 80.0):
        self.check_parameters(free_amplitude_V, z_lower_m, z_upper_m)
        self.world = world
        self.free_amplitude_V = float(free_amplitude_V)
        self.z_lower_m, self.z_upper_m = float(z_lower_m), float(z_upper_m)
        self.z_lower_nm, self.z_upper_nm = self.z_lower_m * 1e9, self.z_upper_m * 1e9
        self.coarse_step_nm = float(coarse_step_nm)
        self.setpoint_V = 0.9 * self.free_amplitude_V
        self.integral_gain = DEFAULT_INTEGRAL_GAIN
        self.proportional_gain = DEFAULT_PROPORTIONAL_GAIN
        self.tip_control = "Retract"
        self.piezo_nm = self.z_upper_nm
        start_nm = world.tip_start_nm
        self.coarse_base_nm = 0.0 if start_nm is None else float(start_nm) - self.z_upper_nm
        self.coarse_step_jitter = float(world.coarse_step_jitter)
        if not 0.0 <= self.coarse_step_jitter < 1.0:
            raise ValueError(f"coarse step jitter {self.coarse_step_jitter} must lie in [0, 1)")
        self.coarse_steps_nm: list[float] = []  # true signed base moves, nm (negative: towards the sample)
        self.z_held = False  # an ignored Retract (fault): the Z output stays where it was
        self._rng = world.rng("r9")
        self._coarse_rng = world.rng("r9-coarse")
        self._distance_cache: dict[float, float] = {}
        self._t_last_s = world.clock.now()
        with world.lock:
            world.set_tip_z_nm(self.apex_nm)
        world.record_truth("r9", {
            "free_amplitude_V": self.free_amplitude_V,
            "z_range_m": [self.z_lower_m, self.z_upper_m],
            "coarse_step_nm": self.coarse_step_nm,
            "loop_tau_s": LOOP_TAU_S,
            "tip_start_nm": self.apex_nm,  # retracted apex height above the substrate plane at power-up
            "coarse_base_start_nm": self.coarse_base_nm,
            "coarse_step_jitter": self.coarse_step_jitter,
            "coarse_steps_nm": self.coarse_steps_nm,  # grows with every step
        })

    @staticmethod
    def check_parameters(free_amplitude_V: float, z_lower_m: float, z_upper_m: float) -> None:
        """ValueError unless the Z range (m) is not empty and the free amplitude (V) is positive."""
        if not z_upper_m > z_lower_m:
            raise ValueError(f"Z range [{z_lower_m}, {z_upper_m}] m is empty")
        if not free_amplitude_V > 0:
            raise ValueError(f"free amplitude {free_amplitude_V} V must be positive")

    @property
    def apex_nm(self) -> float:
        """Tip apex height above the substrate plane, nm."""
        return self.coarse_base_nm + self.piezo_nm

    def _amplitude_at(self, distance_nm: float) -> float:
        return float(self.world.sample.shear_amplitude(np.array([distance_nm]))[0])

    def setpoint_distance_nm(self) -> float:
        """Tip-surface distance (nm) where the amplitude equals the setpoint; ±inf when out of reach."""
        fraction = self.setpoint_V / self.free_amplitude_V
        if fraction not in self._distance_cache:
            lo, hi = SEARCH_DISTANCE_NM
            if self._amplitude_at(hi) <= fraction:
                d = math.inf  # amplitude never drops to the setpoint: the loop withdraws
            elif self._amplitude_at(lo) >= fraction:
                d = -math.inf  # amplitude never rises to the setpoint: the loop pushes in
            else:
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    if self._amplitude_at(mid) < fraction:
                        lo = mid
                    else:
                        hi = mid
                d = hi
            self._distance_cache[fraction] = d
        return self._distance_cache[fraction]

    def _relax(self) -> None:
        """Advance the loop to the present World time and write the apex height to the World."""
        now = self.world.clock.now()
        dt = max(now - self._t_last_s, 0.0)
        self._t_last_s = now
        target = None
        tau = LOOP_TAU_S
        if self.tip_control == "Retract" and not self.z_held:
            target, tau = self.z_upper_nm, RETRACT_TAU_S
        elif self.tip_control == "Unlimit" and self.integral_gain > 0:
            tau = LOOP_TAU_S * DEFAULT_INTEGRAL_GAIN / self.integral_gain
            d = self.setpoint_distance_nm()
            if math.isinf(d):
                target = self.z_upper_nm if d > 0 else self.z_lower_nm
            else:
                target = self.world.surface_nm() + d - self.coarse_base_nm
                target = min(max(target, self.z_lower_nm), self.z_upper_nm)
        if target is not None and dt > 0:
            self.piezo_nm = target + (self.piezo_nm - target) * math.exp(-dt / tau)
        self.world.set_tip_z_nm(self.apex_nm)

    def _coarse_step(self, sign: float) -> None:
        """One coarse step (``sign`` -1: towards the sample, +1: away): move the base, let PAN_STEP_S pass.

        The slip moves the apex by the full step before the loop can react, so a step towards a surface
        closer than one step hits it: an approach steps with the tip retracted, then extends the loop.
        """
        with self.world.lock:
            self._relax()
            moved_nm = sign * self._step_size_nm()
            self.coarse_base_nm += moved_nm  # the slip is faster than the loop
            self.coarse_steps_nm.append(moved_nm)
            self.world.set_tip_z_nm(self.apex_nm)
        self.world.clock.advance(PAN_STEP_S)
        with self.world.lock:
            self._relax()

    def _step_size_nm(self) -> float:
        """The size of the next coarse step, nm: the nominal size, or within ±jitter of it (uniform)."""
        if self.coarse_step_jitter == 0.0:
            return self.coarse_step_nm
        return self.coarse_step_nm * (1.0 + self.coarse_step_jitter * float(self._coarse_rng.uniform(-1.0, 1.0)))
