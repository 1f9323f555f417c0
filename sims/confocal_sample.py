"""Samples of the confocal rig of paper 003 (physics.md section 2): QD-doped perovskite films, a two-half
FLIM reference film and single CdSe/CdZnS quantum dots on glass.

``ConfocalSample`` answers the World's questions: the photons leaving the objective towards the detectors
(``collected_photons``), the photons per second reaching each CCD pixel (``photon_rate``), a flat
topography and the ground truth. Lengths nm (sample coordinates = stage µm x 1000), times s (photon times
ps), lifetimes ns, rates photons/s collected by the objective at the default excitation of the rig.

Optics: the Gaussian confocal spot of ``confocal_spot`` (NA 1.35 oil objective). A film is smooth on the
scale of the spot, so its rate is taken at the focus point. The light sources are in ``confocal_ensembles``
(films, clusters, the dot layer, backgrounds) and ``confocal_single_qds`` (blinking single dots).

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

from tepl.sims.confocal_ensembles import (
    TAU2_NS,
    DotLayer,
    PerovskiteFilm,
    QdClusters,
    ReferenceFilm,
    UniformBackground,
)
from tepl.sims.confocal_single_qds import SingleQds
from tepl.sims.confocal_spot import (
    COLLECTION_FWHM_NM,
    EXCITATION_FWHM_NM,
    EXCITATION_REFERENCE_NM,
    check_point,
    place_apart,
)
from tepl.sims.emission_spectra import GaussianBands
from tepl.sims.photons import Laser
from tepl.sims.sample import Sample
from tepl.sims.single_emitter import two_level_rates

AREA_CENTER_NM = (50000.0, 50000.0)
KINDS = ("perovskite-qd-a", "perovskite-qd-b", "flim-reference", "single-qd")
NOMINAL_QD_CHANNEL = {"band_nm": (635.0, 665.0), "efficiency": 0.6, "dark_counts_per_s": 100.0}
TRUTH_HORIZON_S = 3600.0  # blinking histories go into the truth this far past the last time asked about
TRUTH_MAP_PITCH_NM = 1000.0  # pitch of the film-lifetime map kept in the truth


class ConfocalSample(Sample):
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
        x, y = check_point(x_nm, y_nm)
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
        x, y = check_point(x_nm, y_nm)
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
