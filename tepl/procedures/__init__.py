"""Procedures: the experiments tepl runs, all through one run loop (``tepl.procedures.base.run``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tepl.procedures.align import AlignTip
from tepl.procedures.approach import Approach
from tepl.procedures.base import AbortRequested, Event, Procedure, RunControl, run
from tepl.procedures.calibrate import Calibrate
from tepl.procedures.confocal import ConfocalRaster
from tepl.procedures.counting import G2, TimeTrace
from tepl.procedures.gap import DistanceSweep, PressureRamp
from tepl.procedures.kinetic import KineticSeries
from tepl.procedures.params import Parameter, ParameterError
from tepl.procedures.scans import LineScan, Raster
from tepl.procedures.temperature import TemperatureSeries

PROCEDURES: dict[str, type[Procedure]] = {
    cls.name: cls for cls in (Raster, LineScan, DistanceSweep, PressureRamp, Calibrate, ConfocalRaster, G2,
                              TimeTrace, KineticSeries, TemperatureSeries, Approach, AlignTip)
}

__all__ = ["PROCEDURES", "AbortRequested", "Event", "Parameter", "ParameterError", "Procedure",
           "RunControl", "make_procedure", "resume_procedure", "run", "run_procedure"]


def make_procedure(name: str, **values: Any) -> Procedure:
    """The procedure called ``name`` (as in ``tepl list``) with its parameters checked."""
    try:
        cls = PROCEDURES[name]
    except KeyError:
        raise ParameterError(f"unknown procedure {name!r}; known: {', '.join(sorted(PROCEDURES))}") from None
    return cls(**values)


def run_procedure(name: str, station: Any, out: str | Path, control: RunControl | None = None,
                  listeners: list | None = None, overwrite: bool = False, **values: Any) -> Path:
    """Run a procedure by name from Python: ``run_procedure("raster", station, "map.h5", pixel_um=0.005)``."""
    return run(make_procedure(name, **values), station, out, control=control, listeners=listeners,
               overwrite=overwrite)


def resume_procedure(path: str | Path, station: Any, control: RunControl | None = None,
                     listeners: list | None = None) -> Path:
    """Continue the interrupted run in ``path`` on ``station`` (the station it ran on: same name), with the
    parameters the file records, from the first step it had not completed, into the same file."""
    from tepl.data.runfile import read_run

    recorded = read_run(path)
    if recorded.status == "complete":
        raise ParameterError(f"{path}: the run is complete; there is nothing to resume")
    procedure = make_procedure(recorded.procedure, **{name: value for name, (value, _) in recorded.parameters.items()})
    return run(procedure, station, path, control=control, listeners=listeners, resume=True)
