"""Tip-laser alignment, ``align-tip``: the picomotors move the tip apex into the laser focus, guided by the
tip's own signal under the focus.

The signal is the tip's gap-plasmon emission over bare Au, integrated over a band of the CCD spectrum
(``band_low_nm``-``band_high_nm``, after subtracting a dark frame and a 5-pixel median that removes cosmic-ray
spikes): it needs the tip and grows with the laser intensity at the apex. The tip is engaged under shear-force
feedback over bare Au at the stage spot (``x_um``, ``y_um``), away from the dots, and stays engaged while the
picomotors carry it sideways: the loop keeps the gap (so the gap plasmon) constant over the sample's roughness
and tilt, where a frozen Z would not. The safe state withdraws it at the end.

The run:

1. two dark frames (spectrograph shutter closed): the baseline, and the noise of a band integral;
2. a probe where the tip starts: with the signal already there, the search is skipped;
3. the coarse search: rows ``search_pitch_nm`` apart covering a disc of ``search_radius_um`` around the start
   (the row through the start, then rows alternately above and below it, nearest first), each row run the
   other way from the last (a snake), one pitch longer at each end; it ends once the signal has risen and
   fallen again along a row (or that row ended), and goes back to the brightest probe;
4. fine scans, ``rounds`` times for y then x: the axis scanned forward through the brightest place, then
   backward; a Gaussian + background fit of each scan gives the peak in forward and in backward steps, so the
   backward/forward step ratio (and, against ``focus_fwhm_nm``, the sizes in nm); a forward move of the ratio
   times the backward steps past the peak brings the apex to the peak;
5. a probe at the optimum.

Picomotors count steps and know no position, and step shorter in one direction than the other: every
position here is an estimate from the step counts and the step sizes, the stated ones (parameters) until the
run has measured its own. A search over the whole disc needs the backward/forward ratio to a few %: state the
sizes a previous alignment measured (``step_parameters_from(path)`` reads them from its file); the nominal
ones reach ~1.5 µm. No move takes the apex further than ``max_travel_um`` from where it started, by those
estimates (checked for the whole search and its fine scans when the plan is made, and before every move); the
step counters themselves drift apart from the position when the step sizes differ, so they bound nothing.

Without signal (laser blocked, no tip, apex beyond the search) the run refuses after the search, with the
probes recorded and the picomotors moved back towards where they started. The file holds every probe (step counters,
estimated position, band signal, spectrum, tip height), every fit, the measured step sizes and the optimum.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.align_run import PHASES, RECENTRE_TRIES, SPIKE_PIXELS, AlignmentError, AlignmentRun
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.moves import approach_spot
from tepl.procedures.params import Parameter, ParameterError
from tepl.procedures.picomotor_search import AXES, StepModel, search_counts, search_points_nm, travel_range
from tepl.procedures.spectral import spectral_axes
from tepl.roles import LimitError

__all__ = ["AlignTip", "AlignmentError", "step_parameters_from"]

MOVE_S_PER_STEP = 1e-3  # picomotor time per step for the time estimate (1000 steps/s)
_OVERHEAD_S = 0.05  # readout, counters and settling per probe, for the time estimate


def _step_parameters() -> tuple[Parameter, ...]:
    out = []
    for axis in AXES:
        out.append(Parameter(f"{axis}_forward_step_nm", 30.0, "nm", 1.0, 200.0,
                             doc=f"picomotor {axis} forward step size used until this run measures it "
                                 "(a previous alignment's value; nominal 30 nm)"))
        out.append(Parameter(f"{axis}_backward_step_nm", 26.0, "nm", 1.0, 200.0,
                             doc=f"picomotor {axis} backward step size used until this run measures it "
                                 "(a previous alignment's value; backward steps are typically shorter)"))
    return tuple(out)


def step_parameters_from(path: str | Path) -> dict[str, float]:
    """The step sizes an ``align-tip`` run measured (its file), as the parameters of the next alignment."""
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        if f["entry"].attrs.get("procedure") != AlignTip.name:
            raise ParameterError(f"{path}: not an {AlignTip.name} run")
        attrs = f["entry/data"].attrs
        names = [p.name for p in _step_parameters()]
        missing = [name for name in names if name not in attrs]
        if missing:
            raise ParameterError(f"{path}: the run measured no step sizes ({', '.join(missing)} missing)")
        return {name: float(attrs[name]) for name in names}


class AlignTip(Procedure):
    name = "align-tip"
    summary = "move the tip apex into the laser focus with the picomotors, on the tip's own signal"
    roles = ("stage", "zcontrol", "spectrometer", "shutter", "picomotors")
    parameters = (
        Parameter("x_um", 60.0, "µm", 0.0, 100.0, doc="stage x of a bare Au spot (away from the dots)"),
        Parameter("y_um", 50.0, "µm", 0.0, 100.0, doc="stage y of that spot"),
        Parameter("exposure_s", 0.2, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure per probe"),
        Parameter("band_low_nm", 640.0, "nm", 200.0, 2000.0, doc="the signal: counts from this wavelength..."),
        Parameter("band_high_nm", 760.0, "nm", 200.0, 2000.0, doc="...to this one, summed"),
        Parameter("search_radius_um", 3.5, "µm", 0.0, 20.0, doc="the coarse search covers this radius"),
        Parameter("search_pitch_nm", 500.0, "nm", 50.0, 2000.0,
                  doc="coarse search grid pitch (about a focus width or less, so the focus cannot fall between "
                      "probes)"),
        Parameter("fine_half_width_nm", 600.0, "nm", 100.0, 5000.0, doc="fine scans reach this far each side"),
        Parameter("fine_pitch_steps", 2, "steps", 1, 100, kind=int, doc="steps between fine-scan probes"),
        Parameter("rounds", 2, "", 1, 10, kind=int, doc="fine x and y scans, this many times"),
        Parameter("min_snr", 6.0, "σ", 2.0, 1000.0,
                  doc="a signal counts when it stands this many noise widths above the background"),
        Parameter("focus_fwhm_nm", 400.0, "nm", 50.0, 5000.0,
                  doc="laser focus FWHM (0.51 λ/NA: 400 nm at 632.8 nm, NA 0.8): turns fitted widths into nm"),
    ) + _step_parameters() + (
        Parameter("max_travel_um", 6.0, "µm", 0.1, 50.0,
                  doc="no move takes the apex further than this from where it started (x or y, estimated)"),
    )

    def __init__(self, **values: Any):
        super().__init__(**values)
        if self["band_low_nm"] >= self["band_high_nm"]:
            raise ParameterError(f"parameter band_low_nm = {self['band_low_nm']:g} nm must be below "
                                 f"band_high_nm = {self['band_high_nm']:g} nm")

    # ---- plan ----------------------------------------------------------------------------------
    def step_model(self) -> StepModel:
        return StepModel({a: self[f"{a}_forward_step_nm"] for a in AXES},
                         {a: self[f"{a}_backward_step_nm"] for a in AXES})

    def fine_scan_steps(self) -> tuple[int, int]:
        """(probes per fine scan, forward steps it spans), from the stated forward step sizes."""
        pitch = self["fine_pitch_steps"]
        half = self["fine_half_width_nm"] / min(self[f"{a}_forward_step_nm"] for a in AXES)
        n_half = max(2, int(round(half / pitch)))
        return 2 * n_half + 1, 2 * n_half * pitch

    def make_plan(self, station: Any, plan: PlanBuilder) -> None:
        motors = station.picomotors
        missing = [a for a in AXES if a not in motors.axes]
        if missing:
            raise LimitError(f"{self.name} moves the tip with picomotor axes x and y; station {station.name}'s "
                             f"picomotors have {', '.join(motors.axes)}")
        wl = station.spectrometer.wavelengths_nm()
        band = (wl >= self["band_low_nm"]) & (wl <= self["band_high_nm"])
        if band.sum() < 2 * SPIKE_PIXELS:
            raise LimitError(f"the signal band {self['band_low_nm']:g}-{self['band_high_nm']:g} nm holds "
                             f"{int(band.sum())} pixels of the spectrometer's {wl.min():.0f}-{wl.max():.0f} nm")
        points, rows = search_points_nm(1000.0 * self["search_radius_um"], self["search_pitch_nm"])
        counts = search_counts(points, self.step_model())
        n_fine, span = self.fine_scan_steps()
        reach_nm = span * max(self[f"{a}_forward_step_nm"] for a in AXES)  # a fine scan around any probe
        n_fits = self["rounds"] * len(AXES) * (1 + RECENTRE_TRIES) * 2
        n_probes = 1 + len(points) + n_fits * n_fine + 1

        interlocks.stage_travel(plan, station, self["x_um"], self["y_um"])
        interlocks.tip_z(plan, station)
        interlocks.exposure(plan, station, self["exposure_s"])
        travel = travel_range(self["max_travel_um"])
        for a, axis in enumerate(AXES):  # the search, and fine scans around any place it reaches
            reach_um = 1e-3 * np.array([points[:, a].min() - reach_nm, points[:, a].max() + reach_nm])
            plan.interlock(f"tip travel {axis}", travel,
                           "no picomotor move takes the apex further from where it started (estimated from the "
                           "steps; checked again before every move)", reach_um,
                           f"search and fine scans, apex {axis} from the start")
        plan.check(f"signal band {self['band_low_nm']:g}-{self['band_high_nm']:g} nm: {int(band.sum())} pixels")
        plan.check(f"picomotor moves of at most {motors.max_steps_per_move} steps each (longer moves are split)")

        plan.points(("probe",), probe=np.arange(1, 1 + len(points)), row=rows,
                    x_nm=points[:, 0], y_nm=points[:, 1], x_steps=counts[:, 0], y_steps=counts[:, 1],
                    exposure_s=np.full(len(points), self["exposure_s"]))
        plan.axis("probe", np.arange(n_probes), "")
        plan.axis("fit", np.arange(n_fits), "")
        wl = spectral_axes(plan.axis, wl)
        plan.dataset("signal", (n_probes,), ("probe",), "counts", signal=True)
        plan.dataset("spectra", (n_probes, wl.size), ("probe", "wavelength_nm"), "counts")
        for axis in AXES:
            plan.dataset(f"{axis}_steps", (n_probes,), ("probe",), "steps", dtype="i4")
            plan.dataset(f"{axis}_nm", (n_probes,), ("probe",), "nm")
        plan.dataset("phase", (n_probes,), ("probe",), "", dtype="i1", fill=-1)
        plan.dataset("height_nm", (n_probes,), ("probe",), "nm")
        plan.dataset("dark", (wl.size,), ("wavelength_nm",), "counts")
        plan.dataset("fit_axis", (n_fits,), ("fit",), "", dtype="i1", fill=-1)
        plan.dataset("fit_direction", (n_fits,), ("fit",), "", dtype="i1", fill=0)
        for name, unit in (("fit_center_steps", "steps"), ("fit_center_error_steps", "steps"),
                           ("fit_fwhm_steps", "steps"), ("fit_amplitude", "counts"), ("fit_background", "counts"),
                           ("fit_step_nm", "nm")):
            plan.dataset(name, (n_fits,), ("fit",), unit)
        plan.attrs("/entry/data", phase_names=list(PHASES), axis_names=list(AXES))
        plan.attrs("fit_center_steps", meaning="peak position: steps from the start of its scan (forward scans) "
                                               "or from its turning point (backward scans)")
        move_s = (np.abs(np.diff(counts, axis=0)).sum() + 4 * n_fits * span) * MOVE_S_PER_STEP
        plan.estimate(n_probes * (self["exposure_s"] + _OVERHEAD_S) + move_s)
        plan.memory("the probes' signals", n_probes * 8 * 8)
        plan.view("line", "signal", ("probe",), "tip signal per probe (band counts above dark)")
        plan.view("spectrum", "spectra", ("wavelength_nm",), "latest spectrum")

    # ---- run -----------------------------------------------------------------------------------
    def execute(self, ctx: RunContext) -> None:
        st = ctx.station
        ctx.checkpoint()
        run = AlignmentRun(self, ctx)
        st.shutter.shut()
        run.measure_dark()
        approach_spot(ctx, self["x_um"], self["y_um"])
        st.shutter.open()
        try:
            self._align(run)
        finally:
            run.write_probes_if_possible()

    def _align(self, run: AlignmentRun) -> None:
        ctx = run.ctx
        at_start = run.signal_at_start()
        if at_start is not None:
            ctx.log(f"signal at the start ({at_start:.0f} counts, noise {run.noise:.0f}): no search needed")
            centre = {axis: 0.0 for axis in AXES}
        else:
            centre = run.search()
            if centre is None:  # stopped by the operator
                return
        for round_number in range(self["rounds"]):
            for axis in ("y", "x"):  # the search knows x along its row better than y across the rows
                if ctx.stop_requested:
                    ctx.log("stop requested: the tip stays where it is")
                    return
                centre[axis] = run.align_axis(axis, centre[axis], round_number)
        run.finish()
