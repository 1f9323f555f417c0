"""What every figure of a run shares: the one matplotlib style (``tepl.mplstyle``, shipped with the package),
panels drawn into a figure or into one cell of a summary figure, the title and file name a figure is saved
under with the processing notes it records (cosmic rays removed), map axes relative to the map with a scale
bar, a spectral run's photon-energy axis, streaming of large datasets one row at a time, and the attributes
a run stores beside its data (fits, optimum, step sizes). Used by ``tepl.plotting``,
``tepl.plotting_photons`` and ``tepl.plotting_rig``.

Figures are matplotlib ``Figure`` objects drawn without pyplot (safe from any thread). Fitted curves are
drawn from what the file stores and carry a ``gid`` starting ``"fit:"`` so they can be read back.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tepl.data.runfile import Run
from tepl.units import HC_EV_NM

STYLE_PATH = Path(__file__).with_name("tepl.mplstyle")
TITLE_CHARS_PER_INCH = 13  # characters of a 10 pt title per inch of figure width, where titles are wrapped
SAVE_DPI = 110
NOTES_ATTR = "_tepl_notes"


@contextmanager
def styled() -> Iterator[None]:
    """Draw and save within the package's matplotlib style (``tepl/tepl.mplstyle``); matplotlib's global
    settings are restored afterwards."""
    import matplotlib

    with matplotlib.rc_context(fname=str(STYLE_PATH)):
        yield


@dataclass
class Panel:
    """One figure's content: ``draw(fig)`` draws it into a matplotlib Figure or SubFigure; ``title`` says in
    physical terms what it shows; ``size`` (inches) is its size as a figure of its own."""

    title: str
    draw: Callable[[Any], None]
    size: tuple[float, float] = (6.4, 4.8)


def render(panel: Panel):
    """The panel drawn into a constrained-layout Figure of its own size (in the package style)."""
    from matplotlib.figure import Figure

    with styled():
        fig = Figure(figsize=panel.size, layout="constrained")
        panel.draw(fig)
    return fig


def figure(n_rows: int = 1, n_cols: int = 1, size=(6.4, 4.8), **kw):
    """A constrained-layout matplotlib Figure (no pyplot, so safe from any thread) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, **kw)
    return fig, axes


def note(fig, text: str) -> None:
    """Record on ``fig`` (a Figure or SubFigure) a processing step its data went through before display (e.g.
    the cosmic rays removed); the notes are printed under the figure's title."""
    notes = getattr(fig, NOTES_ATTR, [])
    if text not in notes:
        notes.append(text)
    setattr(fig, NOTES_ATTR, notes)


def notes_of(fig) -> list[str]:
    """The processing notes recorded on ``fig`` and on its subfigures, in order."""
    found = list(getattr(fig, NOTES_ATTR, []))
    for sub in getattr(fig, "subfigs", []):
        found += [n for n in notes_of(sub) if n not in found]
    return found


def _title_text(fig, title: str, run: Run | None, notes: list[str]) -> str:
    text = title
    if run is not None and (run.status != "complete" or run.reason):
        status = run.status if not run.reason else f"{run.status}: {run.reason}"
        text = f"{title} ({status})"
    width = max(20, int(fig.get_figwidth() * TITLE_CHARS_PER_INCH)) if hasattr(fig, "get_figwidth") else 80
    lines = [textwrap.fill(text, width=width)] + [textwrap.fill(n, width=int(width * 1.1)) for n in notes]
    return "\n".join(lines)


def title_panel(fig, title: str, run: Run | None = None, size: float = 10) -> None:
    """Give ``fig`` (Figure or SubFigure) its suptitle: ``title``, the run's status when it did not complete,
    and the processing notes recorded on it."""
    fig.suptitle(_title_text(fig, title, run, notes_of(fig)), fontsize=size)


def save(fig, out_dir: Path, stem: str, kind: str, run: Run, title: str | None = None) -> Path:
    """Title ``fig`` and write it as ``<stem>_<kind>.png``. The title is ``title`` (what the figure shows, in
    physical terms; the procedure's name when none is given), followed by the run's status when it did not
    complete and by the processing notes recorded on the figure."""
    if title is None:
        title = run.procedure.replace("-", " ").capitalize()
    title_panel(fig, title, run)
    path = Path(out_dir) / f"{stem}_{kind}.png"
    with styled():
        fig.savefig(path, dpi=SAVE_DPI)
    return path


def save_panels(panels: Mapping[str, Panel], run: Run, out_dir: Path, stem: str,
                summary_title: str | None = None) -> list[Path]:
    """Each panel as its own figure ``<stem>_<kind>.png``, then (with two or more panels and a
    ``summary_title``) all of them on one multi-panel figure ``<stem>_summary.png``."""
    paths = [save(render(panel), out_dir, stem, kind, run, panel.title) for kind, panel in panels.items()]
    if summary_title is not None and len(panels) >= 2:
        paths.append(save(summary_figure(panels, run), out_dir, stem, "summary", run, summary_title))
    return paths


def summary_figure(panels: Mapping[str, Panel], run: Run | None = None, n_cols: int = 2):
    """The panels side by side (``n_cols`` per row), each in its own sub-figure with its title and a panel
    letter, drawn by the same code as their own figures (so their lines are the same)."""
    from matplotlib.figure import Figure

    items = list(panels.values())
    n_cols = min(n_cols, len(items))
    n_rows = -(-len(items) // n_cols)
    widths = [max(p.size[0] for p in items[c::n_cols]) for c in range(n_cols)]
    heights = [max(p.size[1] for p in items[r * n_cols:(r + 1) * n_cols]) + 0.3 for r in range(n_rows)]
    with styled():
        fig = Figure(figsize=(sum(widths), sum(heights) + 0.5), layout="constrained")
        subs = np.atleast_2d(fig.subfigures(n_rows, n_cols, width_ratios=widths, height_ratios=heights,
                                            squeeze=False))
        for i, panel in enumerate(items):
            sub = subs[i // n_cols, i % n_cols]
            panel.draw(sub)
            letter = "abcdefghijklmnopqrstuvwxyz"[i]
            sub.suptitle(f"({letter}) {panel.title}", fontsize=9, x=0.02, ha="left")
        for sub in subs.ravel()[len(items):]:
            sub.set_visible(False)
    return fig


def energy_eV(run: Run) -> np.ndarray:
    """The run's photon-energy axis (eV): the stored ``energy_eV``, else from ``wavelength_nm``."""
    if "energy_eV" in run.data:
        return np.asarray(run.data["energy_eV"], float)
    return HC_EV_NM / np.asarray(run.data["wavelength_nm"], float)


def stage_axes(ax, *names: str, prefix: str = "") -> None:
    """Label ``ax``'s horizontal then vertical axis as the stage positions ``names`` (``"x"``, ``"y"``) in µm,
    as the run files store them (absolute stage µm), with plain tick labels. ``prefix`` goes before the first
    label ("position along the line, ")."""
    for i, (name, axis) in enumerate(zip(names, (ax.xaxis, ax.yaxis), strict=False)):
        axis.set_label_text(f"{prefix if i == 0 else ''}{name} (µm)")
        axis.get_major_formatter().set_useOffset(False)


@dataclass(frozen=True)
class MapFrame:
    """A map's axes relative to its centre: ``x``/``y`` pixel centres in ``unit`` (nm below 2 µm of span,
    else µm) from the centre ``center_um`` (absolute stage µm)."""

    x: np.ndarray
    y: np.ndarray
    unit: str
    center_um: tuple[float, float]

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """imshow extent (pixel edges) of the map."""
        def edges(v: np.ndarray) -> tuple[float, float]:
            step = float(v[1] - v[0]) if v.size > 1 else 1.0
            return float(v[0] - step / 2), float(v[-1] + step / 2)
        return (*edges(self.x), *edges(self.y))


def map_frame(x_um, y_um) -> MapFrame:
    """The relative frame of a map with stage axes ``x_um``, ``y_um`` (absolute µm)."""
    x_um, y_um = np.asarray(x_um, float), np.asarray(y_um, float)
    center = (float((x_um.min() + x_um.max()) / 2), float((y_um.min() + y_um.max()) / 2))
    span = max(np.ptp(x_um), np.ptp(y_um))
    scale, unit = (1000.0, "nm") if span < 2.0 else (1.0, "µm")
    return MapFrame((x_um - center[0]) * scale, (y_um - center[1]) * scale, unit, center)


def nice_length(span: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) near a fifth of ``span``."""
    target = max(span, 1e-12) / 5.0
    power = 10.0 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target * 1.5))


def map_axes(ax, frame: MapFrame, bar_colour: str = "white") -> None:
    """Label ``ax`` as a map in ``frame`` (relative axes, the centre's stage position in the labels) and draw a
    scale bar of a round length in its lower left corner."""
    from matplotlib import patheffects
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    cx, cy = frame.center_um
    ax.set_xlabel(f"x from {cx:.3f} µm ({frame.unit})")
    ax.set_ylabel(f"y from {cy:.3f} µm ({frame.unit})")
    ax.set_aspect("equal")
    span = float(max(np.ptp(frame.x), np.ptp(frame.y), 1e-9))
    length = nice_length(span)
    label = f"{length:g} {frame.unit}"
    bar = AnchoredSizeBar(ax.transData, length, label, "lower left", pad=0.4, color=bar_colour, frameon=False,
                          size_vertical=span / 80.0, fontproperties={"size": 8})
    halo = "black" if bar_colour == "white" else "white"
    bar.txt_label._text.set_path_effects([patheffects.withStroke(linewidth=1.5, foreground=halo)])
    ax.add_artist(bar)
    ax.scale_bar_length = length  # read back by tests


def rows(data: Mapping[str, Any], name: str) -> Iterator[np.ndarray]:
    """The rows (first index) of ``data[name]`` as float arrays, one at a time, so a dataset left on disk
    (``read_run(..., lazy_above_bytes=...)``) is never read whole."""
    ds = data[name]
    for i in range(ds.shape[0]):
        yield np.asarray(ds[i], float)


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
