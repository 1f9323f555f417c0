"""The one run loop every procedure goes through.

A procedure declares its parameters (units, bounds) and the roles it needs, describes the whole run in
``make_plan`` (points, file layout, interlocks with the station's limits, estimates, views: a ``Plan``, made
once before anything moves) and does the work in ``execute`` from ``ctx.plan``, calling
``ctx.checkpoint()`` at safe points and ``ctx.progress()`` as it goes. The run loop lays out the file from
the plan, so the file's datasets are the plan's.

``run()`` owns the exits: on completion, operator stop, abort, any exception or Ctrl-C it first puts the
station in its safe state (tip withdrawn, shutter closed), then records in the file what happened and why,
keeping every line already written. The one exception is declared: a procedure whose purpose is to leave an
instrument working (the approach leaves the tip engaged) names that role in ``leaves`` and says so during the
run with ``ctx.keep``; only a run that completes without a stop leaves it so, every other ending makes it safe.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tepl import __version__
from tepl.plan import Plan, PlanBuilder
from tepl.procedures.params import Parameter, ParameterSet
from tepl.procedures.signals import (
    SIGINT_REASON,
    SIGNAL_REASONS,
    Interrupted,
    catch_signals,
    ignore_signals,
    restore_signals,
)
from tepl.roles import LimitError


class AbortRequested(Exception):
    """Raised at a safe point after the operator asked to abort."""


@dataclass
class Event:
    """Something a procedure reports: ``progress`` (done/total), ``log``, ``status``, ``data`` (a dataset write:
    ``data`` holds its name, index and value) or ``live`` (a value shown as it is measured, before the write that
    stores it, e.g. a confocal pixel's counts; same ``data`` keys as a ``data`` event)."""

    kind: str
    message: str = ""
    done: int = 0
    total: int = 0
    data: dict[str, Any] = field(default_factory=dict)


class RunControl:
    """Thread-safe requests from the operator (GUI, CLI, script) to a running procedure."""

    def __init__(self) -> None:
        self._resume = threading.Event()
        self._resume.set()
        self._stop = threading.Event()
        self._abort = threading.Event()
        self.abort_reason = ""

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        """Finish the current line, keep the data, end cleanly."""
        self._stop.set()

    def abort(self, reason: str = "aborted by the operator") -> None:
        """End at the next safe point; the run is marked aborted with ``reason``."""
        if not self._abort.is_set():
            self.abort_reason = reason
        self._abort.set()
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()


class RunContext:
    """What ``execute`` gets: the station, the recorder, events and the operator's requests."""

    def __init__(self, station: Any, recorder: Any, control: RunControl,
                 listeners: list[Callable[[Event], None]], plan: Plan):
        self.station = station
        self.recorder = recorder
        self.control = control
        self.plan = plan
        self.first_step = 0  # steps of ``visit`` an interrupted run already completed (resume)
        self.may_keep: tuple[str, ...] = ()  # roles the procedure may leave working (``Procedure.leaves``)
        self.kept: dict[str, str] = {}  # role -> what it is left doing, when the run completes
        self._listeners = listeners

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)

    def write(self, name: str, index: Any, value: Any) -> None:
        """Record ``/entry/data/<name>[index] = value`` and tell listeners (live plots) about it (no event is
        made when nobody listens)."""
        self.recorder.write(name, index, value)
        if self._listeners:
            self.emit(Event("data", name, data={"name": name, "index": index, "value": value}))

    def create(self, name: str, length: int) -> None:
        """Allocate a dataset the plan declared with a size known only once measured (``length`` along its
        open dimension)."""
        spec = self.plan.dataset(name)
        shape = tuple(length if n is None else n for n in spec.shape)
        self.recorder.add_dataset(name, shape, spec.dims, spec.unit, dtype=spec.dtype, signal=spec.signal,
                                  **({} if spec.fill is None else {"fill": spec.fill}))

    def snapshot_instruments(self, when: str = "once the procedure had applied its settings") -> None:
        """Record the instruments' settings in the file now (``when``: in words), if not yet recorded. The
        recorder takes them by itself at the first data write; a procedure whose first acquisition is long
        may call this once it has applied its settings, before acquiring."""
        self.recorder.take_deferred_snapshot(when)

    def progress(self, done: int, total: int, message: str = "") -> None:
        if self._listeners:
            self.emit(Event("progress", message, done, total))

    def log(self, message: str) -> None:
        self.recorder.append_event(message)
        self.emit(Event("log", message))

    def keep(self, role: str, what: str) -> None:
        """Leave ``role`` as it is (``what``: its state in words, for the file) when the run completes; a role
        the procedure does not declare in ``leaves`` is refused. A stop, abort or error still makes it safe."""
        if role not in self.may_keep:
            raise ValueError(f"{self.plan.procedure} does not declare that it leaves the {role} working "
                             f"(Procedure.leaves = {self.may_keep})")
        self.kept[role] = what
        self.log(f"{role} to be left {what} when the run completes")

    def checkpoint(self) -> None:
        """A safe point: wait here while paused; raise AbortRequested if the operator aborted."""
        if self.control.abort_requested:
            raise AbortRequested(self.control.abort_reason)
        if self.control.paused:
            self.emit(Event("status", "paused"))
            while self.control.paused and not self.control.abort_requested:
                time.sleep(0.02)
            if self.control.abort_requested:
                raise AbortRequested(self.control.abort_reason)
            self.emit(Event("status", "resumed"))

    @property
    def stop_requested(self) -> bool:
        return self.control.stop_requested

    def visit(self, label: Callable[[Any], str], steps: Sequence[Any] | None = None) -> Iterator[Any]:
        """The plan's points (or ``steps``, e.g. the points grouped by scan line), in order, from
        ``first_step`` (0, or where an interrupted run stopped): a checkpoint before each; after each, the
        count of completed steps in the file (``/entry@steps_done``, what a resume starts from), the file
        flushed, progress reported as ``label(step)``, and the end when the operator asked to stop."""
        steps = list(self.plan.points.rows()) if steps is None else steps
        for i in range(self.first_step, len(steps)):
            step = steps[i]
            self.checkpoint()
            yield step
            self.recorder.set_attrs("/entry", steps_done=i + 1)
            self.recorder.flush()
            if self._listeners:  # the label is words for an operator: made only when someone listens
                self.progress(i + 1, len(steps), label(step))
            if self.stop_requested:
                self.log(f"stop requested: ended after {label(step)} ({i + 1} of {len(steps)})")
                return


class Procedure:
    """Base class of every procedure. Subclasses set ``name``, ``parameters``, ``roles``."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    excites: ClassVar[bool] = True
    """True when the procedure measures light the laser excites: the run opens the station's excitation path
    (``safe_group`` "excitation") before ``execute``; the safe state blocks it first at the end."""
    resumable: ClassVar[bool] = False
    """True when ``execute`` walks its plan with ``ctx.visit`` and can go on from ``ctx.first_step``
    (restoring what it keeps in memory from the file in ``restore``)."""
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    roles: ClassVar[tuple[str, ...]] = ()
    leaves: ClassVar[tuple[str, ...]] = ()
    """Roles a completed run of this procedure may leave working instead of safe (``ctx.keep``): the approach
    leaves the tip engaged. Empty for every procedure that ends with the whole station safe."""

    def __init__(self, **values: Any):
        self.params = ParameterSet.resolve(self.parameters, values)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    # ---- hooks ---------------------------------------------------------------------------------
    def make_plan(self, station: Any, plan: PlanBuilder) -> None:
        """Describe the run into ``plan``: points, axes and datasets, interlocks (checking every planned
        value against the station's limits), time and memory estimates, live views. Reads the station,
        never moves it. Default: a run that writes no data."""

    def execute(self, ctx: RunContext) -> None:
        """Carry out ``ctx.plan``."""
        raise NotImplementedError

    def restore(self, ctx: RunContext) -> None:
        """On resume, before ``execute``: read back from ``ctx.recorder`` what an interrupted run kept in
        memory (sums, references, times). Default: nothing is kept."""

    # ---- shared -------------------------------------------------------------------------------
    def plan(self, station: Any) -> Plan:
        """The whole run, described once before anything moves; LimitError names the limit a planned value
        would break."""
        self._check_roles(station)
        builder = PlanBuilder(self.name, station.name, self.params.as_record())
        self.make_plan(station, builder)
        return builder.build()

    def dry_run(self, station: Any, out_dir: str | Path = ".") -> str:
        """The plan in words, and whether its file and memory fit (``out_dir``: where the file would go);
        nothing moves."""
        plan = self.plan(station)
        fits = check_resources(plan, out_dir)
        return f"{plan.describe()}\nresources: {fits}"

    def _check_roles(self, station: Any) -> None:
        missing = [r for r in self.roles if not station.has_role(r)]
        if missing:
            raise LimitError(f"{self.name} needs the roles {missing}, which station {station.name} lacks")


def available_memory_bytes() -> int:
    """Memory the run may use: MemAvailable of /proc/meminfo, or the physical memory elsewhere."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_resources(plan: Plan, out_dir: str | Path) -> str:
    """The plan's file must fit the free disk where it goes, its buffers the available memory."""
    folder = Path(out_dir).resolve()
    while not folder.exists():  # the run creates missing folders: the disk is the nearest existing one's
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    try:  # a process may be allowed less than the disk has (ulimit -f)
        import resource

        largest_file = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if largest_file != resource.RLIM_INFINITY:
            free = min(free, int(largest_file))
    except (ImportError, ValueError, OSError):
        pass
    return plan.check_resources(free, available_memory_bytes(), where=str(folder))


def lay_out(recorder: Any, plan: Plan) -> None:
    """Create the plan's axes, pre-allocated datasets, streams and attributes in the run file."""
    from tepl.data.tags import add_tags

    for axis in plan.axes:
        recorder.add_axis(axis.name, axis.values, axis.unit, dim=axis.dim)
    for spec in plan.datasets:
        if spec.allocated:
            recorder.add_dataset(spec.name, spec.shape, spec.dims, spec.unit, dtype=spec.dtype, signal=spec.signal,
                                 **({} if spec.fill is None else {"fill": spec.fill}))
    for stream in plan.streams:
        if stream.kind != "tags":
            raise ValueError(f"plan of {plan.procedure}: unknown stream kind {stream.kind!r}")
        add_tags(recorder, **stream.options)
    for target, attrs in plan.attrs.items():
        if target.startswith("/") or any(spec.name == target and spec.allocated for spec in plan.datasets) \
                or any(axis.name == target for axis in plan.axes):
            recorder.set_attrs(target, **attrs)


def check_layout(path: str | Path, plan: Plan) -> None:
    """Refuse to resume into a file whose procedure, datasets and axes are not the plan's (another grid,
    another station's spectrometer...)."""
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        if f["entry"].attrs.get("procedure") != plan.procedure:
            raise ValueError(f"{path}: a {f['entry'].attrs.get('procedure')} run, not {plan.procedure}")
        data = f["entry/data"]
        for spec in plan.datasets:
            if spec.allocated and spec.name not in data:
                raise ValueError(f"{path}: has no dataset {spec.name!r}: not a run of this plan")
            if spec.name in data and any(n is not None and n != m
                                         for n, m in zip(spec.shape, data[spec.name].shape, strict=True)):
                raise ValueError(f"{path}: {spec.name} is {data[spec.name].shape}, the plan makes {spec.shape}")
        for axis in plan.axes:
            values = data[axis.name][()] if axis.name in data else None
            if values is None or (not axis.measured and (values.shape != axis.values.shape
                                                         or not np.allclose(values, axis.values))):
                raise ValueError(f"{path}: axis {axis.name} differs from the plan's: not the same grid")


def run(procedure: Procedure, station: Any, out_path: str | Path,
        control: RunControl | None = None, listeners: list[Callable[[Event], None]] | None = None,
        overwrite: bool = False, plan: Plan | None = None, resume: bool = False) -> Path:
    """Run ``procedure`` on ``station`` into one HDF5 file; return its path.

    The plan (``procedure.plan(station)`` unless one made for this station is given) checks parameters and
    limits before the file is created and before anything moves. Whatever
    happens afterwards, the station is put in its safe state first, then the file is closed with status
    ``complete`` (with a reason when the operator stopped early), ``aborted`` or ``failed`` and the reason.
    Exceptions are re-raised after the file is closed; SIGINT, SIGTERM and SIGHUP end the run at its next
    safe point and raise ``Interrupted`` (``exit_code`` 130, 143, 129). A raised exception carries the safe
    state's report as ``safe_state``.
    """
    from tepl.data.recorder import Recorder, StorageError

    plan = plan if plan is not None else procedure.plan(station)
    if plan.procedure != procedure.name or plan.station != station.name:
        raise ValueError(f"the plan is of {plan.procedure} on {plan.station}, not {procedure.name} on {station.name}")
    if not resume:  # a resumed file is allocated already
        check_resources(plan, Path(out_path).parent)
    if resume and not procedure.resumable:
        raise ValueError(f"{procedure.name} runs cannot be resumed (it has no steps to go on from)")
    control = control or RunControl()
    previous_handlers = catch_signals(control)
    try:
        if resume:
            check_layout(out_path, plan)
            recorder = Recorder.reopen(out_path, reason=f"resumed on station {station.name}")
        else:
            recorder = Recorder(
                out_path, procedure=procedure.name, parameters=dict(plan.parameters),
                config_text=station.config.text, instruments=None,
                software_version=f"tepl {__version__}", simulation=station.simulation_truth(),
                overwrite=overwrite,
            )
        # The settings the run acquires with: read at its first data write (after the first acquisition,
        # so after the procedure applied exposure, grating, binning...), not before it applied them.
        recorder.defer_instruments(station.settings)  # a resumed file keeps the snapshot it has
    except BaseException:
        restore_signals(previous_handlers)
        raise
    ctx = RunContext(station, recorder, control, list(listeners or []), plan)
    ctx.may_keep = tuple(procedure.leaves)
    if resume:
        ctx.first_step = int(recorder.attrs().get("steps_done", 0))
    status, reason, error = "complete", None, None
    pending: BaseException | None = None
    safe: dict[str, str] = {}
    try:
        if resume:
            ctx.log(f"resuming {procedure.name} from step {ctx.first_step + 1}")
            procedure.restore(ctx)
        else:
            lay_out(recorder, plan)
        recorder.flush()
        if procedure.excites and station.excitation():
            ctx.log(f"excitation open ({', '.join(station.open_excitation())})")
        procedure.execute(ctx)
        ctx.snapshot_instruments("at the end of a run that wrote no data")  # no-op once taken
        if control.stop_requested:  # complete as far as it went: the file's status stays in the contract
            reason = "stopped by the operator after the current line"
    except AbortRequested as exc:
        status, reason = "aborted", str(exc)
        signum = next((n for n, r in SIGNAL_REASONS.items() if r == control.abort_reason), None)
        if signum is not None:
            pending = Interrupted(signum, control.abort_reason)
    except Interrupted as exc:
        status, reason, pending = "aborted", str(exc), exc
    except KeyboardInterrupt:
        status, reason, pending = "aborted", SIGINT_REASON, Interrupted(signal.SIGINT, SIGINT_REASON)
    except BaseException as exc:  # noqa: BLE001 - every exit must reach the safe state
        status, reason, pending = "failed", f"{type(exc).__name__}: {exc}", exc
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    finally:
        ignore_signals(previous_handlers)
        try:
            try:
                kept = ctx.kept if status == "complete" and not control.stop_requested else {}
                safe = station.safe_state(keep=kept)  # first, whatever the file can still take
            except KeyboardInterrupt as exc:  # held until every instrument was made safe
                safe = getattr(exc, "safe_state", {})
                pending = pending or Interrupted(signal.SIGINT, SIGINT_REASON)
                status, reason = ("aborted", SIGINT_REASON) if status == "complete" else (status, reason)
            try:
                if recorder.snapshot_pending:  # after the safe state the settings are not the run's
                    recorder.set_attrs("/entry/instrument", snapshot_missing=f"the run ended ({status}) "
                                       "before its first data write")
                recorder.set_attrs("/entry", **{f"safe_state_{k}": v for k, v in safe.items()})
                if reason:
                    recorder.append_event(f"run ended: {status}: {reason}")
            except StorageError as exc:
                pending = pending or exc
        finally:
            try:
                recorder.close(status, reason=reason, error=error)
            except StorageError as exc:
                pending = pending or exc
            restore_signals(previous_handlers)
    ctx.emit(Event("status", status, data={"reason": reason, "path": str(recorder.path), "safe_state": safe}))
    if pending is not None:
        pending.safe_state = safe  # what the file records of the safe state, for the caller to say
        raise pending
    return Path(recorder.path)
