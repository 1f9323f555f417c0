"""The compiled kernels (``tepl.kernels``) against the numpy paths they replace: identical outputs on streams
from the vendor record encoder, for every record type, with overflows and markers, split in FIFO chunks.

The numpy paths themselves are checked against ptufile and by hand elsewhere (test_tttr, test_tcspc_*); here
the truth is the numpy path, switched on with the module flag ``tepl.kernels.ENABLED``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tepl import kernels
from tepl.analysis.correlation import cross_correlate, g2_from_tags
from tepl.analysis.flim_decode import decode_t3_to_flim
from tepl.drivers.tttr import RECORD_TYPES, T2Decoder, T2Encoder, T3Decoder, T3Encoder, record_layout
from tests.kernel_paths import both

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")


def same(a, b) -> bool:
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def _t3_stream(name: str, rng: np.random.Generator, n: int = 20000) -> np.ndarray:
    lay = record_layout(name)
    nsync = np.cumsum(rng.geometric(0.002, n)) - 1  # many overflows
    dtime = rng.integers(0, lay.dtime_bins, n)
    channel = rng.integers(0, min(lay.n_channels, 4), n)
    markers = np.sort(rng.integers(0, int(nsync[-1]), 300))
    bits = rng.choice([1, 2, 4, 3, 8], markers.size)
    return T3Encoder(lay.code).encode(nsync, dtime, channel, markers, bits)


@pytest.mark.parametrize("name", [n for n in RECORD_TYPES if n.endswith("T3")])
def test_t3_decode_identical_in_chunks(name):
    rng = np.random.default_rng(len(name))
    records = _t3_stream(name, rng)
    # a few invalid channel fields and raw special records too
    records = np.concatenate([records, rng.integers(0, 2**32, 2000, dtype=np.uint64).astype(np.uint32)])

    def chunked():
        dec = T3Decoder(RECORD_TYPES[name])
        parts = [dec.decode(c) for c in np.array_split(records, 7)]
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True)), dec.offset

    fast, slow = both(chunked)
    assert same(fast[0], slow[0]) and fast[1] == slow[1]
    assert fast[0][3].size > 0 and fast[0][0].size > 15000  # markers and photons were there


@pytest.mark.parametrize("name", [n for n in RECORD_TYPES if n.endswith("T2")])
def test_t2_decode_identical_in_chunks(name):
    rng = np.random.default_rng(len(name) + 1)
    lay = record_layout(name)
    time = np.cumsum(rng.exponential(3.0 * lay.wrap / 1000, 20000)).astype(np.int64)
    channel = rng.integers(0, 4, time.size)
    records = T2Encoder(lay.code).encode(time, channel)
    records = np.concatenate([records, rng.integers(0, 2**32, 2000, dtype=np.uint64).astype(np.uint32)])

    def chunked():
        dec = T2Decoder(lay.code)
        parts = [dec.decode(c) for c in np.array_split(records, 5)]
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True)), dec.offset, dec.n_sync

    fast, slow = both(chunked)
    assert same(fast[0], slow[0]) and fast[1:] == slow[1:]
    assert np.array_equal(fast[0][0][:time.size], time)  # and both are right


@pytest.mark.parametrize("name", ["PicoHarpT3", "HydraHarpT3", "HydraHarp2T3"])
def test_flim_cubes_identical(name):
    records = _t3_stream(name, np.random.default_rng(3))
    for kwargs in ({"sync_per_pixel": 200_000, "n_pixels": 64, "bin_factor": 64},
                   {"sync_per_pixel": 7777, "n_pixels": 300, "bin_factor": 100},
                   {"image_shape": (8, 8), "bin_factor": 64},
                   {"image_shape": (8, 8), "bin_factor": 64, "frame_mask": 0}):
        fast, slow = both(lambda kw=kwargs: decode_t3_to_flim(records, name, 520, 3, **kw))
        assert same(fast, slow), kwargs
        assert fast.sum() > 1000


def test_correlations_identical_both_signs():
    rng = np.random.default_rng(5)
    t = np.cumsum(rng.exponential(1000.0, 30000)).astype(np.int64)
    ch = rng.integers(0, 3, t.size).astype(np.int8)
    for bin_ps, window_ps in ((100.0, 5000.0), (33.3, 2000.0), (1.0, 10.0)):
        fast, slow = both(lambda b=bin_ps, w=window_ps: (
            cross_correlate(t[ch == 0], t[ch == 1], b, w), g2_from_tags(t, ch, b, w, 1.0),
            cross_correlate(t[ch == 0] * 1.0, t[ch == 1] + 0.5, b, w), g2_from_tags(t + 0.25, ch, b, w, 1.0)))
        assert same(fast, slow), (bin_ps, window_ps)
        counts = fast[0][1]
        assert counts.sum() > 0 and counts[: counts.size // 2].sum() > 0  # negative lags counted too


def test_switch_off_by_environment():
    code = "from tepl import kernels; print(kernels.ENABLED)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, kernels.NO_NUMBA_ENV: "1"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_workers_setting():
    assert kernels.set_workers(1) == 1
    assert kernels.set_workers(None) >= 1
    with pytest.raises(ValueError, match="workers"):
        kernels.set_workers(0)


def test_pseudo_voigt_fits_agree_and_hit_truth():
    from tepl.analysis.peaks import HC_EV_NM, fit_peaks, pseudo_voigt

    rng = np.random.default_rng(7)
    wl = 700.0 + 0.52 * (np.arange(400) - 199.5)
    energy = HC_EV_NM / wl
    width = HC_EV_NM / wl**2 * 0.52
    center = rng.uniform(1.75, 1.80, 64)
    expected = 500.0 + 1e5 * pseudo_voigt(energy, center[:, None], 0.08, 0.4) * width
    spectra = rng.poisson(expected).astype(float)
    spectra[0] = 500.0  # a flat spectrum: not ok on both paths
    fast, slow = both(lambda: fit_peaks(wl, spectra, (640.0, 800.0), workers=2))
    assert np.array_equal(fast.ok, slow.ok) and np.array_equal(fast.n_iter, slow.n_iter)
    ok = fast.ok
    assert ok.sum() == 63 and not ok[0]
    for name in ("center_eV", "fwhm_eV", "amplitude", "eta", "center_eV_err", "chi2_red"):
        np.testing.assert_allclose(getattr(fast, name)[ok], getattr(slow, name)[ok], rtol=1e-8, err_msg=name)
    pull = (fast.center_eV[ok] - center[ok]) / fast.center_eV_err[ok]
    assert np.median(np.abs(pull)) < 1.5


def test_flim_fit_workers_do_not_change_results():
    from tepl.analysis.flim import fit_flim

    rng = np.random.default_rng(11)
    t = np.arange(256) * 0.05
    tau = rng.uniform(1.5, 3.0, (6, 6))
    shape = np.exp(-np.clip(t - 1.0, 0, None)[None, None, :] / tau[..., None]) * (t >= 1.0)
    cube = rng.poisson(4000.0 * shape / shape.sum(-1, keepdims=True) + 0.5).astype(float)
    one = fit_flim(cube, t, n_exp=1, block_size=8, workers=1)
    two = fit_flim(cube, t, n_exp=1, block_size=8, workers=2)
    assert np.array_equal(one.tau_ns, two.tau_ns, equal_nan=True) and np.array_equal(one.ok, two.ok)
    assert np.nanmedian(np.abs(one.tau_ns[0] / tau - 1.0)) < 0.05
    with pytest.raises(ValueError, match="workers"):
        fit_flim(cube, t, n_exp=1, workers=0)
