"""The 4 K single-nanocrystal twin (paper 004, physics.md section 3) measured as the cryogenic rig does: a
kinetic series of 1 s spectra on the 1200 l/mm grating (0.06 nm per pixel) from ``world.spectrum_photons``
with Poisson noise, and photon time tags from ``world.detected_photons`` under pulsed 532 nm excitation.

Line positions, splittings, charge states and intensities are checked against the sample's ground truth
(``true_line_energies_eV``, ``true_line_rates_per_s``, ``true_state``); peak positions come from scipy
Lorentzian fits of the noisy spectra.
"""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from tepl.sims.cryo_nanocrystal import DIM_FACTOR
from tepl.sims.cryo_sample import CryoSample
from tepl.sims.detection import DetectionPath, DetectorChannel
from tepl.sims.photons import Laser
from tepl.sims.tepl_optics import HC_EV_NM
from tepl.sims.world import World

SEED = 5
N_FRAMES = 100
WAVELENGTH_NM = 655.0 + 0.06 * (np.arange(1024) - 511.5)  # 1200 l/mm on the iDus: ~0.06 nm per pixel
ENERGY_EV = HC_EV_NM / WAVELENGTH_NM
SUB_TIMES = (np.arange(200) + 0.5) / 200  # truth sampled 200 times per frame


def frame_truth(sample: CryoSample, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame-averaged truth: rate-weighted line energies (eV) and mean line rates (/s)."""
    t = frame + SUB_TIMES
    energies = sample.true_line_energies_eV(t)
    rates = sample.true_line_rates_per_s(t)
    mean_rate = rates.mean(axis=0)
    weighted = np.where(mean_rate > 0, (energies * rates).sum(axis=0) / np.maximum(rates.sum(axis=0), 1e-300),
                        energies.mean(axis=0))
    return weighted, mean_rate


@pytest.fixture(scope="module")
def series():
    """100 frames of 1 s with the central crystal in focus."""
    sample = CryoSample.generate(seed=SEED)
    world = World(sample=sample, seed=SEED, drift_nm_per_s=(0.0, 0.0))
    world.shutter_open = True
    world.longpass_edge_nm = None
    noise = np.random.default_rng(100 + SEED)
    expected, frames = [], []
    for _ in range(N_FRAMES):
        photons = world.spectrum_photons(WAVELENGTH_NM, 1.0)
        world.clock.advance(1.0)
        expected.append(photons)
        frames.append(noise.poisson(photons))
    return sample, np.array(expected), np.array(frames)


def window_counts(frames: np.ndarray, centre_eV: float, half_meV: float) -> np.ndarray:
    use = np.abs(ENERGY_EV - centre_eV) <= half_meV * 1e-3
    return frames[:, use].sum(axis=1)


def fit_doublet(spectrum: np.ndarray, guess_eV: tuple[float, float]) -> np.ndarray:
    """Centres (eV) of two Lorentzians fitted to the pixels within 1.2 meV of the guesses."""
    lo, hi = min(guess_eV) - 1.2e-3, max(guess_eV) + 1.2e-3
    use = (ENERGY_EV >= lo) & (ENERGY_EV <= hi)
    e, y = ENERGY_EV[use], spectrum[use].astype(float)

    def model(x, a1, c1, a2, c2, w):
        return a1 / (1 + ((x - c1) / w) ** 2) + a2 / (1 + ((x - c2) / w) ** 2)

    p0 = (y.max(), guess_eV[0], y.max(), guess_eV[1], 1e-4)
    p, _ = curve_fit(model, e, y, p0=p0, sigma=np.sqrt(np.maximum(y, 1.0)), maxfev=20000)
    return np.sort([p[1], p[3]])


def test_layout_and_sets_follow_the_paper():
    sample = CryoSample.generate(seed=SEED)
    truth = sample.ground_truth()["crystals"]
    x = np.array([truth[k]["x_nm"] for k in truth])
    y = np.array([truth[k]["y_nm"] for k in truth])
    assert (x[0], y[0]) == (50000.0, 50000.0)
    separation = np.hypot(x[:, None] - x, y[:, None] - y) + np.eye(x.size) * 1e9
    assert separation.min() >= 5000.0
    sets = truth["0"]["sets"]
    assert 1 <= sets["wavelength_nm"].size <= 6
    for c in truth.values():
        assert np.all((c["sets"]["wavelength_nm"] >= 540.0) & (c["sets"]["wavelength_nm"] <= 690.0))
        assert np.all((c["sets"]["linewidth_meV"] >= 0.1) & (c["sets"]["linewidth_meV"] <= 0.3))
    assert sets["kind"][:2] == ["doublet", "triplet"]
    assert sets["splitting_meV"][:2] == pytest.approx([0.68, 0.88])
    assert sets["lifetime_ns"][:2] == pytest.approx([0.54, 0.66])
    assert np.isfinite(sets["trion_offset_meV"][0])
    assert np.sum(sets["group"] == sets["group"][1]) >= 2  # correlated sets


def test_photon_rate_integrates_to_the_true_total_rate():
    sample = CryoSample.generate(seed=SEED)
    wide = np.linspace(530.0, 700.0, 40001)
    for t0 in (3.0, 41.0, 77.0):
        total = sample.photon_rate(50000.0, 50000.0, 0.0, wide, t0, 1.0).sum()
        truth = sample.true_line_rates_per_s(t0 + SUB_TIMES).sum(axis=1).mean()
        assert total == pytest.approx(truth, rel=0.01)


def test_line_positions_follow_the_truth_through_the_series(series):
    sample, _, frames = series
    table = sample.line_table()
    doublet = np.flatnonzero((table["set"] == 0) & (table["label"] == "X"))
    errors, splittings = [], []
    for k in range(N_FRAMES):
        offsets = sample.true_state(k + SUB_TIMES)["offset_meV"][:, 0]
        energies, rates = frame_truth(sample, k)
        if np.ptp(offsets) > 0.1 or rates[doublet].min() < 3000.0:
            continue  # a spectral jump or the charged state within the frame
        fitted = fit_doublet(frames[k], tuple(energies[doublet]))
        errors.append(fitted - np.sort(energies[doublet]))
        splittings.append(1e3 * np.diff(fitted)[0])
    assert len(errors) >= 20
    errors_meV = 1e3 * np.array(errors)
    assert np.abs(np.median(errors_meV, axis=0)).max() < 0.02  # unbiased, well below a pixel (0.17 meV)
    assert np.percentile(np.abs(errors_meV), 90) < 0.03
    # the 0.68 meV fine-structure splitting is resolved at 0.06 nm per pixel
    assert np.median(splittings) == pytest.approx(0.68, abs=0.03)
    # the lines move (spectral diffusion and jumps) over the series, and the fits follow them
    centre = [frame_truth(sample, k)[0][doublet].mean() for k in range(N_FRAMES)]
    assert 1e3 * np.ptp(centre) > 0.3


def test_charged_and_neutral_states_switch_visibly(series):
    sample, _, frames = series
    table = sample.line_table()
    trion = int(np.flatnonzero((table["set"] == 0) & (table["label"] == "X*"))[0])
    doublet = np.flatnonzero((table["set"] == 0) & (table["label"] == "X"))
    charged = np.array([sample.true_state(k + SUB_TIMES)["charged"][:, 0].mean() for k in range(N_FRAMES)])
    assert np.any(charged == 1.0) and np.any(charged == 0.0)
    x_star, x = [], []
    for k in range(N_FRAMES):
        energies, _ = frame_truth(sample, k)
        x_star.append(window_counts(frames[k:k + 1], energies[trion], 0.6)[0])
        x.append(window_counts(frames[k:k + 1], energies[doublet].mean(), 1.0)[0])
    x_star, x = np.array(x_star), np.array(x)
    on, off = charged == 1.0, charged == 0.0
    assert np.median(x_star[on]) > 20 * max(np.median(x_star[off]), 1.0)
    assert np.median(x[off]) > 20 * max(np.median(x[on]), 1.0)
    # the X* share of the set's light follows the true charged fraction frame by frame, switches included
    share = x_star / np.maximum(x_star + x, 1)
    assert np.abs(share - charged).max() < 0.1
    switches = sample.ground_truth()["crystals"]["0"]["charge_switch_times_s"]["0"]
    assert switches.size >= 1


def test_correlated_sets_jump_together(series):
    sample, _, frames = series
    sets = sample.ground_truth()["crystals"]["0"]["sets"]
    members = np.flatnonzero(sets["group"] == sets["group"][1])
    factor = np.array([sample.true_state(k + SUB_TIMES)["intensity_factor"][:, members[0]].mean()
                       for k in range(N_FRAMES)])
    bright, dim = factor == 1.0, factor == DIM_FACTOR
    assert bright.sum() >= 10 and dim.sum() >= 3
    in_view = [i for i in members if WAVELENGTH_NM.min() + 1 < sets["wavelength_nm"][i] < WAVELENGTH_NM.max() - 1]
    assert len(in_view) >= 2
    traces = np.array([window_counts(frames, sets["energy_eV"][i], 2.0) for i in in_view])
    for trace in traces:
        assert np.median(trace[dim]) / np.median(trace[bright]) == pytest.approx(DIM_FACTOR, abs=0.05)
    assert np.corrcoef(traces)[0, 1] > 0.9


def test_pulsed_lifetimes_of_two_sets():
    sample = CryoSample.generate(seed=SEED)
    sets = sample.ground_truth()["crystals"]["0"]["sets"]
    world = World(sample=sample, seed=SEED, drift_nm_per_s=(0.0, 0.0))
    world.laser = Laser(532.0, 2.0e7)
    bands = [(sets["wavelength_nm"][0] - 2.0, sets["wavelength_nm"][0] + 5.0),  # set 0 and its X* line
             (sets["wavelength_nm"][1] - 0.5, sets["wavelength_nm"][1] + 0.5)]  # set 1 (triplet)
    world.detection = DetectionPath([DetectorChannel(f"set{i}", b, 0.5, dark_counts_per_s=0.0)
                                     for i, b in enumerate(bands)])
    parts = [world.detected_photons(0.5 * i, 0.5 * (i + 1)) for i in range(20)]
    times = np.concatenate([p[0] for p in parts])
    channel = np.concatenate([p[1] for p in parts])
    delay_ns = ((times + 5000) % 50_000) / 1e3 - 5.0
    for i in range(2):
        mean = delay_ns[channel == i].mean() - 0.03 * 0.25  # the SPAD's diffusion tail adds 7.5 ps
        assert mean == pytest.approx(sets["lifetime_ns"][i], rel=0.03)
    rates = np.bincount(channel) / 10.0
    assert rates[0] == pytest.approx(0.5 * sets["rate_per_s"][0], rel=0.1)


def test_truth_is_a_fixed_function_of_time():
    a = CryoSample.generate(seed=SEED)
    b = CryoSample.generate(seed=SEED)
    t = np.array([73.2, 5.1, 40.0])
    late_first = a.true_line_energies_eV(t)
    assert np.array_equal(late_first, np.array([b.true_line_energies_eV(v) for v in t]))
    assert np.array_equal(a.true_state(12.0)["charged"], b.true_state(np.array([12.0]))["charged"][0])
    with pytest.raises(ValueError, match="crystal"):
        a.true_state(1.0, crystal=99)
    assert a.topography_nm(np.ones(2), np.ones(2)).tolist() == [0.0, 0.0]
