"""What every live panel is: ``ViewPanel`` (one declared view in its own plot, fed by the run's writes through
``handlers()``, redrawn when something arrived) and the index rule of a write along a series of points."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets

from tepl.gui.labels import label_axes

Handler = Callable[[Any, np.ndarray], None]


def point_index(index: Any) -> Any:
    """A write's index along a 1-D series: an int or a slice (a 1-tuple is unpacked)."""
    if isinstance(index, tuple) and len(index) == 1:
        index = index[0]
    if isinstance(index, (slice, int, np.integer)) and not isinstance(index, bool):
        return index
    raise ValueError(f"index {index!r} is not a point or a block of points")


class ViewPanel:
    """One declared view in its own plot: ``handlers()`` take the writes, ``redraw()`` draws what arrived,
    ``data()`` is what the panel shows; ``widget`` is what the console places in a dock."""

    replaces_main = False  # True: the panel draws the plan's main view itself (the main dock is hidden)
    accompanies_main = False  # True: as the plan's main view, the panel is shown beside the main dock

    def __init__(self, view: Any, plot: pg.PlotWidget | None = None):
        self.view = view
        self.plot = plot if plot is not None else pg.PlotWidget(title=view.title)
        self.plot.setMinimumHeight(140)
        self.widget: Any = self.plot
        self.redraws = 0  # redraws that drew something
        self._dirty = False
        self._seen = False

    @property
    def dock_title(self) -> str:
        """The title of the panel's dock: the view's kind and title."""
        return f"{self.view.kind}: {self.view.title}"

    def handlers(self) -> dict[str, Handler]:
        """What takes the writes of each dataset the panel shows: by default its view's dataset, to ``_take``."""
        return {self.view.dataset: self._take}

    def _take(self, index: Any, value: np.ndarray) -> None:
        raise NotImplementedError

    def data(self) -> Any:
        raise NotImplementedError

    def redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self.redraws += 1
            self._draw()

    def _draw(self) -> None:
        raise NotImplementedError

    @property
    def busy(self) -> bool:
        """True while the panel still works on what arrived (a fit in progress)."""
        return False

    @property
    def has_colour_bar(self) -> bool:
        """True when the panel draws values on a colour scale (with its colour bar)."""
        return False

    def show_pixel(self, iy: int, ix: int) -> bool:
        """Show what the panel keeps of map pixel (iy, ix) (a click on the main map); False: nothing kept."""
        return False

    def restart(self, plan: Any, view: Any) -> bool:
        """Show the same ``view`` for the next run's ``plan``, emptied, rather than building a new panel (its
        plot and dock cost 50-100 ms of the event loop); False when the panel cannot (it is built anew)."""
        return False

    def close(self) -> None:
        """The run's views are replaced: release what the panel holds beyond its widgets."""

    def _widget_of_plots(self, layout_class: type[QtWidgets.QLayout]) -> Any:
        """``widget`` becomes a widget holding several plots: returns its layout (of ``layout_class``, no
        margins), to which the panel adds them."""
        self.widget = QtWidgets.QWidget()
        layout = layout_class(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        return layout

    def _arrived(self) -> None:
        self._dirty = self._seen = True

    def _label(self, bottom: str, left: str) -> None:
        label_axes(self.plot, bottom, left)
