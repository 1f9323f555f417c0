"""The TEPL sample of paper 000: sparse CsPbBr_xI_3-x quantum dots on Au, under a Au tip.

``TeplSample`` answers the questions the ``World`` asks: the surface height under the tip (topography), the
tuning-fork amplitude at an apex-to-surface distance, and the photons per second reaching each CCD pixel
for a tip at a given place and height. Lengths nm, energies eV, times s. All randomness is seeded.

Sample coordinates: the dots lie in a 150 nm x 150 nm scan area centred at (50000, 50000) nm (stage
x = y = 50 um); elsewhere the sample is bare Au (e.g. the reference spot at (50300, 50000) nm).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from tepl import kernels
from tepl.kernels import twin as twin_kernels
from tepl.sims.sample import Sample
from tepl.sims.tepl_blinking import OnFractions, TelegraphProcess
from tepl.sims.tepl_memo import LastCall
from tepl.sims.tepl_optics import (
    FOUR_LN2,
    HC_EV_NM,
    LineTable,
    PixelAxis,
    RoughSurface,
    TipSampleParams,
    apex_height_nm,
    lateral_coupling,
    near_field_enhancement,
    plasmon_rate,
    purcell_gain,
    tip_cone,
)
from tepl.sims.tepl_optics import shear_amplitude as _shear_amplitude

SCAN_CENTER_NM = (50000.0, 50000.0)
SCAN_SIZE_NM = 150.0
BARE_AU_REFERENCE_NM = (50300.0, 50000.0)


@dataclass(frozen=True)
class Emitters:
    """The dot table: one entry per dot. Units in the names; orientation is a unitless factor."""

    x_nm: np.ndarray
    y_nm: np.ndarray
    height_nm: np.ndarray
    energy_eV: np.ndarray
    orientation: np.ndarray
    fwhm_eV: np.ndarray
    lorentz_fwhm_eV: np.ndarray

    def __len__(self) -> int:
        return int(self.x_nm.size)


def _place_dots(rng: np.random.Generator, n_dots: int, min_separation_nm: float, margin_nm: float,
                center_nm: tuple[float, float], size_nm: float) -> np.ndarray:
    """Random dot positions (n, 2) inside the square area, ``margin_nm`` from its edge, well separated."""
    half = 0.5 * size_nm - margin_nm
    points: list[np.ndarray] = []
    for _ in range(20000):
        if len(points) == n_dots:
            break
        candidate = np.asarray(center_nm) + rng.uniform(-half, half, 2)
        if all(np.hypot(*(candidate - p)) >= min_separation_nm for p in points):
            points.append(candidate)
    if len(points) < n_dots:
        raise ValueError(f"cannot place {n_dots} dots {min_separation_nm} nm apart in a {size_nm} nm area")
    return np.array(points).reshape(n_dots, 2)


def tip_vector(params: TipSampleParams) -> np.ndarray:
    """The tip-sample parameters the compiled kernels take (``tepl.kernels.twin.TIP_PARAMS``, in that order)."""
    u_tangent, tan_alpha = tip_cone(params.apex_radius_nm, params.cone_half_angle_deg)
    named = {**params.as_dict(), "cone_tangent_nm": u_tangent, "cone_tan_alpha": tan_alpha}
    return np.array([float(named[name]) for name in twin_kernels.TIP_PARAMS])


class TeplSample(Sample):
    """Quantum dots on Au under a Au tip: topography, shear force and emission (see ``generate``)."""

    def __init__(self, emitters: Emitters, params: TipSampleParams, seed: int,
                 mean_on_s: float = 300.0, mean_off_s: float = 6.0):
        self.emitters = emitters
        self.params = params
        self.seed = int(seed)
        self.mean_on_s = float(mean_on_s)
        self.mean_off_s = float(mean_off_s)
        # rows: one line per dot, then the gap plasmon
        self._lines = LineTable(np.append(emitters.fwhm_eV, params.plasmon_fwhm_eV),
                                np.append(emitters.lorentz_fwhm_eV, params.plasmon_lorentz_fwhm_eV))
        self._blink = [TelegraphProcess(self._rng("blink", i), mean_on_s, mean_off_s)
                       for i in range(len(emitters))]
        self._on_fractions = OnFractions(self._blink)
        self._tip_for: tuple[TipSampleParams, np.ndarray, tuple[float, float, float]] | None = None  # see _tip
        self._pixels = PixelAxis()
        self._line_shapes = LastCall(self._line_densities)  # the same lines on the same axis, pixel after pixel
        self._last_shapes: tuple[np.ndarray, bytes, np.ndarray] | None = None  # (axis, centres, shapes), see below
        self._previous_centres = b""  # the line centres of the last compiled spectrum, as bytes
        self._rough = RoughSurface(self._rng("roughness"), params.roughness_rms_nm)
        self._last_point: tuple[float, float, float] | None = None  # (x, y, height) nm of the last single point
        self._last_lateral: tuple[float, float, np.ndarray] | None = None  # (x, y, distance of each dot) nm

    def _tip(self) -> tuple[np.ndarray, tuple[float, float, float]]:
        """The compiled kernels' view of ``self.params`` (rebuilt when they are replaced): the ``tip_vector``,
        and the apex's shape (radius, where the cone starts, nm; tan of the cone's half angle)."""
        kept = self._tip_for
        if kept is None or kept[0] is not self.params:
            p = self.params
            shape = (float(p.apex_radius_nm), *(float(v) for v in tip_cone(p.apex_radius_nm, p.cone_half_angle_deg)))
            kept = self._tip_for = (p, tip_vector(p), shape)
        return kept[1], kept[2]

    def _rng(self, name: str, index: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(f"tepl_sample.{name}".encode()), index])

    # ------------------------------------------------------------------ construction
    @classmethod
    def generate(cls, seed: int = 0, n_dots: int = 6, *, params: TipSampleParams | None = None,
                 height_nm: float = 10.0, height_sd_nm: float = 0.3, energy_eV: float = 1.900,
                 energy_sd_eV: float = 0.010, energy_limits_eV: tuple[float, float] = (1.88, 1.915),
                 fwhm_eV: float = 0.170, fwhm_sd_eV: float = 0.003, lorentz_fraction: float = 0.35,
                 min_separation_nm: float = 30.0, margin_nm: float = 15.0,
                 mean_on_s: float = 300.0, mean_off_s: float = 6.0) -> TeplSample:
        """A seeded sample of ``n_dots`` dots in the scan area around (50000, 50000) nm.

        Dot heights ``height_nm`` +- ``height_sd_nm``; emission energies ``energy_eV`` +- ``energy_sd_eV``
        clipped to ``energy_limits_eV``; Voigt lines of total FWHM ``fwhm_eV`` (Lorentzian part
        ``lorentz_fraction`` of it); orientation factors uniform in [0.2, 1]; blinking with mean ON/OFF
        times ``mean_on_s`` / ``mean_off_s``.
        """
        if n_dots < 0:
            raise ValueError(f"n_dots must be >= 0, got {n_dots}")
        rng = np.random.default_rng([int(seed), zlib.crc32(b"tepl_sample.emitters")])
        xy = _place_dots(rng, n_dots, min_separation_nm, margin_nm, SCAN_CENTER_NM, SCAN_SIZE_NM)
        fwhm = np.clip(rng.normal(fwhm_eV, fwhm_sd_eV, n_dots), 0.5 * fwhm_eV, 1.5 * fwhm_eV)
        emitters = Emitters(
            x_nm=xy[:, 0].copy(),
            y_nm=xy[:, 1].copy(),
            height_nm=rng.normal(height_nm, height_sd_nm, n_dots),
            energy_eV=np.clip(rng.normal(energy_eV, energy_sd_eV, n_dots), *energy_limits_eV),
            orientation=rng.uniform(0.2, 1.0, n_dots),
            fwhm_eV=fwhm,
            lorentz_fwhm_eV=lorentz_fraction * fwhm,
        )
        return cls(emitters, params or TipSampleParams(), seed, mean_on_s, mean_off_s)

    # ------------------------------------------------------------------ geometry
    def _lateral_nm(self, x_nm: float, y_nm: float) -> np.ndarray:
        """Distance (nm) of every dot from sample point (x, y), read-only; the last point's is remembered (a
        pixel's emission asks for it three times)."""
        x, y = float(x_nm), float(y_nm)
        last = self._last_lateral
        if last is not None and last[0] == x and last[1] == y:
            return last[2]
        e = self.emitters
        lateral = np.hypot(x - e.x_nm, y - e.y_nm)
        lateral.flags.writeable = False
        self._last_lateral = (x, y, lateral)
        return lateral

    def topography_nm(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """Height (nm) the tip apex rests on above sample point (x, y): dots dilated by the tip, plus Au.

        The World asks for the single point under the apex, often twice at one instant (the Z loop's target,
        then the apex distance): the last single point's height is remembered."""
        x = np.asarray(x_nm, float)
        y = np.asarray(y_nm, float)
        if x.shape == (1,) and y.shape == (1,):
            return np.array([self.height_at_nm(float(x[0]), float(y[0]))])
        return self._topography_nm(x, y)

    def height_at_nm(self, x_nm: float, y_nm: float) -> float:
        """``topography_nm`` of the single sample point (x, y) nm, as a float; the last point's is remembered."""
        last = self._last_point
        if last is not None and last[0] == x_nm and last[1] == y_nm:
            return last[2]
        if kernels.ENABLED:
            rough, e = self._rough, self.emitters
            height = twin_kernels.topography_at(float(x_nm), float(y_nm), rough.kx, rough.ky, rough.phase,
                                                rough.amplitude_nm, e.x_nm, e.y_nm, e.height_nm, *self._tip()[1])
        else:
            height = float(self._topography_nm(np.array([x_nm], float), np.array([y_nm], float))[0])
        self._last_point = (float(x_nm), float(y_nm), height)
        return height

    def _topography_nm(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        e = self.emitters
        if kernels.ENABLED:
            rough = self._rough
            x, y = np.broadcast_arrays(x, y)
            out = np.empty(x.shape)
            twin_kernels.topography_nm(x.ravel(), y.ravel(), rough.kx, rough.ky, rough.phase, rough.amplitude_nm,
                                       e.x_nm, e.y_nm, e.height_nm, *self._tip()[1], out.reshape(-1))
            return out
        height = self._rough.height_nm(x, y)
        if len(e) == 0:
            return height
        r = np.hypot(x[..., None] - e.x_nm, y[..., None] - e.y_nm)
        bumps = e.height_nm - apex_height_nm(np.maximum(r - 0.5 * e.height_nm, 0.0), self.params)
        return height + np.maximum(bumps, 0.0).max(axis=-1)

    def shear_amplitude(self, distance_nm: np.ndarray) -> np.ndarray:
        """Tuning-fork amplitude / free amplitude vs apex-to-surface distance (nm); 0 at or below contact."""
        return _shear_amplitude(distance_nm, self.params)

    def _strain_each(self, x_nm: float, y_nm: float, tip_z_nm: float) -> np.ndarray:
        """Compressive strain (%) of every dot for the tip apex at ``tip_z_nm`` above (x, y)."""
        e = self.emitters
        gap_to_dot = tip_z_nm + apex_height_nm(
            np.maximum(self._lateral_nm(x_nm, y_nm) - 0.5 * e.height_nm, 0.0), self.params)
        indentation = np.minimum(np.maximum(e.height_nm - gap_to_dot, 0.0), e.height_nm)
        return self.params.strain_kappa_percent * indentation / e.height_nm

    def strain_percent(self, x_nm: float, y_nm: float, tip_z_nm: float) -> float:
        """Largest compressive strain (%) the tip causes in any dot (0 when it touches none)."""
        strain = self._strain_each(x_nm, y_nm, tip_z_nm)
        return float(strain.max()) if strain.size else 0.0

    def pressure_GPa(self, x_nm: float, y_nm: float, tip_z_nm: float) -> float:
        """Local pressure (GPa) under the tip: 0.78 GPa at 1.34 % strain, linear."""
        return self.strain_percent(x_nm, y_nm, tip_z_nm) * self.params.pressure_GPa_per_percent

    # ------------------------------------------------------------------ emission
    def on_fraction(self, t0_s: float, dt_s: float) -> np.ndarray:
        """Fraction of [t0_s, t0_s + dt_s] each dot spends emitting (blinking ON)."""
        return self._on_fractions(t0_s, dt_s)

    def focus_factor(self, apex_offset_nm: tuple[float, float]) -> float:
        """Laser intensity at the tip apex relative to the focus centre (1 there): a 2-D Gaussian of FWHM
        ``focus_fwhm_nm`` in the apex offset (nm, x and y)."""
        dx, dy = apex_offset_nm
        return float(np.exp(-FOUR_LN2 * (dx * dx + dy * dy) / self.params.focus_fwhm_nm**2))

    def dot_rates(self, x_nm: float, y_nm: float, tip_z_nm: float, t0_s: float = 0.0, dt_s: float = 0.0,
                  apex_offset_nm: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
        """Total photons/s from each dot and each dot's emission energy (eV) for the tip apex over (x, y) nm,
        ``apex_offset_nm`` from the focus centre: the near field needs the tip and scales with the focus intensity
        at the apex; the far field comes from the focus wherever the tip is."""
        p = self.params
        e = self.emitters
        lateral = self._lateral_nm(x_nm, y_nm)
        near = lateral_coupling(lateral, p.lateral_fwhm_nm) * near_field_enhancement(tip_z_nm, p)
        dx, dy = apex_offset_nm
        if dx or dy:
            near = near * self.focus_factor(apex_offset_nm)
            lateral = self._lateral_nm(x_nm - dx, y_nm - dy)  # the dots' distance from the focus centre
        far = lateral_coupling(lateral, p.focus_fwhm_nm)
        rates = p.far_field_rate * e.orientation * self.on_fraction(t0_s, dt_s) * (far + near)
        energy = e.energy_eV + p.shift_eV_per_percent * self._strain_each(x_nm, y_nm, tip_z_nm)
        return rates, energy

    def plasmon_rate(self, x_nm: float, y_nm: float, tip_z_nm: float,
                     apex_offset_nm: tuple[float, float] = (0.0, 0.0)) -> float:
        """Total gap-plasmon photons/s: the tip over Au, excited by the focus intensity at the apex
        (``apex_offset_nm`` from its centre); a dot in the gap takes its place."""
        covered = lateral_coupling(self._lateral_nm(x_nm, y_nm), self.params.plasmon_block_fwhm_nm).sum()
        rate = float(plasmon_rate(tip_z_nm, self.params)) * max(0.0, 1.0 - float(covered))
        if apex_offset_nm[0] or apex_offset_nm[1]:
            rate *= self.focus_factor(apex_offset_nm)
        return rate

    def photon_rate(self, x_nm: float, y_nm: float, tip_z_nm: float, wavelength_nm: np.ndarray,
                    t0_s: float, dt_s: float, apex_offset_nm: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Expected photons/s in each CCD pixel (centres ``wavelength_nm``) before the long-pass filter.

        The tip apex is ``tip_z_nm`` above the Au plane over sample point (x, y) nm and ``apex_offset_nm`` from
        the laser focus centre (the focus is on sample point (x, y) minus that offset); blinking is averaged
        over the exposure [t0_s, t0_s + dt_s].
        """
        energy, width_eV = self._pixels(wavelength_nm)
        n = len(self.emitters)  # the lines' rows: the dots, then the gap plasmon
        rates, centres = np.empty(n + 1), np.empty(n + 1)
        if kernels.ENABLED:  # the same model in compiled steps
            e = self.emitters
            twin_kernels.dot_lines(e.x_nm, e.y_nm, e.height_nm, e.energy_eV, e.orientation,
                                   self.on_fraction(t0_s, dt_s), float(x_nm), float(y_nm), float(tip_z_nm),
                                   float(apex_offset_nm[0]), float(apex_offset_nm[1]), self.params.plasmon_center_eV,
                                   self._tip()[0], rates, centres)
            return self._spectrum_compiled(rates, centres, energy, width_eV)
        rates[:n], centres[:n] = self.dot_rates(x_nm, y_nm, tip_z_nm, t0_s, dt_s, apex_offset_nm)
        rates[n] = self.plasmon_rate(x_nm, y_nm, tip_z_nm, apex_offset_nm)
        centres[n] = self.params.plasmon_center_eV
        return (rates @ self._line_shapes(energy, centres)) * width_eV

    def _spectrum_compiled(self, rates: np.ndarray, centres_eV: np.ndarray, energy_eV: np.ndarray,
                           width_eV: np.ndarray) -> np.ndarray:
        """``(rates @ self._line_shapes(energy_eV, centres_eV)) * width_eV`` in compiled steps. The lines' shapes on
        the pixel axis are kept while the axis is the very array of the last call and the centres are equal to
        theirs (a scan with no dot pressed); centres that change from pixel to pixel (a pressed dot's strain) are
        read from the line table for the one spectrum, without the table of shapes."""
        out = np.empty(energy_eV.size)
        key = centres_eV.tobytes()
        last = self._last_shapes
        if last is not None and last[0] is energy_eV and last[1] == key:
            return twin_kernels.line_spectrum(rates, last[2], width_eV, out)
        if self._previous_centres == key:  # the same lines twice in a row: their shapes are worth keeping
            shapes = self._line_shapes(energy_eV, centres_eV)
            self._last_shapes = (energy_eV, key, shapes)
            return twin_kernels.line_spectrum(rates, shapes, width_eV, out)
        self._previous_centres = key
        table = self._lines
        return twin_kernels.line_spectrum_from_table(rates, centres_eV, energy_eV, width_eV, table.table,
                                                     table.start_eV, table.step_eV, out)

    def _line_densities(self, energy_eV: np.ndarray, centres_eV: np.ndarray) -> np.ndarray:
        """Density (1/eV) of each line (rows, centred on ``centres_eV``) at each pixel energy (columns)."""
        return self._lines.density(energy_eV[None, :] - centres_eV[:, None])

    # ------------------------------------------------------------------ truth
    def blink_switch_times_s(self, until_s: float) -> list[np.ndarray]:
        """Per dot, the times (s) its blinking state changes up to ``until_s``."""
        return [b.switch_times_s(until_s) for b in self._blink]

    def ground_truth(self) -> dict:
        """Emitter table and tip/sample parameters as plain numpy arrays and floats."""
        e = self.emitters
        p = self.params
        return {
            "x_nm": e.x_nm.copy(),
            "y_nm": e.y_nm.copy(),
            "height_nm": e.height_nm.copy(),
            "energy_eV": e.energy_eV.copy(),
            "wavelength_nm": HC_EV_NM / e.energy_eV,
            "orientation": e.orientation.copy(),
            "fwhm_eV": e.fwhm_eV.copy(),
            "lorentz_fwhm_eV": e.lorentz_fwhm_eV.copy(),
            # photons/s of each dot (when ON) under the tip at the threshold gap, and with no tip, in focus
            "peak_rate": p.far_field_rate * p.peak_enhancement * e.orientation,
            "far_field_rate_each": p.far_field_rate * e.orientation,
            "purcell_gain_at_2nm": float(purcell_gain(2.0, p)),
            "starts_on": np.array([b.starts_on for b in self._blink]),
            "mean_on_s": self.mean_on_s,
            "mean_off_s": self.mean_off_s,
            "scan_center_nm": np.array(SCAN_CENTER_NM),
            "scan_size_nm": SCAN_SIZE_NM,
            "bare_au_reference_nm": np.array(BARE_AU_REFERENCE_NM),
            "seed": self.seed,
            **{k: float(v) for k, v in p.as_dict().items()},
        }
