"""Physical constants and spectral defaults shared by the analysis, plotting and import code."""

from __future__ import annotations

HC_EV_NM = 1239.84198
"""h·c in eV·nm: photon energy (eV) = HC_EV_NM / vacuum wavelength (nm)."""

FIT_WINDOW_NM = (640.0, 800.0)
"""Default peak-fit and intensity window (nm): red of the 633 nm long-pass filter (its edge sits near
636 nm on the rig, so a band cut by the filter is used only on its undistorted red side), wide enough to
cover the quantum-dot and gap-plasmon emission."""


_SI_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def si_text(value: float, unit: str, digits: int = 4) -> str:
    """``value`` in words with the SI prefix of its size (k, M, G; none below 1000) before ``unit``, to
    ``digits`` significant digits: ``si_text(113200, "counts/s")`` is ``"113.2 kcounts/s"``."""
    for scale, prefix in _SI_PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"
