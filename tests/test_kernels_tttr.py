"""The compiled TTTR kernels on the streams that reach their rare branches: FLIM cubes from scanner markers
(several frames, photons on marker ticks, unclosed and empty lines, lines narrower than their pixel count,
photons skipping pixels) and pair histograms with crowded windows (more partners per tag than the
branch-free candidates, lag buffers that fill), against the numpy paths and a brute-force pair count.

Truth: the numpy paths (``tepl.kernels.ENABLED`` off), themselves checked against ptufile in
test_tcspc_histograms, and an all-pairs outer difference for the correlations.
"""

from __future__ import annotations

import numpy as np
import pytest

from tepl import kernels
from tepl.analysis.correlation import cross_correlate, g2_from_tags
from tepl.analysis.flim_decode import decode_t3_to_flim
from tepl.drivers.tttr import T2Decoder, T2Encoder, T3Decoder, T3Encoder, record_layout
from tests.kernel_paths import both

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")


def _decoded_alike(decoder, code, pieces):
    """The outputs of one ``decoder(code)`` fed ``pieces`` in turn, concatenated; the compiled and the numpy
    paths must give the same arrays (dtype included). Returns the compiled path's."""
    def run():
        dec = decoder(code)
        out = [dec.decode(p) for p in pieces]
        return [np.concatenate([o[f] for o in out]) for f in range(len(out[0]))]
    fast, slow = both(run)
    assert all(a.dtype == c.dtype and np.array_equal(a, c) for a, c in zip(fast, slow, strict=True))
    return fast


def _scan_records(name: str, rng: np.random.Generator) -> np.ndarray:
    """A scan of 3 frames, 6 lines of varied length each, with the irregular markers a real scanner can leave."""
    starts, stops, frames = [], [], []
    t = 50
    for _ in range(3):
        for _ in range(6):
            length = int(rng.integers(3, 400))  # some lines shorter than n_x: pixels without sync ticks
            starts.append(t)
            stops.append(t + length)
            t += length + int(rng.integers(0, 30))
        frames.append(t)  # a frame marker on the tick of the next line start
        t += 1
    starts.append(t)  # a line start never stopped, then a start right on a stop
    starts.append(t + 40)
    stops.append(t + 40)
    marker_nsync = np.array(starts + stops + frames)
    marker_bits = np.array([1] * len(starts) + [2] * len(stops) + [4] * len(frames))
    order = np.argsort(marker_nsync, kind="stable")
    n = 30_000
    nsync = np.sort(np.concatenate([rng.integers(0, t + 100, n - 300), np.repeat(marker_nsync, 3)[:300]]))
    lay = record_layout(name)
    dtime = rng.integers(0, min(lay.dtime_bins, 4096), nsync.size)
    channel = rng.integers(0, min(lay.n_channels, 4), nsync.size)
    return T3Encoder(lay.code).encode(nsync, dtime, channel, marker_nsync[order], marker_bits[order])


@pytest.mark.parametrize("name", ["PicoHarpT3", "HydraHarp2T3"])
def test_flim_from_markers_identical_on_irregular_scans(name):
    rng = np.random.default_rng(11)
    records = _scan_records(name, rng)
    for kwargs in ({"image_shape": (6, 8), "bin_factor": 64}, {"image_shape": (4, 50), "bin_factor": 100},
                   {"image_shape": (6, 8), "bin_factor": 1, "frame_mask": 0}, {"image_shape": (1, 1)}):
        fast, slow = both(lambda kw=kwargs: decode_t3_to_flim(records, name, 64, 5, **kw))
        assert fast.dtype == slow.dtype and fast.shape == slow.shape, kwargs
        assert np.array_equal(fast, slow), kwargs
        assert fast.sum() > 20


def test_flim_from_markers_without_lines_and_with_sparse_photons():
    lay = record_layout("HydraHarp2T3")
    zeros = np.zeros(10**6 // 97 + 1, int)
    no_lines = T3Encoder(lay.code).encode(np.arange(0, 10**6, 97), zeros, zeros)
    fast, slow = both(lambda: decode_t3_to_flim(no_lines, "HydraHarp2T3", 8, 1, image_shape=(4, 4)))
    assert np.array_equal(fast, slow) and fast.sum() == 0
    # one photon every few pixels of a long line: the pixel index jumps instead of stepping
    nsync = np.array([10, 11, 5000, 5001, 777_777, 999_999, 1_000_000, 1_000_001])
    records = T3Encoder(lay.code).encode(nsync, np.arange(8), np.zeros(8, int), [10, 1_000_000], [1, 2])
    fast, slow = both(lambda: decode_t3_to_flim(records, "HydraHarp2T3", 8, 1, image_shape=(1, 1000)))
    assert np.array_equal(fast, slow)
    assert fast.sum() == 6 and fast[0, 0, 0, 0] == 1 and fast[0, 0, 777, 4] == 1 and fast[0, 0, 999, 5] == 1


def test_t3_decode_of_specials_only_and_of_photons_only():
    lay = record_layout("HydraHarp2T3")
    overflows = np.full(5000, 0xFE000001, np.uint32)  # special, channel 0x3F, one wrap each
    photons = T3Encoder(lay.code).encode(np.arange(5000), np.arange(5000) % 300, np.arange(5000) % 3)
    for records in (overflows, photons, np.concatenate([photons, overflows, photons])):
        fast, slow = both(lambda r=records: T3Decoder(lay.code).decode(r))
        assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(fast, slow, strict=True))


@pytest.mark.parametrize("name", ["PicoHarpT3", "HydraHarp2T3", "PicoHarpT2", "HydraHarp2T2"])
def test_decode_with_special_records_on_and_beside_block_edges(name):
    """The compiled decoders scan for special records in blocks (16 records at once) and decode the photons
    between them in straight loops: markers at the first, last and middle record of a block of 16 or 32 and in
    runs, among long runs of photons, in a stream whose length is no whole number of blocks, decode as the numpy
    path does, in one call and in FIFO-sized pieces."""
    lay, b = record_layout(name), record_layout(name).bits
    rng = np.random.default_rng(5)
    n = 32 * 40
    times = np.sort(rng.integers(0, 3 * lay.wrap, n))  # two overflow records among long runs of photons
    if lay.mode == "T3":
        encoder, decoder = T3Encoder(lay.code), T3Decoder
        photons = encoder.encode(times, rng.integers(0, min(lay.dtime_bins, 4096), n),
                                 rng.integers(0, min(lay.n_channels, 4), n))
    else:
        encoder, decoder = T2Encoder(lay.code), T2Decoder
        photons = encoder.encode(times, rng.integers(0, min(lay.n_channels, 4), n))
    at = np.array([0, 31, 32, 63, 64, 65, 95, 96, 97, 98, 99, 600, 1279, 1280, photons.size + 14])
    markers = np.uint32(b.special) | ((at % 15 + 1).astype(np.uint32) << np.uint32(b.kind_shift))
    records = np.insert(photons, at - np.arange(at.size), markers)  # the markers land at the indices `at`
    assert np.array_equal(np.flatnonzero(records >= b.special)[np.isin(np.flatnonzero(records >= b.special), at)],
                          at) and records.size % 32 != 0
    for pieces in ([records], np.array_split(records, [1, 33, 64, 700, 701])):
        fast = _decoded_alike(decoder, lay.code, pieces)
        assert fast[-1].size == at.size  # every marker found


def _pairs_by_brute_force(t1, t2, bin_ps, k_max):
    half = (k_max + 0.5) * bin_ps
    dt = np.subtract.outer(t2, t1).ravel().astype(float)
    dt = dt[(dt >= -half) & (dt < half)]
    return np.bincount(np.floor((dt + half) / bin_ps).astype(int), minlength=2 * k_max + 1)


@pytest.mark.parametrize("crowd", [0.3, 3.0, 40.0])
def test_cross_correlation_in_crowded_and_empty_windows(crowd):
    """``crowd``: mean partners per tag in the window; 40 puts ~4 x 10^4 lags through one buffer per ~100 tags."""
    rng = np.random.default_rng(int(crowd * 10))
    n = 3000
    window = 1000
    t = np.cumsum(rng.exponential(2 * window / crowd, n)).astype(np.int64)
    ch = rng.integers(0, 2, n)
    t1, t2 = t[ch == 0], t[ch == 1]
    t2 = np.concatenate([t2, t2[-1] + 10**7 + np.arange(3)])  # a gap far beyond the window, then a short tail
    (lag, counts), (lag_np, counts_np) = both(lambda: cross_correlate(t1, t2, 10.0, window))
    assert np.array_equal(counts, counts_np) and np.array_equal(lag, lag_np)
    assert np.array_equal(counts, _pairs_by_brute_force(t1, t2, 10.0, 100))
    # the same times as uint64 (tttrlib's type) and as floats give the same histogram
    (_, as_u64), _ = both(lambda: cross_correlate(t1.astype(np.uint64), t2.astype(np.uint64), 10.0, window))
    (_, as_float), (_, as_float_np) = both(lambda: cross_correlate(t1 * 1.0, t2 + 0.5, 10.0, window))
    assert np.array_equal(as_u64, counts) and np.array_equal(as_float, as_float_np)
    fast, slow = both(lambda: g2_from_tags(t, ch.astype(np.int8), 10.0, window, 1.0))
    assert all(np.array_equal(a, b) for a, b in zip(fast, slow, strict=True))


def test_cross_correlation_short_inputs_and_order_checks():
    for t1, t2 in (([5], [3, 4, 5, 6]), ([0, 1, 2], [1]), ([], [1, 2]), ([7, 8, 9, 10, 11], [9] * 9)):
        fast, slow = both(lambda a=t1, b=t2: cross_correlate(np.array(a, np.int64), np.array(b, np.int64), 1.0, 3))
        assert np.array_equal(fast[1], slow[1]), (t1, t2)
        if len(t1) and len(t2):
            assert np.array_equal(fast[1], _pairs_by_brute_force(np.array(t1), np.array(t2), 1.0, 3))
    for flag in (True, False):
        saved, kernels.ENABLED = kernels.ENABLED, flag
        try:
            with pytest.raises(ValueError, match="t1_ps must be sorted"):
                cross_correlate(np.array([3, 2], np.uint64), np.array([1], np.uint64), 1.0, 3)
        finally:
            kernels.ENABLED = saved


@pytest.mark.parametrize("name", ["PicoHarpT3", "HydraHarp2T3", "HydraHarpT3", "PicoHarpT2", "HydraHarp2T2"])
def test_decode_with_dense_special_records(name):
    """Special records every 1 to 6 records (markers beside overflows, runs of specials with no photon between
    them, a stream that starts and ends on one): markers wait at the end of the photon outputs while photons
    fill the front, so this is where the two would meet if the count were wrong. Photons and markers come out as
    they went into the encoder, on both paths, in one call, in pieces, and into outputs longer than the records."""
    lay, b = record_layout(name), record_layout(name).bits
    rng = np.random.default_rng(21)
    n = 6000
    times = 3 * lay.wrap + np.cumsum(rng.integers(0, lay.wrap // 3, n))  # overflows first, then every ~6 photons
    channel = rng.integers(0, min(lay.n_channels, 4), n)
    marker_time = np.sort(np.concatenate([times[:1], rng.choice(times, n // 3)]))  # ~ every 3 photons, the first
    marker_bits = rng.integers(1, 16, marker_time.size)                           # before the first photon
    if lay.mode == "T3":
        dtime = rng.integers(0, lay.dtime_bins, n)
        encoder, decoder, truth = T3Encoder(lay.code), T3Decoder, (times, dtime, channel)
        records = encoder.encode(times, dtime, channel, marker_time, marker_bits)
    else:
        if lay.family != "ht2":  # PicoHarp T2: the marker bits are the low bits of its timetag
            marker_time = marker_time - marker_time % 16 + marker_bits
            order = np.argsort(marker_time, kind="stable")
            marker_time, marker_bits = marker_time[order], marker_bits[order]
        encoder, decoder, truth = T2Encoder(lay.code), T2Decoder, (times, channel)
        records = encoder.encode(times, channel, marker_time, marker_bits)
    records = np.concatenate([records, encoder.advance_to(int(times[-1]) + 2 * lay.wrap)])  # ends on overflows
    special = records >= b.special
    assert special[-1] and special[:2].all() and special.mean() > 0.3 and (special[1:] & special[:-1]).sum() > 500
    for pieces in ([records], np.array_split(records, [1, 2, 3, 500, 501, 4000])):
        fast = _decoded_alike(decoder, lay.code, pieces)
        assert all(np.array_equal(got, want) for got, want in zip(fast[:len(truth)], truth, strict=True))
        assert np.array_equal(fast[len(truth) + 1], marker_bits)
    if lay.mode == "T3":  # outputs longer than the records: the markers wait at the end of the records' length
        big = (np.full(records.size + 99, -1, np.int64), np.full(records.size + 99, -1, np.int16),
               np.full(records.size + 99, -1, np.int8))
        saved, kernels.ENABLED = kernels.ENABLED, True
        try:
            into = T3Decoder(lay.code)._decode_into(records, *big)
            whole = T3Decoder(lay.code).decode(records)
        finally:
            kernels.ENABLED = saved
        assert all(np.array_equal(a, c) for a, c in zip(into, whole, strict=True))
        assert (big[0][records.size:] == -1).all()
