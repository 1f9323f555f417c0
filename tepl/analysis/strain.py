"""Tip-induced strain, pressure and force from a single dot's PL peak shift (paper 000, Fig. 5b).

DFT for CsPbBrI2 strained along c: the bandgap falls close to linearly with compressive strain, about
45 meV per 1 %; 1.34 % corresponds to ~60 meV and a stress of 0.78 GPa; Poisson ratio 0.143. The tip
indents ~10 nm^2, so force = pressure x contact area (1 GPa on 1 nm^2 is 1 nN).

Sign convention: compressive strain is positive; a redshift is a negative ``shift_eV``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class StrainModel:
    """Constants of the strain scale; override any of them from the station config (``from_config``)."""

    shift_eV_per_percent: float = -0.045  # bandgap change per 1 % compressive strain
    reference_strain_percent: float = 1.34
    reference_pressure_GPa: float = 0.78  # stress at the reference strain
    poisson_ratio: float = 0.143
    contact_area_nm2: float = 10.0  # tip indentation area

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value):
                raise ValueError(f"StrainModel.{f.name} must be finite, got {value}")
        if self.shift_eV_per_percent == 0:
            raise ValueError("StrainModel.shift_eV_per_percent must be non-zero")
        if self.reference_strain_percent <= 0 or self.reference_pressure_GPa <= 0:
            raise ValueError("StrainModel reference strain and pressure must be positive")
        if self.contact_area_nm2 <= 0:
            raise ValueError(f"StrainModel.contact_area_nm2 must be positive, got {self.contact_area_nm2}")

    @classmethod
    def from_config(cls, config: Mapping[str, float] | None) -> StrainModel:
        """Defaults overridden by the keys of ``config`` (a mapping from the station config)."""
        config = dict(config or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown strain model keys {unknown}; known: {sorted(known)}")
        return cls(**{k: float(v) for k, v in config.items()})

    @property
    def pressure_GPa_per_percent(self) -> float:
        return self.reference_pressure_GPa / self.reference_strain_percent


DEFAULT_MODEL = StrainModel()


def _as_output(value: np.ndarray) -> float | np.ndarray:
    return float(value) if np.ndim(value) == 0 else value


def _finite(value, name: str) -> np.ndarray:
    array = np.asarray(value, float)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def strain_percent_from_shift(shift_eV: float | np.ndarray,
                              model: StrainModel = DEFAULT_MODEL) -> float | np.ndarray:
    """Compressive strain (%) from the PL peak shift (eV, negative = redshift): 62 meV red -> 1.38 %."""
    return _as_output(_finite(shift_eV, "shift_eV") / model.shift_eV_per_percent)


def shift_eV_from_strain(strain_percent: float | np.ndarray,
                         model: StrainModel = DEFAULT_MODEL) -> float | np.ndarray:
    """PL peak shift (eV) expected for a compressive strain (%)."""
    return _as_output(_finite(strain_percent, "strain_percent") * model.shift_eV_per_percent)


def pressure_GPa_from_strain(strain_percent: float | np.ndarray,
                             model: StrainModel = DEFAULT_MODEL) -> float | np.ndarray:
    """Uniaxial pressure (GPa) for a compressive strain (%): 1.34 % -> 0.78 GPa, linear."""
    return _as_output(_finite(strain_percent, "strain_percent") * model.pressure_GPa_per_percent)


def strain_percent_from_pressure(pressure_GPa: float | np.ndarray,
                                 model: StrainModel = DEFAULT_MODEL) -> float | np.ndarray:
    """Compressive strain (%) for a pressure (GPa)."""
    return _as_output(_finite(pressure_GPa, "pressure_GPa") / model.pressure_GPa_per_percent)


def force_nN_from_pressure(pressure_GPa: float | np.ndarray,
                           contact_area_nm2: float | None = None,
                           model: StrainModel = DEFAULT_MODEL) -> float | np.ndarray:
    """Tip force (nN) = pressure (GPa) x contact area (nm^2); the area defaults to the model's 10 nm^2."""
    area = model.contact_area_nm2 if contact_area_nm2 is None else float(contact_area_nm2)
    if not np.isfinite(area) or area <= 0:
        raise ValueError(f"contact_area_nm2 must be positive, got {contact_area_nm2}")
    return _as_output(_finite(pressure_GPa, "pressure_GPa") * area)


def lateral_strain_percent(strain_percent: float | np.ndarray,
                           model: StrainModel = DEFAULT_MODEL) -> float | np.ndarray:
    """In-plane tensile strain (%) accompanying a compressive strain along c (Poisson ratio)."""
    return _as_output(_finite(strain_percent, "strain_percent") * model.poisson_ratio)
