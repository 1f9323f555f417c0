"""A map as an operator reads it: an image of per-pixel values on the stage axes (µm), with a colour bar whose
levels can be dragged, axes counted from the scan's centre, a scale bar, unscanned pixels mid grey (NaN,
never drawn as dark ones), the pixel measured last outlined, and the position and value under the cursor.

``MapImage`` owns these items inside a ``pg.PlotWidget`` built with ``map_plot``; the views and panels that
show maps (``tepl.gui.views``, ``tepl.gui.panels``) fill it with ``show(values)``. The image's coordinates are
the stage's own (absolute µm), so a click or a region maps straight to stage targets; only the tick labels
are relative.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtGui, QtWidgets
from PyQt5.QtCore import QObject, QPointF, QRectF, Qt, pyqtSignal

from tepl.gui.labels import pixel_rect, set_axis_label

COLOR_MAP = "viridis"
UNSCANNED_BRUSH = QtGui.QBrush(QtGui.QColor(128, 128, 128))  # mid grey: no colour of the map is grey


class RelativeAxis(pg.AxisItem):
    """An axis whose tick labels count from ``origin`` (the scan centre), so a 100 nm scan at 50 µm reads
    -0.05 .. 0.05 rather than 49.95 .. 50.05."""

    def __init__(self, orientation: str, **kwargs: Any):
        super().__init__(orientation, **kwargs)
        self.origin = 0.0

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - Qt's name
        step = spacing if spacing else 1.0
        return super().tickStrings([round((v - self.origin) / step) * step for v in values], scale, spacing)


def map_plot(title: str = "") -> pg.PlotWidget:
    """A plot widget whose bottom and left axes are ``RelativeAxis``; a long title never widens it (in a narrow
    dock the title is cut, not the colour bar at the right)."""
    plot = pg.PlotWidget(axisItems={"bottom": RelativeAxis("bottom"), "left": RelativeAxis("left")})
    label = weakref.ref(plot.getPlotItem().titleLabel)  # no reference cycle through the label's own attribute

    def title_never_widens() -> None:
        item = label()
        if item is not None:
            pg.LabelItem.updateMin(item)
            item.setMinimumWidth(0)

    plot.getPlotItem().titleLabel.updateMin = title_never_widens
    plot.setTitle(title)
    return plot


def nice_length(span: float) -> float:
    """A round length (1, 2 or 5 x 10^n) close to a quarter of ``span``; 0 for an empty span."""
    if not (span > 0 and math.isfinite(span)):
        return 0.0
    target = span / 4.0
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target * 1.0001)


_LEVEL_SAMPLE = 65_536  # a larger map's levels come from an even sample of this many of its values


def auto_levels(values: np.ndarray) -> tuple[float, float]:
    """Colour levels of a map: the 0.5th to 99.5th percentile of its finite values (a cosmic ray or a hot pixel
    does not wash the map out), from an even sample of ``_LEVEL_SAMPLE`` values of a larger map (a redraw of a
    megapixel map stays within a few ms); a flat map gets a span of 1."""
    if values.size > _LEVEL_SAMPLE:
        values = values[:: values.size // _LEVEL_SAMPLE]
    if values.size > 50:
        lo, hi = (float(v) for v in np.percentile(values, (0.5, 99.5)))
    else:
        lo, hi = float(values.min()), float(values.max())
    return lo, hi if hi > lo else lo + 1.0


class MapImage(QObject):
    """The items of one map in ``plot``; ``clicked(x, y, modifiers, double)`` gives stage coordinates of a
    click on the image, ``hovered(text)`` the cursor readout."""

    clicked = pyqtSignal(float, float, object, bool)
    hovered = pyqtSignal(str)

    def __init__(self, plot: pg.PlotWidget, label: str = "", unit: str = ""):
        super().__init__(plot)
        self.plot = plot
        self.label, self.unit = label, unit
        self.image = pg.ImageItem(axisOrder="row-major")
        self.background = QtWidgets.QGraphicsRectItem()
        self.background.setBrush(UNSCANNED_BRUSH)
        self.background.setPen(pg.mkPen(None))
        self.background.setZValue(-1)
        plot.addItem(self.background)
        plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get(COLOR_MAP), interactive=True, width=14)
        # the axis as wide as its tick labels and label need (pyqtgraph fixes it at 45 px: a label covers them)
        self.colorbar.axis.setWidth(None)
        self._label_bar()
        self.colorbar.setImageItem(self.image, insert_in=plot.getPlotItem())
        self.levels_locked = False  # the operator dragged the colour bar: keep their levels
        self.colorbar.sigLevelsChangeFinished.connect(self._levels_dragged)
        self.marker = QtWidgets.QGraphicsRectItem()
        self.marker.setPen(pg.mkPen("r", width=2, cosmetic=True))
        self.marker.setZValue(10)
        self.marker.setVisible(False)
        plot.addItem(self.marker)
        self.scale_bar = QtWidgets.QGraphicsRectItem()
        self.scale_bar.setBrush(pg.mkBrush("w"))
        self.scale_bar.setPen(pg.mkPen(None))
        self.scale_bar.setZValue(11)
        self.scale_text = pg.TextItem(color="w", anchor=(0, 1))
        self.scale_text.setZValue(11)
        plot.addItem(self.scale_bar)
        plot.addItem(self.scale_text)
        self.readout = ""
        self.values = np.empty((0, 0))
        self.x = np.empty(0)
        self.y = np.empty(0)
        self.rect = QRectF()
        self.current: tuple[int, int] | None = None  # (iy, ix) measured last
        self._setting_levels = False
        plot.scene().sigMouseMoved.connect(self._moved)
        plot.scene().sigMouseClicked.connect(self._clicked)

    def _label_bar(self) -> None:
        """The colour bar's label: the quantity and its unit, with the SI prefix of the levels' size where the
        unit takes one ("peak FWHM (meV)", "integrated counts (kcounts)": short tick labels; ``set_axis_label``)."""
        set_axis_label(self.colorbar.axis, self.label, self.unit)

    def set_quantity(self, label: str, unit: str) -> None:
        self.label, self.unit = label, unit
        self._label_bar()

    # ---- geometry ---------------------------------------------------------------------------------------
    def set_grid(self, x: np.ndarray, y: np.ndarray, x_name: str = "x", y_name: str = "y", unit: str = "µm",
                 relative: bool = True, y_unit: str | None = None) -> None:
        """Pixel centres ``x`` (columns, in ``unit``) and ``y`` (rows, in ``y_unit``, default ``unit``); the axes
        count from the grid's centre and a scale bar is drawn when ``relative`` (a map of the sample)."""

        self.x, self.y = np.asarray(x, float), np.asarray(y, float)
        self.rect = pixel_rect(self.x, self.y)
        self.background.setRect(self.rect)
        self.clear()
        units = {"bottom": unit, "left": unit if y_unit is None else y_unit}
        for side, values, name in (("bottom", self.x, x_name), ("left", self.y, y_name)):
            axis = self.plot.getAxis(side)
            origin = float((values[0] + values[-1]) / 2.0) if relative and values.size else 0.0
            if isinstance(axis, RelativeAxis):
                axis.origin = origin
                axis.picture = None
                axis.update()
            where = f" from {origin:.3f}" if relative and isinstance(axis, RelativeAxis) else ""
            set_axis_label(axis, f"{name}{where} ({units[side]})" if units[side] else name)  # the ticks unscaled
        self._place_scale_bar(unit if relative else "")
        self.fit_view()

    def fit_view(self) -> None:
        """Show the whole grid (a map's view range is the scan, not what else is drawn on it)."""
        if self.rect.isValid():
            self.plot.getPlotItem().vb.setRange(rect=self.rect, padding=0.02)

    def clear(self) -> None:
        """Nothing measured yet: no image, no pixel outlined, levels free (a new run's map)."""
        self.values = np.full((self.y.size, self.x.size), np.nan)
        self.current = None
        self.marker.setVisible(False)
        self.levels_locked = False
        self.image.clear()

    def set_extent(self, x: np.ndarray, y: np.ndarray) -> None:
        """New pixel centres for a map that grows (frames of a kinetic series), keeping its axes' labels."""

        self.x, self.y = np.asarray(x, float), np.asarray(y, float)
        self.rect = pixel_rect(self.x, self.y)
        self.background.setRect(self.rect)
        self.scale_bar.setVisible(False)
        self.scale_text.setVisible(False)

    def _place_scale_bar(self, unit: str) -> None:
        width = self.rect.width()
        length = nice_length(width) if unit else 0.0
        self.scale_bar.setVisible(length > 0)
        self.scale_text.setVisible(length > 0)
        if length <= 0:
            return
        height = max(self.rect.height() * 0.02, 1e-9)
        left = self.rect.left() + 0.05 * width
        bottom = self.rect.top() + 0.05 * self.rect.height()
        self.scale_bar.setRect(QRectF(left, bottom, length, height))
        self.scale_text.setText(f"{length:g} {unit}")
        self.scale_text.setPos(left, bottom + 2 * height)
        self.scale_length = length

    def set_visible(self, visible: bool) -> None:
        """Show or hide the image with its colour bar, background, marker and scale bar."""
        for item in (self.image, self.background, self.colorbar, self.scale_bar, self.scale_text):
            item.setVisible(visible)
        self.marker.setVisible(visible and self.current is not None)

    def pixel_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(iy, ix) of the pixel at stage (x, y), or None outside the grid."""
        if not self.rect.contains(QPointF(x, y)) or self.values.size == 0:
            return None
        ix = int(np.clip(np.floor((x - self.rect.left()) / self.rect.width() * self.x.size), 0, self.x.size - 1))
        iy = int(np.clip(np.floor((y - self.rect.top()) / self.rect.height() * self.y.size), 0, self.y.size - 1))
        return iy, ix

    # ---- values -----------------------------------------------------------------------------------------
    def show(self, values: np.ndarray, current: tuple[int, int] | None = None) -> None:
        """Draw ``values[row, column]`` (NaN: not measured yet, grey); ``current`` outlines that pixel."""
        self.values = values
        finite = np.isfinite(values)
        if values.ndim == 2 and finite.any():
            lo, hi = auto_levels(values[finite])
            if self.levels_locked:
                lo, hi = self.colorbar.levels()
            self.image.setImage(values.astype(np.float32), autoLevels=False, levels=(lo, hi))
            self.image.setRect(self.rect if self.rect.isValid() else QRectF(-0.5, -0.5, values.shape[1],
                                                                             values.shape[0]))
            shown_lo, shown_hi = self.colorbar.levels()
            moved = max(abs(lo - shown_lo), abs(hi - shown_hi)) > 0.01 * (hi - lo)
            if not self.levels_locked and moved:  # the bar's axis is redrawn only when its levels really move
                self._setting_levels = True
                self.colorbar.setLevels((lo, hi))
                self._setting_levels = False
        if current is not None and self.x.size and self.y.size:
            self.current = current
            iy, ix = current
            dx, dy = self.rect.width() / self.x.size, self.rect.height() / self.y.size
            self.marker.setRect(QRectF(self.rect.left() + ix * dx, self.rect.top() + iy * dy, dx, dy))
            self.marker.setVisible(True)

    def _levels_dragged(self, *_: Any) -> None:
        if not self._setting_levels:
            self.levels_locked = True

    def describe(self, x: float, y: float) -> str:
        """The readout at stage (x, y): position and the value of the pixel there."""
        pixel = self.pixel_at(x, y)
        if pixel is None:
            return ""
        value = self.values[pixel] if self.values.shape[:2] == (self.y.size, self.x.size) else np.nan
        shown = "not measured" if not np.isfinite(value) else f"{value:.6g} {self.unit}".rstrip()
        return f"x {x:.4f} µm, y {y:.4f} µm, pixel ({pixel[1]}, {pixel[0]}): {shown}"

    def _moved(self, pos: Any) -> None:
        view = self.plot.getPlotItem().vb
        if not view.sceneBoundingRect().contains(pos):
            return
        point = view.mapSceneToView(pos)
        text = self.describe(point.x(), point.y())
        if text and text != self.readout:
            self.readout = text
            self.hovered.emit(text)

    def _clicked(self, event: Any) -> None:
        if event.button() != Qt.LeftButton:
            return
        view = self.plot.getPlotItem().vb
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        point = view.mapSceneToView(event.scenePos())
        if self.pixel_at(point.x(), point.y()) is not None:
            self.clicked.emit(point.x(), point.y(), event.modifiers(), bool(event.double()))
