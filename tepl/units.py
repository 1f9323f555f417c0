"""Physical constants and spectral defaults shared by the analysis, plotting and import code."""

from __future__ import annotations

HC_EV_NM = 1239.84198
"""h·c in eV·nm: photon energy (eV) = HC_EV_NM / vacuum wavelength (nm)."""

FIT_WINDOW_NM = (640.0, 800.0)
"""Default peak-fit and intensity window (nm): red of the 633 nm long-pass filter (its edge sits near
636 nm on the rig, so a band cut by the filter is used only on its undistorted red side), wide enough to
cover the quantum-dot and gap-plasmon emission."""
