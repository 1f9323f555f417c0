"""Checks of the photon arrays the histogram and correlation functions take (``tepl.analysis.tcspc``,
``flim_decode``, ``correlation``): 1-D arrays of one length, positive counts, times sorted, indices in range.
Each names the parameter and the value it refuses."""

from __future__ import annotations

import numpy as np

from tepl import kernels


def one_d(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    return arr


def one_d_same_length(**arrays) -> tuple[np.ndarray, ...]:
    """Each ``name=values`` as a 1-D array (``one_d``), all of one length."""
    out = tuple(one_d(values, name) for name, values in arrays.items())
    if len({arr.size for arr in out}) > 1:
        parts = [f"{name} ({arr.size})" for name, arr in zip(arrays, out, strict=True)]
        raise ValueError(f"{', '.join(parts[:-1])} and {parts[-1]} differ in length")
    return out


def positive_int(value, name: str) -> int:
    n = int(value)
    if n < 1 or n != value:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return n


def in_range(arr: np.ndarray, high: int) -> bool:
    """True when every element of ``arr`` lies in [0, high)."""
    return arr.size == 0 or (int(arr.min()) >= 0 and int(arr.max()) < high)


def sorted_times(values, name: str) -> np.ndarray:
    """``values`` as a contiguous int64 (integer input) or float64 array of times, refused unless sorted."""
    arr = one_d(values, name)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numeric times in ps, got dtype {arr.dtype}")
    if arr.dtype == np.uint64:
        arr = arr.view(np.int64)  # what astype gives, without the copy
    arr = np.ascontiguousarray(arr, np.int64 if arr.dtype.kind in "iu" else np.float64)
    if kernels.ENABLED:
        from tepl.kernels import tttr as kt

        unsorted = kt.unsorted(arr)
    else:
        unsorted = arr.size > 1 and bool(np.any(arr[1:] < arr[:-1]))
    if unsorted:
        raise ValueError(f"{name} must be sorted in time")
    return arr
