"""CsPbBr3 quantum-dot films of paper 001 (physics.md section 4) on a cryostat's sample stage: a monolayer and a
multilayer (six layers bridged by the short C3DT dithiol linker) side by side, whose emission follows the
stage's temperature.

Both films sit on one substrate: the monolayer where x < ``boundary_x_nm`` (default 50 µm of stage travel),
the multilayer beyond it; the focus (``EDGE_WIDTH_NM``, the spot's 1/e² radius) sees a blend only within a µm of
the boundary. The temperature is the World's ``sample_temperature_k`` (295 K without a cryostat; a cryostat's
simulator keeps it), read when light is asked for; ``attach(world)`` connects the sample to it.

Each film emits one band, a Gaussian in photon energy whose centre and FWHM follow paper 001's models:

- peak energy E(T) = E0 + A_TE·T + A_EP·(2/(exp(ħω/k_BT) − 1) + 1) (thermal expansion, renormalisation by one
  average optical phonon);
- FWHM Γ(T) = Γ0 + γ_LO/(exp(E_LO/k_BT) − 1) (inhomogeneous width, Fröhlich coupling to LO phonons);
- brightness ``rate_per_s`` at 295 K (photons/s collected by the objective), rising on cooling as thermal
  quenching (one activated channel, ratio ``quench_ratio``, activation ``quench_activation_meV``) fades;
- a tri-exponential decay (the paper's TrPL fits): lifetimes ``tau_ns`` with amplitude fractions
  ``amplitude_fraction`` at 295 K, every lifetime scaled by f(T) = (1 + g·exp(−T/T_g)) / (1 + g·exp(−295/T_g))
  (``lifetime_gain`` g, ``lifetime_scale_k`` T_g). The monolayer's g is 0: a constant lifetime, as for 0-D
  excitons; the multilayer's lifetimes grow on cooling (recombination slowed by the delocalised state). The
  amplitude-weighted average lifetime sum(A_i·tau_i)/sum(A_i) is ``average_lifetime_ns(T)``.

The parameters: paper 001's text gives the room-temperature PL of these dots (2.446 eV, FWHM 77 meV), the red
shift of coupled multilayers (tens of meV; detection energies 2.385 eV for the monolayer, 2.353 eV for the
six-layer film at half the room-temperature intensity), a narrower low-temperature band, larger electron-phonon
coupling (A_EP, γ_LO, E_LO) in the multilayers, a flat monolayer lifetime and multilayer lifetimes that lengthen
on cooling. Its fitted values are in its supplementary Table S1, which is not part of that text: the values
here lie in the ranges the text and the CsPbBr3 literature it cites give (A_TE 0.3-0.4 meV/K, ħω 15-30 meV,
E_LO 16-30 meV). ``ground_truth()`` lists every one.

Energies eV (widths and phonons meV where named), temperatures K, lengths nm (sample coordinates = stage
µm x 1000), lifetimes ns, photon times ps from clock zero, rates photons/s collected by the objective.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import constants
from scipy.special import ndtr

from tepl.sims.emission_spectra import pixel_edges_nm
from tepl.sims.photons import FWHM_PER_SIGMA, Decay, Laser, ensemble_times_ps
from tepl.sims.sample import Sample
from tepl.sims.tepl_optics import HC_EV_NM

K_B_EV_PER_K = constants.k / constants.e
REFERENCE_TEMPERATURE_K = 295.0  # the temperature rates and lifetimes are given at
BOUNDARY_X_NM = 50000.0
EDGE_WIDTH_NM = 500.0
SHEAR_DECAY_NM = 0.76  # a tip's shear-force amplitude falls to 1/e this far above the film


def bose(energy_meV: float, temperature_k: float) -> float:
    """Phonon occupation 1/(exp(E/k_BT) − 1); 0 at T <= 0."""
    if temperature_k <= 0:
        return 0.0
    x = energy_meV * 1e-3 / (K_B_EV_PER_K * temperature_k)
    return 0.0 if x > 700.0 else 1.0 / math.expm1(x)


@dataclass(frozen=True)
class Film:
    """One film's parameters (module docstring); units in the names."""

    name: str
    layers: int
    thickness_nm: float
    E0_eV: float
    A_TE_eV_per_K: float
    A_EP_eV: float
    phonon_energy_meV: float
    gamma0_meV: float
    gamma_LO_meV: float
    E_LO_meV: float
    rate_per_s: float
    quench_ratio: float
    quench_activation_meV: float
    tau_ns: tuple[float, float, float]
    amplitude_fraction: tuple[float, float, float]
    lifetime_gain: float
    lifetime_scale_k: float

    def __post_init__(self) -> None:
        if len(self.tau_ns) != 3 or len(self.amplitude_fraction) != 3:
            raise ValueError(f"film {self.name}: a tri-exponential decay needs three lifetimes and three amplitudes")
        if not math.isclose(sum(self.amplitude_fraction), 1.0, rel_tol=1e-9):
            raise ValueError(f"film {self.name}: amplitude fractions {self.amplitude_fraction} must add up to 1")
        if min(self.tau_ns) <= 0 or self.gamma0_meV <= 0 or self.rate_per_s < 0 or self.lifetime_gain < 0:
            raise ValueError(f"film {self.name}: lifetimes and Γ0 must be positive, rate and gain >= 0")

    # ---- the models, at temperature T (K) ---------------------------------------------------------
    def peak_energy_eV(self, temperature_k: float) -> float:
        """E(T) = E0 + A_TE·T + A_EP·(2n(ħω, T) + 1), eV."""
        n = bose(self.phonon_energy_meV, temperature_k)
        return self.E0_eV + self.A_TE_eV_per_K * temperature_k + self.A_EP_eV * (2.0 * n + 1.0)

    def fwhm_meV(self, temperature_k: float) -> float:
        """Γ(T) = Γ0 + γ_LO·n(E_LO, T), meV."""
        return self.gamma0_meV + self.gamma_LO_meV * bose(self.E_LO_meV, temperature_k)

    def _quench(self, temperature_k: float) -> float:
        if temperature_k <= 0:
            return 1.0
        return 1.0 + self.quench_ratio * math.exp(-self.quench_activation_meV * 1e-3 / (K_B_EV_PER_K * temperature_k))

    def rate_at(self, temperature_k: float) -> float:
        """Collected photons/s with the focus on the film."""
        return self.rate_per_s * self._quench(REFERENCE_TEMPERATURE_K) / self._quench(temperature_k)

    def lifetime_factor(self, temperature_k: float) -> float:
        """f(T): every lifetime at T over its value at 295 K."""
        g, scale = self.lifetime_gain, self.lifetime_scale_k
        return (1.0 + g * math.exp(-max(temperature_k, 0.0) / scale)) / (
            1.0 + g * math.exp(-REFERENCE_TEMPERATURE_K / scale))

    def decay(self, temperature_k: float) -> Decay:
        """The tri-exponential decay at T."""
        f = self.lifetime_factor(temperature_k)
        return Decay(tuple(t * f for t in self.tau_ns), tuple(self.amplitude_fraction))

    def average_lifetime_ns(self, temperature_k: float) -> float:
        """Amplitude-weighted average lifetime sum(A_i·tau_i)/sum(A_i) at T, ns."""
        return float(np.dot(self.amplitude_fraction, self.tau_ns)) * self.lifetime_factor(temperature_k)

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["tau_ns"] = np.asarray(self.tau_ns, float)
        out["amplitude_fraction"] = np.asarray(self.amplitude_fraction, float)
        out["average_lifetime_ns_at_295_k"] = self.average_lifetime_ns(REFERENCE_TEMPERATURE_K)
        return out


MONOLAYER = Film(
    name="monolayer", layers=1, thickness_nm=6.8,
    E0_eV=2.441, A_TE_eV_per_K=3.2e-4, A_EP_eV=-0.032, phonon_energy_meV=19.0,
    gamma0_meV=34.0, gamma_LO_meV=52.0, E_LO_meV=22.0,
    rate_per_s=1.0e5, quench_ratio=4.0, quench_activation_meV=35.0,
    tau_ns=(1.5, 4.5, 14.0), amplitude_fraction=(0.45, 0.40, 0.15), lifetime_gain=0.0, lifetime_scale_k=80.0,
)
MULTILAYER = Film(
    name="multilayer", layers=6, thickness_nm=6 * 7.35,
    E0_eV=2.418, A_TE_eV_per_K=3.4e-4, A_EP_eV=-0.045, phonon_energy_meV=21.0,
    gamma0_meV=26.0, gamma_LO_meV=95.0, E_LO_meV=26.0,
    rate_per_s=1.0e5, quench_ratio=4.0, quench_activation_meV=35.0,
    tau_ns=(1.8, 5.5, 18.0), amplitude_fraction=(0.40, 0.42, 0.18), lifetime_gain=1.8, lifetime_scale_k=80.0,
)


class FilmSample(Sample):
    """The two films side by side (module docstring), built by ``generate``."""

    def __init__(self, films: tuple[Film, Film], seed: int = 0, boundary_x_nm: float = BOUNDARY_X_NM,
                 edge_width_nm: float = EDGE_WIDTH_NM):
        if edge_width_nm <= 0:
            raise ValueError(f"edge_width_nm must be positive, got {edge_width_nm} nm")
        self.films = tuple(films)
        self.seed = int(seed)
        self.boundary_x_nm = float(boundary_x_nm)
        self.edge_width_nm = float(edge_width_nm)
        self.world: Any = None
        self.temperature_without_world_k = REFERENCE_TEMPERATURE_K

    @classmethod
    def generate(cls, seed: int = 0, *, boundary_x_nm: float = BOUNDARY_X_NM,
                 monolayer: Film = MONOLAYER, multilayer: Film = MULTILAYER) -> FilmSample:
        """The monolayer at x < ``boundary_x_nm``, the multilayer beyond. The films are uniform: ``seed`` only
        names the sample (photon draws come from the World's streams)."""
        return cls((monolayer, multilayer), seed, boundary_x_nm)

    def attach(self, world: Any) -> None:
        """Follow ``world.sample_temperature_k`` (the World this sample sits in)."""
        self.world = world

    @property
    def temperature_k(self) -> float:
        """The film's temperature now, K."""
        if self.world is None:
            return self.temperature_without_world_k
        return float(self.world.sample_temperature_k)

    def film(self, name: str) -> Film:
        for film in self.films:
            if film.name == name:
                return film
        raise ValueError(f"no film {name!r} on this sample; films: {[f.name for f in self.films]}")

    def weights(self, x_nm: float) -> tuple[float, float]:
        """Share of the focus on the monolayer and on the multilayer with the focus at ``x_nm``."""
        if not math.isfinite(x_nm):
            raise ValueError(f"focus position x = {x_nm} nm is not finite")
        beyond = float(ndtr(2.0 * (float(x_nm) - self.boundary_x_nm) / self.edge_width_nm))
        return 1.0 - beyond, beyond

    # ------------------------------------------------------------------ the World's questions
    def topography_nm(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """Height (nm) of the surface above the substrate: each film's thickness, a step at the boundary."""
        x = np.broadcast_to(np.asarray(x_nm, float), np.broadcast(np.asarray(x_nm), np.asarray(y_nm)).shape)
        mono, multi = self.films
        return np.where(x < self.boundary_x_nm, mono.thickness_nm, multi.thickness_nm)

    def shear_amplitude(self, distance_nm: np.ndarray) -> np.ndarray:
        """Tuning-fork amplitude over free amplitude vs apex-to-surface distance (nm): 1 far, 0 at contact."""
        return 1.0 - np.exp(-np.clip(np.asarray(distance_nm, float), 0.0, None) / SHEAR_DECAY_NM)

    def photon_rate(self, x_nm: float, y_nm: float, tip_z_nm: float, wavelength_nm: np.ndarray,
                    t0_s: float, dt_s: float) -> np.ndarray:
        """Photons/s reaching each CCD pixel (centres ``wavelength_nm``) at the present temperature; a film
        is steady, so the exposure's times do not matter and ``tip_z_nm`` is ignored (no tip)."""
        wl = np.asarray(wavelength_nm, float)
        low, high = pixel_edges_nm(wl)
        temperature = self.temperature_k
        out = np.zeros(wl.shape)
        for film, weight in zip(self.films, self.weights(x_nm), strict=True):
            if weight < 1e-12:
                continue
            centre, sigma = film.peak_energy_eV(temperature), film.fwhm_meV(temperature) * 1e-3 / FWHM_PER_SIGMA
            # the pixel's energy range: from the photon energy at its red edge to that at its blue edge
            share = ndtr((HC_EV_NM / low - centre) / sigma) - ndtr((HC_EV_NM / high - centre) / sigma)
            out += weight * film.rate_at(temperature) * share
        return out

    def collected_photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Photons leaving the objective in [t0_s, t0_s + duration_s), focus at (x, y) nm: (time_ps int64 from
        clock zero, unsorted; wavelength_nm float32). Each film is an ensemble: Poisson photons, delayed after
        each laser pulse by its tri-exponential decay at the present temperature."""
        if not isinstance(laser, Laser):
            raise TypeError(f"laser must be a sims.photons.Laser, got {type(laser).__name__}")
        if duration_s < 0:
            raise ValueError(f"duration_s must be >= 0, got {duration_s} s")
        temperature = self.temperature_k
        times, wavelengths = [], []
        for film, weight in zip(self.films, self.weights(x_nm), strict=True):
            if weight < 1e-12:
                continue
            t = ensemble_times_ps(weight * film.rate_at(temperature), film.decay(temperature), t0_s, duration_s,
                                  laser, rng)
            sigma = film.fwhm_meV(temperature) * 1e-3 / FWHM_PER_SIGMA
            energy = film.peak_energy_eV(temperature) + sigma * rng.standard_normal(t.size)
            times.append(t)
            wavelengths.append((HC_EV_NM / energy).astype(np.float32))
        if not times:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(times).astype(np.int64), np.concatenate(wavelengths)

    # ------------------------------------------------------------------ truth
    def ground_truth(self) -> dict:
        """Every model parameter of each film, where each film lies, and the temperature now."""
        mono, multi = self.films
        return {"kind": "film", "seed": self.seed, "temperature_k": self.temperature_k,
                "reference_temperature_k": REFERENCE_TEMPERATURE_K, "boundary_x_nm": self.boundary_x_nm,
                "edge_width_nm": self.edge_width_nm,
                "films": {mono.name: {**mono.describe(), "region": f"x < {self.boundary_x_nm:g} nm"},
                          multi.name: {**multi.describe(), "region": f"x >= {self.boundary_x_nm:g} nm"}}}
