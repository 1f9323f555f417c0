"""Procedures at one spot that set the tip-sample gap: ``distance-sweep`` and ``pressure-ramp``.

The gap is the tip apex height above the substrate reference (nm), as the Z controller reads it. Both
procedures engage the shear-force loop on the spot to find the surface, freeze it, then place the tip at
each gap. A press is refused before it starts when it would go deeper than ``limits.max_press_depth_nm``
below the contact point, and the ramp stops pressing as soon as the live estimate of pressure or force
passes its limit.
"""

from __future__ import annotations

import numpy as np

from tepl.analysis.strain import force_nN_from_pressure, pressure_GPa_from_strain, strain_percent_from_shift
from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.moves import approach_spot
from tepl.procedures.params import Parameter, ParameterError
from tepl.procedures.spectral import check_fit_window, live_fit, spectral_axes
from tepl.procedures.sweeps import gap_steps
from tepl.roles import LimitError

_OVERHEAD_S = 0.05
CONTACT_TOLERANCE_NM = 0.3  # a sweep may end this far below the shear-force contact point


def _spot_parameters(x_default: float = 50.0, y_default: float = 50.0) -> tuple[Parameter, ...]:
    return (
        Parameter("x_um", x_default, "µm", 0.0, 100.0, doc="spot, stage x"),
        Parameter("y_um", y_default, "µm", 0.0, 100.0, doc="spot, stage y"),
    )


def _plan_steps(plan: PlanBuilder, station, gaps_nm: np.ndarray, exposure_s: float, **columns) -> np.ndarray:
    """Step axis, spectral axes, the points (one per gap) and the spectra/gap datasets shared by the sweep and
    the ramp; returns the wavelengths (nm)."""
    n = gaps_nm.size
    plan.axis("step", np.arange(n), "")
    wl = spectral_axes(plan.axis, station.spectrometer.wavelengths_nm())
    plan.points(("step",), step=np.arange(n), gap_nm=gaps_nm, exposure_s=np.full(n, exposure_s), **columns)
    plan.dataset("spectra", (n, wl.size), ("step", "wavelength_nm"), "counts", signal=True)
    plan.dataset("gap_nm", (n,), ("step",), "nm")
    plan.attrs("/entry/data", gap_nm_indices=0)  # measured gap: an auxiliary axis of the step dimension
    plan.estimate(n * (exposure_s + _OVERHEAD_S))
    plan.view("spectrum", "spectra", ("wavelength_nm",), "latest spectrum")
    return wl


class DistanceSweep(Procedure):
    name = "distance-sweep"
    summary = "spectra at a list of tip-sample gaps above one spot (TEPL approach curve)"
    roles = ("stage", "zcontrol", "spectrometer", "shutter")
    parameters = _spot_parameters() + (
        Parameter("start_gap_nm", 40.0, "nm", 0.0, 2000.0, limit="tip_z_nm", doc="first (farthest) gap"),
        Parameter("stop_gap_nm", 8.5, "nm", 0.0, 2000.0, limit="tip_z_nm", doc="last (closest) gap"),
        Parameter("gap_step_nm", 0.5, "nm", 0.01, 1000.0, doc="gap step"),
        Parameter("exposure_s", 0.5, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure per gap"),
    )

    def make_plan(self, station, plan: PlanBuilder) -> None:
        gaps = gap_steps(self["start_gap_nm"], self["stop_gap_nm"], self["gap_step_nm"])
        interlocks.stage_travel(plan, station, self["x_um"], self["y_um"])
        interlocks.tip_z(plan, station, gaps)
        interlocks.exposure(plan, station, self["exposure_s"])
        plan.check(f"no gap below the contact point (checked after engaging, {CONTACT_TOLERANCE_NM} nm tolerance)")
        _plan_steps(plan, station, gaps, self["exposure_s"])
        plan.dataset("target_gap_nm", (gaps.size,), ("step",), "nm")
        plan.view("approach", "spectra", ("gap_nm",), "fitted approach curve vs gap")

    def execute(self, ctx: RunContext) -> None:
        st = ctx.station
        gaps = ctx.plan.points["gap_nm"]
        st.shutter.shut()
        contact = approach_spot(ctx, self["x_um"], self["y_um"])
        if gaps.min() < contact - CONTACT_TOLERANCE_NM:
            raise LimitError(
                f"distance-sweep stays above the surface: gap {gaps.min():.2f} nm is below the contact point "
                f"{contact:.2f} nm; use pressure-ramp to press (it watches pressure and force)")
        st.zcontrol.freeze()
        st.shutter.open()
        for point in ctx.visit(lambda p: f"gap {p['gap_nm']:.2f} nm"):
            i, gap = point["step"], point["gap_nm"]
            st.zcontrol.set_z_nm(gap)
            ctx.write("target_gap_nm", i, gap)
            ctx.write("gap_nm", i, st.zcontrol.z_nm())
            ctx.write("spectra", i, st.spectrometer.acquire(point["exposure_s"]))


class PressureRamp(Procedure):
    name = "pressure-ramp"
    summary = "press the tip into one spot and release in steps, a spectrum at each (strain, pressure)"
    roles = ("stage", "zcontrol", "spectrometer", "shutter")
    parameters = _spot_parameters() + (
        Parameter("start_gap_nm", 14.0, "nm", 0.0, 2000.0, limit="tip_z_nm",
                  doc="gap before pressing and after release"),
        Parameter("min_gap_nm", 2.0, "nm", 0.0, 2000.0, limit="tip_z_nm", doc="deepest gap of the press"),
        Parameter("gap_step_nm", 0.25, "nm", 0.01, 100.0, doc="gap step"),
        Parameter("exposure_s", 2.0, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure per step"),
        Parameter("blink_retries", 10, "", 0, 100, kind=int,
                  doc="a step whose emission suddenly drops below a quarter of the previous one is measured again"),
        Parameter("quench_stop_fraction", 0.0, "", 0.0, 0.95,
                  doc="stop pressing once the fitted intensity fell this fraction below its maximum (0: off)"),
    )

    def __init__(self, **values):
        super().__init__(**values)
        if self["min_gap_nm"] >= self["start_gap_nm"]:
            raise ParameterError(
                f"parameter min_gap_nm = {self['min_gap_nm']:g} nm must be below "
                f"start_gap_nm = {self['start_gap_nm']:g} nm"
            )

    def make_plan(self, station, plan: PlanBuilder) -> None:
        press = gap_steps(self["start_gap_nm"], self["min_gap_nm"], self["gap_step_nm"])
        gaps = np.concatenate([press, press[-2::-1]])
        direction = np.concatenate([np.ones(press.size), -np.ones(press.size - 1)]).astype(np.int8)
        interlocks.stage_travel(plan, station, self["x_um"], self["y_um"])
        interlocks.tip_z(plan, station, gaps)
        interlocks.exposure(plan, station, self["exposure_s"])
        interlocks.pressing(plan, station)
        check_fit_window(plan, station)
        _plan_steps(plan, station, gaps, self["exposure_s"], direction=direction)
        n = gaps.size
        plan.dataset("direction", (n,), ("step",), "", dtype="i1", fill=0)
        plan.dataset("pressure_GPa", (n,), ("step",), "GPa")
        plan.dataset("force_nN", (n,), ("step",), "nN")
        plan.dataset("peak_energy_eV", (n,), ("step",), "eV")
        plan.dataset("peak_intensity", (n,), ("step",), "counts")
        plan.view("ramp", "peak_intensity", ("step", "pressure_GPa", "force_nN", "peak_energy_eV"),
                  "intensity, pressure, force and peak shift")

    def execute(self, ctx: RunContext) -> None:
        st, rec = ctx.station, ctx.recorder
        model = st.strain_model
        limits = st.limits
        wl = ctx.plan.axis("wavelength_nm")
        planned = ctx.plan.points["gap_nm"]
        press = planned[ctx.plan.points["direction"] > 0]
        exposure_s = float(ctx.plan.points["exposure_s"][0])
        st.shutter.shut()
        contact = approach_spot(ctx, self["x_um"], self["y_um"])
        limits.press_depth_nm.check(max(0.0, contact - float(press.min())),
                                    f"press depth (contact at {contact:.2f} nm, lowest gap {press.min():.2f} nm)")
        st.zcontrol.freeze()
        st.shutter.open()
        state = {"step": 0, "intensity": np.nan, "pressure": 0.0}
        history: list[tuple[float, float]] = []  # (peak energy eV, intensity) of the steps so far

        def reference_eV() -> float:
            """Unstrained peak energy: the first step at least a quarter as bright as the brightest so far
            (a dot that was blinking off when the ramp began must not become the reference)."""
            brightest = max((i for _, i in history if np.isfinite(i)), default=np.nan)
            for energy, intensity in history:
                if np.isfinite(intensity) and intensity >= 0.25 * brightest:
                    return energy
            return np.nan

        def acquire_fitted() -> tuple[np.ndarray, float, float]:
            """A spectrum and its live fit; dark spectra (a blinking dot) are measured again."""
            for attempt in range(self["blink_retries"] + 1):
                spectrum = st.spectrometer.acquire(exposure_s)
                fit = live_fit(wl, spectrum)
                energy = float(fit.center_eV[0]) if fit.ok[0] else np.nan
                intensity = float(fit.amplitude[0]) if fit.ok[0] else np.nan
                previous = state["intensity"]
                dark = np.isnan(intensity) or (np.isfinite(previous) and intensity < 0.25 * previous)
                if not dark or attempt == self["blink_retries"]:
                    break
                ctx.log(f"emission dropped to {intensity:.0f} from {previous:.0f} counts (blinking?): measuring again")
                ctx.checkpoint()
            return spectrum, energy, intensity

        def measure(gap: float, direction: int) -> tuple[float, float, float]:
            ctx.checkpoint()
            st.zcontrol.set_z_nm(gap)
            spectrum, energy, intensity = acquire_fitted()
            history.append((energy, intensity))
            shift_eV = energy - reference_eV()
            if gap >= contact:  # above the contact point the tip presses nothing: a shift there is noise or blinking
                state["pressure"] = 0.0
            elif np.isfinite(shift_eV):  # no peak: keep the last estimate rather than guess
                strain = strain_percent_from_shift(shift_eV, model)
                state["pressure"] = max(0.0, float(pressure_GPa_from_strain(strain, model)))
            if np.isfinite(intensity):
                state["intensity"] = intensity
            pressure = state["pressure"]
            force = float(force_nN_from_pressure(pressure, model=model))
            step = state["step"]
            for name, value in (("gap_nm", st.zcontrol.z_nm()), ("direction", direction),
                                ("pressure_GPa", pressure), ("force_nN", force),
                                ("peak_energy_eV", energy), ("peak_intensity", intensity)):
                ctx.write(name, step, value)
            ctx.write("spectra", step, spectrum)
            rec.flush()
            state["step"] = step + 1
            ctx.progress(step + 1, planned.size, f"gap {gap:.2f} nm, {pressure:.2f} GPa")
            return intensity, pressure, force

        max_intensity = 0.0
        reached: list[float] = []
        previous_pressure = 0.0
        for gap in press:
            refused = st.zcontrol.refusal(gap)  # the Z controller's own limits (press depth, contact model)
            if refused:
                ctx.log(f"the next step would reach gap {gap:.2f} nm, which the Z controller refuses ({refused}): "
                        "releasing")
                break
            intensity, pressure, force = measure(gap, +1)
            reached.append(gap)
            if np.isfinite(intensity):
                max_intensity = max(max_intensity, intensity)
            # the next step would add about as much pressure as this one did: release before it would pass a limit
            next_pressure = pressure + max(pressure - previous_pressure, 0.0)
            next_force = float(force_nN_from_pressure(next_pressure, model=model))
            previous_pressure = pressure
            if next_pressure > limits.pressure_GPa.high or next_force > limits.force_nN.high:
                ctx.log(f"at gap {gap:.2f} nm ({pressure:.2f} GPa, {force:.1f} nN) the next step would reach "
                        f"{next_pressure:.2f} GPa / {next_force:.1f} nN, past the limit "
                        f"({limits.pressure_GPa.high:g} GPa, {limits.force_nN.high:g} nN): releasing")
                break
            frac = self["quench_stop_fraction"]
            if frac > 0 and np.isfinite(intensity) and intensity < (1.0 - frac) * max_intensity:
                ctx.log(f"quench onset at gap {gap:.2f} nm (intensity {intensity:.0f} < "
                        f"{1 - frac:.2f} x max {max_intensity:.0f}): releasing")
                break
            if ctx.stop_requested:
                ctx.log("stop requested: releasing")
                break
        for gap in reached[-2::-1]:
            measure(gap, -1)
