"""What every figure of a run shares: an Agg figure without pyplot, the title and file name it is saved
under, stage-position axes, a spectral run's photon-energy axis, and the attributes a run stores beside its
data (fits, optimum, step sizes). Used by ``tepl.plotting``, ``tepl.plotting_photons`` and
``tepl.plotting_rig``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from tepl.data.runfile import Run
from tepl.units import HC_EV_NM

TITLE_CHARS_PER_INCH = 13  # characters of a 10 pt title per inch of figure width, where titles are wrapped


def figure(n_rows: int = 1, n_cols: int = 1, size=(6.4, 4.8), **kw):
    """A constrained-layout matplotlib Figure (no pyplot, so safe from any thread) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, **kw)
    return fig, axes


def save(fig, out_dir: Path, stem: str, kind: str, run: Run, title: str | None = None) -> Path:
    """Title ``fig`` and write it as ``<stem>_<kind>.png``. The title is ``title`` (what the figure shows, in
    physical terms), followed by the run's status when it did not complete; without ``title``, the run's file,
    procedure and status."""
    status = run.status if not run.reason else f"{run.status}: {run.reason}"
    if title is None:
        fig.suptitle(f"{run.path.name} — {run.procedure} ({status})", fontsize=9)
    else:
        text = title if run.status == "complete" and not run.reason else f"{title} ({status})"
        fig.suptitle(textwrap.fill(text, width=int(fig.get_figwidth() * TITLE_CHARS_PER_INCH)), fontsize=10)
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


def stored_attrs(run: Run, name: str = "") -> dict[str, Any]:
    """The attributes of ``/entry/data/<name>`` (``/entry/data`` itself for ``""``, ``/entry`` for ``"/entry"``)
    as Python values (numbers, text, lists); {} when the file has no such object."""
    import h5py

    path = name if name.startswith("/") else f"/entry/data/{name}".rstrip("/")
    with h5py.File(run.path, "r", locking=False) as f:
        if path not in f:
            return {}
        out = {}
        for key, value in f[path].attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            elif isinstance(value, np.generic):
                value = value.item()
            elif isinstance(value, np.ndarray):
                value = [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
            out[key] = value
        return out
