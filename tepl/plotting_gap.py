"""Figures of spectra against the tip-sample gap (``distance-sweep`` and ``pressure-ramp`` runs), as
``tepl.plotting.plot_run`` draws them.

distance-sweep: spectra (spectra coloured by gap), approach (``maps.intensity_map`` vs gap). pressure-ramp:
contour (photon energy vs gap, pressing and releasing, stored fitted peak overlaid), pressure (photon energy vs
the live tip pressure, when the tip pressed), shift (peak shift from the unstrained plateau of
``summarize_ramp`` and fitted intensity vs gap). Gaps in nm, photon energies in eV, shifts in meV, pressure
in GPa; spectra are shown with cosmic-ray spikes removed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.analysis.maps import intensity_map, peak_energy_map
from tepl.data.runfile import Run
from tepl.plot_common import Panel, energy_eV, save_panels
from tepl.plot_spectra import cleaned, mean_spectrum, record_cosmics, signal_window_eV
from tepl.units import FIT_WINDOW_NM


# ------------------------------------------------------------------------------------- distance sweep
def _gap(run: Run, n: int) -> np.ndarray:
    return np.asarray(run.data.get("gap_nm", np.arange(n)), float)


def distance_sweep_panels(run: Run) -> dict[str, Panel]:
    from matplotlib import cm, colors

    spectra, spikes = cleaned(run.data["spectra"])
    gap = _gap(run, spectra.shape[0])
    energy = energy_eV(run)
    done = np.all(np.isfinite(spectra), axis=1) & np.isfinite(gap)
    window = signal_window_eV(energy, mean_spectrum(spectra))

    def draw_spectra(fig):
        ax = fig.subplots()
        if np.any(done):
            norm = colors.Normalize(np.min(gap[done]), max(np.max(gap[done]), np.min(gap[done]) + 1e-9))
            for i in np.flatnonzero(done):
                ax.plot(energy, spectra[i], color=cm.viridis(norm(gap[i])), lw=1)
            fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, label="tip-sample gap (nm)")
        ax.set_xlim(*window)
        ax.set_xlabel("photon energy (eV)")
        ax.set_ylabel("counts")
        record_cosmics(fig, spikes)

    def draw_approach(fig):
        ax = fig.subplots()
        ax.plot(gap[done], intensity_map(run.data["wavelength_nm"], spectra, FIT_WINDOW_NM)[done], "o-")
        ax.set_xlabel("tip-sample gap (nm)")
        ax.set_ylabel("integrated PL above background (counts)")
        record_cosmics(fig, spikes)

    return {"spectra": Panel("TEPL spectra as the tip approaches", draw_spectra),
            "approach": Panel("TEPL intensity vs tip-sample gap", draw_approach)}


def plot_distance_sweep(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(distance_sweep_panels(run), run, out_dir, stem, "TEPL distance sweep")


# -------------------------------------------------------------------------------------- pressure ramp
def _ramp_reference_eV(run: Run, center_eV: np.ndarray, gap: np.ndarray, direction: np.ndarray,
                       spectra: np.ndarray | None = None) -> tuple[float, str]:
    """The ramp's unstrained peak energy (``summarize_ramp``'s bright plateau before pressing, of ``spectra``:
    default the run's, or those with cosmic-ray spikes removed) and what it is; the first fitted step when the
    ramp has no such plateau (or no recorded gaps)."""
    from tepl.analysis.ramp import summarize_ramp

    if "gap_nm" in run.data:
        try:
            spectra = run.data["spectra"] if spectra is None else spectra
            summary = summarize_ramp(run.data["wavelength_nm"], spectra, gap, direction,
                                     window_nm=FIT_WINDOW_NM)
            return summary.reference_eV, "the unstrained plateau"
        except ValueError:
            pass
    finite = np.flatnonzero(np.isfinite(center_eV))
    return (float(center_eV[finite[0]]) if finite.size else np.nan), "the first fitted step"


def _ramp_peaks(run: Run, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(peak energy eV, fitted peak area) per step from ``spectra`` (cosmic-ray spikes removed), and whether
    energies the run stored are shown: the run's own (live) fit where it has one and the step's spectrum had no
    spike; a step whose spectrum lost a spike is fitted again here (the live fit saw the spike, which can pull a
    broad peak by several meV), as is every step of a run without a stored fit."""
    fit = peak_energy_map(run.data["wavelength_nm"], spectra, FIT_WINDOW_NM)
    if "peak_energy_eV" not in run.data:
        return fit.center_eV, fit.amplitude, False
    energies = np.array(run.data["peak_energy_eV"], float)
    raw = np.asarray(run.data["spectra"], float)
    despiked = np.any((raw != spectra) & np.isfinite(raw), axis=-1)
    energies[despiked] = fit.center_eV[despiked]
    return energies, fit.amplitude, True


def _ramp_contour(ax, fig, x, energy, spectra, sel, peaks, window, xlabel, gid, norm):
    order = np.flatnonzero(sel)[np.argsort(x[sel], kind="stable")]
    mesh = ax.pcolormesh(x[order], energy, np.ma.masked_invalid(spectra[order].T), cmap="inferno",
                         shading="nearest", norm=norm)
    ax.plot(x[order], peaks[order], "o", ms=3, mfc="none", color="cyan", label="fitted peak", gid=gid)
    ax.set_ylim(*window)
    ax.set_xlabel(xlabel)
    return mesh


def pressure_ramp_panels(run: Run) -> dict[str, Panel]:
    from matplotlib import colors

    spectra, spikes = cleaned(run.data["spectra"])
    n = spectra.shape[0]
    gap = _gap(run, n)
    direction = np.asarray(run.data.get("direction", np.ones(n)), float)
    energy = energy_eV(run)
    peaks, area, stored = _ramp_peaks(run, spectra)
    gid = "fit:peak_energy_eV" if stored else "peak_energy"
    window = signal_window_eV(energy, np.nanmax(np.where(np.isfinite(spectra), spectra, np.nan), axis=0)
                              if np.isfinite(spectra).any() else mean_spectrum(spectra))
    in_window = (energy >= window[0]) & (energy <= window[1])
    shown = spectra[:, in_window]
    top = float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0
    low = float(np.nanmin(shown)) if np.isfinite(shown).any() else 0.0
    norm = colors.Normalize(low, max(top, low + 1.0))
    pressure = np.asarray(run.data.get("pressure_GPa", np.zeros(n)), float)

    def draw_contour(fig):
        axes = fig.subplots(1, 2, sharey=True)
        mesh = None
        for ax, sign, what in ((axes[0], 1, "pressing"), (axes[1], -1, "releasing")):
            sel = (direction == sign) & np.isfinite(gap)
            if sel.any():
                mesh = _ramp_contour(ax, fig, gap, energy, spectra, sel, peaks, window,
                                     "tip-sample gap (nm)", gid, norm)
            ax.set_title(what)
            ax.set_xlabel("tip-sample gap (nm)")
        axes[0].invert_xaxis()  # pressing: the gap closes from left to right
        axes[0].set_ylabel("photon energy (eV)")
        axes[0].legend(loc="upper right", labelcolor="white")
        if mesh is not None:
            fig.colorbar(mesh, ax=axes, label="counts")
        record_cosmics(fig, spikes)

    panels = {"contour": Panel("TEPL spectra of the pressure ramp vs tip-sample gap", draw_contour, (8.4, 4.2))}
    pressed = (pressure > 0) & np.isfinite(pressure) & (direction == 1)
    if pressed.sum() >= 3:
        def draw_pressure(fig):
            ax = fig.subplots()
            mesh = _ramp_contour(ax, fig, pressure, energy, spectra, pressed, peaks, window,
                                 "tip pressure (GPa, live)", gid, norm)
            fig.colorbar(mesh, ax=ax, label="counts")
            ax.set_ylabel("photon energy (eV)")
            ax.legend(loc="upper right", labelcolor="white")
            record_cosmics(fig, spikes)
        panels["pressure"] = Panel("TEPL spectra vs tip pressure while pressing", draw_pressure, (6.0, 4.2))

    def draw_shift(fig):
        ax_shift, ax_int = fig.subplots(2, 1, sharex=True)
        reference, from_what = _ramp_reference_eV(run, peaks, gap, direction, spectra)
        shift_meV = (peaks - reference) * 1000.0
        styles = ((1, "pressing", dict(marker="v", ls="-", color="tab:red", ms=6)),
                  (-1, "releasing", dict(marker="^", ls="--", color="tab:blue", ms=4, mfc="none")))
        for sign, label, style in styles:
            sel = direction == sign
            if np.any(sel):
                ax_shift.plot(gap[sel], shift_meV[sel], label=label, gid=f"shift {label}", **style)
                ax_int.plot(gap[sel], area[sel], label=label, **style)
        ax_shift.axhline(0.0, color="0.6", lw=0.8)
        ax_shift.set_ylabel(f"peak shift from\n{from_what} (meV)")
        ax_int.set_ylabel("fitted peak area (counts)")
        ax_int.set_xlabel("tip-sample gap (nm)")
        ax_int.invert_xaxis()
        ax_shift.legend()
        record_cosmics(fig, spikes)

    panels["shift"] = Panel("Peak shift and intensity vs tip-sample gap", draw_shift, (6.0, 5.6))
    return panels


def plot_pressure_ramp(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(pressure_ramp_panels(run), run, out_dir, stem, "TEPL pressure ramp")
