"""One CsPbBr1.2I1.8 nanocrystal at 4 K (paper 004, physics.md section 3; the sample is ``cryo_sample``): its
sets of peaks (``PeakSet``, one per internal quantum dot), their lines, charging, correlated intensity jumps
and spectral wander vs time, and one antibunched photon stream per set.

Each set emits as a single two-level emitter with a single-exponential lifetime; a charged set emits on its
X* line instead of the neutral multiplet; sets of one group share a bright/dim telegraph process (DIM_FACTOR
while dim). Energies eV (offsets and widths meV where named), times s (photon times ps), rates photons/s
collected by the objective with the focus on the crystal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tepl.sims.cryo_wander import SpectralWander
from tepl.sims.emission_spectra import sample_lorentzian
from tepl.sims.photons import Laser, telegraph_states
from tepl.sims.single_emitter import SingleEmitter
from tepl.sims.tepl_blinking import TelegraphProcess
from tepl.sims.tepl_optics import HC_EV_NM

COLLECTION = 0.05  # share of emitted photons the objective collects
DIM_FACTOR = 0.25  # intensity of a correlated group while dim


@dataclass(frozen=True)
class PeakSet:
    """One internal quantum dot: its neutral multiplet, optional charged line, emission and dynamics."""

    kind: str  # "doublet" or "triplet"
    energy_eV: float  # centre of the neutral multiplet
    line_offsets_meV: tuple[float, ...]  # neutral lines relative to the centre
    line_weights: tuple[float, ...]  # share of the set's photons in each neutral line
    linewidth_meV: float  # Lorentzian FWHM of every line
    rate_per_s: float  # collected photons/s, focus on the crystal, bright
    lifetime_ns: float
    trion_offset_meV: float | None = None  # X* line relative to the centre (None: never charges)
    group: int = -1  # correlated-intensity group within the crystal (-1: none)
    wander_sd_meV: float = 0.12  # stationary rms of the spectral diffusion
    wander_time_s: float = 5.0  # its correlation time
    jump_rate_per_s: float = 0.05  # spectral jumps per second
    jump_sd_meV: float = 0.6  # rms of the jump levels
    mean_charged_s: float = 25.0
    mean_neutral_s: float = 35.0

    @property
    def wavelength_nm(self) -> float:
        return HC_EV_NM / self.energy_eV

    @property
    def splitting_meV(self) -> float:
        """Fine-structure splitting: mean spacing of neighbouring neutral lines."""
        offsets = np.sort(np.asarray(self.line_offsets_meV, float))
        return float(np.mean(np.diff(offsets))) if offsets.size > 1 else 0.0



class Nanocrystal:
    """One nanocrystal: its sets of peaks, their dynamics and one photon stream per set."""

    def __init__(self, x_nm: float, y_nm: float, sets: list[PeakSet], rng_factory):
        self.x_nm = float(x_nm)
        self.y_nm = float(y_nm)
        self.sets = list(sets)
        self.wander = [SpectralWander(rng_factory("wander", i), s.wander_sd_meV, s.wander_time_s,
                                      s.jump_rate_per_s, s.jump_sd_meV) for i, s in enumerate(self.sets)]
        self.charge = [TelegraphProcess(rng_factory("charge", i), s.mean_charged_s, s.mean_neutral_s)
                       if s.trion_offset_meV is not None else None for i, s in enumerate(self.sets)]
        groups = sorted({s.group for s in self.sets if s.group >= 0})
        self.groups = {g: TelegraphProcess(rng_factory("group", g), 30.0, 6.0) for g in groups}
        self._streams = [SingleEmitter() for _ in self.sets]
        # line table: neutral lines of every set, then its charged line
        set_index, label, offset, weight, width = [], [], [], [], []
        for i, s in enumerate(self.sets):
            for o, w in zip(s.line_offsets_meV, s.line_weights, strict=True):
                set_index.append(i)
                label.append("X")
                offset.append(o)
                weight.append(w)
                width.append(s.linewidth_meV)
            if s.trion_offset_meV is not None:
                set_index.append(i)
                label.append("X*")
                offset.append(s.trion_offset_meV)
                weight.append(1.0)
                width.append(s.linewidth_meV)
        self.line_set = np.array(set_index, np.int64)
        self.line_label = np.array(label)
        self.line_charged = self.line_label == "X*"
        self.line_offset_meV = np.array(offset, float)
        self.line_weight = np.array(weight, float)
        self.line_fwhm_meV = np.array(width, float)
        self.set_energy_eV = np.array([s.energy_eV for s in self.sets])
        self.set_rate_per_s = np.array([s.rate_per_s for s in self.sets])

    # ------------------------------------------------------------------ state vs time
    def charged(self, t_s: np.ndarray) -> np.ndarray:
        """(n_t, n_sets) True where a set is charged."""
        t = np.atleast_1d(np.asarray(t_s, float))
        out = np.zeros((t.size, len(self.sets)), bool)
        for i, process in enumerate(self.charge):
            if process is not None:
                out[:, i] = telegraph_states(process, t)
        return out

    def intensity_factor(self, t_s: np.ndarray) -> np.ndarray:
        """(n_t, n_sets) brightness of each set relative to its rate (1, or DIM_FACTOR while its group is dim)."""
        t = np.atleast_1d(np.asarray(t_s, float))
        out = np.ones((t.size, len(self.sets)))
        for g, process in self.groups.items():
            bright = telegraph_states(process, t)
            members = [i for i, s in enumerate(self.sets) if s.group == g]
            out[:, members] = np.where(bright, 1.0, DIM_FACTOR)[:, None]
        return out

    def offsets_meV(self, t_s: np.ndarray) -> np.ndarray:
        """(n_t, n_sets) spectral-wander offset of each set."""
        t = np.atleast_1d(np.asarray(t_s, float))
        return np.stack([w.offset_meV(t) for w in self.wander], axis=1) if self.sets else np.zeros((t.size, 0))

    def line_energies_eV(self, t_s: np.ndarray) -> np.ndarray:
        """(n_t, n_lines) energy of every line."""
        offsets = self.offsets_meV(t_s)
        return (self.set_energy_eV[self.line_set] + 1e-3 * (self.line_offset_meV + offsets[:, self.line_set]))

    def line_rates(self, t_s: np.ndarray) -> np.ndarray:
        """(n_t, n_lines) collected photons/s of every line, focus on the crystal."""
        charged = self.charged(t_s)[:, self.line_set]
        active = np.where(self.line_charged, charged, ~charged)
        factor = self.intensity_factor(t_s)[:, self.line_set]
        return self.set_rate_per_s[self.line_set] * self.line_weight * factor * active

    # ------------------------------------------------------------------ photons
    def photons(self, weight_exc: float, weight_col: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        times, wavelengths = [], []
        for i, s in enumerate(self.sets):
            k_rad = 1e9 / s.lifetime_ns
            emitted = s.rate_per_s / COLLECTION
            k_exc = emitted * k_rad / (k_rad - emitted)
            t = self._streams[i].photon_times_ps(k_exc * weight_exc, k_rad, COLLECTION * weight_col, t0_s,
                                                 duration_s, laser, rng)
            if t.size == 0:
                continue
            t_s = t * 1e-12
            factor = self.intensity_factor(t_s)[:, i]
            if np.any(factor < 1.0):
                keep = rng.random(t.size) < factor
                t, t_s = t[keep], t_s[keep]
            lines = np.flatnonzero(self.line_set == i)
            neutral = lines[~self.line_charged[lines]]
            share = np.cumsum(self.line_weight[neutral])
            line = neutral[np.searchsorted(share[:-1] / share[-1], rng.random(t.size), side="right")]
            if self.charge[i] is not None:
                charged_line = lines[self.line_charged[lines]][0]
                line = np.where(telegraph_states(self.charge[i], t_s), charged_line, line)
            energy = (self.set_energy_eV[i] + 1e-3 * (self.line_offset_meV[line] + self.wander[i].offset_meV(t_s)))
            energy = sample_lorentzian(rng, energy, 1e-3 * self.line_fwhm_meV[line])
            times.append(t)
            wavelengths.append((HC_EV_NM / energy).astype(np.float32))
        if not times:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(times), np.concatenate(wavelengths)

    def truth(self, until_s: float) -> dict:
        sets = self.sets
        grid = np.arange(0.0, max(until_s, 0.0) + 1e-9, 0.1)
        return {
            "x_nm": self.x_nm, "y_nm": self.y_nm,
            "sets": {
                "kind": [s.kind for s in sets] if sets else np.zeros(0),
                "energy_eV": self.set_energy_eV.copy(),
                "wavelength_nm": np.array([s.wavelength_nm for s in sets]),
                "splitting_meV": np.array([s.splitting_meV for s in sets]),
                "linewidth_meV": np.array([s.linewidth_meV for s in sets]),
                "rate_per_s": self.set_rate_per_s.copy(),
                "lifetime_ns": np.array([s.lifetime_ns for s in sets]),
                "trion_offset_meV": np.array([np.nan if s.trion_offset_meV is None else s.trion_offset_meV
                                              for s in sets]),
                "group": np.array([s.group for s in sets], np.int64),
            },
            "lines": {"set": self.line_set.copy(), "label": self.line_label.tolist() or np.zeros(0),
                      "offset_meV": self.line_offset_meV.copy(), "weight": self.line_weight.copy(),
                      "fwhm_meV": self.line_fwhm_meV.copy()},
            "series": {"t_s": grid, "offset_meV": self.offsets_meV(grid), "charged": self.charged(grid),
                       "intensity_factor": self.intensity_factor(grid)},
            "charge_switch_times_s": {str(i): p.switch_times_s(until_s) for i, p in enumerate(self.charge)
                                      if p is not None},
            "charge_starts_charged": {str(i): bool(p.starts_on) for i, p in enumerate(self.charge) if p is not None},
            "group_switch_times_s": {str(g): p.switch_times_s(until_s) for g, p in self.groups.items()},
            "group_starts_bright": {str(g): bool(p.starts_on) for g, p in self.groups.items()},
            "jump_times_s": {str(i): w.jump_times_s(until_s) for i, w in enumerate(self.wander)},
        }
