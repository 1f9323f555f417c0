"""Samples of the confocal rig of paper 003 (physics.md section 2): QD-doped perovskite films, a two-half
FLIM reference film and single CdSe/CdZnS quantum dots on glass.

``ConfocalSample`` answers the World's questions: the photons leaving the objective towards the detectors
(``collected_photons``), the photons per second reaching each CCD pixel (``photon_rate``), a flat
topography and the ground truth. Lengths nm (sample coordinates = stage µm x 1000), times s (photon times
ps), lifetimes ns, rates photons/s collected by the objective at the default excitation of the rig.

Optics: Gaussian confocal spot, NA 1.35 oil objective. Excitation FWHM 220 nm at 445 nm (scaled with the
laser wavelength), collection spot FWHM 300 nm; a point emitter at distance r from the focus is excited
with weight g_exc(r), collected with weight g_col(r) and seen through their product (FWHM ~177 nm at 445 nm).
A film is smooth on the scale of the spot, so its rate is taken at the focus point.

Kinds (``ConfocalSample.generate(seed, kind)``):

- ``"perovskite-qd-a"``: MAPbBr3 film (band 540 nm, FWHM 35 nm: components at 533 and 544 nm whose ratio
  varies across the film; ~1.4e5 photons/s far from dots) with sparse sub-µm QD clusters (band 638 nm,
  FWHM 43 nm, each cluster decaying with its own tau ~ 12 +- 4 ns). Near clusters the film crystallises
  better: an influence rho = sum_c gamma·n_c·k_c·exp(-r^2 / 2L^2) (n_c dots in cluster c, k_c its seeding
  strength, log-normal; L = 0.8 µm) sets s = 1 - exp(-rho), which brightens the film by (1 + 1.5 s) and
  raises its "crystallinity" q = q_far + (1 - q_far)·s, q_far ~ 0.105 (a smooth random field). The film
  decays biexponentially with tau1 = 1.9 + 2.2 q ns, tau2 = 6.6 + 17.2 q ns and amplitude fraction
  A1/(A1+A2) = 0.49 + 0.19 q, joining the two pixels of paper Fig. 5a (q = 0 and q = 1). The tau2 map then
  peaks near 8.5 ns with a tail past 20 ns, and pixels with >= 250 counts/s in the QD channel (efficiency
  0.6, 100 dark counts/s) have a median tau2 of ~13.5 ns (12-15 ns depending on the seed).
- ``"perovskite-qd-b"``: sample B: a dense, homogeneous layer of dots (+-30 % density variations) and a
  film with tau2 = 12.5 +- 0.85 ns (smooth field, FWHM ~2 ns) independent of the dots; film 2.2x and dots
  15x brighter than in A (the paper's ratios 6.7 and 44 at 3x the excitation, per unit excitation).
- ``"flim-reference"``: a uniform film emitting at 650 nm (FWHM 20 nm, 2e5 photons/s, so a 100 ms pixel
  gives >= 1e4 counts in the QD channel at efficiency 0.6) whose left half (x < area centre) decays with
  tau = (1.9, 6.6) ns, amplitude fractions (0.49, 0.51), background 3.7 %, and right half with
  (4.1, 23.8) ns, (0.68, 0.32), background 3.1 %. The background is a share of all detected counts; the
  sample emits an in-band uncorrelated background (uniform in time) sized so that, together with the dark
  counts of the nominal QD channel (band 635-665 nm, efficiency 0.6, 100 dark counts/s), the background
  share of the channel's counts is the stated one (``reference_background`` in ``generate``).
- ``"single-qd"``: single QDs on glass (>= 3 µm apart, default 7 in a 10 x 10 µm area) emitting at ~638
  nm (FWHM 25 nm), antibunched two-level emitters that blink (exponential ON/OFF dwell times, ON fraction
  ~0.9, mean ON ~0.2 s; 1e5-8e5 photons/s while ON) and an uncorrelated in-band background uniform over
  the glass. The reference QD at the area centre has g2 rise time tau = 1/(k_exc + k_rad) = 17.7 ns and,
  while ON, contrast C = 0.77: C = (S/(S + B + D))^2 per channel of the nominal HBT set-up (50/50
  splitter, both channels 635-665 nm, efficiency 0.6, 100 dark counts/s), S, B, D its signal, background
  and dark count rates (OFF periods, ~10 % of the time, add B^2-only coincidences: C over a whole trace is
  lower by < 0.01). The others have tau drawn from 39 +- 14 ns. Under pulsed excitation each pulse gives
  at most one photon per QD, delayed by Exp(1/k_rad).

Perovskite absorbs only below ~530 nm (transparent at 561 nm, paper section 3.4): its emission is scaled by
``perovskite_absorption(laser wavelength)``. ``photon_rate`` has no laser argument and uses the sample's
``excitation_wavelength_nm`` (default: the kind's laser, 445 nm or 561 nm).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from tepl.sims.photons import (
    Decay,
    GaussianBands,
    Laser,
    SingleEmitter,
    ensemble_times_ps,
    poisson_times_ps,
    telegraph_states,
    two_level_rates,
)
from tepl.sims.tepl_blinking import TelegraphProcess
from tepl.sims.tepl_optics import RoughSurface

AREA_CENTER_NM = (50000.0, 50000.0)
FOUR_LN2 = 4.0 * math.log(2.0)
EXCITATION_FWHM_NM = 220.0  # at 445 nm, NA 1.35
EXCITATION_REFERENCE_NM = 445.0
COLLECTION_FWHM_NM = 300.0
KINDS = ("perovskite-qd-a", "perovskite-qd-b", "flim-reference", "single-qd")

# perovskite film (MAPbBr3): band 540 nm, FWHM 35 nm from two components
PEROVSKITE_COMPONENTS_NM = (533.0, 544.0)
PEROVSKITE_COMPONENT_FWHM_NM = 32.3
PEROVSKITE_WEIGHT_533 = 0.40
# crystallinity q in [0, 1] maps the decay between the two pixels of paper Fig. 5a
TAU1_NS = (1.9, 4.1)
TAU2_NS = (6.6, 23.8)
A1_FRACTION = (0.49, 0.68)
QD_BAND_NM = (638.0, 43.0)  # ensemble of QDs in perovskite: centre, FWHM
NOMINAL_QD_CHANNEL = {"band_nm": (635.0, 665.0), "efficiency": 0.6, "dark_counts_per_s": 100.0}
TRUTH_HORIZON_S = 3600.0  # blinking histories go into the truth this far past the last time asked about
TRUTH_MAP_PITCH_NM = 1000.0  # pitch of the film-lifetime map kept in the truth


def spot_fwhm_nm(excitation_nm: float) -> tuple[float, float]:
    """(excitation FWHM, collection FWHM) of the confocal spot (nm) for a laser at ``excitation_nm``."""
    return EXCITATION_FWHM_NM * excitation_nm / EXCITATION_REFERENCE_NM, COLLECTION_FWHM_NM


def gaussian_weight(r_nm: np.ndarray, fwhm_nm: float) -> np.ndarray:
    """Peak-normalised Gaussian spot of ``fwhm_nm`` at distance ``r_nm``."""
    return np.exp(-FOUR_LN2 * (np.asarray(r_nm, float) / fwhm_nm) ** 2)


def perovskite_absorption(excitation_nm: float) -> float:
    """Relative absorption of MAPbBr3 at the laser wavelength: 1 below the 520 nm exciton, ~0.02 past 540."""
    return float(0.02 + 0.98 / (1.0 + math.exp((excitation_nm - 528.0) / 3.0)))


def place_apart(rng: np.random.Generator, n: int, min_separation_nm: float, center_nm: tuple[float, float],
                size_nm: float, margin_nm: float, fixed: list[tuple[float, float]] = ()) -> np.ndarray:
    """``n`` points (n, 2) in the square area (``margin_nm`` inside its edge), all ``min_separation_nm`` apart;
    the ``fixed`` points come first."""
    half = 0.5 * size_nm - margin_nm
    for _ in range(20):  # random sequential placement can jam: start again
        points = [np.asarray(p, float) for p in fixed][:n]
        for _ in range(5000):
            if len(points) >= n:
                return np.array(points, float).reshape(n, 2)
            candidate = np.asarray(center_nm, float) + rng.uniform(-half, half, 2)
            if all(np.hypot(*(candidate - p)) >= min_separation_nm for p in points):
                points.append(candidate)
        if len(points) >= n:
            return np.array(points, float).reshape(n, 2)
    raise ValueError(f"cannot place {n} emitters {min_separation_nm} nm apart in a {size_nm} nm area")


def _check_point(x_nm: float, y_nm: float) -> tuple[float, float]:
    x, y = float(x_nm), float(y_nm)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"focus position must be finite, got ({x_nm}, {y_nm}) nm")
    return x, y


# ---------------------------------------------------------------------------------------------- components
class _OneSpectrum:
    """Light of one spectrum ``self.spectrum`` at ``self.rate(x_nm, y_nm, excitation_nm)`` photons/s."""

    def band_rate(self, x_nm, y_nm, excitation_nm: float, low_nm: float, high_nm: float) -> np.ndarray:
        """Photons/s inside the band [low_nm, high_nm]."""
        return self.rate(x_nm, y_nm, excitation_nm) * self.spectrum.fraction_between(low_nm, high_nm)

    def pixel_rate(self, x_nm: float, y_nm: float, excitation_nm: float, wavelength_nm: np.ndarray) -> np.ndarray:
        """Photons/s on each CCD pixel centred on ``wavelength_nm``."""
        return float(self.rate(x_nm, y_nm, excitation_nm)) * self.spectrum.pixel_fractions(wavelength_nm)


class PerovskiteFilm:
    """MAPbBr3 film whose brightness and decay follow the influence of nearby QD clusters (module docstring)."""

    def __init__(self, rate_per_s: float, field_rng: np.random.Generator, clusters: QdClusters | None,
                 gamma_per_dot: float, influence_nm: float, brightening: float, q_far: float, q_far_sd: float,
                 q_from_dots: bool, weight_533_sd: float = 0.05):
        self.rate_per_s = float(rate_per_s)
        self.clusters = clusters
        self.gamma_per_dot = float(gamma_per_dot)
        self.influence_nm = float(influence_nm)
        self.brightening = float(brightening)
        self.q_far = float(q_far)
        self.q_far_sd = float(q_far_sd)
        self.q_from_dots = bool(q_from_dots)
        self.weight_533_sd = float(weight_533_sd)
        self._q_field = RoughSurface(field_rng, 1.0, 24, (3000.0, 20000.0))
        self._bright_field = RoughSurface(field_rng, 1.0, 24, (2000.0, 15000.0))
        self._ratio_field = RoughSurface(field_rng, 1.0, 24, (4000.0, 25000.0))

    def influence(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """s in [0, 1): how strongly nearby QD clusters improve the film at (x, y)."""
        x = np.asarray(x_nm, float)
        y = np.asarray(y_nm, float)
        if self.clusters is None or self.gamma_per_dot <= 0:
            return np.zeros(np.broadcast(x, y).shape)
        c = self.clusters
        rho = np.zeros(np.broadcast(x, y).shape)
        reach = 5.0 * self.influence_nm
        for i in range(c.n):  # clusters are few; each term is vectorised over the points
            dx = x - c.x_nm[i]
            dy = y - c.y_nm[i]
            r2 = dx * dx + dy * dy
            near = r2 < reach * reach
            if np.any(near):
                rho += np.where(near, self.gamma_per_dot * c.n_dots[i] * c.seeding[i]
                                * np.exp(-0.5 * r2 / self.influence_nm**2), 0.0)
        return -np.expm1(-rho)

    def crystallinity(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """q in [0, 1]: 0 and 1 are the two decays of paper Fig. 5a (pixels 1 and 2)."""
        q0 = np.clip(self.q_far + self.q_far_sd * self._q_field.height_nm(x_nm, y_nm), 0.0, 1.0)
        if not self.q_from_dots:
            return q0
        s = self.influence(x_nm, y_nm)
        return q0 + (1.0 - q0) * s

    def decay_parameters(self, x_nm: np.ndarray, y_nm: np.ndarray) -> dict:
        """tau1_ns, tau2_ns and amplitude fractions a1, a2 of the film at (x, y) (arrays)."""
        q = self.crystallinity(x_nm, y_nm)
        a1 = A1_FRACTION[0] + (A1_FRACTION[1] - A1_FRACTION[0]) * q
        return {"tau1_ns": TAU1_NS[0] + (TAU1_NS[1] - TAU1_NS[0]) * q,
                "tau2_ns": TAU2_NS[0] + (TAU2_NS[1] - TAU2_NS[0]) * q, "a1": a1, "a2": 1.0 - a1}

    def decay_at(self, x_nm: float, y_nm: float) -> Decay:
        p = self.decay_parameters(np.array([x_nm]), np.array([y_nm]))
        return Decay((float(p["tau1_ns"][0]), float(p["tau2_ns"][0])), (float(p["a1"][0]), float(p["a2"][0])))

    def weight_533(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        return np.clip(PEROVSKITE_WEIGHT_533 + self.weight_533_sd * self._ratio_field.height_nm(x_nm, y_nm),
                       0.05, 0.95)

    def spectrum_at(self, x_nm: float, y_nm: float) -> GaussianBands:
        w = float(self.weight_533(np.array([x_nm]), np.array([y_nm]))[0])
        return GaussianBands(PEROVSKITE_COMPONENTS_NM, PEROVSKITE_COMPONENT_FWHM_NM, (w, 1.0 - w))

    def rate(self, x_nm: np.ndarray, y_nm: np.ndarray, excitation_nm: float) -> np.ndarray:
        """Collected photons/s with the focus at (x, y)."""
        s = self.influence(x_nm, y_nm) if self.brightening else 0.0
        texture = np.clip(1.0 + 0.1 * self._bright_field.height_nm(x_nm, y_nm), 0.5, None)
        return self.rate_per_s * perovskite_absorption(excitation_nm) * (1.0 + self.brightening * s) * texture

    def band_rate(self, x_nm, y_nm, excitation_nm: float, low_nm: float, high_nm: float) -> np.ndarray:
        w = self.weight_533(x_nm, y_nm)
        f533 = GaussianBands(PEROVSKITE_COMPONENTS_NM[0], PEROVSKITE_COMPONENT_FWHM_NM).fraction_between(
            low_nm, high_nm)
        f544 = GaussianBands(PEROVSKITE_COMPONENTS_NM[1], PEROVSKITE_COMPONENT_FWHM_NM).fraction_between(
            low_nm, high_nm)
        return self.rate(x_nm, y_nm, excitation_nm) * (w * f533 + (1.0 - w) * f544)

    def pixel_rate(self, x_nm: float, y_nm: float, excitation_nm: float, wavelength_nm: np.ndarray) -> np.ndarray:
        rate = float(self.rate(np.array([x_nm]), np.array([y_nm]), excitation_nm)[0])
        return rate * self.spectrum_at(x_nm, y_nm).pixel_fractions(wavelength_nm)

    def photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rate = float(self.rate(np.array([x_nm]), np.array([y_nm]), laser.wavelength_nm)[0])
        t = ensemble_times_ps(rate, self.decay_at(x_nm, y_nm), t0_s, duration_s, laser, rng)
        return t, self.spectrum_at(x_nm, y_nm).sample_nm(rng, t.size)

    def truth(self) -> dict:
        return {"rate_per_s": self.rate_per_s, "components_nm": np.asarray(PEROVSKITE_COMPONENTS_NM),
                "component_fwhm_nm": PEROVSKITE_COMPONENT_FWHM_NM, "weight_533": PEROVSKITE_WEIGHT_533,
                "weight_533_sd": self.weight_533_sd, "gamma_per_dot": self.gamma_per_dot,
                "influence_nm": self.influence_nm, "brightening": self.brightening, "q_far": self.q_far,
                "q_far_sd": self.q_far_sd, "q_from_dots": self.q_from_dots,
                "tau1_ns_at_q0_q1": np.asarray(TAU1_NS), "tau2_ns_at_q0_q1": np.asarray(TAU2_NS),
                "a1_fraction_at_q0_q1": np.asarray(A1_FRACTION)}


class QdClusters(_OneSpectrum):
    """Sub-µm clusters of CdSe/CdZnS dots: Gaussian clouds of ``n_dots`` dots, each cluster one decay."""

    def __init__(self, x_nm, y_nm, n_dots, sigma_nm, tau_ns, rate_per_dot: float, seeding=None):
        self.x_nm = np.asarray(x_nm, float)
        self.y_nm = np.asarray(y_nm, float)
        self.n_dots = np.asarray(n_dots, np.int64)
        self.sigma_nm = np.asarray(sigma_nm, float)
        self.tau_ns = np.asarray(tau_ns, float)
        self.rate_per_dot = float(rate_per_dot)
        # how strongly each cluster seeds the crystallisation of the film around it (per dot, relative)
        self.seeding = np.ones(self.x_nm.size) if seeding is None else np.asarray(seeding, float)
        self.spectrum = GaussianBands(QD_BAND_NM[0], QD_BAND_NM[1])

    @property
    def n(self) -> int:
        return int(self.x_nm.size)

    def rates_each(self, x_nm: np.ndarray, y_nm: np.ndarray, excitation_nm: float) -> np.ndarray:
        """Collected photons/s from every cluster, focus at each (x, y): shape (..., n_clusters)."""
        exc, col = spot_fwhm_nm(excitation_nm)
        sigma_psf2 = 1.0 / (FOUR_LN2 * 2.0) / (1.0 / exc**2 + 1.0 / col**2)  # sigma^2 of g_exc·g_col
        s2 = self.sigma_nm**2 + sigma_psf2
        x = np.asarray(x_nm, float)[..., None]
        y = np.asarray(y_nm, float)[..., None]
        r2 = (x - self.x_nm) ** 2 + (y - self.y_nm) ** 2
        return self.rate_per_dot * self.n_dots * (sigma_psf2 / s2) * np.exp(-0.5 * r2 / s2)

    def rate(self, x_nm, y_nm, excitation_nm: float) -> np.ndarray:
        """Total collected photons/s, focus at each (x, y); maps are done in blocks of points."""
        x, y = np.broadcast_arrays(np.asarray(x_nm, float), np.asarray(y_nm, float))
        flat_x, flat_y = x.ravel(), y.ravel()
        out = np.empty(flat_x.size)
        block = max(1, 2_000_000 // max(self.n, 1))
        for i in range(0, flat_x.size, block):
            out[i:i + block] = self.rates_each(flat_x[i:i + block], flat_y[i:i + block], excitation_nm).sum(axis=-1)
        return out.reshape(x.shape)

    def photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        each = self.rates_each(x_nm, y_nm, laser.wavelength_nm)
        total = float(each.sum())
        if self.n == 0 or total * duration_s < 1e-9:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        keep = each > 1e-4 * total
        decay = Decay.from_photon_shares(self.tau_ns[keep], each[keep])
        t = ensemble_times_ps(total, decay, t0_s, duration_s, laser, rng)
        return t, self.spectrum.sample_nm(rng, t.size)

    def truth(self) -> dict:
        return {"x_nm": self.x_nm.copy(), "y_nm": self.y_nm.copy(), "n_dots": self.n_dots.copy(),
                "sigma_nm": self.sigma_nm.copy(), "tau_ns": self.tau_ns.copy(), "rate_per_dot": self.rate_per_dot,
                "seeding": self.seeding.copy(),
                "band_center_nm": QD_BAND_NM[0], "band_fwhm_nm": QD_BAND_NM[1]}


class DotLayer(_OneSpectrum):
    """A dense, homogeneous layer of QDs (sample B): an ensemble whose density varies smoothly (+-30 %)."""

    def __init__(self, rate_per_s: float, field_rng: np.random.Generator, tau_ns: tuple[float, ...] = (8.0, 16.0),
                 photon_share: tuple[float, ...] = (0.5, 0.5)):
        self.rate_per_s = float(rate_per_s)
        self.decay = Decay.from_photon_shares(tau_ns, photon_share)
        self.spectrum = GaussianBands(QD_BAND_NM[0], QD_BAND_NM[1])
        self._density = RoughSurface(field_rng, 1.0, 24, (2000.0, 15000.0))

    def rate(self, x_nm, y_nm, excitation_nm: float) -> np.ndarray:
        return self.rate_per_s * np.clip(1.0 + 0.3 * self._density.height_nm(x_nm, y_nm), 0.1, None)

    def photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t = ensemble_times_ps(float(self.rate(x_nm, y_nm, laser.wavelength_nm)), self.decay, t0_s, duration_s,
                              laser, rng)
        return t, self.spectrum.sample_nm(rng, t.size)

    def truth(self) -> dict:
        return {"rate_per_s": self.rate_per_s, "decay": self.decay.describe(), "spectrum": self.spectrum.describe()}


class UniformLight(_OneSpectrum):
    """Light of one spectrum, the same everywhere on the sample: ``rate_per_s`` collected photons/s."""

    def __init__(self, rate_per_s: float, spectrum: GaussianBands):
        self.rate_per_s = float(rate_per_s)
        self.spectrum = spectrum

    def rate(self, x_nm, y_nm, excitation_nm: float) -> np.ndarray:
        return np.full(np.broadcast(np.asarray(x_nm), np.asarray(y_nm)).shape, self.rate_per_s)


class ReferenceFilm(UniformLight):
    """Uniform film in the QD band whose two halves (split at ``split_x_nm``) decay differently, with an
    uncorrelated background uniform in time (module docstring)."""

    def __init__(self, split_x_nm: float, total_rate_per_s: float, halves: dict, nominal_channel: dict):
        super().__init__(total_rate_per_s, GaussianBands(650.0, 20.0))
        self.split_x_nm = float(split_x_nm)
        self.total_rate_per_s = self.rate_per_s
        self.halves = {}
        band = nominal_channel["band_nm"]
        f_eta = self.spectrum.fraction_between(*band) * nominal_channel["efficiency"]
        dark = nominal_channel["dark_counts_per_s"]
        for side, spec in halves.items():
            b = spec["background_fraction"]
            # signal S and background B (collected /s, same spectrum) so that (B f eta + D)/((S + B) f eta + D) = b
            signal = (1.0 - b) * (self.total_rate_per_s + dark / f_eta)
            background = self.total_rate_per_s - signal
            if background < 0:
                raise ValueError(f"flim-reference {side} half: the nominal dark counts ({dark} /s) alone exceed "
                                 f"the background share {b}")
            self.halves[side] = {"decay": Decay(tuple(spec["tau_ns"]), tuple(spec["amplitude_fraction"])),
                                 "signal_rate_per_s": signal, "background_rate_per_s": background,
                                 "background_fraction": b}
        self.nominal_channel = dict(nominal_channel)

    def side(self, x_nm: float) -> str:
        return "left" if float(x_nm) < self.split_x_nm else "right"

    def decay_parameters(self, x_nm: np.ndarray, y_nm: np.ndarray) -> dict:
        left = np.asarray(x_nm, float) < self.split_x_nm
        left = np.broadcast_to(left, np.broadcast(np.asarray(x_nm), np.asarray(y_nm)).shape)
        out = {}
        for key, index in (("tau1_ns", 0), ("tau2_ns", 1)):
            out[key] = np.where(left, self.halves["left"]["decay"].tau_ns[index],
                                self.halves["right"]["decay"].tau_ns[index])
        out["a1"] = np.where(left, self.halves["left"]["decay"].amplitude_fraction[0],
                             self.halves["right"]["decay"].amplitude_fraction[0])
        out["a2"] = 1.0 - out["a1"]
        return out

    def photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        half = self.halves[self.side(x_nm)]
        t = np.concatenate([
            ensemble_times_ps(half["signal_rate_per_s"], half["decay"], t0_s, duration_s, laser, rng),
            poisson_times_ps(half["background_rate_per_s"], t0_s, duration_s, rng)])
        return t, self.spectrum.sample_nm(rng, t.size)

    def truth(self) -> dict:
        return {"split_x_nm": self.split_x_nm, "total_rate_per_s": self.total_rate_per_s,
                "spectrum": self.spectrum.describe(),
                "nominal_channel": {k: (np.asarray(v, float) if k == "band_nm" else v)
                                    for k, v in self.nominal_channel.items()},
                **{side: {"tau_ns": np.asarray(h["decay"].tau_ns), "amplitude_fraction": h["decay"].amplitude_fraction,
                          "photon_share": h["decay"].photon_share, "background_fraction": h["background_fraction"],
                          "signal_rate_per_s": h["signal_rate_per_s"],
                          "background_rate_per_s": h["background_rate_per_s"]}
                   for side, h in self.halves.items()}}


class SingleQds:
    """Single blinking two-level quantum dots (module docstring). Rates are for the focus on the dot."""

    def __init__(self, x_nm, y_nm, k_exc_per_s, k_rad_per_s, collection: float, center_nm, fwhm_nm,
                 mean_on_s, mean_off_s, blink_rngs: list[np.random.Generator]):
        self.x_nm = np.asarray(x_nm, float)
        self.y_nm = np.asarray(y_nm, float)
        self.k_exc_per_s = np.asarray(k_exc_per_s, float)
        self.k_rad_per_s = np.asarray(k_rad_per_s, float)
        self.collection = float(collection)
        self.center_nm = np.asarray(center_nm, float)
        self.fwhm_nm = np.asarray(fwhm_nm, float)
        self.mean_on_s = np.asarray(mean_on_s, float)
        self.mean_off_s = np.asarray(mean_off_s, float)
        self.blink = [TelegraphProcess(r, on, off) for r, on, off in zip(blink_rngs, self.mean_on_s,
                                                                          self.mean_off_s, strict=True)]
        self.spectra = [GaussianBands(c, f) for c, f in zip(self.center_nm, self.fwhm_nm, strict=True)]
        self._streams = [SingleEmitter() for _ in range(self.n)]

    @property
    def n(self) -> int:
        return int(self.x_nm.size)

    @property
    def tau_g2_ns(self) -> np.ndarray:
        return 1e9 / (self.k_exc_per_s + self.k_rad_per_s)

    @property
    def on_rate_per_s(self) -> np.ndarray:
        """Collected photons/s of each dot while ON, focus on the dot (CW)."""
        k_e, k_r = self.k_exc_per_s, self.k_rad_per_s
        return self.collection * k_e * k_r / (k_e + k_r)

    def _local(self, x_nm, y_nm, excitation_nm: float) -> tuple[np.ndarray, np.ndarray]:
        """Excitation rates and collection efficiencies of every dot, focus at (x, y): shape (..., n)."""
        exc, col = spot_fwhm_nm(excitation_nm)
        r = np.hypot(np.asarray(x_nm, float)[..., None] - self.x_nm, np.asarray(y_nm, float)[..., None] - self.y_nm)
        return self.k_exc_per_s * gaussian_weight(r, exc), self.collection * gaussian_weight(r, col)

    def on_fraction(self, t0_s: float, dt_s: float) -> np.ndarray:
        return np.array([b.on_fraction(t0_s, dt_s) for b in self.blink])

    def rates_each(self, x_nm, y_nm, excitation_nm: float, t0_s: float | None = None, dt_s: float = 0.0):
        """Collected photons/s of each dot (ON, or averaged over [t0, t0 + dt] when t0 is given)."""
        k_e, eta = self._local(x_nm, y_nm, excitation_nm)
        k_r = self.k_rad_per_s
        rate = eta * k_e * k_r / (k_e + k_r)
        if t0_s is not None:
            rate = rate * self.on_fraction(t0_s, dt_s)
        return rate

    def rate(self, x_nm, y_nm, excitation_nm: float, t0_s: float | None = None, dt_s: float = 0.0):
        return self.rates_each(x_nm, y_nm, excitation_nm, t0_s, dt_s).sum(axis=-1)

    def band_rate(self, x_nm, y_nm, excitation_nm: float, low_nm: float, high_nm: float,
                  t0_s: float | None = None, dt_s: float = 0.0) -> np.ndarray:
        frac = np.array([s.fraction_between(low_nm, high_nm) for s in self.spectra])
        return (self.rates_each(x_nm, y_nm, excitation_nm, t0_s, dt_s) * frac).sum(axis=-1)

    def pixel_rate(self, x_nm: float, y_nm: float, excitation_nm: float, wavelength_nm: np.ndarray,
                   t0_s: float, dt_s: float) -> np.ndarray:
        rates = self.rates_each(x_nm, y_nm, excitation_nm, t0_s, dt_s)
        out = np.zeros(np.shape(wavelength_nm))
        for rate, spectrum in zip(rates, self.spectra, strict=True):
            if rate > 0:
                out += rate * spectrum.pixel_fractions(wavelength_nm)
        return out

    def photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k_e, eta = self._local(x_nm, y_nm, laser.wavelength_nm)
        times, wavelengths = [], []
        for i in range(self.n):
            t = self._streams[i].photon_times_ps(float(k_e[i]), float(self.k_rad_per_s[i]), float(eta[i]),
                                                 t0_s, duration_s, laser, rng)
            if t.size:
                t = t[telegraph_states(self.blink[i], t * 1e-12)]
            times.append(t)
            wavelengths.append(self.spectra[i].sample_nm(rng, t.size))
        if not times:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(times), np.concatenate(wavelengths)

    def truth(self, until_s: float) -> dict:
        return {"x_nm": self.x_nm.copy(), "y_nm": self.y_nm.copy(), "tau_g2_ns": self.tau_g2_ns,
                "k_exc_per_s": self.k_exc_per_s.copy(), "k_rad_per_s": self.k_rad_per_s.copy(),
                "lifetime_ns": 1e9 / self.k_rad_per_s, "collection": self.collection,
                "on_rate_per_s": self.on_rate_per_s, "center_nm": self.center_nm.copy(),
                "fwhm_nm": self.fwhm_nm.copy(), "mean_on_s": self.mean_on_s.copy(),
                "mean_off_s": self.mean_off_s.copy(),
                "on_fraction_expected": self.mean_on_s / (self.mean_on_s + self.mean_off_s),
                "starts_on": np.array([b.starts_on for b in self.blink]),
                "switch_times_s": {str(i): b.switch_times_s(until_s) for i, b in enumerate(self.blink)}}


class UniformBackground(UniformLight):
    """Uncorrelated background light (glass fluorescence, scattered light): uniform in space and time."""

    def __init__(self, rate_per_s: float, spectrum: GaussianBands):
        super().__init__(rate_per_s, spectrum)

    def photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t = poisson_times_ps(self.rate_per_s, t0_s, duration_s, rng)
        return t, self.spectrum.sample_nm(rng, t.size)

    def truth(self) -> dict:
        return {"rate_per_s": self.rate_per_s, "spectrum": self.spectrum.describe()}


# ---------------------------------------------------------------------------------------------- sample
class ConfocalSample:
    """A sample under the confocal microscope, built by ``generate`` (kinds in the module docstring)."""

    def __init__(self, kind: str, seed: int, area_center_nm: tuple[float, float], area_size_nm: float,
                 excitation_wavelength_nm: float, film=None, clusters: QdClusters | None = None,
                 dots: SingleQds | None = None, background: UniformBackground | None = None,
                 layer: DotLayer | None = None, extra_truth: dict | None = None):
        self.kind = kind
        self.seed = int(seed)
        self.area_center_nm = (float(area_center_nm[0]), float(area_center_nm[1]))
        self.area_size_nm = float(area_size_nm)
        self.excitation_wavelength_nm = float(excitation_wavelength_nm)
        self.film = film
        self.clusters = clusters
        self.dots = dots
        self.background = background
        self.layer = layer
        self._extra_truth = dict(extra_truth or {})
        self._t_max_s = 0.0
        self._map: dict | None = None

    @property
    def components(self) -> list:
        return [c for c in (self.film, self.clusters, self.layer, self.dots, self.background) if c is not None]

    # ------------------------------------------------------------------ construction
    @classmethod
    def generate(cls, seed: int = 0, kind: str = "perovskite-qd-a", *,
                 area_center_nm: tuple[float, float] = AREA_CENTER_NM, area_size_nm: float | None = None,
                 **options) -> ConfocalSample:
        """A seeded sample of ``kind`` (one of KINDS) in the square area of ``area_size_nm`` (default 50 µm;
        10 µm for single QDs) around ``area_center_nm``. ``options`` override the kind's parameters (see
        ``_perovskite``, ``_flim_reference``, ``_single_qd``)."""
        if kind not in KINDS:
            raise ValueError(f"unknown confocal sample kind {kind!r}; choose one of {KINDS}")
        if area_size_nm is None:
            area_size_nm = 10000.0 if kind == "single-qd" else 50000.0
        if not area_size_nm > 0:
            raise ValueError(f"area_size_nm must be positive, got {area_size_nm} nm")
        seed = int(seed)
        center = (float(area_center_nm[0]), float(area_center_nm[1]))
        if kind.startswith("perovskite"):
            return cls._perovskite(seed, kind, center, float(area_size_nm), **options)
        if kind == "flim-reference":
            return cls._flim_reference(seed, center, float(area_size_nm), **options)
        return cls._single_qd(seed, center, float(area_size_nm), **options)

    @staticmethod
    def _rng(seed: int, name: str, index: int = 0) -> np.random.Generator:
        return np.random.default_rng([seed, zlib.crc32(f"confocal_sample.{name}".encode()), index])

    @classmethod
    def _perovskite(cls, seed: int, kind: str, center, size: float, *, film_rate_per_s: float | None = None,
                    clusters_per_um2: float = 0.016, dots_per_cluster_median: float = 8.0,
                    rate_per_dot: float = 3000.0, gamma_per_dot: float = 0.045, influence_nm: float = 800.0,
                    seeding_sd: float = 1.0, dot_layer_rate_per_s: float = 300.0) -> ConfocalSample:
        """Sample A (sparse clusters, film improved near them) or B (a dense, homogeneous layer of dots whose
        light adds up to 15x the clusters of A; homogeneous film)."""
        if kind == "perovskite-qd-b":
            q_mean = (12.5 - TAU2_NS[0]) / (TAU2_NS[1] - TAU2_NS[0])
            film = PerovskiteFilm(film_rate_per_s or 2.2 * 1.4e5, cls._rng(seed, kind + ".film"), None,
                                  0.0, influence_nm, brightening=0.0, q_far=q_mean,
                                  q_far_sd=0.85 / (TAU2_NS[1] - TAU2_NS[0]), q_from_dots=False)
            layer = DotLayer(dot_layer_rate_per_s, cls._rng(seed, kind + ".dots"))
            return cls(kind, seed, center, size, EXCITATION_REFERENCE_NM, film=film, layer=layer)
        rng = cls._rng(seed, kind)
        n_clusters = int(rng.poisson(clusters_per_um2 * (size / 1000.0) ** 2))
        half = 0.5 * size
        xy = np.asarray(center) + rng.uniform(-half, half, (n_clusters, 2))
        n_dots = np.clip(np.rint(dots_per_cluster_median * np.exp(rng.normal(0.0, 0.9, n_clusters))), 1, 200)
        clusters = QdClusters(xy[:, 0], xy[:, 1], n_dots.astype(np.int64), rng.uniform(60.0, 250.0, n_clusters),
                              np.clip(rng.normal(12.0, 4.0, n_clusters), 5.0, 25.0), rate_per_dot,
                              np.exp(rng.normal(0.0, seeding_sd, n_clusters)))
        film = PerovskiteFilm(film_rate_per_s or 1.4e5, cls._rng(seed, kind + ".film"), clusters,
                              gamma_per_dot, influence_nm, brightening=1.5, q_far=0.105, q_far_sd=0.03,
                              q_from_dots=True)
        return cls(kind, seed, center, size, EXCITATION_REFERENCE_NM, film=film, clusters=clusters)

    @classmethod
    def _flim_reference(cls, seed: int, center, size: float, *, total_rate_per_s: float = 2.0e5,
                        reference_background: dict | None = None) -> ConfocalSample:
        """The two-half FLIM reference; ``reference_background`` is the nominal detector channel the stated
        background shares refer to (band_nm, efficiency, dark_counts_per_s)."""
        halves = {"left": {"tau_ns": (1.9, 6.6), "amplitude_fraction": (0.49, 0.51), "background_fraction": 0.037},
                  "right": {"tau_ns": (4.1, 23.8), "amplitude_fraction": (0.68, 0.32),
                            "background_fraction": 0.031}}
        film = ReferenceFilm(center[0], total_rate_per_s, halves, reference_background or NOMINAL_QD_CHANNEL)
        return cls("flim-reference", seed, center, size, EXCITATION_REFERENCE_NM, film=film)

    @classmethod
    def _single_qd(cls, seed: int, center, size: float, *, n_dots: int = 7, min_separation_nm: float = 3000.0,
                   collection: float = 0.12, reference_rate_per_s: float = 6.0e5, reference_tau_ns: float = 17.7,
                   reference_contrast: float = 0.77, reference_on_fraction: float = 0.90,
                   reference_mean_on_s: float = 0.2, hbt_channel: dict | None = None) -> ConfocalSample:
        """Single QDs on glass; the reference dot at the area centre (module docstring)."""
        if n_dots < 1:
            raise ValueError(f"n_dots must be >= 1 (the reference dot), got {n_dots}")
        if not 0 < reference_contrast < 1:
            raise ValueError(f"reference_contrast must lie in (0, 1), got {reference_contrast}")
        rng = cls._rng(seed, "single-qd")
        xy = place_apart(rng, n_dots, min_separation_nm, center, size, min(500.0, 0.05 * size), fixed=[center])
        n_other = n_dots - 1
        tau = np.append(reference_tau_ns, np.clip(rng.normal(39.0, 14.0, n_other), 12.0, 80.0))
        wanted = np.append(reference_rate_per_s, np.exp(rng.uniform(np.log(1e5), np.log(8e5), n_other)))
        ceiling = 0.8 * collection * 1e9 / tau / 4.0  # below saturation of each dot
        rates = np.minimum(wanted, ceiling)
        rates[0] = wanted[0]
        k = np.array([two_level_rates(r, t, collection) for r, t in zip(rates, tau, strict=True)])
        on_fraction = np.append(reference_on_fraction, rng.uniform(0.85, 0.95, n_other))
        mean_on = np.append(reference_mean_on_s, 0.2 * np.exp(rng.normal(0.0, 0.3, n_other)))
        mean_off = mean_on * (1.0 - on_fraction) / on_fraction
        center_nm = np.append(638.0, rng.normal(638.0, 3.0, n_other))
        fwhm = np.append(25.0, rng.uniform(22.0, 28.0, n_other))
        dots = SingleQds(xy[:, 0], xy[:, 1], k[:, 0], k[:, 1], collection, center_nm, fwhm, mean_on, mean_off,
                         [cls._rng(seed, "single-qd.blink", i) for i in range(n_dots)])
        # background B (in band) so that the reference dot's ON contrast is C on the nominal HBT channels
        hbt = hbt_channel or NOMINAL_QD_CHANNEL
        low, high = hbt["band_nm"]
        eta, dark = hbt["efficiency"], hbt["dark_counts_per_s"]
        signal_channel = dots.on_rate_per_s[0] * dots.spectra[0].fraction_between(low, high) * eta / 2.0
        background_channel = signal_channel * (1.0 / math.sqrt(reference_contrast) - 1.0) - dark
        if background_channel < 0:
            raise ValueError(f"reference contrast {reference_contrast} is out of reach: the dark counts alone "
                             f"({dark} /s) lower it further")
        spectrum = GaussianBands(650.0, 100.0)
        background = UniformBackground(2.0 * background_channel / eta / spectrum.fraction_between(low, high),
                                       spectrum)
        extra = {"reference_dot": {"index": 0, "x_nm": float(xy[0, 0]), "y_nm": float(xy[0, 1]),
                                   "tau_ns": float(dots.tau_g2_ns[0]), "contrast": float(reference_contrast),
                                   "on_rate_per_s": float(dots.on_rate_per_s[0]),
                                   "lifetime_ns": float(1e9 / dots.k_rad_per_s[0]),
                                   "on_fraction_expected": float(reference_on_fraction),
                                   "mean_on_s": float(reference_mean_on_s),
                                   "hbt_channel": {"band_nm": np.asarray(hbt["band_nm"], float),
                                                   "efficiency": eta, "dark_counts_per_s": dark}}}
        return cls("single-qd", seed, center, size, 561.0, dots=dots, background=background, extra_truth=extra)

    # ------------------------------------------------------------------ the World's questions
    def topography_nm(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """Height (nm) of the surface: flat."""
        return np.zeros(np.broadcast(np.asarray(x_nm), np.asarray(y_nm)).shape)

    def collected_photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Photons leaving the objective towards the detectors in [t0_s, t0_s + duration_s), focus at
        (x, y) nm: (time_ps int64 from clock zero, unsorted; wavelength_nm float32)."""
        x, y = _check_point(x_nm, y_nm)
        if not isinstance(laser, Laser):
            raise TypeError(f"laser must be a sims.photons.Laser, got {type(laser).__name__}")
        if duration_s < 0:
            raise ValueError(f"duration_s must be >= 0, got {duration_s} s")
        self._t_max_s = max(self._t_max_s, t0_s + duration_s)
        parts = [c.photons(x, y, t0_s, duration_s, laser, rng) for c in self.components]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return (np.concatenate([p[0] for p in parts]).astype(np.int64),
                np.concatenate([p[1] for p in parts]).astype(np.float32))

    def photon_rate(self, x_nm: float, y_nm: float, tip_z_nm: float, wavelength_nm: np.ndarray,
                    t0_s: float, dt_s: float) -> np.ndarray:
        """Photons/s reaching each CCD pixel (centres ``wavelength_nm``), blinking averaged over [t0, t0+dt];
        excitation at ``excitation_wavelength_nm``; ``tip_z_nm`` is ignored (no tip)."""
        x, y = _check_point(x_nm, y_nm)
        wl = np.asarray(wavelength_nm, float)
        self._t_max_s = max(self._t_max_s, t0_s + dt_s)
        out = np.zeros(wl.shape)
        for c in self.components:
            if c is self.dots:
                out += c.pixel_rate(x, y, self.excitation_wavelength_nm, wl, t0_s, dt_s)
            else:
                out += c.pixel_rate(x, y, self.excitation_wavelength_nm, wl)
        return out

    # ------------------------------------------------------------------ truth helpers (tests, analysis checks)
    def band_rate(self, x_nm: np.ndarray, y_nm: np.ndarray, band_nm: tuple[float, float],
                  excitation_nm: float | None = None, t0_s: float | None = None, dt_s: float = 0.0) -> np.ndarray:
        """Expected collected photons/s with wavelengths in ``band_nm`` for the focus at each (x, y) (arrays);
        single dots counted ON, or averaged over [t0, t0 + dt] when ``t0_s`` is given."""
        exc = self.excitation_wavelength_nm if excitation_nm is None else float(excitation_nm)
        low, high = (float(v) for v in band_nm)
        x = np.asarray(x_nm, float)
        y = np.asarray(y_nm, float)
        out = np.zeros(np.broadcast(x, y).shape)
        for c in self.components:
            if c is self.dots:
                out = out + c.band_rate(x, y, exc, low, high, t0_s, dt_s)
            else:
                out = out + c.band_rate(x, y, exc, low, high)
        return out

    def film_decay(self, x_nm: np.ndarray, y_nm: np.ndarray) -> dict:
        """True decay of the film at (x, y): tau1_ns, tau2_ns, amplitude fractions a1, a2 (arrays)."""
        if self.film is None:
            raise ValueError(f"a {self.kind!r} sample has no film")
        return self.film.decay_parameters(x_nm, y_nm)

    def true_on_fraction(self, emitter: int, t0_s: float, t1_s: float) -> float:
        """Fraction of [t0_s, t1_s] single dot ``emitter`` spends ON."""
        if self.dots is None:
            raise ValueError(f"a {self.kind!r} sample has no single emitters")
        if not 0 <= int(emitter) < self.dots.n:
            raise ValueError(f"emitter index {emitter} out of range 0..{self.dots.n - 1}")
        self._t_max_s = max(self._t_max_s, float(t1_s))
        return float(self.dots.blink[int(emitter)].on_fraction(t0_s, t1_s - t0_s))

    def _lifetime_map(self) -> dict:
        """The film's decay on a TRUTH_MAP_PITCH_NM grid over the area (axes nm; arrays [y, x])."""
        if self._map is None:
            n = int(self.area_size_nm // TRUTH_MAP_PITCH_NM) + 1
            x = self.area_center_nm[0] + (np.arange(n) - (n - 1) / 2) * TRUTH_MAP_PITCH_NM
            y = self.area_center_nm[1] + (np.arange(n) - (n - 1) / 2) * TRUTH_MAP_PITCH_NM
            decay = self.film.decay_parameters(*np.meshgrid(x, y))
            self._map = {"x_nm": x, "y_nm": y, **decay}
        return self._map

    def ground_truth(self) -> dict:
        truth: dict = {"kind": self.kind, "seed": self.seed, "area_center_nm": np.asarray(self.area_center_nm),
                       "area_size_nm": self.area_size_nm, "excitation_wavelength_nm": self.excitation_wavelength_nm,
                       "excitation_fwhm_nm_at_445": EXCITATION_FWHM_NM, "collection_fwhm_nm": COLLECTION_FWHM_NM}
        if self.film is not None:
            truth["film"] = self.film.truth()
            if isinstance(self.film, PerovskiteFilm):
                truth["film"]["lifetime_map"] = self._lifetime_map()
        if self.clusters is not None:
            truth["clusters"] = self.clusters.truth()
        if self.layer is not None:
            truth["dot_layer"] = self.layer.truth()
        if self.dots is not None:
            truth["dots"] = self.dots.truth(self._t_max_s + TRUTH_HORIZON_S)
        if self.background is not None:
            truth["background"] = self.background.truth()
        truth.update(self._extra_truth)
        return truth
