"""What the operator does on the main map: a double click moves the stage there (after confirming), a
ctrl-click adds a point of interest (queued for a procedure at each point), and a region drawn on the map fills
the next scan's centre and size."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import Qt

from tepl.gui.forms import set_editor_value
from tepl.procedures import PROCEDURES

REGION_PARAMETERS = ("center_x_um", "center_y_um", "size_x_um", "size_y_um")
"""The parameters a region drawn on a map fills, in the form of every procedure that has them."""
SPOT_PARAMETERS = ("x_um", "y_um")
"""The parameters a point of interest fills, in the form of every procedure that has them."""


class MapActions:
    """The console's points panel and its handling of map clicks and the region (a part of ``Console``: it uses
    the console's views, manual panel, queue, forms and log)."""

    region: pg.RectROI | None = None  # the region drawn on the main map

    def _build_points(self) -> qw.QWidget:
        box = qw.QWidget()
        layout = qw.QVBoxLayout(box)
        layout.addWidget(qw.QLabel("double-click a map: go there; ctrl-click: add a point of interest", wordWrap=True))
        self.points_list = qw.QListWidget()
        layout.addWidget(self.points_list, 1)
        row = qw.QHBoxLayout()
        self.point_procedure_box = qw.QComboBox(toolTip="the procedure each point is queued for")
        self.point_procedure_box.addItems([name for name, cls in PROCEDURES.items()
                                           if {p.name for p in cls.parameters} >= set(SPOT_PARAMETERS)
                                           and all(self.station.has_role(r) for r in cls.roles)])
        self.queue_points_button = qw.QPushButton("queue the points")
        self.queue_points_button.clicked.connect(lambda: self.queue_points(self.point_procedure_box.currentText()))
        row.addWidget(self.point_procedure_box, 1)
        row.addWidget(self.queue_points_button)
        layout.addLayout(row)
        row = qw.QHBoxLayout()
        self.region_button = qw.QPushButton("draw a region", checkable=True,
                                            toolTip="a rectangle on the main map; drag and resize it")
        self.use_region_button = qw.QPushButton("region to the next scan")
        self.region_button.toggled.connect(self.show_region)
        self.use_region_button.clicked.connect(self.use_region)
        row.addWidget(self.region_button)
        row.addWidget(self.use_region_button)
        layout.addLayout(row)
        return box

    def _on_map_clicked(self, x_um: float, y_um: float, modifiers: Any, double: bool) -> None:
        if double:
            self.click_to_go(x_um, y_um)
        elif modifiers & Qt.ControlModifier:
            self.add_point(x_um, y_um)

    def click_to_go(self, x_um: float, y_um: float) -> bool:
        """Move the stage to the clicked spot after the operator confirms; the stage role checks its travel (a
        refusal is logged in the CLI's words) and a run holding the station refuses it."""
        if self.is_running():
            self.log(f"go to x {x_um:.4f}, y {y_um:.4f} µm refused: a run holds the station", "warning")
            return False
        if not self.confirm(f"Move the stage to x = {x_um:.4f} µm, y = {y_um:.4f} µm?"):
            self.log("go to cancelled")
            return False
        return self.manual.go_to(x=x_um, y=y_um)

    def add_point(self, x_um: float, y_um: float) -> None:
        self.points_of_interest.append((float(x_um), float(y_um)))
        self.points_list.addItem(f"x {x_um:.4f} µm, y {y_um:.4f} µm")

    def queue_points(self, procedure: str) -> int:
        """Queue ``procedure`` (its form's values) at every point of interest; returns how many were queued."""
        if procedure not in PROCEDURES:
            return 0
        for x_um, y_um in self.points_of_interest:
            self.queue.add(procedure, {**self.values(procedure), "x_um": x_um, "y_um": y_um},
                           label=f"{procedure} at ({x_um:.3f}, {y_um:.3f}) µm")
        return len(self.points_of_interest)

    def show_region(self, visible: bool = True) -> None:
        """A rectangle on the main map, a quarter of its area at its centre, to drag and resize."""
        if self.region is not None:
            self.views.map_plot.removeItem(self.region)
            self.region = None
        if not visible:
            return
        rect = self.views.map.rect
        if not rect.isValid():
            rect = self.views.map_plot.getPlotItem().vb.viewRect()
        self.region = pg.RectROI([rect.center().x() - rect.width() / 4, rect.center().y() - rect.height() / 4],
                                 [rect.width() / 2, rect.height() / 2], pen=pg.mkPen("m", width=2))
        self.views.map_plot.addItem(self.region)

    def region_um(self) -> tuple[float, float, float, float] | None:
        """(centre x, centre y, size x, size y) of the region drawn, µm; None without one."""
        if self.region is None:
            return None
        (x, y), (w, h) = self.region.pos(), self.region.size()
        return float(x + w / 2), float(y + h / 2), float(abs(w)), float(abs(h))

    def use_region(self) -> list[str]:
        """Fill the next scan's centre and size from the region, in every form that has them; returns those
        procedures. A value the form cannot hold (beyond a parameter's bounds) is clipped by the form and logged."""
        region = self.region_um()
        if region is None:
            self.log("draw a region on the map first", "warning")
            return []
        filled = []
        for name, editors in self._editors.items():
            if set(REGION_PARAMETERS) <= set(editors):
                for key, value in zip(REGION_PARAMETERS, region, strict=True):
                    set_editor_value(editors[key], value)
                filled.append(name)
        self.log(f"region centre ({region[0]:.4f}, {region[1]:.4f}) µm, size {region[2]:.4f} x {region[3]:.4f} µm "
                 f"set in: {', '.join(filled)}")
        return filled
