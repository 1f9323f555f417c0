"""``approach``: bring the tip from tens of µm above the sample into shear-force contact without a crash.

The coarse positioner (through the Z controller role) moves the tip towards the sample in looks. Before the
coarse positioner moves, the fine Z is retracted and the retraction is checked on the instrument's own
readings (``check_retracted``: Z at the upper bound of its range, tuning-fork amplitude back at free). That
check is the crash guard. Then come a few coarse steps, and then the fine Z extends under shear-force feedback
(``engage``). If Z ends pinned at the lower bound, the surface is still out of reach: retract and step again.
If Z settles inside the range, that is contact. The first look extends the fine Z before any coarse step,
because the surface may already be in reach.

Why stepping is safe: a look that ends with Z pinned at the lower bound shows that the surface lies more than
the fine range below the retracted apex. The next look's coarse travel is at most
``steps x coarse_step_nm x (1 + coarse_step_spread)``, and the plan holds that to at most the fine range minus
``margin_nm``, so the retracted apex stays at least ``margin_nm`` above the surface. That holds only if the tip
really is retracted while it steps, which is what the guard checks. When the guard fails, the steps are
refused: the coarse positioner withdraws the tip by a fine range (steps away from the sample cannot crash)
and the run fails with the readings in the error.

The run completes with the tip engaged at contact (``leaves = ("zcontrol",)``). A stop, abort or error
retracts it, as for every other procedure. With ``centre_contact``, a last look steps in so that contact sits
near the middle of the fine range. Coarse steps drop the Z reference (``set_z_nm`` is refused until it is set
again). When the Z controller states its ``contact_gap_nm`` (the gap at which the loop settles at its setpoint),
the approach sets the Z reference at contact from it: Z then reads that gap there, and every later Z is the real
apex-to-surface gap above the spot the approach touched (approach on bare substrate for gaps above the
substrate). Without it, when contact was found before any coarse step on a referenced Z, the approach keeps the
reference across the centring steps, since the tip touches the same spot at the same apex height; after an
approach from a height, a procedure that places the tip at absolute gaps then needs a new reference.

Units: coarse travel in µm (``max_travel_um``, ``coarse_travel_um``), Z in nm, amplitude as a fraction of the
free amplitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tepl.plan import PlanBuilder
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.params import Parameter
from tepl.roles import DeviceError, LimitError, SurfaceOutOfReach

FREE_AMPLITUDE_MIN = 0.97
"""A retracted tip reads at least this fraction of the free amplitude (the shear force has let go)."""
RETRACTED_TOLERANCE_NM = 1.0
"""A retracted Z reads within this distance (nm) of the upper bound of its range."""
_LOOK_S = 0.5  # retract, check, extend and settle: instrument time of one look without its steps (s)
_STEP_S = 0.02  # one coarse step (s)


class NotRetracted(DeviceError):
    """The crash guard found the fine Z not retracted before a coarse step."""


def check_retracted(zcontrol: Any) -> tuple[float, float]:
    """The crash guard, run before every coarse step: the Z controller must report ``retracted``, its Z must read
    within ``RETRACTED_TOLERANCE_NM`` of the upper bound of its range, and the amplitude must be at least
    ``FREE_AMPLITUDE_MIN`` of free. Returns (Z nm, amplitude fraction). Raises ``NotRetracted``, naming the
    instrument and the values, when any check fails."""
    state = zcontrol.state()
    z_nm = zcontrol.z_nm()
    _, upper_nm = zcontrol.z_bounds_nm()
    amplitude = zcontrol.amplitude()
    problems = []
    if state != "retracted":
        problems.append(f"it reports {state!r}")
    if not upper_nm - z_nm <= RETRACTED_TOLERANCE_NM:
        problems.append(f"Z reads {z_nm:.1f} nm, {upper_nm - z_nm:.1f} nm below the upper bound {upper_nm:.1f} nm "
                        f"(at most {RETRACTED_TOLERANCE_NM:g} nm when retracted)")
    if not amplitude >= FREE_AMPLITUDE_MIN:
        problems.append(f"the amplitude is {amplitude:.3f} of free (at least {FREE_AMPLITUDE_MIN:g} when retracted)")
    if problems:
        raise NotRetracted(f"zcontrol ({type(zcontrol).__name__}): the tip is not retracted before a coarse "
                           f"step: {'; '.join(problems)}; coarse steps refused")
    return z_nm, amplitude


@dataclass(frozen=True)
class Looks:
    """How an approach steps on a station: ``steps_per_look`` coarse steps between extensions of the fine Z,
    ``max_steps`` in all (from ``max_travel_um``), ``looks`` extensions at most (the first without steps, the
    centring one included)."""

    steps_per_look: int
    max_steps: int
    looks: int
    step_nm: float
    spread: float
    fine_range_nm: float
    margin_nm: float

    @property
    def worst_step_nm(self) -> float:
        """The largest height change one coarse step can make (nm)."""
        return self.step_nm * (1.0 + self.spread)


def plan_looks(zcontrol: Any, max_travel_um: float, steps_per_look: int, margin_nm: float,
               centre_contact: bool) -> Looks:
    """The looks of an approach with the station's Z controller (its fine range, nominal coarse step and step
    spread); LimitError when one look's largest coarse travel would not fit the fine range minus ``margin_nm``
    or ``max_travel_um`` is shorter than one step. Reads the instrument, moves nothing."""
    lower_nm, upper_nm = zcontrol.z_bounds_nm()
    fine_nm = upper_nm - lower_nm
    step_nm, spread = zcontrol.coarse_step_nm, zcontrol.coarse_step_spread
    worst_nm = step_nm * (1.0 + spread)
    fits = math.floor((fine_nm - margin_nm) / worst_nm) if fine_nm > margin_nm else 0
    if fits < 1:
        raise LimitError(f"approach refused: one coarse step of up to {worst_nm:.0f} nm ({step_nm:g} nm "
                         f"+{100 * spread:.0f} %) does not fit the fine Z range of zcontrol ({fine_nm:.0f} nm) minus "
                         f"margin_nm = {margin_nm:g} nm")
    steps = steps_per_look or fits
    if steps > fits:
        raise LimitError(f"approach refused: steps_per_look = {steps} coarse steps of up to {worst_nm:.0f} nm "
                         f"({steps * worst_nm:.0f} nm) exceed the fine Z range of zcontrol ({fine_nm:.0f} nm) minus "
                         f"margin_nm = {margin_nm:g} nm: at most {fits}")
    max_steps = math.floor(max_travel_um * 1000.0 / step_nm + 1e-9)
    if max_steps < 1:
        raise LimitError(f"approach refused: max_travel_um = {max_travel_um:g} µm is shorter than one coarse step "
                         f"of zcontrol ({step_nm:g} nm)")
    looks = 1 + math.ceil(max_steps / steps) + (1 if centre_contact else 0)
    return Looks(steps, max_steps, looks, step_nm, spread, fine_nm, margin_nm)


class Approach(Procedure):
    name = "approach"
    summary = "coarse tip approach into shear-force contact, the fine Z retracted and checked before every step"
    roles = ("zcontrol",)
    excites = False
    leaves = ("zcontrol",)
    parameters = (
        Parameter("max_travel_um", 100.0, "µm", 0.1, 200.0,
                  doc="most the coarse positioner may move the tip towards the sample (nominal steps)"),
        Parameter("steps_per_look", 0, "", 0, 10_000, kind=int,
                  doc="coarse steps between two extensions of the fine Z (0: as many as the fine range allows)"),
        Parameter("margin_nm", 200.0, "nm", 10.0, 1000.0,
                  doc="clearance kept between a look's largest coarse travel and the fine Z range"),
        Parameter("centre_contact", True, kind=bool,
                  doc="after contact, step in so that contact sits near the middle of the fine Z range"),
    )

    def _looks(self, station: Any) -> Looks:
        return plan_looks(station.zcontrol, self["max_travel_um"], self["steps_per_look"], self["margin_nm"],
                          self["centre_contact"])

    def make_plan(self, station, plan: PlanBuilder) -> None:
        looks = self._looks(station)
        n = looks.looks
        index = np.arange(n)
        planned = np.minimum(index * looks.steps_per_look, looks.max_steps)  # steps towards the sample, at most
        plan.axis("look", index, "")
        plan.points(("look",), look=index, steps=np.diff(planned, prepend=0),
                    coarse_travel_um=planned * looks.step_nm / 1000.0)
        plan.dataset("amplitude", (n,), ("look",), "", signal=True)
        plan.dataset("z_nm", (n,), ("look",), "nm")
        plan.dataset("contact", (n,), ("look",), "", dtype="i1", fill=0)
        plan.dataset("steps", (n,), ("look",), "", dtype="i4", fill=0, steps_per_look=looks.steps_per_look,
                     max_steps=looks.max_steps, coarse_step_nm=looks.step_nm, coarse_step_spread=looks.spread,
                     fine_range_nm=looks.fine_range_nm, margin_nm=looks.margin_nm)
        plan.dataset("coarse_travel_um", (n,), ("look",), "µm")
        plan.dataset("retracted_z_nm", (n,), ("look",), "nm")
        plan.dataset("retracted_amplitude", (n,), ("look",), "")
        plan.check(f"coarse travel per look at most {looks.steps_per_look} x {looks.worst_step_nm:.0f} nm "
                   f"({looks.step_nm:g} nm +{100 * looks.spread:.0f} %) = "
                   f"{looks.steps_per_look * looks.worst_step_nm:.0f} nm, within the fine Z range "
                   f"{looks.fine_range_nm:.0f} nm minus the {looks.margin_nm:g} nm margin")
        plan.check(f"coarse travel at most {looks.max_steps} steps ({self['max_travel_um']:g} µm nominal), "
                   f"{n} looks at most")
        plan.check(f"before every coarse step the fine Z is retracted and checked: Z within "
                   f"{RETRACTED_TOLERANCE_NM:g} nm of its upper bound, amplitude at least {FREE_AMPLITUDE_MIN:g} "
                   f"of free (else the steps are refused and the tip withdrawn by coarse steps out)")
        plan.check("a completed run leaves the tip engaged at contact; a stop, abort or error retracts it")
        gap_nm = station.zcontrol.contact_gap_nm
        plan.check(f"at contact the Z reference is set to the contact gap {gap_nm:g} nm, so Z reads the real gap"
                   if gap_nm is not None else
                   "no zcontrol contact_gap_nm stated: Z keeps its reference only if contact comes before any step")
        plan.estimate(n * _LOOK_S + looks.max_steps * _STEP_S)
        plan.view("approach", "amplitude", ("coarse_travel_um",), "tuning-fork amplitude vs coarse travel")
        plan.view("approach", "z_nm", ("coarse_travel_um",), "fine Z reached vs coarse travel")

    def execute(self, ctx: RunContext) -> None:
        zc = ctx.station.zcontrol
        steps_spec = ctx.plan.attrs["steps"]
        per_look, max_steps = int(steps_spec["steps_per_look"]), int(steps_spec["max_steps"])
        step_nm, spread = float(steps_spec["coarse_step_nm"]), float(steps_spec["coarse_step_spread"])
        n_looks = len(ctx.plan.points)
        taken = 0  # coarse steps towards the sample so far
        steps = 0  # steps before the next extension
        centring = False
        reference_z: float | None = None  # contact Z before any coarse step, on a referenced Z (nm)
        ctx.log(f"approach: up to {max_steps} coarse steps of {step_nm:g} nm, {per_look} per look")
        zc.retract()
        for look in range(n_looks):
            ctx.checkpoint()
            try:
                retracted_z, retracted_amplitude = check_retracted(zc)
            except NotRetracted:
                self._withdraw(ctx, zc, steps_spec)
                raise
            if steps:
                zc.coarse_step(steps)
                taken += steps
            z_nm, amplitude, contact = _extend(zc)
            travel_um = taken * step_nm / 1000.0
            _record(ctx, look, steps=steps, coarse_travel_um=travel_um, retracted_z_nm=retracted_z,
                    retracted_amplitude=retracted_amplitude, z_nm=z_nm, amplitude=amplitude, contact=int(contact))
            ctx.progress(look + 1, n_looks, f"{travel_um:.2f} µm in, Z {z_nm:.0f} nm, amplitude {amplitude:.3f}"
                         + (" (contact)" if contact else ""))
            if contact:
                if taken == 0 and zc.z_referenced:
                    reference_z = z_nm  # the same spot keeps its contact height whatever the coarse steps do
                lower_nm, upper_nm = zc.z_bounds_nm()
                steps = 0 if centring or not self["centre_contact"] else min(max_steps - taken, _centring_steps(
                    z_nm, lower_nm, upper_nm, step_nm, spread, self["margin_nm"]))
                if steps and not ctx.stop_requested:
                    ctx.log(f"contact at Z {z_nm:.1f} nm after {travel_um:.2f} µm: {steps} more steps in to "
                            f"bring it near the middle of the fine range")
                    centring = True
                    zc.retract()
                    continue
                if zc.contact_gap_nm is not None:
                    zc.set_z_reference_nm(zc.contact_gap_nm)
                    ctx.log(f"Z reference set at contact: Z reads the contact gap {zc.contact_gap_nm:g} nm "
                            f"(instruments.zcontrol.contact_gap_nm), so Z is the gap above this spot's surface")
                    z_nm = zc.z_nm()
                elif reference_z is not None and taken > 0:
                    zc.set_z_reference_nm(reference_z)
                    ctx.log(f"Z reference kept: contact at this spot stands at Z {reference_z:.2f} nm, as before "
                            f"the centring steps")
                    z_nm = zc.z_nm()
                ctx.recorder.set_attrs("/entry", contact_z_nm=z_nm, coarse_steps=taken, coarse_travel_um=travel_um)
                ctx.log(f"contact at Z {z_nm:.1f} nm (fine range {lower_nm:.0f} to {upper_nm:.0f} nm) after "
                        f"{taken} coarse steps ({travel_um:.2f} µm nominal)")
                if ctx.stop_requested:
                    ctx.log("stop requested: the run ends with the tip retracted")
                else:
                    ctx.keep("zcontrol", f"engaged at contact (Z {z_nm:.1f} nm)")
                return
            if ctx.stop_requested:
                ctx.log(f"stop requested: approach ended {travel_um:.2f} µm in, before contact")
                return
            steps = min(per_look, max_steps - taken)
            if steps <= 0:
                break
            zc.retract()
        raise LimitError(f"approach: no contact within max_travel_um = {self['max_travel_um']:g} µm ({taken} "
                         f"coarse steps of {step_nm:g} nm); the run retracts the tip: raise max_travel_um or check "
                         f"the coarse positioner")

    @staticmethod
    def _withdraw(ctx: RunContext, zc: Any, steps_spec: Any) -> None:
        """After the guard failed: step the coarse positioner away from the sample by at least one fine range
        (steps away cannot crash), so that a fine Z that did not retract stands clear of the surface."""
        step_nm, spread = float(steps_spec["coarse_step_nm"]), float(steps_spec["coarse_step_spread"])
        out = math.ceil(float(steps_spec["fine_range_nm"]) / (step_nm * (1.0 - spread)))
        try:
            zc.coarse_step(-out)
        except (DeviceError, LimitError) as exc:
            ctx.log(f"could not withdraw by {out} coarse steps out: {exc}")
        else:
            ctx.log(f"the tip did not retract: withdrawn by {out} coarse steps out")


def _record(ctx: RunContext, look: int, **values: float) -> None:
    """One look in the file (each value at index ``look`` of its dataset), flushed."""
    for name, value in values.items():
        ctx.write(name, look, value)
    ctx.recorder.flush()


def _extend(zcontrol: Any) -> tuple[float, float, bool]:
    """Extend the fine Z under shear-force feedback: (Z nm, amplitude, contact). Z pinned at the lower bound is
    no contact; pinned at the upper bound (the surface closer than the range allows) is an error."""
    try:
        z_nm = zcontrol.engage()
    except SurfaceOutOfReach as exc:
        if exc.bound != "lower":
            raise
        return exc.z_nm, zcontrol.amplitude(), False
    return z_nm, zcontrol.amplitude(), True


def _centring_steps(z_nm: float, lower_nm: float, upper_nm: float, step_nm: float, spread: float,
                    margin_nm: float) -> int:
    """Coarse steps in that bring a contact found at ``z_nm`` near the middle of the fine range, while the
    retracted apex stays at least ``margin_nm`` above the surface whatever the steps' spread."""
    middle_nm = 0.5 * (lower_nm + upper_nm)
    towards_middle = (middle_nm - z_nm) / step_nm
    clear = (upper_nm - z_nm - margin_nm) / (step_nm * (1.0 + spread))
    return max(0, math.floor(min(towards_middle, clear)))
