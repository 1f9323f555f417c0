"""Histograms and correlations from photon tags, against brute force, ptufile and known simulation parameters."""

from __future__ import annotations

import numpy as np
import ptufile
import pytest

from tepl.analysis import correlation, flim_decode, tcspc
from tepl.data.ptu import write_ptu
from tepl.drivers import tttr


def _brute_force(t1, t2, bin_ps, window_ps):
    """Every pair by broadcasting; bins centred on k * bin_ps covering +-(K + 1/2) bins."""
    k_max = int(np.ceil(window_ps / bin_ps - 0.5 - 1e-12)) if window_ps > 0 else 0
    half = (k_max + 0.5) * bin_ps
    lag = (np.asarray(t2)[None, :] - np.asarray(t1)[:, None]).ravel().astype(float)
    lag = lag[(lag >= -half) & (lag < half)]
    return np.bincount(np.floor((lag + half) / bin_ps).astype(np.int64), minlength=2 * k_max + 1)


@pytest.mark.parametrize("bin_ps, window_ps", [(100.0, 2_000.0), (64.0, 1_000.0), (250.0, 125.0), (500.0, 0.0),
                                               (37.5, 800.0)])
def test_cross_correlate_equals_brute_force(bin_ps, window_ps):
    rng = np.random.default_rng(int(bin_ps * 10 + window_ps))
    # times on a 25 ps grid: many lags fall exactly on bin edges and many photons share a time
    t1 = np.sort(rng.integers(0, 40_000, 1500)) * 25
    t2 = np.sort(rng.integers(0, 40_000, 1200)) * 25
    lag_ps, counts = correlation.cross_correlate(t1, t2, bin_ps, window_ps)
    expected = _brute_force(t1, t2, bin_ps, window_ps)
    np.testing.assert_array_equal(counts, expected)
    k_max = (lag_ps.size - 1) // 2
    np.testing.assert_allclose(lag_ps, np.arange(-k_max, k_max + 1) * bin_ps)
    assert (k_max + 0.5) * bin_ps >= window_ps
    # float times give the same histogram
    _, counts_f = correlation.cross_correlate(t1.astype(float), t2.astype(float), bin_ps, window_ps)
    np.testing.assert_array_equal(counts_f, expected)


def test_g2_from_tags_equals_cross_correlate_and_brute_force():
    rng = np.random.default_rng(2)
    n = 6000
    time_ps = np.sort(rng.integers(0, 3_000_000, n)) * 4
    channel = rng.integers(0, 3, n).astype(np.int8)  # a third channel must be ignored
    lag_ns, g2, counts = correlation.g2_from_tags(time_ps, channel, 200.0, 5_000.0, 0.012, ch_a=0, ch_b=1)
    t_a, t_b = time_ps[channel == 0], time_ps[channel == 1]
    np.testing.assert_array_equal(counts, _brute_force(t_a, t_b, 200.0, 5_000.0))
    np.testing.assert_array_equal(counts, correlation.cross_correlate(t_a, t_b, 200.0, 5_000.0)[1])
    np.testing.assert_allclose(g2, counts / (t_a.size * t_b.size * 200e-12 / 0.012))
    np.testing.assert_allclose(lag_ns, np.arange(-25, 26) * 0.2)
    # lag = t_b - t_a changes sign with the channels (a 201 ps bin keeps integer lags off the bin edges)
    _, _, forward = correlation.g2_from_tags(time_ps, channel, 201.0, 5_000.0, 0.012, ch_a=0, ch_b=1)
    _, _, swapped = correlation.g2_from_tags(time_ps, channel, 201.0, 5_000.0, 0.012, ch_a=1, ch_b=0)
    np.testing.assert_array_equal(swapped, forward[::-1])


def test_g2_of_a_simulated_single_emitter_follows_the_renewal_model():
    """A two-level emitter: each photon is followed by an excitation wait (rate a) and an emission (rate b);
    split 50:50 onto two detectors. Renewal theory gives g2(tau) = 1 - exp(-(a + b)|tau|)."""
    rng = np.random.default_rng(42)
    n = 1_000_000
    a_per_ns, b_per_ns = 1 / 20.0, 1 / 10.0
    gaps_ns = rng.exponential(1 / a_per_ns, n) + rng.exponential(1 / b_per_ns, n)
    time_ps = np.floor(np.cumsum(gaps_ns) * 1000.0).astype(np.int64)
    channel = rng.integers(0, 2, n).astype(np.int8)
    duration_s = time_ps[-1] * 1e-12
    bin_ps = 1000.0
    lag_ns, g2, counts = correlation.g2_from_tags(time_ps, channel, bin_ps, 100_000.0, duration_s)
    fine = lag_ns[:, None] + np.linspace(-0.5, 0.5, 201)[None, :]  # the model averaged over each bin
    model = (1.0 - np.exp(-(a_per_ns + b_per_ns) * np.abs(fine))).mean(axis=1)
    norm = counts.sum() / g2.sum()
    z = (counts - norm * model) / np.sqrt(norm * model + 1.0)
    assert g2[lag_ns == 0][0] < 0.06  # antibunching: almost no coincidences at zero lag
    assert np.all(np.abs(z) < 5.0) and np.mean(z**2) < 1.5


def test_decay_histogram_and_flim_cube_against_numpy():
    rng = np.random.default_rng(9)
    n = 20_000
    dtime = rng.integers(-5, 1100, n)
    channel = rng.integers(-1, 4, n)
    pixel = rng.integers(-1, 13, n)
    decay = tcspc.decay_histogram(dtime, channel, 256, 3, bin_factor=4)
    ok = (dtime >= 0) & (dtime < 1024) & (channel >= 0) & (channel < 3)
    expected, _, _ = np.histogram2d(channel[ok], dtime[ok] // 4, bins=(np.arange(4), np.arange(257)))
    np.testing.assert_array_equal(decay, expected)
    cube = tcspc.flim_cube(pixel, dtime, channel, 12, 1024, 3)
    ref = np.zeros((3, 12, 1024), np.int64)
    ok &= (pixel >= 0) & (pixel < 12)
    np.add.at(ref, (channel[ok], pixel[ok], dtime[ok]), 1)
    np.testing.assert_array_equal(cube, ref)


def test_decay_histogram_of_a_known_lifetime():
    rng = np.random.default_rng(4)
    tau_ns, res_ns = 3.2, 0.016
    dtime = np.floor(rng.exponential(tau_ns, 200_000) / res_ns).astype(np.int64)
    decay = tcspc.decay_histogram(dtime, np.zeros(dtime.size, np.int8), 64, 1, bin_factor=32)[0]
    t_ns = (np.arange(64) + 0.5) * 32 * res_ns
    use = decay > 50
    slope = np.polyfit(t_ns[use], np.log(decay[use]), 1, w=np.sqrt(decay[use]))[0]
    assert -1 / slope == pytest.approx(tau_ns, rel=0.02)


def test_flim_from_sync_ranges_equals_ptufile_point_decoding(tmp_path):
    rng = np.random.default_rng(1)
    n, sync_per_pixel, n_pixels = 200_000, 50, 4096
    nsync = np.sort(rng.integers(0, sync_per_pixel * n_pixels, n))
    dtime, channel = rng.integers(0, 256, n), rng.integers(0, 2, n)
    records = tttr.encode_t3(nsync, dtime, channel)
    path = tmp_path / "point.ptu"
    write_ptu(path, records, "HydraHarp2T3", 500e-9, 16e-12,
              extra_tags={"Measurement_SubMode": ("Int8", 1),
                          "ImgHdr_TimePerPixel": ("Float8", sync_per_pixel * 500e-9 * 1e3)})  # ms
    with ptufile.PtuFile(path) as ptu:
        theirs = ptu.decode_image(dtype=np.uint32)  # (time, channel, bin)
    cube = flim_decode.decode_t3_to_flim(records, "HydraHarp2T3", 256, 2, sync_per_pixel=sync_per_pixel,
                                   n_pixels=n_pixels)
    m = theirs.shape[0]
    assert m > 3000 and cube.sum() == n
    np.testing.assert_array_equal(np.moveaxis(theirs, 0, 1), cube[:, :m, :theirs.shape[-1]])


def test_flim_from_scanner_markers_equals_ptufile_image_decoding(tmp_path):
    rng = np.random.default_rng(3)
    n_y, n_x, pixel_sync, retrace_sync, n_frames = 8, 16, 10, 40, 3
    marker_sync, marker_bits, t = [], [], 100
    for _ in range(n_frames):
        for _ in range(n_y):
            marker_sync += [t, t + n_x * pixel_sync]
            marker_bits += [1, 2]  # line start, line stop
            t += n_x * pixel_sync + retrace_sync
        marker_sync.append(t - 5)
        marker_bits.append(4)  # frame
    n = 50_000
    nsync = np.sort(rng.integers(0, t + 50, n))
    dtime, channel = rng.integers(0, 64, n), rng.integers(0, 2, n)
    records = tttr.encode_t3(nsync, dtime, channel, marker_sync, marker_bits)
    image_tags = {"Measurement_SubMode": ("Int8", 3), "ImgHdr_Dimensions": ("Int8", 3), "ImgHdr_PixX": ("Int8", n_x),
                  "ImgHdr_PixY": ("Int8", n_y), "ImgHdr_LineStart": ("Int8", 1), "ImgHdr_LineStop": ("Int8", 2),
                  "ImgHdr_Frame": ("Int8", 3), "ImgHdr_TimePerPixel": ("Float8", pixel_sync * 500e-9 * 1e3)}
    path = tmp_path / "image.ptu"
    write_ptu(path, records, "HydraHarp2T3", 500e-9, 16e-12, extra_tags=image_tags)
    with ptufile.PtuFile(path) as ptu:
        assert ptu.shape[:3] == (n_frames, n_y, n_x)
        theirs = ptu.decode_image(dtype=np.uint32, frame=-1, dtime=64)[0]  # frames summed: (y, x, channel, bin)
    cube = flim_decode.decode_t3_to_flim(records, "HydraHarp2T3", 64, 2, image_shape=(n_y, n_x))
    np.testing.assert_array_equal(np.moveaxis(theirs, 2, 0), cube)
    assert 0 < cube.sum() < n  # photons during retraces are left out


def test_bin_trace_against_numpy_and_ptufile(tmp_path):
    rng = np.random.default_rng(8)
    n = 30_000
    time_ps = np.sort(rng.integers(0, 10**9, n))  # 1 ms
    channel = rng.integers(0, 2, n).astype(np.int8)
    time_s, counts = tcspc.bin_trace(time_ps, channel, 3e-6, 1e-3, 2)
    assert counts.shape == (2, 334) and time_s[0] == pytest.approx(1.5e-6)  # the last bin is partial
    for ch in range(2):
        expected, _ = np.histogram(time_ps[channel == ch], bins=np.arange(335) * 3_000_000)
        np.testing.assert_array_equal(counts[ch], expected)
    path = tmp_path / "t2.ptu"
    write_ptu(path, tttr.encode_t2(time_ps, channel), "HydraHarp2T2", 1e-12, 1e-12)
    with ptufile.PtuFile(path) as ptu:
        theirs = ptu.decode_histogram(sampling_time=3_000_000, dtype=np.uint32)
    np.testing.assert_array_equal(counts[:, :theirs.shape[1]], theirs)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="t2_ps must be sorted"):
        correlation.cross_correlate([1, 2, 3], [5, 4], 10.0, 100.0)
    with pytest.raises(ValueError, match="bin_ps must be a positive"):
        correlation.cross_correlate([1], [2], 0.0, 100.0)
    with pytest.raises(ValueError, match="window_ps"):
        correlation.cross_correlate([1], [2], 1.0, -5.0)
    with pytest.raises(ValueError, match="differ in length"):
        tcspc.decay_histogram([1, 2], [0], 10, 1)
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        tcspc.decay_histogram([1], [0], 0, 1)
    with pytest.raises(ValueError, match="duration_s must be positive"):
        correlation.g2_from_tags([1, 2], [0, 1], 10.0, 100.0, 0.0)
    with pytest.raises(ValueError, match="sync_per_pixel and n_pixels, or image_shape"):
        flim_decode.decode_t3_to_flim(np.zeros(0, np.uint32), "HydraHarp2T3", 10, 1)


def test_dead_time_correction_undoes_pile_up():
    """Photons at ~8 % per pulse through a 22 ns non-paralysable detector (the simulator's own filter): the
    corrected decay matches the decay of every photon within Poisson noise; the raw one does not."""
    from tepl.analysis.normalisation import dead_time_correction
    from tepl.sims.detection import dead_time_filter

    rng = np.random.default_rng(12)
    period_ps, n_pulses, bin_ps = 500_000, 2_000_000, 250
    n = rng.poisson(0.08, n_pulses)  # photons per pulse
    pulse = np.repeat(np.arange(n_pulses, dtype=np.int64), n)
    delay = (1500 + rng.exponential(8000.0, pulse.size)).astype(np.int64)
    times = np.sort(pulse * period_ps + delay)
    clicks = times[dead_time_filter(times, 22_000, -(1 << 40))]
    edges = np.arange(0, 200_001, bin_ps)
    true = np.histogram(times % period_ps, edges)[0].astype(float)
    raw = np.histogram(clicks % period_ps, edges)[0].astype(float)
    corrected = dead_time_correction(raw, n_pulses, bin_ps / 1000.0, 22.0)
    late = slice(40, 160)  # 10-40 ns: a click earlier in the same pulse has most likely happened
    assert raw[late].sum() < 0.96 * true[late].sum()
    for lo, hi in ((0, 40), (40, 80), (80, 160), (160, 400)):
        expected = true[lo:hi].sum()
        assert abs(corrected[lo:hi].sum() - expected) < 4 * np.sqrt(expected) + 1, (lo, hi)
    with pytest.raises(ValueError, match="n_cycles"):
        dead_time_correction(raw, 0, 0.25, 22.0)
