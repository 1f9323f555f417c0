"""The interlocks procedures put in their plans, each with the station limit it holds and a sentence."""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.plan import PlanBuilder


def stage_travel(plan: PlanBuilder, station: Any, x_um: Any, y_um: Any, what: str = "spot") -> None:
    """Every planned stage x and y (µm) inside the travel."""
    travel = station.limits.travel_um
    plan.interlock("stage travel x", travel.get("x"), "the stage is never sent beyond its travel", x_um,
                   f"{what} x")
    plan.interlock("stage travel y", travel.get("y"), "the stage is never sent beyond its travel", y_um,
                   f"{what} y")


def exposure(plan: PlanBuilder, station: Any, exposure_s: float) -> None:
    plan.interlock("exposure", station.limits.exposure_s, "CCD exposures stay inside the station's range",
                   exposure_s, "exposure")


def acquisition(plan: PlanBuilder, station: Any, acquisition_s: float) -> None:
    plan.interlock("acquisition time", station.limits.acquisition_s,
                   "photon-counting times stay inside the station's range", acquisition_s, "acquisition time")


def count_rate(plan: PlanBuilder, station: Any) -> None:
    plan.interlock("count rate", station.limits.count_rate_per_s,
                   "counting stops when a detector counts faster (checked before and on every block)")


def tip_z(plan: PlanBuilder, station: Any, gaps_nm: Any = None) -> None:
    plan.interlock("tip z", station.limits.tip_z_nm, "the tip is never placed outside the Z range", gaps_nm,
                   "tip-sample gap")


def pressing(plan: PlanBuilder, station: Any, deepest_press_nm: float | None = None) -> None:
    """Press depth, pressure and force ceilings of a ramp; ``deepest_press_nm`` is the planned depth below the
    start gap (the depth below contact is checked again once contact is found)."""
    limits, model = station.limits, station.strain_model
    plan.interlock("press depth", limits.press_depth_nm,
                   "no press deeper than this below the contact point (checked after engaging)",
                   None if deepest_press_nm is None else np.clip(deepest_press_nm, 0, None), "planned press depth")
    plan.interlock("pressure", limits.pressure_GPa, "the ramp releases before the next step would pass it")
    plan.interlock("force", limits.force_nN,
                   f"the ramp releases before the next step would pass it (contact area {model.contact_area_nm2} nm²)")
