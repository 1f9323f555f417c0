"""``tepl analyze`` on a confocal FLIM run: the lifetime maps fitted chunk by chunk on Dask equal the in-memory
``fit_flim`` of each channel's whole cube, and find the lifetimes the decays were drawn with."""

from __future__ import annotations

import json

import h5py
import numpy as np
from distributed import LocalCluster

from tepl.analysis.flim import fit_flim
from tepl.analyze_flim import COMPONENT_FIELDS, FIELDS, FLIM, GROUP, TIME
from tepl.analyze_peaks import FIELDS as PEAK_FIELDS
from tepl.analyze_peaks import GROUP as PEAK_GROUP
from tepl.cli import main
from tests.test_analyze import in_memory, write_map

PERIOD_NS = 12.5
TAU_SHORT_NS = (0.5, 0.8)  # left and right half of the image
TAU_LONG_NS = 3.0


def write_flim(path, n_ch: int = 2, ny: int = 10, nx: int = 12, n_bins: int = 128, seed: int = 2) -> np.ndarray:
    """A synthetic FLIM run laid out as the confocal raster writes it (channel, y, x, TCSPC bin, u4 counts): two
    exponentials (short lifetime by image half, 3 ns) after a pulse at 1 ns, Poisson counts of 0-4000 photons
    per pixel on a flat background. Returns the bin starts (ns)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_bins) * PERIOD_NS / n_bins
    after_pulse = t + 0.5 * (t[1] - t[0]) - 1.0
    tau_short = np.where(np.arange(nx) < nx // 2, *TAU_SHORT_NS)[:, None]
    with h5py.File(path, "w") as f:
        f[TIME] = t
        dset = f.create_dataset(FLIM, (n_ch, ny, nx, n_bins), "u4")
        dset.attrs["sync_rate_hz"] = 1e9 / PERIOD_NS
        for channel in range(n_ch):
            for row in range(ny):
                shape = np.where(after_pulse > 0, 0.6 * np.exp(-after_pulse / tau_short)
                                 + 0.4 * np.exp(-after_pulse / TAU_LONG_NS), 0.0)
                photons = rng.uniform(0, 4000, (nx, 1))
                dset[channel, row] = rng.poisson(photons * shape / shape.sum(axis=1, keepdims=True) + 0.5)
    return t


def test_chunked_lifetime_maps_equal_the_in_memory_fit_of_the_whole_cube(tmp_path):
    path = tmp_path / "flim.h5"
    t = write_flim(path, ny=7)
    # 39 pixels per chunk: each channel's 7 x 12 image is cut into chunks of 3, 3 and 1 rows
    assert main(["analyze", str(path), "--chunk-mb", "0.02", "--workers", "2", "--quiet"]) == 0
    with h5py.File(path, "r") as f:
        cube, group = f[FLIM][()], f[GROUP]
        parameters = json.loads(group.attrs["parameters"])
        assert parameters["chunks"][1] == [3, 3, 1], "the image was not cut"
        assert parameters["period_ns"] == PERIOD_NS
        assert group.attrs["software_version"].startswith("tepl ")
        for channel in range(cube.shape[0]):
            reference = fit_flim(cube[channel], t, 2, period_ns=PERIOD_NS, min_counts=500.0)
            assert reference.fitted.mean() > 0.8 and reference.ok[reference.fitted].all(), "a vacuous comparison"
            for name in FIELDS:
                np.testing.assert_array_equal(group[name][channel], np.asarray(getattr(reference, name)).astype(
                    group[name].dtype), err_msg=f"{name}, channel {channel}")
            tau = group["tau_ns"][channel]  # (component, y, x)
            for half, truth in zip((slice(0, 6), slice(6, 12)), TAU_SHORT_NS, strict=True):
                assert abs(np.nanmedian(tau[0][:, half]) / truth - 1) < 0.15
            assert abs(np.nanmedian(tau[1]) / TAU_LONG_NS - 1) < 0.1
        assert set(COMPONENT_FIELDS) <= set(group) and group["tau_ns"].shape == (2, 2, 7, 12)


def test_a_chunk_fitted_alone_would_not_equal_the_whole_cube_fit(tmp_path):
    """The control: a chunk's pixels start from the whole cube's summed decay; fitted on its own, a chunk
    (here: one image half, one short lifetime) starts elsewhere and ends elsewhere."""
    path = tmp_path / "flim.h5"
    t = write_flim(path, n_ch=1, ny=4)
    with h5py.File(path, "r") as f:
        cube = f[FLIM][0]
    whole = fit_flim(cube, t, 2, period_ns=PERIOD_NS, min_counts=500.0)
    alone = fit_flim(cube[:, :6], t, 2, period_ns=PERIOD_NS, min_counts=500.0)
    assert not np.array_equal(whole.tau_ns[:, :, :6], alone.tau_ns, equal_nan=True)


def test_a_file_without_spectra_or_decays_is_refused_by_name(tmp_path, capsys):
    path = tmp_path / "counts.h5"
    with h5py.File(path, "w") as f:
        f["entry/data/counts"] = np.zeros((3, 3))
    assert main(["analyze", str(path), "--quiet"]) != 0
    error = capsys.readouterr().err
    assert "counts.h5" in error and "nothing to analyse" in error


def test_a_file_with_spectra_and_a_flim_cube_is_fitted_on_a_distributed_cluster(tmp_path, capsys):
    path = tmp_path / "both.h5"
    write_map(path, 3, 8)
    t = write_flim(path.with_suffix(".flim.h5"), n_ch=1, ny=4, nx=6)
    with h5py.File(path, "a") as f, h5py.File(path.with_suffix(".flim.h5"), "r") as g:
        f[FLIM], f[TIME] = g[FLIM][()], g[TIME][()]
        f[FLIM].attrs["sync_rate_hz"] = g[FLIM].attrs["sync_rate_hz"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        assert main(["analyze", str(path), "--scheduler", cluster.scheduler_address, "--chunk-mb", "0.01",
                     "--quiet"]) == 0
    assert capsys.readouterr().out.count(str(path)) == 2, "one line per group of maps"
    peaks = in_memory(path)
    with h5py.File(path, "r") as f:
        reference = fit_flim(f[FLIM][0], t, 2, period_ns=PERIOD_NS, min_counts=500.0)
        for name in PEAK_FIELDS:
            np.testing.assert_array_equal(f[PEAK_GROUP][name][()], np.asarray(getattr(peaks, name)).astype(
                f[PEAK_GROUP][name].dtype), err_msg=name)
        for name in FIELDS:
            np.testing.assert_array_equal(f[GROUP][name][0], np.asarray(getattr(reference, name)).astype(
                f[GROUP][name].dtype), err_msg=name)
        assert json.loads(f[GROUP].attrs["parameters"])["scheduler"] == cluster.scheduler_address
