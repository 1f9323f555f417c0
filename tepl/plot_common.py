"""What every figure of a run shares: an Agg figure without pyplot, the title and file name it is saved
under, stage-position axes, and a spectral run's photon-energy axis. Used by ``tepl.plotting`` and
``tepl.plotting_photons``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.data.runfile import Run
from tepl.units import HC_EV_NM


def figure(n_rows: int = 1, n_cols: int = 1, size=(6.4, 4.8), **kw):
    """A constrained-layout matplotlib Figure (no pyplot, so safe from any thread) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, **kw)
    return fig, axes


def save(fig, out_dir: Path, stem: str, kind: str, run: Run) -> Path:
    """Title ``fig`` with the run's file, procedure and status and write it as ``<stem>_<kind>.png``."""
    status = run.status if not run.reason else f"{run.status}: {run.reason}"
    fig.suptitle(f"{run.path.name} — {run.procedure} ({status})", fontsize=9)
    path = out_dir / f"{stem}_{kind}.png"
    fig.savefig(path, dpi=110)
    return path


def energy_eV(run: Run) -> np.ndarray:
    """The run's photon-energy axis (eV): the stored ``energy_eV``, else from ``wavelength_nm``."""
    if "energy_eV" in run.data:
        return np.asarray(run.data["energy_eV"], float)
    return HC_EV_NM / np.asarray(run.data["wavelength_nm"], float)


def stage_axes(ax, *names: str, prefix: str = "") -> None:
    """Label ``ax``'s horizontal then vertical axis as the stage positions ``names`` (``"x"``, ``"y"``) in µm,
    as the run files store them (absolute stage µm), with plain tick labels: every map, TEPL or confocal,
    is drawn this way. ``prefix`` goes before the first label ("position along the line, ")."""
    for i, (name, axis) in enumerate(zip(names, (ax.xaxis, ax.yaxis), strict=False)):
        axis.set_label_text(f"{prefix if i == 0 else ''}{name} (µm)")
        axis.get_major_formatter().set_useOffset(False)
