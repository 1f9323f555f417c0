"""Pieces several procedures share: spectral axes, spot approach, live peak fits, travel checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.roles import LimitError, Range
from tepl.units import FIT_WINDOW_NM, HC_EV_NM


def add_spectral_axes(recorder: Any, wavelength_nm: np.ndarray) -> None:
    """``wavelength_nm`` axis and its auxiliary ``energy_eV`` axis on the same dimension."""
    recorder.add_axis("wavelength_nm", wavelength_nm, "nm")
    recorder.add_axis("energy_eV", HC_EV_NM / np.asarray(wavelength_nm, float), "eV", dim="wavelength_nm")


def check_stage_point(station: Any, x_um: float, y_um: float, what: str = "spot") -> str:
    """Refuse an XY point outside the stage travel; return the check's description."""
    travel = station.limits["stage_travel_um"]
    Range(*travel["x"], unit="µm").check(x_um, f"{what} x")
    Range(*travel["y"], unit="µm").check(y_um, f"{what} y")
    return f"{what} ({x_um:g}, {y_um:g}) µm inside stage travel"


def check_exposure(station: Any, exposure_s: float) -> str:
    Range(*station.limits["exposure_s"], unit="s").check(exposure_s, "exposure")
    return f"exposure {exposure_s:g} s inside {station.limits['exposure_s']} s"


def check_fit_window(station: Any) -> str:
    """Procedures that fit peaks live need the spectrometer to cover most of the fit window."""
    wl = station.spectrometer.wavelengths_nm()
    low, high = max(FIT_WINDOW_NM[0], float(wl.min())), min(FIT_WINDOW_NM[1], float(wl.max()))
    if high - low < 0.5 * (FIT_WINDOW_NM[1] - FIT_WINDOW_NM[0]):
        raise LimitError(
            f"the spectrometer covers {wl.min():.0f}-{wl.max():.0f} nm, but live peak fits need most of "
            f"{FIT_WINDOW_NM[0]:.0f}-{FIT_WINDOW_NM[1]:.0f} nm: set center_wavelength_nm near 700 nm")
    return f"spectrometer covers the {FIT_WINDOW_NM[0]:.0f}-{FIT_WINDOW_NM[1]:.0f} nm fit window"


def check_acquisition(station: Any, acquisition_s: float) -> str:
    """Refuse a photon-counting time outside the station's limits."""
    Range(*station.limits["acquisition_s"], unit="s").check(acquisition_s, "acquisition time")
    return f"acquisition {acquisition_s:g} s inside {station.limits['acquisition_s']} s"


def check_sync(station: Any) -> str:
    """T3 (TCSPC) measurements need laser pulses on the sync input."""
    sync_hz, _ = station.tcspc.count_rates()
    if not sync_hz > 0:
        raise LimitError("the TCSPC sync input sees no laser pulses (CW laser or no sync cable): TCSPC decays "
                         "need a pulsed laser")
    return f"laser sync at {sync_hz / 1e6:.3g} MHz"


def move_to_spot(ctx: Any, x_um: float, y_um: float) -> None:
    """Move the sample so (x, y) is under the focus (stations without a tip)."""
    ctx.station.stage.move_and_wait_um(x=x_um, y=y_um)
    ctx.log(f"at ({x_um:.4f}, {y_um:.4f}) µm")


def check_gaps(station: Any, gaps_nm: np.ndarray) -> str:
    rng = Range(*station.limits["tip_z_nm"], unit="nm")
    for gap in (float(np.min(gaps_nm)), float(np.max(gaps_nm))):
        rng.check(gap, "tip-sample gap")
    return f"gaps {np.min(gaps_nm):g}..{np.max(gaps_nm):g} nm inside tip z range {station.limits['tip_z_nm']} nm"


def check_press_depth(station: Any, contact_z_nm: float, lowest_gap_nm: float) -> None:
    """After engaging: refuse a press deeper than the configured depth below the contact point."""
    depth = contact_z_nm - lowest_gap_nm
    limit = float(station.limits["max_press_depth_nm"])
    if depth > limit:
        raise LimitError(
            f"press depth {depth:.2f} nm (contact at {contact_z_nm:.2f} nm, lowest gap {lowest_gap_nm:.2f} nm) "
            f"exceeds limits.max_press_depth_nm = {limit:g} nm"
        )


def approach_spot(ctx: Any, x_um: float, y_um: float) -> float:
    """Move the sample so (x, y) is under the tip, engage the shear-force loop; return contact z (nm)."""
    st = ctx.station
    st.zcontrol.retract()
    st.stage.move_and_wait_um(x=x_um, y=y_um)
    contact_z_nm = st.zcontrol.engage()
    ctx.log(f"engaged at ({x_um:.4f}, {y_um:.4f}) µm, contact z = {contact_z_nm:.2f} nm")
    return contact_z_nm


def live_fit(wavelength_nm: np.ndarray, spectra: np.ndarray):
    """Peak fits used live (one line or one step at a time)."""
    from tepl.analysis.peaks import fit_peaks

    return fit_peaks(wavelength_nm, np.atleast_2d(spectra), window_nm=FIT_WINDOW_NM)
