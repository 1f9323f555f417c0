"""A run plan: the whole run described once, before anything moves.

``Procedure.plan(station)`` returns a :class:`Plan`: the points to visit with their index in the file, the
file's axes and datasets with units and shapes, the interlocks in force with their limits, the time, file
size and memory the run needs, and the live views that show it. The dry run prints it, the run loop lays
out the file from it and the procedure executes it, the console draws the views it names: nothing is
computed twice and nobody probes a procedure's attributes.

A plan is immutable: its arrays are read-only and its collections are tuples or read-only mappings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from tepl.limits import Interlock, LimitError, Range

VIEW_KINDS = ("map", "line", "spectrum", "approach", "ramp", "frames", "count-map", "g2", "trace", "decay")
"""Live views a plan can ask for:

- ``map``: a 2-D image of a per-pixel dataset against two axes (integrated counts, height, peak energy);
- ``line``: a value per point along one plan axis (a line scan's integrated counts against x, a fitted peak
  energy against the setpoint, an alignment's signal per probe);
- ``spectrum``: the latest spectrum written to a dataset with a wavelength axis;
- ``approach``: a value against a quantity the run measures, the dataset its axis names (the gap of a TEPL
  approach curve, the coarse travel of a tip approach);
- ``ramp``: a value and the pressure and force against the step, with the limits drawn;
- ``frames``: spectra against frame number (kinetic series);
- ``count-map``: photon counts per channel and pixel of the scan in progress (confocal);
- ``g2``: a correlation against lag; ``trace``: counts per bin against time; ``decay``: TCSPC histograms.
"""


FILE_HEADROOM_BYTES = 32 * 2**20
"""Room a run file needs beyond its datasets: HDF5 metadata and chunk indices, the station's config and
settings, the twin's ground truth, the log (bytes)."""


def _frozen(values: Any) -> np.ndarray:
    array = np.array(values)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Axis:
    """A 1-D axis of the file: ``values`` in ``unit``; ``dim`` names the dimension an auxiliary axis lies
    along (``energy_eV`` along ``wavelength_nm``), None for its own dimension."""

    name: str
    values: np.ndarray
    unit: str
    dim: str | None = None
    measured: bool = False  # the values are recorded as the run goes (frame times); NaN until then

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)


@dataclass(frozen=True)
class Dataset:
    """A dataset of ``/entry/data``: ``shape`` along ``dims`` in ``unit``. A None size is known only when the
    data is measured (calibration lines found); such a dataset is created by the procedure, with that name."""

    name: str
    shape: tuple[int | None, ...]
    dims: tuple[str, ...]
    unit: str
    dtype: str = "f4"
    signal: bool = False
    fill: float | None = None

    @property
    def allocated(self) -> bool:
        """True when the whole shape is known before the run (the run loop pre-allocates it)."""
        return all(n is not None for n in self.shape)

    @property
    def nbytes(self) -> int:
        if not self.allocated:
            return 0
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Stream:
    """Extendable data outside ``/entry/data`` (photon time tags): ``kind`` names the layout ("tags"),
    ``options`` are its arguments, ``max_bytes`` what it grows to if every detector counts at the station's
    limit for the whole run (the size it really reaches follows the light, which is not known beforehand)."""

    kind: str
    options: Mapping[str, Any]
    max_bytes: int


@dataclass(frozen=True)
class View:
    """A live view: ``kind`` (one of ``VIEW_KINDS``) showing ``dataset`` against ``axes`` (names of the
    plan's axes, or of datasets for ``approach``/``ramp``)."""

    kind: str
    dataset: str
    axes: tuple[str, ...]
    title: str


@dataclass(frozen=True)
class Points:
    """The points a run visits, in order: named columns of equal length (``x_um``, ``y_um``, ``gap_nm``,
    ``exposure_s``, ``frame`` ...) and the columns that give each point's index in the file (``iy``, ``ix``)."""

    columns: Mapping[str, np.ndarray]
    index: tuple[str, ...]

    def __len__(self) -> int:
        return int(next(iter(self.columns.values())).size) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def rows(self) -> Iterator[dict[str, Any]]:
        """One dict per point, in order (Python scalars)."""
        names = list(self.columns)
        for values in zip(*(self.columns[n].tolist() for n in names), strict=True):
            yield dict(zip(names, values, strict=True))

    def file_index(self, row: Mapping[str, Any]) -> tuple[int, ...]:
        return tuple(int(row[name]) for name in self.index)


@dataclass(frozen=True)
class Plan:
    """The whole run, made once by ``Procedure.plan(station)`` before anything moves."""

    procedure: str
    station: str
    parameters: Mapping[str, Mapping[str, Any]]
    points: Points
    axes: tuple[Axis, ...]
    datasets: tuple[Dataset, ...]
    streams: tuple[Stream, ...]
    interlocks: tuple[Interlock, ...]
    checks: tuple[str, ...]
    estimate_s: float
    memory_bytes: Mapping[str, int]
    views: tuple[View, ...]
    attrs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    # ---- look-ups --------------------------------------------------------------------------------
    def axis(self, name: str) -> np.ndarray:
        """Values of the axis ``name``."""
        for axis in self.axes:
            if axis.name == name:
                return axis.values
        raise KeyError(f"plan of {self.procedure} has no axis {name!r}")

    def dataset(self, name: str) -> Dataset:
        for dataset in self.datasets:
            if dataset.name == name:
                return dataset
        raise KeyError(f"plan of {self.procedure} has no dataset {name!r}")

    def has_dataset(self, name: str) -> bool:
        return any(d.name == name for d in self.datasets)

    @property
    def file_bytes(self) -> int:
        """Size of the run file known before the run: datasets pre-allocated in full, the axes, and
        ``FILE_HEADROOM_BYTES`` for what surrounds them (streams come on top: ``stream_bytes_at_limit``)."""
        return sum(d.nbytes for d in self.datasets) + sum(a.nbytes for a in self.axes) + FILE_HEADROOM_BYTES

    @property
    def stream_bytes_at_limit(self) -> int:
        """What the streams (photon tags) would add if every detector counted at the station's limit."""
        return sum(s.max_bytes for s in self.streams)

    @property
    def peak_memory_bytes(self) -> int:
        """Largest memory the run's own arrays need (the procedure's buffers; the plan's arrays included)."""
        return sum(self.memory_bytes.values()) + sum(a.nbytes for a in self.axes) + sum(
            c.nbytes for c in self.points.columns.values())

    def check_resources(self, free_disk_bytes: int, memory_bytes: int, where: str = "") -> str:
        """Refuse a run whose file does not fit the free disk or whose buffers do not fit the memory (both
        figures in the message); return the check in words."""
        needs = (f"the run file needs up to {_bytes(self.file_bytes)} and {where or 'the disk'} has "
                 f"{_bytes(free_disk_bytes)} free; the run needs {_bytes(self.peak_memory_bytes)} of memory and "
                 f"the machine has {_bytes(memory_bytes)} available")
        if self.file_bytes > free_disk_bytes or self.peak_memory_bytes > memory_bytes:
            raise LimitError(f"{self.procedure} refused: {needs}")
        return needs

    # ---- words -----------------------------------------------------------------------------------
    def describe(self) -> str:
        """The plan in words, as the dry run prints it."""
        lines = [f"plan of {self.procedure} on station {self.station}: dry run, nothing moved"]
        lines.append("parameters:")
        lines += [f"  {name} = {rec['value']!r} {rec['unit']}".rstrip() for name, rec in self.parameters.items()]
        lines.append(f"points: {len(self.points)} in order, file index ({', '.join(self.points.index)})")
        lines += [f"  {name}: {_span(values)}" for name, values in self.points.columns.items()
                  if name not in self.points.index]
        lines.append("axes:")
        lines += [f"  {a.name} [{a.values.size}] {'measured' if a.measured else _span(a.values)} {a.unit}".rstrip()
                  + (f" (along {a.dim})" if a.dim else "") for a in self.axes]
        lines.append("datasets:")
        for d in self.datasets:
            shape = " x ".join("?" if n is None else str(n) for n in d.shape)
            lines.append(f"  {d.name}[{', '.join(d.dims)}] {shape} {d.dtype} {d.unit}".rstrip()
                         + (" (signal)" if d.signal else ""))
        lines += [f"  {s.kind}: grows with the light; {_bytes(s.max_bytes)} at the count-rate limit"
                  for s in self.streams]
        lines.append("interlocks:")
        lines += [f"  {i.describe()}" for i in self.interlocks]
        if self.checks:
            lines.append("checks:")
            lines += [f"  ok: {c}" for c in self.checks]
        lines.append("views: " + ", ".join(f"{v.kind} of {v.dataset}" for v in self.views))
        lines.append(f"estimated time: {self.estimate_s:.1f} s (instrument time)")
        lines.append(f"file size: up to {_bytes(self.file_bytes)}"
                     + (" plus the photon tags" if self.streams else ""))
        lines.append(f"peak memory: {_bytes(self.peak_memory_bytes)}")
        return "\n".join(lines)


def _span(values: np.ndarray) -> str:
    values = np.asarray(values)
    if values.size == 0:
        return "(none)"
    if values.dtype.kind not in "biuf":
        return ", ".join(map(str, values[:4])) + (" ..." if values.size > 4 else "")
    if values.size == 1 or np.all(values == values.flat[0]):
        return f"{values.flat[0]:g}"
    return f"{np.nanmin(values):g} .. {np.nanmax(values):g}"


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


class PlanBuilder:
    """Collects a plan as ``Procedure.make_plan`` describes the run; ``build()`` freezes it.

    ``interlock`` is the one place a planned value meets a station limit: every value is checked before
    the plan exists, and a refusal names the limit's config key."""

    def __init__(self, procedure: str, station_name: str, parameters: Mapping[str, Mapping[str, Any]]):
        self._procedure = procedure
        self._station = station_name
        self._parameters = parameters
        self._points: Points | None = None
        self._axes: list[Axis] = []
        self._datasets: list[Dataset] = []
        self._streams: list[Stream] = []
        self._interlocks: list[Interlock] = []
        self._checks: list[str] = []
        self._estimate_s = 0.0
        self._memory: dict[str, int] = {}
        self._views: list[View] = []
        self._attrs: dict[str, dict[str, Any]] = {}

    def points(self, index: Sequence[str], **columns: Any) -> None:
        """The points to visit, in order: equal-length columns; ``index`` names the columns that are file
        indices."""
        frozen = {name: _frozen(values) for name, values in columns.items()}
        sizes = {name: values.size for name, values in frozen.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"plan points of {self._procedure}: columns of different lengths {sizes}")
        missing = [name for name in index if name not in frozen]
        if missing:
            raise ValueError(f"plan points of {self._procedure}: index columns {missing} missing")
        self._points = Points(MappingProxyType(frozen), tuple(index))

    def axis(self, name: str, values: Any, unit: str, dim: str | None = None, **attrs: Any) -> np.ndarray:
        """Declare a file axis; returns its (read-only) values."""
        return self._add_axis(Axis(name, _frozen(values), unit, dim), attrs)

    def measured_axis(self, name: str, size: int, unit: str, **attrs: Any) -> np.ndarray:
        """Declare an axis of ``size`` values the run records as it goes (NaN in the file until then)."""
        return self._add_axis(Axis(name, _frozen(np.full(int(size), np.nan)), unit, measured=True), attrs)

    def _add_axis(self, axis: Axis, attrs: dict[str, Any]) -> np.ndarray:
        if axis.values.ndim != 1 or axis.values.size == 0:
            raise ValueError(f"plan axis {axis.name!r}: a non-empty 1-D array is needed, got {axis.values.shape}")
        self._axes.append(axis)
        if attrs:
            self.attrs(axis.name, **attrs)
        return axis.values

    def dataset(self, name: str, shape: Sequence[int | None], dims: Sequence[str], unit: str, dtype: str = "f4",
                signal: bool = False, fill: float | None = None, **attrs: Any) -> None:
        shape = tuple(None if n is None else int(n) for n in shape)
        if len(shape) != len(dims):
            raise ValueError(f"plan dataset {name!r}: {len(dims)} dims for a {len(shape)}-D shape")
        self._datasets.append(Dataset(name, shape, tuple(dims), unit, dtype, signal, fill))
        if attrs:
            self.attrs(name, **attrs)

    def stream(self, kind: str, max_bytes: int, **options: Any) -> None:
        self._streams.append(Stream(kind, MappingProxyType(dict(options)), int(max_bytes)))

    def attrs(self, target: str, **attrs: Any) -> None:
        """Attributes set when the file is laid out (``target``: a dataset or axis name, or an absolute path)."""
        self._attrs.setdefault(target, {}).update(attrs)

    def interlock(self, name: str, limit: Range | None, rule: str, values: Any = None, what: str = "") -> None:
        """An interlock in force during the run. ``values`` (optional) are the planned values it governs:
        each is checked now against ``limit`` and the first outside it is refused, naming the limit."""
        if limit is None:
            raise LimitError(f"{self._procedure} needs the station limit {name}, which station {self._station} "
                             "does not state")
        checked = ""
        if values is not None:
            array = np.atleast_1d(np.asarray(values, float))
            if array.size:
                bad = ~np.isfinite(array) | (array < limit.low) | (array > limit.high)
                limit.check(float(array[np.argmax(bad)] if bad.any() else array[0]), what or name)
                checked = f"{what or name} {_span(array)} {limit.unit} checked".replace("  ", " ")
        self._interlocks.append(Interlock(name, limit, rule, checked))

    def check(self, text: str) -> None:
        """A check made while planning, in words (``spectrometer covers the fit window``)."""
        self._checks.append(text)

    def estimate(self, seconds: float) -> None:
        self._estimate_s = float(seconds)

    def memory(self, what: str, nbytes: int) -> None:
        """A buffer the run holds in memory (bytes)."""
        self._memory[what] = int(nbytes)

    def view(self, kind: str, dataset: str, axes: Sequence[str], title: str) -> None:
        if kind not in VIEW_KINDS:
            raise ValueError(f"unknown view kind {kind!r}; known: {', '.join(VIEW_KINDS)}")
        self._views.append(View(kind, dataset, tuple(axes), title))

    def build(self) -> Plan:
        names = [a.name for a in self._axes] + [d.name for d in self._datasets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"plan of {self._procedure}: {repeated} declared twice")
        return Plan(
            procedure=self._procedure, station=self._station, parameters=MappingProxyType(dict(self._parameters)),
            points=self._points or Points(MappingProxyType({}), ()), axes=tuple(self._axes),
            datasets=tuple(self._datasets), streams=tuple(self._streams), interlocks=tuple(self._interlocks),
            checks=tuple(self._checks), estimate_s=self._estimate_s,
            memory_bytes=MappingProxyType(dict(self._memory)), views=tuple(self._views),
            attrs=MappingProxyType({k: MappingProxyType(v) for k, v in self._attrs.items()}))
