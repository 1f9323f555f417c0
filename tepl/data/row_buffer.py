"""The scan line being written: one row of a dataset held in memory while it is written pixel by pixel, and
the test of which writes fall inside one row. ``tepl.data.recorder.Recorder.write`` keeps these rows and
writes each to the file whole (one file write per scan line instead of one per pixel)."""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np


class RowBuffer:
    """One row (index along the first axis: a scan line) of a dataset, held in memory while it is written pixel
    by pixel, written to the file whole."""

    MAX_BYTES = 64 * 2**20  # larger rows are written as they come

    def __init__(self, ds: h5py.Dataset, row: int, whole: bool, fill: Any = None, shape: tuple[int, ...] = ()):
        """``fill``: the dataset's fill value when the file holds nothing else in this row (then it is not read
        back); ``shape``: the dataset's shape, if known (asking h5py for it costs more than a pixel's write)."""
        self.ds, self.row = ds, row
        row_shape = shape[1:] if shape else ds.shape[1:]
        # a write of the whole row needs nothing from the file; a part of it keeps what the file holds
        if whole:
            self.values = np.empty(row_shape, ds.dtype)
        elif fill is not None:
            self.values = np.full(row_shape, fill, ds.dtype)
        else:
            self.values = ds[row]
        self.depth = len(row_shape) + 1  # indices a write inside the row may have

    @staticmethod
    def bufferable_shape(ds: h5py.Dataset) -> tuple[int, ...] | None:
        """The shape of ``ds`` if its rows may be held in memory (numeric, two or more dimensions, rows of at
        most ``MAX_BYTES``), else None."""
        shape, dtype = ds.shape, ds.dtype
        if len(shape) < 2 or dtype.kind not in "biufc" \
                or int(np.prod(shape[1:])) * dtype.itemsize > RowBuffer.MAX_BYTES:
            return None
        return tuple(shape)

    @staticmethod
    def row_of(shape: tuple[int, ...], index) -> tuple[int, tuple] | None:
        """(row, index within the row) when ``index`` of a bufferable dataset of ``shape`` falls inside one
        row: a whole-number first index within the shape, the others whole numbers or slices; None otherwise."""
        if len(shape) < 2:
            return None
        parts = index if isinstance(index, tuple) else (index,)
        if not parts or len(parts) > len(shape):
            return None
        first = parts[0]
        if isinstance(first, bool | np.bool_) or not isinstance(first, int | np.integer) \
                or not -shape[0] <= first < shape[0]:
            return None
        rest = parts[1:]
        if not all(isinstance(i, slice) or (isinstance(i, int | np.integer) and not isinstance(i, bool | np.bool_))
                   for i in rest):
            return None
        return int(first) % shape[0], tuple(rest)

    def write(self) -> None:
        self.ds[self.row] = self.values
