"""Compiled kernels (numba) for the hot loops of photon decoding, correlation and batch fits.

Every kernel here has a pure-numpy twin in the module that calls it, and the two give identical results
(the twin's CCD noise in ``twin`` excepted: the same Poisson and Gaussian laws, other draws from one seed);
the caller picks the compiled kernel when ``tepl.kernels.ENABLED`` is true. ENABLED is false when numba is not
installed or the environment sets ``TEPL_NO_NUMBA=1``; tests switch it per call by setting the module flag.

Compiled code is cached on disk (``cache=True``: numba's ``__pycache__`` next to the source, or
``NUMBA_CACHE_DIR``), so only the first session after an install pays for compilation. ``set_workers`` sets
how many threads the parallel kernels (fits over pixels) use.
"""

from __future__ import annotations

import os

try:  # numba is a dependency, but the numpy paths keep working without it
    import numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    numba = None

NO_NUMBA_ENV = "TEPL_NO_NUMBA"


def _wanted() -> bool:
    return os.environ.get(NO_NUMBA_ENV, "").strip().lower() in ("", "0", "false", "no")


AVAILABLE: bool = numba is not None
ENABLED: bool = AVAILABLE and _wanted()


def jit(fn=None, *, parallel: bool = False, fastmath: bool = False):
    """``numba.njit(cache=True, nogil=True)`` where numba is installed; the plain function otherwise."""
    def wrap(f):
        if numba is None:
            return f
        return numba.njit(cache=True, nogil=True, parallel=parallel, fastmath=fastmath, error_model="numpy")(f)
    return wrap(fn) if fn is not None else wrap


prange = numba.prange if numba is not None else range


def set_workers(workers: int | None) -> int:
    """Threads for the parallel kernels (``None``: every core numba sees); returns the number in force.

    Raises ValueError for a count below 1."""
    if numba is None:
        return 1
    limit = numba.config.NUMBA_NUM_THREADS
    if workers is None:
        workers = limit
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive whole number of threads, got {workers!r}")
    numba.set_num_threads(min(int(workers), limit))
    return numba.get_num_threads()


class workers_for:
    """``with workers_for(n):`` runs the parallel kernels on ``n`` threads (None: leave as is), then restores."""

    def __init__(self, n: int | None):
        self.n = n
        self.saved = None

    def __enter__(self):
        if self.n is not None:
            self.saved = workers()
            set_workers(self.n)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            set_workers(self.saved)


def workers() -> int:
    """Threads the parallel kernels use now."""
    return numba.get_num_threads() if numba is not None else 1
