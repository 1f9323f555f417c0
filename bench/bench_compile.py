"""Compile time of tepl's numba kernels: first session (empty cache) and a second session (cached on disk).

Each session is a fresh Python process that imports tepl and calls every compiled kernel once on small data
(T3 / T2 decode of every layout family, FLIM cubes from sync ranges and markers, both correlations,
the pseudo-Voigt fit); the two
share a new numba cache folder (``NUMBA_CACHE_DIR``), so the first compiles and writes it, the second loads it.

Run: ``python bench/bench_compile.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

SESSION = r"""
import time
t0 = time.perf_counter()
import numpy as np
from tepl import kernels
from tepl.analysis.correlation import cross_correlate, g2_from_tags
from tepl.analysis.flim_decode import decode_t3_to_flim
from tepl.drivers.tttr import T2Encoder, T3Encoder, decode_t2, decode_t3
assert kernels.ENABLED
t1 = time.perf_counter()
for name in ("PicoHarpT3", "HydraHarp2T3"):
    rec = T3Encoder(name).encode(np.arange(100) * 7, np.arange(100) % 50, np.arange(100) % 2, [5, 300], [1, 2])
    decode_t3(rec, name)
    decode_t3_to_flim(rec, name, 8, 2, sync_per_pixel=100, n_pixels=8, bin_factor=8)
    decode_t3_to_flim(rec, name, 8, 2, image_shape=(2, 2), bin_factor=8)
for name in ("PicoHarpT2", "HydraHarp2T2"):
    decode_t2(T2Encoder(name).encode(np.arange(100) * 7, np.arange(100) % 2), name)
t = np.arange(100, dtype=np.int64) * 13
cross_correlate(t, t + 5, 10.0, 100.0)
cross_correlate(t * 1.0, t + 5.0, 10.0, 100.0)
g2_from_tags(t, (np.arange(100) % 2).astype(np.int8), 10.0, 100.0, 1.0)
from tepl.analysis.peaks import fit_peaks
wl = np.linspace(650.0, 750.0, 200)
fit_peaks(wl, 100.0 + 1e3 * np.exp(-0.5 * ((wl - 700.0) / 5.0) ** 2), (640.0, 800.0))
print(f"{t1 - t0:.2f} {time.perf_counter() - t1:.2f}")
"""


def session(cache: str) -> tuple[float, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    env.pop("TEPL_NO_NUMBA", None)
    out = subprocess.run([sys.executable, "-c", SESSION], env=env, capture_output=True, text=True, check=True)
    imports, calls = out.stdout.split()
    return float(imports), float(calls)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tepl_numba_cache_") as cache:
        first = session(cache)
        second = session(cache)
    print("numba kernels (decode T2/T3, FLIM cubes, correlations, pseudo-Voigt fit), first calls in a new process:")
    print(f"  first session, empty cache : import {first[0]:.2f} s, first calls {first[1]:.2f} s (compiling)")
    print(f"  second session, cached     : import {second[0]:.2f} s, first calls {second[1]:.2f} s (loaded from disk)")


if __name__ == "__main__":
    main()
