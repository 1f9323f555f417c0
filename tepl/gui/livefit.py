"""Peak fits for the live views, off the UI thread, and the turning point of an intensity curve.

``BackgroundFit`` fits spectra with the runs' own live fit (``tepl.procedures.spectral.live_fit``) in one
thread of its own: the first fit of a process loads the compiled kernel (0.5 s from numba's cache, many
seconds without it), which the event loop must never wait for. A view hands it the spectra that arrived
(``submit``) and takes the results at its next redraw (``collect``).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

_BLOCK = 8  # spectra per fit call: the compiled fit holds the interpreter lock while it runs (about 1 ms each)


def _fit(wavelength_nm: np.ndarray, steps: list[int], spectra: np.ndarray) -> tuple[list[int], Any]:
    from tepl.procedures.spectral import live_fit

    return steps, live_fit(wavelength_nm, spectra)


class BackgroundFit:
    """Fits of spectra indexed by step, one batch at a time in a background thread."""

    def __init__(self, wavelength_nm: np.ndarray):
        self.wavelength_nm = np.asarray(wavelength_nm, float)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tepl-live-fit")
        self._pending: dict[int, np.ndarray] = {}
        self._running: Future | None = self._pool.submit(self._warm_up)

    def _warm_up(self) -> tuple[list[int], Any]:
        """Load the fit before the first spectrum arrives (a flat spectrum: no step, no result)."""
        return _fit(self.wavelength_nm, [], np.ones((1, self.wavelength_nm.size)))

    def submit(self, step: int, spectrum: np.ndarray) -> None:
        """A spectrum to fit (a newer one of the same step replaces it)."""
        self._pending[int(step)] = np.asarray(spectrum, float)

    def collect(self) -> list[tuple[int, Any]]:
        """(step, fit of that one spectrum: a ``tepl.analysis.peaks.PeakFit`` of 0-d arrays) of the batch that
        finished since the last call; starts the next batch."""
        out: list[tuple[int, Any]] = []
        if self._running is not None:
            if not self._running.done():
                return out
            steps, fit = self._running.result()
            out = [(step, _one(fit, i)) for i, step in enumerate(steps)]
            self._running = None
        if self._pending:
            steps = sorted(self._pending)[:_BLOCK]
            spectra = np.stack([self._pending.pop(step) for step in steps])
            self._running = self._pool.submit(_fit, self.wavelength_nm, steps, spectra)
        return out

    @property
    def busy(self) -> bool:
        """True while spectra wait for their fit or a fit runs."""
        return bool(self._pending) or self._running is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Fit:
    def __init__(self, **values: Any):
        self.__dict__.update(values)


def _one(fit: Any, i: int) -> _Fit:
    return _Fit(ok=bool(fit.ok[i]), amplitude=float(fit.amplitude[i]), center_eV=float(fit.center_eV[i]))


def turning_point(values: np.ndarray, drop: float = 0.25, after: int = 3, rise: float = 2.0) -> int | None:
    """Index of the maximum of ``values`` (in the order measured) to which they grew and from which they
    clearly fell: on the running median of three (a single bright or dark point, a blink, does not count), the
    maximum so far is at least ``rise`` times the first value and ``after`` consecutive values after it are
    below ``(1 - drop)`` of it. Where an intensity that grew starts to fall: the quench onset of a press, the
    threshold gap of an approach curve; the swings of a blinking emitter that does not grow are not one.
    None while it has not fallen; NaN values are skipped."""
    values = np.asarray(values, float)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size < after + 3:
        return None
    y = values[finite]
    smooth = np.array([np.median(y[max(0, k - 1):k + 2]) for k in range(y.size)])
    top, below = 0, 0
    for k in range(1, smooth.size - 1):  # the last point has no right neighbour: not smoothed yet
        if smooth[k] > smooth[top]:
            top, below = k, 0
        elif smooth[k] < (1.0 - drop) * smooth[top]:
            below += 1
            if below >= after and smooth[top] > 0 and smooth[top] >= rise * smooth[0]:
                return int(finite[top])
        else:
            below = 0
    return None
