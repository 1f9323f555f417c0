"""The state and steps of one ``align-tip`` run (``tepl.procedures.align``): probes, picomotor moves, the
coarse search and the fine scans. Signals are counts, positions nm from where the tip started (estimates from
the step counts and the step model), moves steps."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import median_filter

from tepl.analysis.focus_scan import FocusPeak, StepSizes, fit_focus_peak, step_sizes_from_scans
from tepl.data.recorder import StorageError
from tepl.procedures.base import RunContext
from tepl.procedures.picomotor_search import AXES, travel_range
from tepl.roles import DeviceError

PHASES = ("start", "search", "x forward", "x backward", "y forward", "y backward", "final")
RECENTRE_TRIES = 2  # a fine scan whose peak is at its edge is repeated around the peak this many times
MOTOR_STEPS_PER_S = 1000.0  # slowest picomotor speed assumed when waiting for a move (steps/s)
SPIKE_PIXELS = 5  # median window that removes cosmic-ray spikes before the band is summed


class AlignmentError(DeviceError):
    """The tip's signal is missing or was lost: the alignment cannot go on."""


@dataclass(frozen=True)
class Probe:
    """What one probe measured: its band signal (counts) and where the tip was estimated to be (nm)."""

    signal: float
    estimate_nm: dict[str, float]


class AlignmentRun:
    """One ``align-tip`` run on ``ctx.station``, with the parameters of ``procedure``: the step model (the
    stated step sizes until measured), the counters at the start, the estimated apex position, the probes
    made and not yet written, the step sizes measured."""

    def __init__(self, procedure: Any, ctx: RunContext):
        p, st = procedure, ctx.station
        self.procedure, self.ctx = procedure, ctx
        self.model = p.step_model()
        self.motors = st.picomotors
        self.wavelengths_nm = st.spectrometer.wavelengths_nm()
        self.band = (self.wavelengths_nm >= p["band_low_nm"]) & (self.wavelengths_nm <= p["band_high_nm"])
        self.exposure_s = p["exposure_s"]
        self.travel = travel_range(p["max_travel_um"])
        self.origin = {axis: self.motors.steps_counter(axis) for axis in AXES}
        self.estimate = {axis: 0.0 for axis in AXES}
        self.index = 0  # probes made
        self.fit_index = 0  # fits recorded
        self.total = len(ctx.plan.axis("probe"))
        self.dark = np.zeros_like(self.wavelengths_nm)
        self.noise = 0.0
        self.measured: dict[str, StepSizes] = {}
        self.pending: list[dict[str, float]] = []  # probes made, not yet written
        self.last_peak: FocusPeak | None = None

    # ---- signal ----------------------------------------------------------------------------------
    def measure_dark(self) -> None:
        """Two dark frames: their mean is the baseline, their difference the noise of a band integral."""
        st = self.ctx.station
        first = st.spectrometer.acquire(self.exposure_s)
        second = st.spectrometer.acquire(self.exposure_s)
        self.dark = 0.5 * (first + second)
        per_pixel = float(np.std((first - second)[self.band])) / math.sqrt(2.0)
        self.noise = max(per_pixel * math.sqrt(int(self.band.sum())), 1.0)
        self.ctx.write("dark", slice(None), self.dark)
        self.ctx.recorder.set_attrs("/entry/data", noise_counts=self.noise)
        self.ctx.log(f"dark: noise of the band signal {self.noise:.1f} counts ({int(self.band.sum())} pixels)")

    def band_signal(self, spectrum: np.ndarray) -> float:
        """Counts over the band above the dark frame, cosmic-ray spikes removed (5-pixel running median)."""
        light = np.asarray(spectrum, float) - self.dark
        return float(median_filter(light, size=SPIKE_PIXELS, mode="nearest")[self.band].sum())

    def threshold(self, signals: list[float]) -> tuple[float, float]:
        """(background, noise) of the probes so far: their median and the larger of the dark noise and their
        spread (MAD); with fewer than five, 0 and the dark noise."""
        if len(signals) < 5:
            return 0.0, self.noise
        values = np.asarray(signals)
        median = float(np.median(values))
        return median, max(self.noise, 1.4826 * float(np.median(np.abs(values - median))))

    # ---- moves -----------------------------------------------------------------------------------
    def counter(self, axis: str) -> int:
        """The step counter of ``axis`` relative to the start."""
        return self.motors.steps_counter(axis) - self.origin[axis]

    def move(self, axis: str, steps: int) -> None:
        """Move ``axis`` by ``steps`` (split into moves the picomotors accept), after checking that the apex
        stays within the travel (estimated from the step sizes)."""
        if not steps:
            return
        after_nm = self.estimate[axis] + self.model.travel_nm(axis, steps)
        self.travel.check(1e-3 * after_nm, f"apex {axis} from the start after a picomotor move of {steps} steps")
        largest = self.motors.max_steps_per_move
        left = steps
        while left:
            chunk = int(math.copysign(min(abs(left), largest), left))
            self.motors.move_steps(axis, chunk)
            self.motors.wait(abs(chunk) / MOTOR_STEPS_PER_S + 2.0)
            left -= chunk
        self.estimate[axis] += self.model.travel_nm(axis, steps)

    def move_to(self, axis: str, estimate_nm: float) -> None:
        """Move ``axis`` to where the step model puts ``estimate_nm`` (relative to the start)."""
        self.move(axis, self.model.steps_for(axis, estimate_nm - self.estimate[axis]))

    # ---- probes ----------------------------------------------------------------------------------
    def probe(self, phase: str, progress: bool = True) -> float:
        """One spectrum where the tip is, written at once (the live view shows it); its signal, counters,
        estimated position and tip height are kept for ``write_probes`` (once per scan line)."""
        ctx, st = self.ctx, self.ctx.station
        ctx.checkpoint()
        if self.index >= self.total:
            raise AlignmentError(f"align-tip used all {self.total} probes its plan allows without converging")
        spectrum = st.spectrometer.acquire(self.exposure_s)
        signal = self.band_signal(spectrum)
        ctx.write("spectra", self.index, spectrum)
        row = {"signal": signal, "phase": PHASES.index(phase), "height_nm": st.zcontrol.z_nm()}
        for axis in AXES:
            row[f"{axis}_steps"] = self.counter(axis)
            row[f"{axis}_nm"] = self.estimate[axis]
        self.pending.append(row)
        self.index += 1
        if progress:
            ctx.progress(self.index, self.total, f"{phase}: {signal:.0f} counts")
        return signal

    def write_probes_if_possible(self) -> None:
        """On the way out of a failed run: keep the probes measured since the last line, unless the file itself
        is what failed (its error is the one reported)."""
        with contextlib.suppress(StorageError):
            self.write_probes()

    def write_probes(self) -> None:
        """Write the probes not yet in the file (one block per dataset) and flush: after every scan line."""
        if not self.pending:
            return
        first = self.index - len(self.pending)
        block = slice(first, self.index)
        for name in self.pending[0]:
            self.ctx.write(name, block, np.array([row[name] for row in self.pending]))
        self.pending.clear()
        self.ctx.recorder.set_attrs("/entry/data", probes=self.index)
        self.ctx.recorder.flush()

    def signal_at_start(self) -> float | None:
        """A probe where the tip starts: its signal when it stands out of the dark noise, else None."""
        signal = self.probe("start")
        self.write_probes()
        return signal if signal > self.procedure["min_snr"] * self.noise else None

    # ---- coarse search ---------------------------------------------------------------------------
    def search(self) -> dict[str, float] | None:
        """The snake over the disc, until the signal has risen and fallen again along a row (or the row ended);
        then back to the brightest probe. Returns its estimated position (nm from the start), or None when the
        operator stopped; refuses without signal."""
        ctx, p = self.ctx, self.procedure
        points = list(ctx.plan.points.rows())
        best: Probe | None = None
        best_row = None
        probes: list[float] = []
        row = None
        for point in ctx.visit(lambda q: f"search probe {q['probe']} of {len(points)}", points):
            if best is not None and int(point["row"]) != best_row:
                break  # the row with the signal ended
            if int(point["row"]) != row:
                self.write_probes()
                row = int(point["row"])
            for axis in AXES:
                self.move(axis, int(point[f"{axis}_steps"]) - self.counter(axis))
            signal = self.probe("search", progress=False)
            background, noise = self.threshold(probes)
            probes.append(signal)
            excess = signal - background
            if best is None and excess > p["min_snr"] * noise:
                ctx.log(f"signal in search row {int(point['row'])}: {signal:.0f} counts "
                        f"(background {background:.0f}, noise {noise:.0f})")
                best, best_row, best_excess = Probe(signal, dict(self.estimate)), int(point["row"]), excess
            elif best is not None:
                if excess > best_excess:
                    best, best_excess = Probe(signal, dict(self.estimate)), excess
                elif excess < 0.5 * best_excess:
                    break  # past the peak along the row
        self.write_probes()
        if best is None:
            if ctx.stop_requested:
                ctx.log("stop requested during the search: the tip stays where it is")
                return None
            background, noise = self.threshold(probes)
            brightest = max(probes, default=0.0) - background
            self.return_to_start()
            raise AlignmentError(
                f"align-tip found no tip signal: the brightest of {len(probes) + 1} probes over "
                f"{p['search_radius_um']:g} µm around the start is {brightest:.0f} counts above the background, "
                f"below {p['min_snr']:g} x the noise ({noise:.0f} counts) in {p['band_low_nm']:g}-"
                f"{p['band_high_nm']:g} nm. Check that the laser reaches the tip (excitation open), the tip is "
                "engaged over bare Au, and the apex is within the search radius; the picomotors were moved back "
                "towards where they started")
        ctx.log(f"search: brightest {best.signal:.0f} counts at about ({best.estimate_nm['x']:.0f}, "
                f"{best.estimate_nm['y']:.0f}) nm from the start")
        for axis in AXES:
            self.move_to(axis, best.estimate_nm[axis])
        return dict(best.estimate_nm)

    def return_to_start(self) -> None:
        """Back to where the tip started, as far as the step model knows."""
        for axis in AXES:
            self.move_to(axis, 0.0)

    # ---- fine scans ------------------------------------------------------------------------------
    def align_axis(self, axis: str, centre_nm: float, round_number: int) -> float:
        """Scan ``axis`` forward then backward through the peak near ``centre_nm``, measure the step sizes and
        move to the peak; returns the peak's estimated position (nm from the start)."""
        p = self.procedure
        for attempt in range(1 + RECENTRE_TRIES):
            outcome = self._scan_pair(axis, centre_nm)
            if isinstance(outcome, float):
                return outcome
            centre_nm = outcome[1]
            self.ctx.log(f"round {round_number + 1}, {axis}: {outcome[0]}; scanning again around "
                         f"{centre_nm:.0f} nm (try {attempt + 2} of {1 + RECENTRE_TRIES})")
        raise AlignmentError(f"align-tip: no peak of the tip signal in the fine scans of picomotor {axis} "
                             f"(round {round_number + 1}, {1 + RECENTRE_TRIES} tries, minimum "
                             f"{p['min_snr']:g} x noise {self.noise:.0f} counts)")

    def _scan_pair(self, axis: str, centre_nm: float) -> float | tuple[str, float]:
        """One forward and one backward scan; the peak's estimate (nm) after moving there, or (why not, where
        to scan again)."""
        p = self.procedure
        n, span = p.fine_scan_steps()
        pitch = p["fine_pitch_steps"]
        self.move_to(axis, centre_nm - 0.5 * self.model.travel_nm(axis, span))
        start_nm = self.estimate[axis]
        offsets = np.arange(n) * pitch
        forward = []
        for i in range(n):
            self.move(axis, pitch if i else 0)
            forward.append(self.probe(f"{axis} forward"))
        self.write_probes()
        backward = []
        for j in range(n):
            self.move(axis, -pitch if j else 0)
            backward.append(self.probe(f"{axis} backward"))
        self.write_probes()
        fwhm_forward = p["focus_fwhm_nm"] / self.model.forward_nm[axis]
        fwhm_backward = p["focus_fwhm_nm"] / self.model.backward_nm[axis]
        peak_f = fit_focus_peak(offsets, np.array(forward), fwhm_forward)
        peak_b = fit_focus_peak(offsets, np.array(backward), fwhm_backward)
        self._record_fit(axis, +1, peak_f)
        self._record_fit(axis, -1, peak_b)
        if max(max(forward), max(backward)) - min(min(forward), min(backward)) < p["min_snr"] * self.noise:
            raise AlignmentError(f"align-tip lost the tip signal while scanning picomotor {axis}: "
                                 f"{max(forward):.0f} counts at most, noise {self.noise:.0f} counts")
        forward_nm = self.model.forward_nm[axis]
        problem = (self._fit_problem("forward", peak_f, span, fwhm_forward)
                   or self._fit_problem("backward", peak_b, span, fwhm_backward))
        if problem:
            if peak_f is None:
                where = float(offsets[int(np.argmax(forward))])
            else:
                where = float(np.clip(peak_f.center, 0, span))
            return problem, start_nm + forward_nm * where
        try:
            sizes = step_sizes_from_scans(peak_f, peak_b, float(span), p["focus_fwhm_nm"])
        except ValueError as exc:
            return str(exc), start_nm + forward_nm * float(peak_f.center)
        if 0.5 < sizes.backward_over_forward < 2.0 and 0.2 < sizes.forward_nm / forward_nm < 5.0:
            self.ctx.log(f"picomotor {axis}: forward {sizes.forward_nm:.2f} nm, backward {sizes.backward_nm:.2f} nm "
                         f"per step (ratio {sizes.backward_over_forward:.3f}; were {forward_nm:.2f}, "
                         f"{self.model.backward_nm[axis]:.2f})")
            self.model.set(axis, sizes)
            self.measured[axis] = sizes
        else:
            self.ctx.log(f"picomotor {axis}: implausible step sizes {sizes} from the fits: kept the previous ones")
        # the peak is peak_b.center backward steps from the turning point: as far as (span - peak_b.center)
        # backward steps are from the scan's end, which forward steps cover in proportion to the sizes
        f, b = self.model.forward_nm[axis], self.model.backward_nm[axis]
        steps = int(round((span - peak_b.center) * b / f))
        self.move(axis, steps)
        self.estimate[axis] = start_nm + f * span - b * span + f * steps
        self.last_peak = peak_b
        return start_nm + f * peak_f.center

    def _fit_problem(self, label: str, peak: FocusPeak | None, span: int, fwhm_guess: float) -> str:
        """Why a fine scan's fit cannot be used ('' when it can): no fit, too weak, too narrow or wide, or its
        peak too close to an end of the scan."""
        if peak is None:
            return f"no {label} peak fit"
        if peak.amplitude < self.procedure["min_snr"] * self.noise:
            return f"the {label} peak ({peak.amplitude:.0f} counts) is too weak"
        if not 0.3 * fwhm_guess < peak.fwhm < 3.0 * fwhm_guess:
            return f"the {label} peak is {peak.fwhm:.1f} steps wide, {fwhm_guess:.1f} expected"
        if not peak.inside(0.0, float(span), 0.25 * peak.fwhm):
            return f"the {label} peak ({peak.center:.1f} steps) is at an end of the {span}-step scan"
        return ""

    def _record_fit(self, axis: str, direction: int, peak: FocusPeak | None) -> None:
        """One fine scan's fit into the file's ``fit_*`` datasets."""
        i = self.fit_index
        if i >= len(self.ctx.plan.axis("fit")):
            return
        self.ctx.write("fit_axis", i, AXES.index(axis))
        self.ctx.write("fit_direction", i, direction)
        if peak is not None:
            for name, value in (("fit_center_steps", peak.center), ("fit_center_error_steps", peak.center_error),
                                ("fit_fwhm_steps", peak.fwhm), ("fit_amplitude", peak.amplitude),
                                ("fit_background", peak.background),
                                ("fit_step_nm", self.procedure["focus_fwhm_nm"] / peak.fwhm)):
                self.ctx.write(name, i, value)
        self.fit_index += 1

    # ---- the end ---------------------------------------------------------------------------------
    def finish(self) -> None:
        """A probe at the optimum; the measured step sizes and the optimum into the file."""
        ctx = self.ctx
        signal = self.probe("final")
        self.write_probes()
        attrs: dict[str, Any] = {f"optimum_{axis}_steps": self.counter(axis) for axis in AXES}
        attrs |= {f"optimum_{axis}_nm": self.estimate[axis] for axis in AXES}
        attrs["final_signal"] = signal
        for axis, sizes in self.measured.items():
            attrs[f"{axis}_forward_step_nm"] = sizes.forward_nm
            attrs[f"{axis}_backward_step_nm"] = sizes.backward_nm
        if self.last_peak is not None:
            expected = self.last_peak.amplitude + self.last_peak.background
            attrs["fitted_peak_signal"] = expected
            if signal < 0.7 * expected:
                ctx.log(f"the signal at the optimum ({signal:.0f} counts) is below 70 % of the fitted peak "
                        f"({expected:.0f}): the picomotors may have slipped")
        ctx.recorder.set_attrs("/entry/data", **attrs)
        ctx.log(f"aligned: picomotor counters x {attrs['optimum_x_steps']:+d}, y {attrs['optimum_y_steps']:+d} steps "
                f"from the start (about {self.estimate['x']:.0f}, {self.estimate['y']:.0f} nm); signal {signal:.0f} "
                "counts")
