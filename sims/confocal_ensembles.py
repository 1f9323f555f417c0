"""Ensemble light of the confocal samples of paper 003 (the kinds are described in ``confocal_sample``):
films and clusters of many dots, whose photons are a Poisson process. Each source answers for its brightness
(collected photons/s with the focus at a point), its emission spectrum and its multi-exponential decay.

- ``PerovskiteFilm``: MAPbBr3 film, two components (533 and 544 nm) whose ratio varies across the film;
  brighter and better crystallised (q) near QD clusters; a biexponential decay that joins the two pixels of
  paper Fig. 5a (q = 0 and q = 1);
- ``QdClusters``: sub-µm Gaussian clouds of CdSe/CdZnS dots, one decay per cluster;
- ``DotLayer``: a dense, homogeneous layer of dots (sample B);
- ``ReferenceFilm``: the two-half FLIM reference with its in-band background uniform in time;
- ``UniformBackground``: uncorrelated light (glass fluorescence, scattered light), uniform in space and time.

Lengths nm (sample coordinates), rates photons/s collected by the objective, lifetimes ns, photon times ps
from clock zero, wavelengths nm.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass

import numpy as np

from tepl.sims.confocal_spot import FOUR_LN2, spot_fwhm_nm
from tepl.sims.emission_spectra import GaussianBands
from tepl.sims.photons import Decay, Laser, ensemble_times_ps, poisson_times_ps
from tepl.sims.tepl_optics import RoughSurface

# perovskite film (MAPbBr3): band 540 nm, FWHM 35 nm from two components
PEROVSKITE_COMPONENTS_NM = (533.0, 544.0)
PEROVSKITE_COMPONENT_FWHM_NM = 32.3
PEROVSKITE_WEIGHT_533 = 0.40
# crystallinity q in [0, 1] maps the decay between the two pixels of paper Fig. 5a
TAU1_NS = (1.9, 4.1)
TAU2_NS = (6.6, 23.8)
A1_FRACTION = (0.49, 0.68)
QD_BAND_NM = (638.0, 43.0)  # ensemble of QDs in perovskite: centre, FWHM


def perovskite_absorption(excitation_nm: float) -> float:
    """Relative absorption of MAPbBr3 at the laser wavelength: 1 below the 520 nm exciton, ~0.02 past 540."""
    return float(0.02 + 0.98 / (1.0 + math.exp((excitation_nm - 528.0) / 3.0)))


class _OneSpectrum:
    """Light of one spectrum ``self.spectrum`` at ``self.rate(x_nm, y_nm, excitation_nm)`` photons/s."""

    def band_rate(self, x_nm, y_nm, excitation_nm: float, low_nm: float, high_nm: float) -> np.ndarray:
        """Photons/s inside the band [low_nm, high_nm]."""
        return self.rate(x_nm, y_nm, excitation_nm) * self.spectrum.fraction_between(low_nm, high_nm)

    def pixel_rate(self, x_nm: float, y_nm: float, excitation_nm: float, wavelength_nm: np.ndarray) -> np.ndarray:
        """Photons/s on each CCD pixel centred on ``wavelength_nm``."""
        return float(self.rate(x_nm, y_nm, excitation_nm)) * self.spectrum.pixel_fractions(wavelength_nm)


@dataclass(eq=False)
class PerovskiteFilm:
    """MAPbBr3 film whose brightness and decay follow the influence of nearby QD clusters (``confocal_sample``
    docstring, kind "perovskite-qd-a"); smooth random fields drawn from ``field_rng`` vary its crystallinity,
    brightness and component ratio across the film."""

    rate_per_s: float  # collected photons/s far from clusters, at full absorption
    field_rng: InitVar[np.random.Generator]
    clusters: QdClusters | None
    gamma_per_dot: float  # influence of one dot of a cluster (times the cluster's seeding strength)
    influence_nm: float  # L: reach of a cluster's influence
    brightening: float  # the film is (1 + brightening·s) brighter where the influence is s
    q_far: float  # mean crystallinity far from clusters
    q_far_sd: float  # its spread across the film
    q_from_dots: bool  # clusters raise the crystallinity
    weight_533_sd: float = 0.05  # spread of the 533 nm component's weight across the film

    def __post_init__(self, field_rng: np.random.Generator):
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
    uncorrelated background uniform in time (``confocal_sample`` docstring, kind "flim-reference")."""

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

