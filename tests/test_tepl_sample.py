"""The TEPL twin reproduces the figures of physics.md section 1, measured through World + fit_peaks.

Spectra are taken the way the rig takes them: the World's expected photons on a 1024-pixel axis
(0.52 nm/px centred at 700 nm, behind the long-pass filter) with Poisson noise and a 500-count baseline
standing in for the CCD, then fitted with ``fit_peaks``. Every expectation comes from the sample's ground
truth (dot positions, heights, emission energies) or from the paper's figures.
"""


import numpy as np
import pytest
from scipy.optimize import curve_fit

from tepl.analysis.peaks import fit_peaks
from tepl.sims.world import World

WAVELENGTH_NM = 700.0 + 0.52 * (np.arange(1024) - 511.5)
BASELINE = 500.0
BARE_AU_NM = (50300.0, 50000.0)


class Rig:
    """A World with the shutter open and a Poisson stand-in for the CCD."""

    def __init__(self, seed: int = 0):
        self.world = World(seed=seed, drift_nm_per_s=(0.0, 0.0))
        self.world.shutter_open = True
        self.truth = self.world.ground_truth()["sample"]
        self.noise = np.random.default_rng(1000 + seed)

    def place(self, x_nm: float, y_nm: float, tip_z_nm: float) -> None:
        self.world.stage_um[:2] = (x_nm / 1000.0, y_nm / 1000.0)
        self.world.set_tip_z_nm(tip_z_nm)

    def expected(self, exposure_s: float) -> np.ndarray:
        return self.world.spectrum_photons(WAVELENGTH_NM, exposure_s)

    def acquire(self, x_nm: float, y_nm: float, tip_z_nm: float, exposure_s: float = 1.0) -> np.ndarray:
        self.place(x_nm, y_nm, tip_z_nm)
        photons = self.expected(exposure_s)
        self.world.clock.advance(exposure_s)
        return self.noise.poisson(photons) + BASELINE

    def steady_dot(self, until_s: float) -> int:
        """The brightest dot that stays ON (ground truth) for the whole experiment."""
        on = self.world.sample.on_fraction(0.0, until_s) == 1.0
        assert on.any()
        return int(np.argmax(np.where(on, self.truth["orientation"], -1.0)))


def test_dots_lie_sparse_in_the_scan_area():
    t = World(seed=4).ground_truth()["sample"]
    x, y = t["x_nm"], t["y_nm"]
    assert len(x) == 6
    half = t["scan_size_nm"] / 2 - 15.0
    assert np.all(np.abs(x - 50000.0) <= half) and np.all(np.abs(y - 50000.0) <= half)
    separation = np.hypot(x[:, None] - x, y[:, None] - y) + np.eye(len(x)) * 1e9
    assert separation.min() >= 30.0
    assert np.all(np.hypot(x - BARE_AU_NM[0], y - BARE_AU_NM[1]) > 200.0)
    assert np.all((t["energy_eV"] >= 1.88) & (t["energy_eV"] <= 1.925))
    assert np.all((t["orientation"] >= 0.2) & (t["orientation"] <= 1.0))
    assert np.all(np.abs(t["height_nm"] - 10.0) < 1.5)
    assert np.allclose(t["fwhm_eV"], 0.170, atol=0.015)
    assert t["quench_gap_nm"] == 8.5
    again = World(seed=4).ground_truth()["sample"]
    assert np.array_equal(again["x_nm"], x) and np.array_equal(again["energy_eV"], t["energy_eV"])
    assert not np.array_equal(World(seed=5).ground_truth()["sample"]["x_nm"], x)


def test_pressure_ramp_on_a_dot():
    """Fig. 3b/c: redshift to ~62 meV at d = 2 nm, intensity peak at d = 8.5 nm, reversible."""
    rig = Rig(seed=0)
    gaps_nm = np.round(np.arange(14.0, 1.99, -0.25), 2)
    i = rig.steady_dot(until_s=2 * gaps_nm.size + 5)
    x, y = rig.truth["x_nm"][i], rig.truth["y_nm"][i]

    press = np.array([rig.acquire(x, y, d) for d in gaps_nm])
    release = np.array([rig.acquire(x, y, d) for d in gaps_nm[::-1]])[::-1]
    fit = fit_peaks(WAVELENGTH_NM, np.stack([press, release]))
    assert fit.ok.all()

    shift_meV = 1e3 * (fit.center_eV[0, -1] - fit.center_eV[0, 0])
    assert shift_meV == pytest.approx(-62.0, abs=5.0)
    assert fit.center_eV[0, 0] == pytest.approx(rig.truth["energy_eV"][i], abs=0.005)
    assert gaps_nm[np.argmax(fit.amplitude[0])] == pytest.approx(8.5, abs=0.5)
    assert fit.fwhm_eV[0, 0] == pytest.approx(0.170, abs=0.020)
    # under the tip the dot gives a few 1e6 photons/s at the threshold gap
    assert 1e5 < fit.amplitude[0].max() < 1.2e7

    # reversible: the same gap gives the same peak on the way back
    for name in ("center_eV", "amplitude"):
        value, err = getattr(fit, name), getattr(fit, f"{name}_err")
        pull = (value[0] - value[1]) / np.hypot(err[0], err[1])
        assert np.all(np.abs(pull) < 5), name
    rig.place(x, y, 8.5)
    first = rig.expected(1.0)
    rig.place(x, y, 2.0)
    rig.place(x, y, 8.5)
    assert np.array_equal(rig.expected(1.0), first)

    # the truth helpers agree with the measured shift (-45 meV per 1 %)
    strain = rig.world.sample.strain_percent(x, y, 2.0)
    assert strain == pytest.approx(-shift_meV / 45.0, abs=0.12)
    assert rig.world.sample.pressure_GPa(x, y, 2.0) == pytest.approx(0.78 * strain / 1.34)
    assert rig.world.sample.strain_percent(x, y, 12.0) == 0.0


def test_gap_plasmon_on_bare_au():
    """Fig. 2b/3a: broad (~235 meV) gap plasmon near 1.9 eV, grows slightly as the gap closes, no shift."""
    rig = Rig(seed=1)
    gaps_nm = np.arange(14.0, 1.99, -1.0)
    spectra = np.array([rig.acquire(*BARE_AU_NM, d, exposure_s=10.0) for d in gaps_nm])
    fit = fit_peaks(WAVELENGTH_NM, spectra)
    assert fit.ok.all()
    assert np.median(fit.fwhm_eV) == pytest.approx(0.235, abs=0.025)
    assert np.median(fit.center_eV) == pytest.approx(1.90, abs=0.01)
    slope, _ = np.polyfit(gaps_nm, fit.center_eV, 1, w=1 / fit.center_eV_err)
    assert abs(slope * 12.0) < 0.003  # shift over d = 14 -> 2 nm
    rate = fit.amplitude / 10.0
    growth = rate[-1] / rate[0]
    assert 1.05 < growth < 2.0
    assert np.all(np.diff(rate) > -5 * fit.amplitude_err[1:] / 10.0)
    # far weaker than a dot under the tip at the threshold gap
    i = rig.steady_dot(until_s=200.0)
    dot = fit_peaks(WAVELENGTH_NM, rig.acquire(rig.truth["x_nm"][i], rig.truth["y_nm"][i], 8.5))
    assert dot.amplitude > 10 * rate[-1]


def test_lateral_resolution_of_a_line_scan():
    """Fig. 2c: constant tip-sample distance over the topography; a dot appears as a ~10 nm spot."""
    rig = Rig(seed=2)
    i = rig.steady_dot(until_s=100.0)
    x0, y0 = rig.truth["x_nm"][i], rig.truth["y_nm"][i]
    others = np.delete(np.c_[rig.truth["x_nm"], rig.truth["y_nm"]], i, axis=0)
    offsets = np.arange(-20.0, 20.5, 1.0)
    # scan along x or y, whichever passes farther from the other dots
    lines = [np.c_[x0 + offsets, np.full_like(offsets, y0)], np.c_[np.full_like(offsets, x0), y0 + offsets]]
    clearance = [np.hypot(*(line[:, None, :] - others[None]).transpose(2, 0, 1)).min() for line in lines]
    line = lines[int(np.argmax(clearance))]
    assert max(clearance) > 15.0

    spectra = []
    for x, y in line:
        rig.place(x, y, 100.0)
        rig.world.set_tip_z_nm(rig.world.surface_nm() + 2.0)  # shear-force feedback holds a 2 nm distance
        spectra.append(rig.acquire(x, y, rig.world.tip_z_nm, exposure_s=0.5))
    fit = fit_peaks(WAVELENGTH_NM, np.array(spectra))
    assert fit.ok.all()

    def spot(s, height, centre, fwhm, offset):
        return offset + height * np.exp(-4 * np.log(2) * ((s - centre) / fwhm) ** 2)

    popt, _ = curve_fit(spot, offsets, fit.amplitude, p0=[fit.amplitude.max(), 0.0, 8.0, fit.amplitude.min()])
    assert abs(popt[2]) == pytest.approx(10.0, abs=3.0)
    assert popt[1] == pytest.approx(0.0, abs=1.5)
    assert popt[0] > 2 * popt[3]  # the dot stands well above the gap-plasmon background


def test_topography_and_shear_force():
    world = World(seed=3)
    sample = world.sample
    t = world.ground_truth()["sample"]
    x, y, h = t["x_nm"], t["y_nm"], t["height_nm"]
    on_top = sample.topography_nm(x, y)
    assert np.allclose(on_top, h, atol=1.0)  # ~10 nm bumps
    # a radial profile from dot 0 in the direction that stays clearest of the other dots
    radius = np.linspace(0.0, 22.0, 45)
    angles = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    rays = np.stack([x[0] + np.outer(np.cos(angles), radius), y[0] + np.outer(np.sin(angles), radius)])
    gap = np.hypot(rays[0][..., None] - x[1:], rays[1][..., None] - y[1:]).min(axis=(1, 2))
    best = int(np.argmax(gap))
    assert gap[best] > 20.0
    profile = sample.topography_nm(rays[0][best], rays[1][best])
    assert np.all(np.diff(profile) < 0.2)  # falls off away from the dot (up to Au roughness)
    assert profile[-1] < 1.5
    bare = sample.topography_nm(np.linspace(50250, 50350, 400), np.linspace(49950, 50050, 400) % 100 + 49950)
    assert np.std(bare) == pytest.approx(0.3, abs=0.15)
    assert np.array_equal(sample.topography_nm(x, y), on_top)

    distance = np.linspace(-2.0, 20.0, 221)
    amplitude = sample.shear_amplitude(distance)
    assert np.all(np.diff(amplitude) >= 0)
    assert np.all(amplitude[distance <= 0] < 0.01)
    assert amplitude[-1] > 0.999
    d90 = distance[np.argmax(amplitude >= 0.9)]
    assert 1.0 <= d90 <= 3.0
    # the World asks the same question with the tip over a dot
    world.stage_um[:2] = (x[0] / 1000.0, y[0] / 1000.0)
    world.set_tip_z_nm(float(on_top[0]) + d90)
    assert world.shear_amplitude() == pytest.approx(0.9, abs=0.03)


def test_far_field_blinking_and_no_single_dot_resolution():
    """Fig. 1d: with the tip withdrawn, the few dots in the focus blink over ~350 s."""
    rig = Rig(seed=0)
    frame_s, n_frames = 5.0, 70
    rig.place(50000.0, 50000.0, 2000.0)
    band = WAVELENGTH_NM > 640.0
    counts = []
    for _ in range(n_frames):
        counts.append(rig.noise.poisson(rig.expected(frame_s)[band].sum()))
        rig.world.clock.advance(frame_s)
    counts = np.array(counts, float)
    starts = np.arange(n_frames) * frame_s
    on = np.array([rig.world.sample.on_fraction(t0, frame_s) for t0 in starts])  # (frames, dots)
    all_on = np.all(on == 1.0, axis=1)
    assert (~all_on).sum() >= 2  # some dots do blink within 350 s
    level = np.median(counts[all_on])
    mostly_off = np.any(on < 0.8, axis=1)  # frames in which some dot was dark for a good part
    assert mostly_off.any()
    deficit = level - counts[mostly_off].mean()
    assert deficit > 3 * np.sqrt(level / mostly_off.sum())
    dips = counts < level - 4 * np.sqrt(level)
    assert np.all(~all_on[dips])  # no clear dip without a dark dot
    # single dots are not resolved in the far field: moving 60 nm barely changes the signal
    rig.place(50000.0, 50000.0, 2000.0)
    centre = rig.expected(1.0).sum()
    rig.place(50060.0, 50000.0, 2000.0)
    assert rig.expected(1.0).sum() == pytest.approx(centre, rel=0.1)


def test_dot_under_tip_goes_dark_when_it_blinks_off():
    rig = Rig(seed=0)
    switches = rig.world.sample.blink_switch_times_s(2000.0)
    starts_on = rig.truth["starts_on"]
    i = next(k for k in range(len(switches)) if starts_on[k] and len(switches[k]) >= 2)
    off_start, off_end = switches[i][0], switches[i][1]
    x, y = rig.truth["x_nm"][i], rig.truth["y_nm"][i]
    rig.place(x, y, 8.5)
    sample = rig.world.sample
    on_rate = sample.photon_rate(x, y, 8.5, WAVELENGTH_NM, off_start - 1.0, 0.0).sum()
    off_rate = sample.photon_rate(x, y, 8.5, WAVELENGTH_NM, 0.5 * (off_start + off_end), 0.0).sum()
    assert off_rate < 0.05 * on_rate
    half = sample.photon_rate(x, y, 8.5, WAVELENGTH_NM, off_start - 0.5 * (off_end - off_start),
                              off_end - off_start).sum()
    assert half == pytest.approx(0.5 * (on_rate + off_rate), rel=0.02)
    # a later query of an earlier time gives the same answer
    again = sample.photon_rate(x, y, 8.5, WAVELENGTH_NM, off_start - 1.0, 0.0).sum()
    assert again == on_rate

