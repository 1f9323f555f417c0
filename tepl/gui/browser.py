"""Past runs: the run files of the output folder, each opened with its metadata (procedure, status, reason,
times, parameters, datasets) and its default plot (the signal dataset: a curve, an image, or a spectral map as
its integrated counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import Qt

from tepl.gui.labels import COUNTS_LABEL, label_axes, quantity_label


class DataBrowser(qw.QWidget):
    """The ``*.h5`` files of ``folder`` (newest first); selecting one shows it (``open``)."""

    def __init__(self, folder: Path, parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.folder = Path(folder)
        self.run: Any = None
        layout = qw.QHBoxLayout(self)
        left = qw.QVBoxLayout()
        self.refresh_button = qw.QPushButton("refresh")
        self.files = qw.QListWidget()
        left.addWidget(self.refresh_button)
        left.addWidget(self.files, 1)
        layout.addLayout(left, 1)
        right = qw.QVBoxLayout()
        self.plot = pg.PlotWidget(title="run file")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.curve = self.plot.plot(pen=pg.mkPen("c"))
        self.metadata = qw.QPlainTextEdit(readOnly=True)
        right.addWidget(self.plot, 2)
        right.addWidget(self.metadata, 1)
        layout.addLayout(right, 3)
        self.refresh_button.clicked.connect(self.refresh)
        self.files.currentTextChanged.connect(lambda name: name and self.open(self.folder / name))
        self.refresh()

    def refresh(self) -> None:
        self.files.blockSignals(True)
        self.files.clear()
        if self.folder.is_dir():
            paths = sorted(self.folder.glob("*.h5"), key=lambda p: p.stat().st_mtime, reverse=True)
            self.files.addItems([p.name for p in paths])
        self.files.blockSignals(False)

    def open(self, path: Path) -> bool:
        """Show the run file at ``path``; False (and why, in the metadata pane) when it cannot be read."""
        from tepl.data.runfile import read_run

        try:
            run = read_run(path)
        except Exception as exc:  # a broken or foreign file: said, never raised into Qt
            self.run = None
            self.metadata.setPlainText(f"{path}: cannot be read ({type(exc).__name__}: {exc})")
            return False
        self.run = run
        lines = [f"{path.name}: {run.procedure}, {run.status}" + (f" ({run.reason})" if run.reason else ""),
                 f"started {run.start_time}, ended {run.end_time}", "parameters:"]
        lines += [f"  {name} = {value} {unit}".rstrip() for name, (value, unit) in run.parameters.items()]
        lines.append("datasets:")
        lines += [f"  {name} {np.shape(value)} {run.units.get(name, '')}".rstrip() for name, value in run.data.items()]
        self.metadata.setPlainText("\n".join(lines))
        self._plot(run)
        return True

    def _plot(self, run: Any) -> None:
        self.image.clear()
        self.curve.setData([], [])
        name = run.signal or next(iter(run.data), None)
        if name is None:
            return
        values = np.asarray(run.data[name], float)
        dims = run.dims.get(name, ())
        if dims[-1:] == ("wavelength_nm",) and values.ndim >= 2:
            values = np.nansum(values, axis=-1)  # spectra: their integrated counts
            dims = dims[:-1]
            label, y_label = "integrated counts", COUNTS_LABEL
        else:
            label = y_label = quantity_label(name, run.units.get(name, ""))
        while values.ndim > 2:  # scans or channels first: summed
            values = np.nansum(values, axis=0)
            dims = dims[1:]
        self.plot.setTitle(f"{run.procedure}: {label}")
        if values.ndim == 2:
            self.image.setImage(values, autoLevels=True)
            x_name, y_name = (dims[1], dims[0]) if len(dims) == 2 else ("x", "y")
            if x_name in run.data and y_name in run.data:
                from tepl.gui.labels import pixel_rect

                self.image.setRect(pixel_rect(np.asarray(run.data[x_name], float),
                                              np.asarray(run.data[y_name], float)))
            label_axes(self.plot, quantity_label(x_name, run.units.get(x_name, "")),
                       quantity_label(y_name, run.units.get(y_name, "")))
            self.plot.setAspectLocked(True)
        else:
            x_name = dims[0] if dims else ""
            x = np.asarray(run.data[x_name], float) if x_name in run.data else np.arange(values.size, dtype=float)
            self.curve.setData(x[: values.size], values, connect="finite")
            self.plot.setAspectLocked(False)
            label_axes(self.plot, quantity_label(x_name, run.units.get(x_name, "")) if x_name else "point", y_label)
        self.plot.getPlotItem().setMenuEnabled(True)
        self.plot.setFocusPolicy(Qt.StrongFocus)
