"""T3 dtime is int16 (ptufile's type; every PicoQuant T3 dtime field has at most 15 bits, 0..32767): the
decoders give int16 on both kernel paths, and nothing downstream wraps a dtime near 32767 (numpy 2 keeps
``int16 op python int`` in int16, wrapping or raising), through decay histograms, FLIM binning by any factor, the
HDF5 tags, PTU export and re-import. Run files written before the change (int32 dtime) still read.

Truth: the encoder's input, binned in int64 by hand, and ptufile's reading of the exported file.
"""

from __future__ import annotations

import h5py
import numpy as np
import ptufile
import pytest

from tepl.analysis.flim_decode import decode_t3_to_flim
from tepl.analysis.tcspc import decay_histogram, flim_cube
from tepl.data.ptu_export import export_ptu
from tepl.data.recorder import Recorder
from tepl.data.tags import add_tags, append_tags, read_tags
from tepl.drivers.tttr import T3Decoder, T3Encoder, record_layout
from tepl.ptu_import import import_ptu
from tepl.roles import T3Block
from tests.kernel_paths import both

RES_PS, SYNC_PS = 1.0, 40_000.0


def _photons(dtime_max: int, n: int = 4000, seed: int = 3):
    """(nsync, dtime int64, channel): dtimes crowded at the top of the field, the largest value included."""
    rng = np.random.default_rng(seed)
    nsync = np.sort(rng.integers(0, 5_000_000, n))
    dtime = np.concatenate([[dtime_max, dtime_max, 0], rng.integers(dtime_max - 200, dtime_max + 1, n - 3)])
    return nsync, dtime, rng.integers(0, 2, n)


@pytest.mark.parametrize("name", ["HydraHarp2T3", "PicoHarpT3", "HydraHarpT3", "GenericT3"])
def test_decode_gives_int16_dtime_up_to_the_field_top_on_both_paths(name):
    lay = record_layout(name)
    nsync, dtime, channel = _photons(lay.dtime_bins - 1)
    records = T3Encoder(lay.code).encode(nsync, dtime, channel)
    fast, slow = both(lambda: T3Decoder(lay.code).decode(records))
    for out in (fast, slow):
        assert out[1].dtype == np.int16
        assert np.array_equal(out[0], nsync) and np.array_equal(out[1], dtime) and np.array_equal(out[2], channel)


@pytest.mark.parametrize("bin_factor", [1, 3, 128, 1000, 40_000, 65_536])
def test_histograms_and_flim_binning_of_dtimes_near_32767(bin_factor):
    """Coarse bins dtime // bin_factor with dtime up to 32767 and factors beyond int16 (40000 used to raise on
    an int16 array), by both kernel paths, equal to int64 binning by hand."""
    nsync, dtime, channel = _photons(32767)
    records = T3Encoder(record_layout("HydraHarp2T3").code).encode(nsync, dtime, channel)
    d16 = dtime.astype(np.int16)
    n_bins = 32767 // bin_factor + 1
    want = np.zeros((2, n_bins), np.int64)
    np.add.at(want, (channel, dtime // bin_factor), 1)
    assert np.array_equal(decay_histogram(d16, channel.astype(np.int8), n_bins, 2, bin_factor), want)
    fewer = max(1, n_bins - 1)  # the top bin left out, not wrapped into another
    assert np.array_equal(decay_histogram(d16, channel, fewer, 2, bin_factor), want[:, :fewer])
    sync_per_pixel, n_pixels = 1_000_000, 5
    pixel = nsync // sync_per_pixel
    cube = np.zeros((2, n_pixels, n_bins), np.int64)
    np.add.at(cube, (channel, pixel, dtime // bin_factor), 1)
    assert np.array_equal(flim_cube(pixel, d16, channel, n_pixels, n_bins, 2, bin_factor), cube)
    fast, slow = both(lambda: decode_t3_to_flim(records, "HydraHarp2T3", n_bins, 2, sync_per_pixel=sync_per_pixel,
                                                n_pixels=n_pixels, bin_factor=bin_factor))
    assert np.array_equal(fast, cube) and np.array_equal(slow, cube)


def _run_file(path, block: T3Block) -> None:
    with Recorder(path, "confocal-raster", {}, "", {}, "tepl test") as rec:
        add_tags(rec, "T3", resolution_ps=block.resolution_ps, sync_period_ps=block.sync_period_ps, n_channels=2,
                 duration_s=block.duration_s)
        append_tags(rec, block)
        rec.flush()


def _as_written_before(path, dtime) -> None:
    """Make ``/entry/tags/dtime`` an int32 dataset holding ``dtime``, as files were written before int16."""
    with h5py.File(path, "r+") as f:
        group = f["/entry/tags"]
        attrs = dict(group["dtime"].attrs)
        del group["dtime"]
        ds = group.create_dataset("dtime", data=np.asarray(dtime, np.int32), maxshape=(None,), chunks=(1024,))
        ds.attrs.update(attrs)


def test_tags_ptu_export_and_import_keep_dtime_32767(tmp_path):
    nsync, dtime, channel = _photons(32767)
    block = T3Block(nsync, dtime.astype(np.int16), channel.astype(np.int8), 0.2, RES_PS, SYNC_PS)
    _run_file(tmp_path / "run.h5", block)
    with h5py.File(tmp_path / "run.h5") as f:
        assert f["/entry/tags/dtime"].dtype == np.int16
    stored = read_tags(tmp_path / "run.h5")
    assert stored.dtime.dtype == np.int16 and np.array_equal(stored.dtime, dtime)
    export_ptu(tmp_path / "run.h5", tmp_path / "run.ptu")
    with ptufile.PtuFile(tmp_path / "run.ptu") as ptu:
        back = ptu.decode_records()
        assert ptu.tags["MeasDesc_Resolution"] == pytest.approx(RES_PS * 1e-12, rel=1e-15)
    photons = back[back["channel"] >= 0]
    assert np.array_equal(photons["dtime"], dtime) and np.array_equal(photons["time"], nsync)
    import_ptu(tmp_path / "run.ptu", tmp_path / "again.h5")
    again = read_tags(tmp_path / "again.h5")
    assert again.dtime.dtype == np.int16 and np.array_equal(again.dtime, dtime)
    with h5py.File(tmp_path / "again.h5") as f:  # the import's decay histogram reaches the top bin
        decay, axis_ns = f["/entry/data/decay"][()], f["/entry/data/tcspc_time_ns"][()]
    assert decay.shape == (2, 32768) and np.array_equal(decay[:, -1], np.bincount(channel[dtime == 32767], None, 2))
    assert axis_ns[-1] == pytest.approx(32767.5 * RES_PS / 1000)


def test_a_run_file_with_int32_dtime_still_reads(tmp_path):
    nsync, dtime, channel = _photons(32767, n=500)
    _run_file(tmp_path / "old.h5", T3Block(nsync, dtime.astype(np.int16), channel.astype(np.int8), 0.2, RES_PS,
                                           SYNC_PS))
    _as_written_before(tmp_path / "old.h5", dtime)
    with h5py.File(tmp_path / "old.h5") as f:
        assert f["/entry/tags/dtime"].dtype == np.int32
    old = read_tags(tmp_path / "old.h5")
    assert old.dtime.dtype == np.int16 and np.array_equal(old.dtime, dtime) and np.array_equal(old.sync, nsync)
    export_ptu(tmp_path / "old.h5", tmp_path / "old.ptu")
    with ptufile.PtuFile(tmp_path / "old.ptu") as ptu:
        back = ptu.decode_records()
    assert np.array_equal(back[back["channel"] >= 0]["dtime"], dtime)
    # an old file with a value no int16 dtime holds is refused by name, not wrapped
    _as_written_before(tmp_path / "old.h5", np.concatenate([dtime[:-1], [40_000]]))
    with pytest.raises(ValueError, match=r"old\.h5.*dtime 40000 bins out of range \[0, 32767\]"):
        read_tags(tmp_path / "old.h5")


def test_recording_refuses_dtimes_that_int16_cannot_hold(tmp_path):
    for bad, value in ((np.array([10, 40_000], np.int32), 40000), (np.array([-1, 3], np.int64), -1)):
        block = T3Block(np.array([1, 2]), bad, np.array([0, 1], np.int8), 1.0, RES_PS, SYNC_PS)
        with pytest.raises(ValueError, match=f"T3 block: dtime {value} bins out of range"):
            _run_file(tmp_path / f"bad{value}.h5", block)
    wide = T3Block(np.array([1, 2]), np.array([0, 32767], np.int64), np.array([0, 1], np.int8), 1.0, RES_PS, SYNC_PS)
    _run_file(tmp_path / "wide.h5", wide)  # a wider array within range is narrowed exactly
    assert np.array_equal(read_tags(tmp_path / "wide.h5").dtime, [0, 32767])

