"""The widgets of the console's main view (a map or a curve, ``map_plot``) and curve view (``spectrum_plot``),
made once and drawn on by the main view of each run (``tepl.gui.mainviews``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import Qt

from tepl.gui.labels import COUNTS_LABEL, label_axes
from tepl.gui.maps import MapImage, map_plot

ALL_CHANNELS = "sum of all channels"
MIN_PLOT_HEIGHT_PX = 150  # the main and curve views never squeeze below this (their tick labels would overlap)


class MainWidgets:
    """The curve view (``spectrum_plot`` with ``spectrum_curve``, a fit and a threshold line) and the main view
    (``map_panel``: the channel choice, ``map_plot`` holding the ``map`` image, ``map_curve``, ``hist_curve``,
    and the cursor ``readout``); ``wavelengths_nm`` is the spectrometer's axis, the x axis of spectra."""

    def __init__(self) -> None:
        self.wavelengths_nm: np.ndarray | None = None
        self.spectrum_plot = pg.PlotWidget(title="latest spectrum")
        label_axes(self.spectrum_plot, "wavelength (nm)", COUNTS_LABEL)
        self.spectrum_curve = self.spectrum_plot.plot(pen=pg.mkPen("y"))
        self.spectrum_curve.setDownsampling(auto=True, method="peak")  # a long time trace stays fast to draw
        self.spectrum_curve.setClipToView(True)
        self.fit_curve = self.spectrum_plot.plot(pen=pg.mkPen("r", width=2))
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("r", style=Qt.DashLine),
                                              label="ON/OFF threshold", labelOpts={"position": 0.12, "color": "r"})
        self.spectrum_plot.addItem(self.threshold_line)
        self.threshold_line.setVisible(False)
        self.map_plot = map_plot("integrated counts")
        self.map = MapImage(self.map_plot, "integrated counts", "counts")
        self.map_image = self.map.image
        self.map_curve = self.map_plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=4)
        self.hist_curve = self.map_plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(0, 200, 200, 90),
                                             pen=pg.mkPen("c"))
        self.hist_curve.setVisible(False)
        self.readout = qw.QLabel("", toolTip="position and value under the cursor")
        self.map.hovered.connect(self.readout.setText)
        self.channel_box = qw.QComboBox(toolTip="the photon-counting channel(s) the count map shows")
        self.map_panel = qw.QWidget()
        panel = qw.QVBoxLayout(self.map_panel)
        panel.setContentsMargins(0, 0, 0, 0)
        self.channel_row = qw.QWidget()
        row = qw.QHBoxLayout(self.channel_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(qw.QLabel("channels"))
        row.addWidget(self.channel_box, 1)
        panel.addWidget(self.channel_row)
        panel.addWidget(self.map_plot, 1)
        panel.addWidget(self.readout)
        self.channel_row.setVisible(False)
        for plot in (self.map_panel, self.spectrum_plot):  # readable axes however many views share the window
            plot.setMinimumHeight(MIN_PLOT_HEIGHT_PX)

    def clear(self) -> None:
        """Nothing drawn: the state every run's main view starts from."""
        self.spectrum_curve.setData([], [])
        self.fit_curve.setData([], [])
        self.threshold_line.setVisible(False)
        self.map_curve.setData([], [])
        self.hist_curve.setData([0, 1], [0])
        self.hist_curve.setVisible(False)
        self.map_image.clear()
        self.channel_row.setVisible(False)
        self.readout.setText("")
        self.map_plot.enableAutoRange()  # a map's grid sets its range; a curve's follows its data
        self.spectrum_plot.enableAutoRange()
        for side in ("bottom", "left"):  # absolute axes unless a map's grid says otherwise
            axis = self.map_plot.getAxis(side)
            axis.origin, axis.picture = 0.0, None

    def spectrum_x(self, size: int) -> np.ndarray:
        """The x values of a spectrum of ``size`` pixels: the wavelengths (nm) when known, else pixel numbers."""
        wl = self.wavelengths_nm
        return wl if wl is not None and wl.size == size else np.arange(size, dtype=float)

    @staticmethod
    def set_labels(plot: pg.PlotWidget, title: str, bottom: str, left: str) -> None:
        plot.setTitle(title)
        label_axes(plot, bottom, left)

    def show_map_as(self, ndim: int, lock_aspect: bool | None = None) -> None:
        """The main view as an image (``ndim`` 2, aspect locked unless ``lock_aspect`` says otherwise) or a
        curve (``ndim`` 1)."""
        self.map_plot.setAspectLocked(ndim == 2 if lock_aspect is None else lock_aspect)
        self.map.set_visible(ndim == 2)
        self.map_curve.setVisible(ndim == 1)
