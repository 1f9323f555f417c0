"""Fits of a tip-laser alignment: the tip's signal against picomotor steps, scanned through the laser focus.

A picomotor knows steps, not nm, and steps differently forward and backward. Scanning one axis forward
through the focus and then backward gives two peaks: one in forward steps from the scan's start, one in
backward steps from its turning point. Both mark the same place, so their positions give the ratio of the
backward to the forward step size; the fitted widths, set against the known focus width, give the sizes in
nm. Positions are in steps, signals in counts, sizes in nm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tepl.analysis.bounded_fit import bounded_least_squares

FOUR_LN2 = 4.0 * np.log(2.0)


@dataclass(frozen=True)
class FocusPeak:
    """A Gaussian peak on a flat background: centre and FWHM in the scan's position units (steps), amplitude
    and background in counts, ``center_error`` the centre's standard error (steps)."""

    center: float
    fwhm: float
    amplitude: float
    background: float
    center_error: float

    def inside(self, low: float, high: float, margin: float = 0.0) -> bool:
        """Whether the centre lies in [low + margin, high - margin]."""
        return low + margin <= self.center <= high - margin


def gaussian_on_background(position: np.ndarray, center: float, fwhm: float, amplitude: float,
                           background: float) -> np.ndarray:
    """``background + amplitude * exp(-4 ln2 (position - center)^2 / fwhm^2)``."""
    u = (np.asarray(position, float) - center) / fwhm
    return background + amplitude * np.exp(-FOUR_LN2 * u * u)


def fit_focus_peak(position: np.ndarray, signal: np.ndarray, fwhm_guess: float) -> FocusPeak | None:
    """Least-squares Gaussian + background through ``signal`` (counts) against ``position`` (steps), the FWHM
    started at ``fwhm_guess`` and kept within 0.2-5 times it, the centre within one guessed width of the scan;
    None when there are too few finite points or the fit does not converge."""
    x = np.asarray(position, float)
    y = np.asarray(signal, float)
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if x.size < 5 or not fwhm_guess > 0:
        return None
    background = float(np.min(y))
    amplitude = max(float(np.max(y)) - background, 1e-9)
    span = float(np.ptp(y)) or 1.0
    p0 = [float(x[np.argmax(y)]), fwhm_guess, amplitude, background]
    lo = [x.min() - fwhm_guess, 0.2 * fwhm_guess, 0.0, background - span]
    hi = [x.max() + fwhm_guess, 5.0 * fwhm_guess, 3.0 * amplitude + span, float(np.max(y)) + span]
    p0 = list(np.clip(p0, lo, hi))
    result = bounded_least_squares(lambda p: (gaussian_on_background(x, *p) - y) / span, p0, lo, hi)
    if result is None:
        return None
    center, fwhm, amp, bg = (float(v) for v in result.x)
    dof = max(x.size - 4, 1)
    residual_var = float(np.sum(result.fun**2)) / dof * span**2
    try:
        jac = result.jac * span
        covariance = np.linalg.inv(jac.T @ jac) * residual_var
        center_error = float(np.sqrt(max(covariance[0, 0], 0.0)))
    except np.linalg.LinAlgError:
        center_error = float("inf")
    return FocusPeak(center, fwhm, amp, bg, center_error)


@dataclass(frozen=True)
class StepSizes:
    """Forward and backward step sizes of one picomotor axis, nm."""

    forward_nm: float
    backward_nm: float

    @property
    def backward_over_forward(self) -> float:
        return self.backward_nm / self.forward_nm


def step_sizes_from_scans(forward: FocusPeak, backward: FocusPeak, forward_travel_steps: float,
                          focus_fwhm_nm: float) -> StepSizes:
    """Step sizes from one axis scanned forward through the focus, then back.

    ``forward``: the peak in forward steps from the forward scan's start; ``backward``: the same peak in
    backward steps from the turning point, ``forward_travel_steps`` after the start. The peak is one place,
    so ``forward_travel_steps - forward.center`` forward steps span ``backward.center`` backward steps: their
    ratio is the backward/forward size ratio. The focus is ``focus_fwhm_nm`` wide, so each scan's fitted width
    (steps) gives that direction's size; the forward size is the mean of the two width estimates (the
    backward width converted with the ratio), the backward size follows from the ratio."""
    if not backward.center > 0:
        raise ValueError(f"the backward scan's peak is {backward.center:.2f} steps from the turning point: "
                         "the scan did not pass the peak")
    ratio = (forward_travel_steps - forward.center) / backward.center
    forward_nm = 0.5 * (focus_fwhm_nm / forward.fwhm + focus_fwhm_nm / (ratio * backward.fwhm))
    return StepSizes(forward_nm, ratio * forward_nm)
