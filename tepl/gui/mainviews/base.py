"""What a run's main view is: ``MainView`` takes the writes of the datasets it shows (``handlers``), keeps the
newest values, and draws them on the ``MainWidgets`` when the views redraw: the curve view (the latest spectrum,
unless the view says otherwise) and the main view (its values as an image or a curve)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PyQt5.QtCore import QRectF

from tepl.gui.mainviews.widgets import MainWidgets
from tepl.gui.panels.base import Handler


def is_position(index: Any) -> bool:
    """True for a plain non-negative integer index (a pixel, line, step or frame number)."""
    return isinstance(index, (int, np.integer)) and not isinstance(index, bool) and index >= 0


def last_spectrum(value: np.ndarray) -> np.ndarray:
    """The last spectrum of a write: the spectrum itself, or the last of a block of spectra."""
    return value if value.ndim == 1 else value.reshape(-1, value.shape[-1])[-1]


def axis_label(name: str, prefix: str = "") -> str:
    """``x_um`` -> "x (µm)", ``lag_ns`` -> "lag (ns)": an axis name as a plot label."""
    quantity, _, unit = name.rpartition("_")
    unit = {"um": "µm"}.get(unit, unit)
    return f"{prefix}{quantity} ({unit})" if quantity else name


class MainView:
    """The main and curve views of one run. ``handlers`` maps a dataset to what takes its writes; a write sets
    ``dirty``. ``saw_point(key)`` tells the views which point of the plan a write was at, when its index alone
    does not say (a pixel of a confocal line). ``draws_curve`` is True when the main view draws a curve of
    values per point rather than an image or a line of integrated counts; ``shows_main`` / ``shows_curve`` say
whether the main and curve views have anything to show (their docks are hidden otherwise)."""

    draws_curve = False
    shows_main = True
    shows_curve = True
    first_frame = 0  # frame number of the main view's first row (a kinetic series)
    fit: Any = None  # the latest fit of the curve (g2)
    threshold: float | None = None  # the ON/OFF threshold of a time trace

    def __init__(self, widgets: MainWidgets, saw_point: Callable[[tuple[int, ...]], None] = lambda key: None):
        self.w = widgets
        self.saw_point = saw_point
        self.handlers: dict[str, list[Handler]] = {}
        self.dirty = False
        self.curve_x: np.ndarray | None = None  # None: the wavelengths of the spectrum in curve_y
        self.curve_y: np.ndarray | None = None
        self.current: tuple[int, int] | None = None  # the pixel outlined on the map
        self.map_rect: QRectF | None = None  # the rectangle the map's pixels cover

    def add_handler(self, name: str, handler: Handler) -> None:
        self.handlers.setdefault(name, []).append(handler)

    def mark_dirty(self) -> None:
        """Something arrived: the next redraw draws it."""
        self.dirty = True

    def take_latest_spectrum(self, index: Any, value: np.ndarray) -> None:
        """A spectrum for the curve view only (the main view shows something else)."""
        if value.ndim == 0:
            raise ValueError("expected a spectrum")
        self.curve_y = last_spectrum(value)
        self.dirty = True

    # ---- what the views show -------------------------------------------------------------------------
    def map_values(self) -> np.ndarray:
        """What the main view holds (NaN where nothing arrived yet)."""
        return np.empty(0)

    def curve_y_shown(self, y: np.ndarray) -> np.ndarray:
        """The curve view's values of what ``curve_y`` holds (one channel, or their sum, of counts per channel)."""
        return y

    def curve_values(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(x, y) the curve view draws, or None before anything arrived."""
        y = self.curve_y
        if y is None:
            return None
        y = self.curve_y_shown(y)
        x = self.curve_x if self.curve_x is not None else self.w.spectrum_x(y.size)
        n = min(x.size, y.size)
        return x[:n], y[:n]

    def title(self) -> str:
        """The main view's title now."""
        return self.w.map_plot.plotItem.titleLabel.text

    def spectrum_at(self, iy: int, ix: int) -> np.ndarray | None:
        """The spectrum kept for map pixel (iy, ix), or None."""
        return None

    # ---- drawing ---------------------------------------------------------------------------------------
    def curve_drawn(self, x: np.ndarray, y: np.ndarray, final: bool, redraws: int) -> None:
        """The curve view has drawn (x, y): what follows from it (a fit, a histogram)."""

    def place_image(self, rows: int, cols: int) -> None:
        """Where the image of ``rows`` x ``cols`` pixels goes, before it is drawn."""
        if not self.w.map.rect.isValid():
            self.w.map.rect = self.map_rect or QRectF(-0.5, -0.5, cols, rows)

    def line_x(self, size: int) -> np.ndarray:
        """The x values of a main view line of ``size`` values."""
        return np.arange(size, dtype=float)

    def draw(self) -> None:
        """Draw the main view: its values as an image (the pixel written last outlined) or as a line."""
        data = self.map_values()
        finite = np.isfinite(data)
        if data.ndim == 2 and finite.any():
            self.place_image(*data.shape)
            self.w.map.show(data, self.current)
        elif data.ndim == 1 and finite.any():
            self.w.map_curve.setData(self.line_x(data.size)[finite], data[finite])
