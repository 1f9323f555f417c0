"""The layout of ``/entry/data`` (NXdata): axes with @units and @dim, datasets pre-allocated one scan line per
chunk, the @signal with its @axes and @<axis>_indices. Functions on the h5py group; the recorder keeps the
handles and says which file (``where``) in its errors."""

from __future__ import annotations

import math

import h5py
import numpy as np

from tepl.data.values import STR


def line_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """One chunk per scan line: 1 along the first axis, whole along the others (1-D: the whole axis);
    trailing axes are shrunk only if a chunk would exceed 16 MiB."""
    if len(shape) == 1:
        return (shape[0],)
    chunk = [1, *shape[1:]]
    i = 1
    while int(np.prod(chunk)) * itemsize > 16 * 2**20 and i < len(chunk):
        chunk[i] = max(1, chunk[i] // 2)
        if chunk[i] == 1:
            i += 1
    return tuple(chunk)


def create_axis(data: h5py.Group, name: str, values, unit: str, dim: str, where) -> None:
    """A 1-D numeric axis ``name`` in ``data`` with @units and @dim (the dimension it lies along); an index
    axis created automatically for a signal dimension is replaced, any other existing object is refused."""
    values = np.asarray(values)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"axis {name!r} must be a non-empty 1-D array, got shape {values.shape}")
    if values.dtype.kind not in "biuf":
        raise ValueError(f"axis {name!r} must be numeric, got dtype {values.dtype}")
    if name in data:
        if not data[name].attrs.get("auto_index", False):
            raise ValueError(f"/entry/data/{name} already exists in {where}")
        del data[name]
    ds = data.create_dataset(name, data=values)
    ds.attrs["units"] = str(unit)
    ds.attrs["dim"] = dim


def index_axis(data: h5py.Group, name: str, dim: str) -> None:
    """``@<name>_indices``: the position of ``dim`` in the signal's @axes, if it is one of them."""
    dims = [str(d) for d in data.attrs["axes"]]
    if dim in dims:
        data.attrs[f"{name}_indices"] = np.int32(dims.index(dim))


def create_dataset(data: h5py.Group, name: str, shape: tuple[int, ...], dims: tuple[str, ...], unit: str, dtype,
                   fill, where) -> h5py.Dataset:
    """Pre-allocate ``name`` of ``shape`` in ``data``, chunked one scan line per chunk, allocated and filled
    with ``fill`` at once (NaN fill on an integer dtype becomes 0), with @units and @dims."""
    if not shape or any(n <= 0 for n in shape):
        raise ValueError(f"dataset {name!r}: shape must be non-empty with positive sizes, got {shape}")
    if len(dims) != len(shape):
        raise ValueError(f"dataset {name!r}: {len(dims)} dims {dims} for a {len(shape)}-D shape {shape}")
    if name in data:
        raise ValueError(f"/entry/data/{name} already exists in {where}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc" and isinstance(fill, float) and math.isnan(fill):
        fill = 0
    chunks = line_chunks(shape, dtype.itemsize)
    chunk_bytes = int(np.prod(chunks)) * dtype.itemsize
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    ds = data.create_dataset(
        name, shape=shape, dtype=dtype, chunks=chunks, fillvalue=fill, dcpl=dcpl,
        rdcc_nbytes=min(64 * 2**20, max(2**20, 4 * chunk_bytes)))
    ds.attrs["units"] = str(unit)
    ds.attrs["dims"] = np.array(dims, dtype=STR)
    return ds


def set_signal(data: h5py.Group, name: str, dims: tuple[str, ...], shape: tuple[int, ...]) -> None:
    """Make ``name`` the NXdata signal: @signal, @axes = ``dims``, an integer index axis (@auto_index) for each
    dimension without an axis yet, and @<axis>_indices for every axis."""
    data.attrs["signal"] = name
    data.attrs["axes"] = np.array(dims, dtype=STR)
    for dim, n in zip(dims, shape, strict=True):
        if dim not in data:
            ds = data.create_dataset(dim, data=np.arange(n, dtype="i4"))
            ds.attrs["units"] = ""
            ds.attrs["dim"] = dim
            ds.attrs["auto_index"] = True
    for axis_name, ds in data.items():
        if "dim" in ds.attrs:
            index_axis(data, axis_name, str(ds.attrs["dim"]))
