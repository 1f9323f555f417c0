"""The confocal twin (paper 003, physics.md section 2) measured the way the rig measures it: a World with a
laser and a detection path, clicks from ``world.detected_photons``, spectra from ``world.spectrum_photons``.

Expectations come from the sample's ground truth and the paper's numbers; the analysis here is independent
and brute force (histogram + scipy curve_fit, pairwise coincidence counting, thresholded count bins).
"""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from tepl.sims.confocal_sample import ConfocalSample
from tepl.sims.detection import DetectionPath, DetectorChannel
from tepl.sims.photons import Laser
from tepl.sims.world import World

QD_BAND_NM = (635.0, 665.0)  # QD channel, 650 +- 15 nm
PEROVSKITE_BAND_NM = (525.0, 535.0)  # perovskite channel, 530 +- 5 nm
EFFICIENCY = 0.6
DARK_PER_S = 100.0


def make_world(sample: ConfocalSample, laser: Laser, channels: list[DetectorChannel], splitter: str = "dichroic",
               seed: int = 1) -> World:
    world = World(sample=sample, seed=seed, drift_nm_per_s=(0.0, 0.0))
    world.laser = laser
    world.detection = DetectionPath(channels, splitter)
    world.longpass_edge_nm = None
    return world


def two_channel(**kw) -> list[DetectorChannel]:
    return [DetectorChannel("qd", QD_BAND_NM, EFFICIENCY, DARK_PER_S, **kw),
            DetectorChannel("perovskite", PEROVSKITE_BAND_NM, EFFICIENCY, DARK_PER_S, **kw)]


def acquire(world: World, x_nm: float, y_nm: float, t0_s: float, duration_s: float, block_s: float = 0.1):
    """Clicks over ``duration_s`` read in FIFO-sized blocks, as a TCSPC simulator reads them."""
    world.stage_um[:2] = (x_nm / 1000.0, y_nm / 1000.0)
    n = int(round(duration_s / block_s))
    parts = [world.detected_photons(t0_s + i * block_s, t0_s + (i + 1) * block_s) for i in range(n)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# ---------------------------------------------------------------------------------------------- FLIM reference
@pytest.mark.parametrize("side", ["left", "right"])
def test_flim_reference_decays_fit_the_stated_parameters(side):
    sample = ConfocalSample.generate(seed=2, kind="flim-reference")
    truth = sample.ground_truth()["film"][side]
    laser = Laser(445.0, 2.0e6)
    # dead time off here: at ~5 % detections per pulse it would pile up the decay (tested elsewhere)
    world = make_world(sample, laser, [DetectorChannel("qd", QD_BAND_NM, EFFICIENCY, DARK_PER_S, dead_time_ns=0.0)])
    x = 50000.0 - 10000.0 if side == "left" else 50000.0 + 10000.0
    times, _ = acquire(world, x, 50000.0, 0.0, 8.0, block_s=0.5)
    delay_ns = ((times + 2000) % 500_000) / 1e3 - 2.0
    edges = np.arange(-2.0, 498.0 + 1e-9, 0.25)
    counts = np.histogram(delay_ns, bins=edges)[0]
    centre = 0.5 * (edges[1:] + edges[:-1])
    fit = centre > 1.0

    def model(t, y0, a1, tau1, a2, tau2):
        return y0 + a1 * np.exp(-t / tau1) + a2 * np.exp(-t / tau2)

    p = (counts[-200:].mean(), counts.max() / 2, 2.0, counts.max() / 2, 10.0)
    for by_model in (False, True):  # refit with weights from the model: data weights bias low-count bins down
        expected = model(centre[fit], *p) if by_model else counts[fit]
        p, _ = curve_fit(model, centre[fit], counts[fit], p0=p, sigma=np.sqrt(np.maximum(expected, 1.0)))
    y0, a1, tau1, a2, tau2 = p
    if tau1 > tau2:
        a1, tau1, a2, tau2 = a2, tau2, a1, tau1
    assert tau1 == pytest.approx(truth["tau_ns"][0], rel=0.06)
    assert tau2 == pytest.approx(truth["tau_ns"][1], rel=0.04)
    assert a1 / (a1 + a2) == pytest.approx(truth["amplitude_fraction"][0], abs=0.03)
    background = y0 * counts.size / counts.sum()  # flat share of all counts (sample background + dark counts)
    assert background == pytest.approx(truth["background_fraction"], abs=0.0015)


def test_flim_reference_gives_ten_thousand_counts_per_pixel_on_the_rig_channel():
    sample = ConfocalSample.generate(seed=2, kind="flim-reference")
    world = make_world(sample, Laser(445.0, 2.0e6), two_channel())  # config channels, 22 ns dead time
    for x in (45000.0, 55000.0):
        times, channel = acquire(world, x, 50000.0, 0.0, 0.1)
        assert np.sum(channel == 0) >= 1.0e4
        assert np.sum(channel == 1) < 50  # nothing in the perovskite band but dark counts


def test_photon_rate_integrates_to_the_total_rate():
    sample = ConfocalSample.generate(seed=2, kind="flim-reference")
    wl = np.linspace(500.0, 800.0, 3001)
    total = sample.photon_rate(45000.0, 50000.0, 2000.0, wl, 0.0, 1.0).sum()
    assert total == pytest.approx(sample.ground_truth()["film"]["total_rate_per_s"], rel=1e-6)
    dots = ConfocalSample.generate(seed=3, kind="single-qd")
    truth = dots.ground_truth()
    rate = dots.photon_rate(50000.0, 50000.0, 0.0, wl, 2.0, 1.0).sum()
    expected = truth["reference_dot"]["on_rate_per_s"] * dots.true_on_fraction(0, 2.0, 3.0)
    expected += truth["background"]["rate_per_s"]
    assert rate == pytest.approx(expected, rel=0.01)  # the other dots are >= 3 µm away


# ---------------------------------------------------------------------------------------------- sample A
@pytest.fixture(scope="module")
def sample_a():
    return ConfocalSample.generate(seed=3, kind="perovskite-qd-a")


@pytest.fixture(scope="module")
def maps_a(sample_a):
    """Truth maps on the paper's 50 x 50 µm field, 0.5 µm pixels: film tau2, expected channel count rates."""
    grid = 50000.0 + (np.arange(100) - 49.5) * 500.0
    x, y = np.meshgrid(grid, grid)
    return {"x": x, "y": y, "tau2": sample_a.film_decay(x, y)["tau2_ns"],
            "qd_cps": sample_a.band_rate(x, y, QD_BAND_NM) * EFFICIENCY + DARK_PER_S,
            "perovskite_cps": sample_a.band_rate(x, y, PEROVSKITE_BAND_NM) * EFFICIENCY + DARK_PER_S}


def test_sample_a_lifetime_map_matches_the_paper(maps_a):
    tau2 = maps_a["tau2"]
    counts, edges = np.histogram(tau2, bins=np.arange(5.0, 26.0, 0.5))
    peak = edges[np.argmax(counts)] + 0.25
    assert 7.5 <= peak <= 9.5  # peaks near 8.5 ns
    assert tau2.max() > 20.0  # tail past 20 ns
    assert np.mean(tau2 > np.median(tau2) + 3.0) > 0.01  # skewed to long lifetimes
    rich = maps_a["qd_cps"] >= 250.0
    assert 0.001 < rich.mean() < 0.05  # sparse QD clusters
    assert 12.0 <= np.median(tau2[rich]) <= 15.5  # paper: ~13.5 ns
    assert np.median(tau2[~rich]) < 9.5


def test_sample_a_perovskite_is_brighter_near_clusters(sample_a, maps_a):
    truth = sample_a.ground_truth()["clusters"]
    film_cps = maps_a["perovskite_cps"]
    assert film_cps.min() * 0.1 >= 1.0e3  # >= 10^3 counts per 100 ms pixel everywhere on the film
    d = np.min(np.hypot(maps_a["x"][..., None] - truth["x_nm"], maps_a["y"][..., None] - truth["y_nm"]), axis=-1)
    assert np.median(film_cps[d < 1000.0]) > 1.3 * np.median(film_cps[d > 5000.0])


def test_dichroic_channels_see_perovskite_and_quantum_dots(sample_a, maps_a):
    world = make_world(sample_a, Laser(445.0, 2.0e6), two_channel())
    truth = sample_a.ground_truth()["clusters"]
    brightest = int(np.argmax(truth["n_dots"]))
    on_cluster = (truth["x_nm"][brightest], truth["y_nm"][brightest])
    far = np.unravel_index(np.argmin(maps_a["qd_cps"]), maps_a["qd_cps"].shape)
    on_film = (maps_a["x"][far], maps_a["y"][far])
    for (x, y), t0 in ((on_cluster, 0.0), (on_film, 1.0)):
        times, channel = acquire(world, x, y, t0, 1.0)
        counts = np.bincount(channel, minlength=2)
        expected = [sample_a.band_rate(x, y, QD_BAND_NM) * EFFICIENCY + DARK_PER_S,
                    sample_a.band_rate(x, y, PEROVSKITE_BAND_NM) * EFFICIENCY + DARK_PER_S]
        for c in range(2):
            assert counts[c] == pytest.approx(expected[c], rel=0.03, abs=5 * np.sqrt(expected[c]))
    assert expected[0] < 1.5 * DARK_PER_S  # far from clusters the QD channel sees dark counts only


def test_sample_a_perovskite_decay_follows_the_local_truth(sample_a, maps_a):
    rich = np.argwhere(maps_a["qd_cps"] >= 250.0)
    i = tuple(rich[np.argmax(maps_a["tau2"][tuple(rich.T)])])
    x, y = maps_a["x"][i], maps_a["y"][i]
    decay = sample_a.film_decay(x, y)
    world = make_world(sample_a, Laser(445.0, 2.0e6), two_channel(dead_time_ns=0.0))
    times, channel = acquire(world, x, y, 0.0, 2.0, block_s=0.5)
    delay_ns = ((times[channel == 1] + 2000) % 500_000) / 1e3 - 2.0
    share1 = decay["a1"] * decay["tau1_ns"] / (decay["a1"] * decay["tau1_ns"] + decay["a2"] * decay["tau2_ns"])
    mean_ns = share1 * decay["tau1_ns"] + (1 - share1) * decay["tau2_ns"]
    signal = delay_ns[delay_ns < 200.0]  # dark counts spread over the 500 ns period; few fall below 200 ns
    assert signal.mean() == pytest.approx(mean_ns, rel=0.03)


def test_sample_b_lifetimes_are_homogeneous():
    sample = ConfocalSample.generate(seed=3, kind="perovskite-qd-b")
    grid = 50000.0 + (np.arange(100) - 49.5) * 500.0
    x, y = np.meshgrid(grid, grid)
    tau2 = sample.film_decay(x, y)["tau2_ns"]
    assert np.median(tau2) == pytest.approx(12.5, abs=0.3)
    lo, hi = np.percentile(tau2, [12.0, 88.0])  # +-1.17 sigma of a Gaussian spans its FWHM
    assert 1.5 <= hi - lo <= 2.6


# ---------------------------------------------------------------------------------------------- single QDs
@pytest.fixture(scope="module")
def hbt_run():
    """The reference QD under CW 561 nm through a 50/50 splitter onto two SPADs, 10 s."""
    sample = ConfocalSample.generate(seed=3, kind="single-qd")
    channels = [DetectorChannel(name, QD_BAND_NM, EFFICIENCY, DARK_PER_S) for name in ("hbt-a", "hbt-b")]
    world = make_world(sample, Laser(561.0, 0.0), channels, splitter="50-50")
    ref = sample.ground_truth()["reference_dot"]
    times, channel = acquire(world, ref["x_nm"], ref["y_nm"], 0.0, 10.0)
    return sample, times, channel


def test_single_dots_are_sparse_with_a_reference_at_the_centre():
    sample = ConfocalSample.generate(seed=3, kind="single-qd")
    truth = sample.ground_truth()
    x, y = truth["dots"]["x_nm"], truth["dots"]["y_nm"]
    assert 5 <= x.size <= 10
    assert (x[0], y[0]) == (50000.0, 50000.0) == (truth["reference_dot"]["x_nm"], truth["reference_dot"]["y_nm"])
    separation = np.hypot(x[:, None] - x, y[:, None] - y) + np.eye(x.size) * 1e9
    assert separation.min() >= 3000.0
    assert np.all(np.abs(x - 50000.0) <= 5000.0) and np.all(np.abs(y - 50000.0) <= 5000.0)
    rates = truth["dots"]["on_rate_per_s"]
    assert np.all((rates >= 0.9e5) & (rates <= 8.1e5))
    others = truth["dots"]["tau_g2_ns"][1:]
    assert np.all((others >= 12.0) & (others <= 80.0)) and 20.0 < np.median(others) < 60.0


def test_reference_dot_antibunches_with_the_stated_depth_and_width(hbt_run):
    sample, times, channel = hbt_run
    ref = sample.ground_truth()["reference_dot"]
    a, b = times[channel == 0], times[channel == 1]
    window_ps = 200_000
    lo = np.searchsorted(b, a - window_ps)
    hi = np.searchsorted(b, a + window_ps)
    n_pairs = hi - lo
    start = np.repeat(lo, n_pairs)
    offset = np.arange(n_pairs.sum()) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    dt_ns = (b[start + offset] - np.repeat(a, n_pairs)) / 1e3  # every B click within +-200 ns of an A click
    counts, edges = np.histogram(dt_ns, bins=np.arange(-200.0, 200.0 + 1e-9, 2.0))
    centre = 0.5 * (edges[1:] + edges[:-1])

    def g2(t, level, contrast, tau):
        return level * (1.0 - contrast * np.exp(-np.abs(t) / tau))

    (level, contrast, tau), _ = curve_fit(g2, centre, counts, p0=(counts.max(), 0.5, 10.0))
    assert contrast == pytest.approx(ref["contrast"], abs=0.06)
    assert tau == pytest.approx(ref["tau_ns"], rel=0.12)


def test_blinking_on_fraction_from_binned_counts(hbt_run):
    sample, times, _ = hbt_run
    counts = np.histogram(times, bins=np.arange(0.0, 10.0 + 1e-9, 1e-3) * 1e12)[0]  # 1 ms bins
    low, high = np.percentile(counts, [2, 98])
    on = counts > 0.5 * (low + high)
    truth = sample.true_on_fraction(0, 0.0, 10.0)
    assert on.mean() == pytest.approx(truth, abs=0.015)
    assert 0.8 <= truth <= 0.97  # ON fraction ~0.9 (bare QDs)
    dots = sample.ground_truth()["dots"]
    edges = np.concatenate([[0.0], dots["switch_times_s"]["0"], [np.inf]])
    edges = np.clip(edges, 0.0, 10.0)
    on_periods = np.arange(edges.size - 1) % 2 == (0 if dots["starts_on"][0] else 1)
    assert np.sum(np.diff(edges)[on_periods]) / 10.0 == pytest.approx(truth, abs=1e-9)  # the truth agrees


def test_pulsed_reference_dot_gives_one_photon_per_pulse_at_most():
    sample = ConfocalSample.generate(seed=3, kind="single-qd")
    laser = Laser(445.0, 2.0e6)
    rng = np.random.default_rng(21)
    duration_s = 2.0
    pieces = [sample.collected_photons(50000.0, 50000.0, 0.1 * i, 0.1, laser, rng) for i in range(20)]
    times = np.concatenate([p[0] for p in pieces])
    delay_ns = ((times + 2000) % 500_000) / 1e3 - 2.0
    pulse = np.floor((times + 2000) / 500_000).astype(np.int64)
    n_pulses = int(duration_s * 2.0e6)
    # the background is uniform in time: its density is the level late in the period
    hist = np.histogram(delay_ns, bins=np.arange(-2.0, 498.0 + 1e-9, 1.0))[0]
    flat_per_ns = hist[-150:].mean()
    window = delay_ns < 300.0
    edges = np.arange(-2.0, 300.0 + 1e-9, 1.0)
    excess = np.histogram(delay_ns[window], bins=edges)[0] - flat_per_ns
    centre = 0.5 * (edges[1:] + edges[:-1])
    truth = sample.ground_truth()["dots"]
    assert np.sum(centre * excess) / np.sum(excess) == pytest.approx(truth["lifetime_ns"][0], rel=0.05)
    # pulsed g2: pairs in one pulse vs pairs in neighbouring pulses (photons within 300 ns of their pulse)
    n = np.bincount(pulse[window], minlength=n_pulses)[:n_pulses].astype(float)
    same = np.sum(n * (n - 1)) / n_pulses
    neighbour = np.sum(n[:-1] * n[1:]) / (n_pulses - 1)
    b = flat_per_ns * 302.0 / n_pulses  # background photons per pulse in the window
    p_on = sample.true_on_fraction(0, 0.0, duration_s)
    s_on = (n.mean() - b) / p_on  # dot photons per pulse while ON (at most one)
    expected = (p_on * (2 * s_on * b + b * b) + (1 - p_on) * b * b) / (p_on * (s_on + b) ** 2 + (1 - p_on) * b * b)
    assert same / neighbour == pytest.approx(expected, abs=0.05)
    assert same / neighbour < 0.8  # a Poissonian source would give 1


# ---------------------------------------------------------------------------------------------- general
def test_same_seed_same_photons_and_consistent_history():
    def run():
        sample = ConfocalSample.generate(seed=4, kind="single-qd")
        world = make_world(sample, Laser(561.0, 0.0), two_channel(), seed=9)
        return acquire(world, 50000.0, 50000.0, 0.0, 0.5)

    t1, c1 = run()
    t2, c2 = run()
    assert np.array_equal(t1, t2) and np.array_equal(c1, c2)
    assert np.all(np.diff(t1) >= 0)


def test_spectrum_through_the_world_and_bad_input():
    sample = ConfocalSample.generate(seed=3, kind="perovskite-qd-a")
    world = World(sample=sample, seed=0, drift_nm_per_s=(0.0, 0.0))
    world.shutter_open = True
    world.longpass_edge_nm = None
    wl = np.linspace(450.0, 750.0, 1024)
    photons = world.spectrum_photons(wl, 0.1)
    assert 530.0 < wl[np.argmax(photons)] < 550.0  # perovskite band at 540 nm
    assert sample.topography_nm(np.zeros(3), np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="kind"):
        ConfocalSample.generate(seed=0, kind="graphene")
    with pytest.raises(RuntimeError, match="laser"):
        World(sample=sample, seed=0).detected_photons(0.0, 0.1)
    with pytest.raises(ValueError, match="no single emitters"):
        sample.true_on_fraction(0, 0.0, 1.0)
