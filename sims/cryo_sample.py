"""Single CsPbBr1.2I1.8 nanocrystals at 4 K (paper 004, physics.md section 3) for the cryogenic rig.

Each nanocrystal holds up to six internal quantum dots (nanodomains of different Br:I ratio), each one
*set* of peaks between 540 and 690 nm: a neutral-exciton fine-structure doublet (splitting ~0.68 meV) or
triplet (mean spacing ~0.88 meV), and, for sets that photocharge, a single charged-exciton (X*) line ~10
meV below that takes over while the dot is charged (telegraph switching between charged and neutral, dwell
times of tens of s). Lines are Lorentzians of FWHM 0.1-0.3 meV. All lines of a set move together: an
Ornstein-Uhlenbeck spectral diffusion plus discrete spectral jumps (a new level drawn at Poisson times),
tabulated on a 10 ms grid. Some sets share a bright/dim telegraph process (correlated intensity jumps).
Sets emit as single two-level emitters (at most one photon per excitation) with single-exponential
lifetimes (~0.54 and ~0.66 ns in the central crystal), so ``collected_photons`` gives antibunched streams
and the lifetimes under pulsed 532 nm excitation; the rates are those at ~5 W/cm^2 (CW 488 nm or pulsed 532
nm alike).

One crystal sits at the area centre (default (50000, 50000) nm), the others >= 5 µm apart around it. The
focus (excitation FWHM 400 nm at 532 nm, collection FWHM 600 nm) sees a crystal at distance r with weight
g_exc(r)·g_col(r). Lengths nm, energies eV (offsets and widths meV where named), times s, rates
photons/s collected by the objective.

Truth for tests: ``true_line_energies_eV(t_s)``, ``true_line_rates_per_s(t_s)``, ``true_state(t_s)`` and
``line_table()`` (each takes ``crystal``, default 0 = the central one); ``photon_rate`` is the average of the
line spectrum over the exposure [t0, t0 + dt] (sampled every 10 ms).

Modules: this one places the crystals, draws their sets and answers the World's questions; a crystal's
lines, states and photons are in ``cryo_nanocrystal``, the spectral wander of a set in ``cryo_wander``.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import replace

import numpy as np

from tepl.sims.confocal_spot import check_point, gaussian_weight, place_apart
from tepl.sims.cryo_nanocrystal import COLLECTION, DIM_FACTOR, Nanocrystal, PeakSet
from tepl.sims.cryo_wander import WANDER_STEP_S
from tepl.sims.emission_spectra import lorentzian_lines_pixel_rate
from tepl.sims.photons import Laser
from tepl.sims.sample import Sample
from tepl.sims.tepl_optics import HC_EV_NM

AREA_CENTER_NM = (50000.0, 50000.0)
EXCITATION_FWHM_NM = 400.0  # at 532 nm
EXCITATION_REFERENCE_NM = 532.0
COLLECTION_FWHM_NM = 600.0
TRUTH_HORIZON_S = 600.0  # histories go into the truth this far past the last time asked about


def _doublet(rng: np.random.Generator, splitting_meV: float) -> tuple[tuple, tuple]:
    w = rng.uniform(0.4, 0.6)
    return (-0.5 * splitting_meV, 0.5 * splitting_meV), (w, 1.0 - w)


def _triplet(rng: np.random.Generator, spacing_meV: float) -> tuple[tuple, tuple]:
    skew = rng.uniform(-0.1, 0.1) * spacing_meV  # unequal spacings, mean = spacing
    w = rng.uniform(0.6, 1.4, 3)
    return (-spacing_meV + skew, 0.0, spacing_meV + skew), tuple((w / w.sum()).tolist())


class CryoSample(Sample):
    """Nanocrystals on a substrate in the cryostat (module docstring)."""

    def __init__(self, crystals: list[Nanocrystal], seed: int, area_center_nm: tuple[float, float],
                 area_size_nm: float, excitation_wavelength_nm: float = EXCITATION_REFERENCE_NM):
        self.crystals = list(crystals)
        self.seed = int(seed)
        self.area_center_nm = (float(area_center_nm[0]), float(area_center_nm[1]))
        self.area_size_nm = float(area_size_nm)
        self.excitation_wavelength_nm = float(excitation_wavelength_nm)
        self._t_max_s = 0.0

    @staticmethod
    def _rng(seed: int, name: str, *index: int) -> np.random.Generator:
        return np.random.default_rng([seed, zlib.crc32(f"cryo_sample.{name}".encode()), *index])

    # ------------------------------------------------------------------ construction
    @classmethod
    def generate(cls, seed: int = 0, *, n_crystals: int = 5, n_sets: int = 5,
                 area_center_nm: tuple[float, float] = AREA_CENTER_NM, area_size_nm: float = 20000.0,
                 min_separation_nm: float = 5000.0, doublet_splitting_meV: float = 0.68,
                 triplet_spacing_meV: float = 0.88, lifetimes_ns: tuple[float, float] = (0.54, 0.66),
                 rate_scale: float = 1.0) -> CryoSample:
        """A seeded sample of ``n_crystals`` nanocrystals; the central one has ``n_sets`` (1-6) sets of peaks:
        set 0 a doublet near 652 nm that photocharges (X* ~10 meV below), set 1 a triplet (660-675 nm),
        sets 2-3 doublets (675-690 nm) that share correlated intensity jumps with set 1, set 4 a weak Br-rich
        doublet (545-600 nm), set 5 a triplet (615-640 nm). Set 0 has the splitting
        ``doublet_splitting_meV`` and lifetime ``lifetimes_ns[0]``, set 1 the spacing ``triplet_spacing_meV``
        and lifetime ``lifetimes_ns[1]``. Other crystals: 1-3 random sets each."""
        if n_crystals < 1:
            raise ValueError(f"n_crystals must be >= 1 (the central crystal), got {n_crystals}")
        if not 1 <= n_sets <= 6:
            raise ValueError(f"n_sets must lie in 1..6, got {n_sets}")
        if rate_scale <= 0:
            raise ValueError(f"rate_scale must be positive, got {rate_scale}")
        seed = int(seed)
        rng = cls._rng(seed, "layout")
        center = (float(area_center_nm[0]), float(area_center_nm[1]))
        xy = place_apart(rng, n_crystals, min_separation_nm, center, area_size_nm, 0.1 * area_size_nm,
                         fixed=[center])
        crystals = []
        for c in range(n_crystals):
            crng = cls._rng(seed, "sets", c)
            sets = cls._central_sets(crng, n_sets, doublet_splitting_meV, triplet_spacing_meV, lifetimes_ns) \
                if c == 0 else cls._random_sets(crng, doublet_splitting_meV, triplet_spacing_meV)
            sets = [replace(s, rate_per_s=s.rate_per_s * rate_scale) for s in sets]
            crystals.append(Nanocrystal(xy[c, 0], xy[c, 1], sets,
                                        lambda name, i, c=c: cls._rng(seed, name, c, i)))
        return cls(crystals, seed, center, area_size_nm)

    @staticmethod
    def _central_sets(rng: np.random.Generator, n_sets: int, splitting: float, spacing: float,
                      lifetimes: tuple[float, float]) -> list[PeakSet]:
        plan = [  # kind, wavelength range nm, rate /s, group, charges
            ("doublet", (649.0, 655.0), 2.5e4, -1, True),
            ("triplet", (660.0, 675.0), 2.0e4, 0, False),
            ("doublet", (676.0, 682.0), 1.5e4, 0, False),
            ("doublet", (684.0, 690.0), 1.2e4, 0, False),
            ("doublet", (545.0, 600.0), 2.0e3, -1, False),
            ("triplet", (615.0, 640.0), 1.0e4, -1, False),
        ]
        sets = []
        for i, (kind, (lo, hi), rate, group, charges) in enumerate(plan[:n_sets]):
            if kind == "doublet":
                offsets, weights = _doublet(rng, splitting if i == 0 else rng.normal(splitting, 0.04))
            else:
                offsets, weights = _triplet(rng, spacing if i == 1 else rng.normal(spacing, 0.04))
            lifetime = lifetimes[i] if i < 2 else rng.uniform(0.5, 0.7)
            sets.append(PeakSet(kind, HC_EV_NM / rng.uniform(lo, hi), offsets, weights,
                                0.2 if i == 0 else rng.uniform(0.1, 0.3), rate * math.exp(rng.normal(0.0, 0.15)),
                                lifetime, -10.0 + rng.uniform(-1.0, 1.0) if charges else None, group))
        return sets

    @staticmethod
    def _random_sets(rng: np.random.Generator, splitting: float, spacing: float) -> list[PeakSet]:
        sets = []
        for _ in range(int(rng.integers(1, 4))):
            kind = "triplet" if rng.random() < 0.35 else "doublet"
            if kind == "doublet":
                offsets, weights = _doublet(rng, rng.normal(splitting, 0.05))
            else:
                offsets, weights = _triplet(rng, rng.normal(spacing, 0.05))
            sets.append(PeakSet(kind, HC_EV_NM / rng.uniform(640.0, 690.0), offsets, weights,
                                rng.uniform(0.1, 0.3), rng.uniform(5e3, 2.5e4), rng.uniform(0.5, 0.7),
                                -10.0 + rng.uniform(-2.0, 2.0) if rng.random() < 0.3 else None,
                                0 if rng.random() < 0.4 else -1))
        return sets

    # ------------------------------------------------------------------ the World's questions
    def topography_nm(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """Height (nm) of the surface: flat."""
        return np.zeros(np.broadcast(np.asarray(x_nm), np.asarray(y_nm)).shape)

    def _weights(self, x_nm: float, y_nm: float, excitation_nm: float) -> list[tuple[Nanocrystal, float, float]]:
        x, y = check_point(x_nm, y_nm)
        exc = EXCITATION_FWHM_NM * excitation_nm / EXCITATION_REFERENCE_NM
        out = []
        for c in self.crystals:
            r = math.hypot(x - c.x_nm, y - c.y_nm)
            g_exc, g_col = float(gaussian_weight(r, exc)), float(gaussian_weight(r, COLLECTION_FWHM_NM))
            if g_exc * g_col > 1e-9:
                out.append((c, g_exc, g_col))
        return out

    def collected_photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Photons leaving the objective in [t0_s, t0_s + duration_s), focus at (x, y) nm: (time_ps int64
        from clock zero, unsorted; wavelength_nm float32). Every set is a single emitter."""
        if not isinstance(laser, Laser):
            raise TypeError(f"laser must be a sims.photons.Laser, got {type(laser).__name__}")
        if duration_s < 0:
            raise ValueError(f"duration_s must be >= 0, got {duration_s} s")
        self._t_max_s = max(self._t_max_s, t0_s + duration_s)
        parts = [c.photons(ge, gc, t0_s, duration_s, laser, rng)
                 for c, ge, gc in self._weights(x_nm, y_nm, laser.wavelength_nm)]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def photon_rate(self, x_nm: float, y_nm: float, tip_z_nm: float, wavelength_nm: np.ndarray,
                    t0_s: float, dt_s: float) -> np.ndarray:
        """Photons/s reaching each CCD pixel (centres ``wavelength_nm``), averaged over [t0, t0 + dt] (line
        positions, charge states and intensities sampled every 10 ms); ``tip_z_nm`` is ignored (no tip)."""
        wl = np.asarray(wavelength_nm, float)
        out = np.zeros(wl.shape)
        self._t_max_s = max(self._t_max_s, t0_s + max(dt_s, 0.0))
        n_sub = int(min(max(math.ceil(max(dt_s, 0.0) / WANDER_STEP_S), 1), 400))
        times = t0_s + (np.arange(n_sub) + 0.5) * (max(dt_s, 0.0) / n_sub)
        e_lo, e_hi = HC_EV_NM / wl.max(), HC_EV_NM / wl.min()
        for crystal, g_exc, g_col in self._weights(x_nm, y_nm, self.excitation_wavelength_nm):
            if not crystal.sets:
                continue
            energies = crystal.line_energies_eV(times)
            rates = crystal.line_rates(times) * (g_exc * g_col) / n_sub
            reach = 1e-3 * 50.0 * crystal.line_fwhm_meV
            use = (rates > 0) & (energies + reach > e_lo) & (energies - reach < e_hi)
            if not np.any(use):
                continue
            fwhm = np.broadcast_to(1e-3 * crystal.line_fwhm_meV, energies.shape)
            out += lorentzian_lines_pixel_rate(energies[use], fwhm[use], rates[use], wl, HC_EV_NM)
        return out

    # ------------------------------------------------------------------ truth
    def _crystal(self, crystal: int) -> Nanocrystal:
        if not 0 <= int(crystal) < len(self.crystals):
            raise ValueError(f"crystal index {crystal} out of range 0..{len(self.crystals) - 1}")
        return self.crystals[int(crystal)]

    def _times(self, t_s) -> tuple[np.ndarray, bool]:
        t = np.asarray(t_s, float)
        if t.size:
            self._t_max_s = max(self._t_max_s, float(t.max()))
        return np.atleast_1d(t), t.ndim == 0

    def line_table(self, crystal: int = 0) -> dict:
        """The lines of a crystal: set index, label ("X" neutral, "X*" charged), offset from the set centre
        (meV), share of the set's photons, Lorentzian FWHM (meV)."""
        c = self._crystal(crystal)
        return {"set": c.line_set.copy(), "label": c.line_label.copy(), "offset_meV": c.line_offset_meV.copy(),
                "weight": c.line_weight.copy(), "fwhm_meV": c.line_fwhm_meV.copy()}

    def true_line_energies_eV(self, t_s: float | np.ndarray, crystal: int = 0) -> np.ndarray:
        """Energy (eV) of every line of ``crystal`` at time(s) ``t_s``: (n_lines,) or (n_t, n_lines)."""
        t, scalar = self._times(t_s)
        e = self._crystal(crystal).line_energies_eV(t)
        return e[0] if scalar else e

    def true_line_rates_per_s(self, t_s: float | np.ndarray, crystal: int = 0) -> np.ndarray:
        """Collected photons/s of every line (focus on the crystal) at time(s) ``t_s``; 0 for a line whose
        state (charged/neutral) is not the present one."""
        t, scalar = self._times(t_s)
        r = self._crystal(crystal).line_rates(t)
        return r[0] if scalar else r

    def true_state(self, t_s: float | np.ndarray, crystal: int = 0) -> dict:
        """Per set at time(s) ``t_s``: charged (bool), intensity_factor (1 or DIM_FACTOR), offset_meV."""
        t, scalar = self._times(t_s)
        c = self._crystal(crystal)
        state = {"charged": c.charged(t), "intensity_factor": c.intensity_factor(t), "offset_meV": c.offsets_meV(t)}
        return {k: v[0] for k, v in state.items()} if scalar else state

    def ground_truth(self) -> dict:
        return {"kind": "cryo", "seed": self.seed, "area_center_nm": np.asarray(self.area_center_nm),
                "area_size_nm": self.area_size_nm, "excitation_wavelength_nm": self.excitation_wavelength_nm,
                "excitation_fwhm_nm_at_532": EXCITATION_FWHM_NM, "collection_fwhm_nm": COLLECTION_FWHM_NM,
                "collection": COLLECTION, "dim_factor": DIM_FACTOR, "wander_step_s": WANDER_STEP_S,
                "truth_until_s": self._t_max_s + TRUTH_HORIZON_S,
                "crystals": {str(i): c.truth(self._t_max_s + TRUTH_HORIZON_S) for i, c in enumerate(self.crystals)}}
