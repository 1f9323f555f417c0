"""Figures of single spectra: the calibration lamp (``calibrate`` runs) with its identified lines, and the
spectrum (or each frame) of any other run with spectra on a wavelength axis (``import-sif`` and the rest), as
``tepl.plotting.plot_run`` draws them. Wavelengths in nm, with photon energy (eV) on the top axis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.data.runfile import Run
from tepl.plot_common import Panel, save_panels
from tepl.plot_spectra import cleaned, mean_spectrum, record_cosmics
from tepl.units import HC_EV_NM

LABEL_GAP_PT = 9.0  # least distance between two calibration-line labels (points)


# -------------------------------------------------------------------------------------------- calibrate
def spread_labels(positions: np.ndarray, min_gap: float) -> np.ndarray:
    """Label positions as near ``positions`` (sorted ascending) as possible with at least ``min_gap``
    between neighbours: overlapping groups are spread evenly about their mean, merging until none overlap."""
    positions = np.asarray(positions, float)
    groups = [[p] for p in positions]
    changed = True
    while changed:
        changed = False
        starts = [float(np.mean(group)) - 0.5 * min_gap * (len(group) - 1) for group in groups]
        for i in range(len(groups) - 1):
            end_i = starts[i] + min_gap * (len(groups[i]) - 1)
            if starts[i + 1] - end_i < min_gap - 1e-12:
                groups[i] = groups[i] + groups.pop(i + 1)
                changed = True
                break
    placed = []
    for group in groups:
        start = float(np.mean(group)) - 0.5 * min_gap * (len(group) - 1)
        placed += [start + k * min_gap for k in range(len(group))]
    return np.asarray(placed)


def calibrate_panels(run: Run) -> dict[str, Panel]:
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectrum = mean_spectrum(run.data["spectra"])
    lines = np.array([])
    for name in ("line_wavelength_nm", "lines_nm"):
        if name in run.data:
            lines = np.asarray(run.data[name], float)
            break
    lines = np.sort(lines[np.isfinite(lines)])
    size = (8.0, 4.8)

    def draw(fig):
        ax = fig.subplots()
        ax.plot(wl, spectrum, lw=1, color="k")
        ax.set_xlim(wl.min(), wl.max())
        finite = np.isfinite(spectrum)
        top = float(np.nanmax(spectrum)) if finite.any() else 1.0
        bottom = float(np.nanmin(spectrum)) if finite.any() else 0.0
        ax.set_ylim(bottom - 0.02 * (top - bottom), top + 0.32 * (top - bottom))  # room for the labels
        width_pt = fig.get_figwidth() * 72.0 * 0.85
        min_gap = LABEL_GAP_PT / width_pt * (wl.max() - wl.min())
        placed = spread_labels(lines, min_gap)
        label_y = top + 0.10 * (top - bottom)
        for i, (line, at) in enumerate(zip(lines, placed, strict=True)):
            ax.axvline(line, color="tab:red", lw=0.6, ls=":", ymax=0.76, gid="identified line" if i else
                       "identified lines")
            ax.annotate(f"{line:.2f}", xy=(line, top + 0.02 * (top - bottom)), xytext=(at, label_y),
                        rotation=90, va="bottom", ha="center", fontsize=6.5, color="tab:red",
                        arrowprops=dict(arrowstyle="-", color="tab:red", lw=0.5, shrinkA=0, shrinkB=0))
        ax.set_xlabel("wavelength (nm, calibrated)")
        ax.set_ylabel("counts")
        secondary = ax.secondary_xaxis("top", functions=(_nm_to_eV, _nm_to_eV))
        secondary.set_xlabel("photon energy (eV)")

    title = f"Ar–Hg lamp spectrum with the {lines.size} identified lines (nm)"
    return {"lamp": Panel(title, draw, size)}


def plot_calibrate(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(calibrate_panels(run), run, out_dir, stem)


# --------------------------------------------------------------------------------------------- spectrum
def spectrum_panels(run: Run) -> dict[str, Panel]:
    if run.signal is None or run.signal not in run.data or "wavelength_nm" not in run.data:
        raise ValueError(f"{run.path}: no spectra with a wavelength_nm axis to plot "
                         f"(procedure {run.procedure!r})")
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectra, spikes = cleaned(np.asarray(run.data[run.signal], float).reshape(-1, wl.size))

    def draw(fig):
        ax = fig.subplots()
        if spectra.shape[0] <= 10:
            for i, spectrum in enumerate(spectra):
                ax.plot(wl, spectrum, lw=1, label=f"frame {i}" if spectra.shape[0] > 1 else None)
            if spectra.shape[0] > 1:
                ax.legend()
        else:
            ax.plot(wl, mean_spectrum(spectra), lw=1, label=f"mean of {spectra.shape[0]} spectra")
            ax.legend()
        ax.set_xlim(wl.min(), wl.max())  # also without finite counts, where autoscaling would reach 0 nm
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel(run.units.get(run.signal) or "counts")
        top = ax.secondary_xaxis("top", functions=(_nm_to_eV, _nm_to_eV))
        top.set_xlabel("photon energy (eV)")
        record_cosmics(fig, spikes)

    what = "Imported spectrum" if run.procedure.startswith("import") else "Spectrum"
    return {"spectrum": Panel(f"{what}{'s' if spectra.shape[0] > 1 else ''} ({run.procedure})", draw)}


def plot_spectrum(run: Run, out_dir: Path, stem: str) -> list[Path]:
    return save_panels(spectrum_panels(run), run, out_dir, stem)


def _nm_to_eV(x):
    x = np.asarray(x, float)
    with np.errstate(divide="ignore"):
        return np.where(x > 0, HC_EV_NM / np.where(x > 0, x, 1.0), np.inf)
