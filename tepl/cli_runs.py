"""``tepl run | resume``: a procedure into one HDF5 file on a station built from its config, or the plan of a
dry run; the station is made safe and released on every way out, with the signal that ended a run reported."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tepl.progress import SIMULATED_NOTE, ProgressBar


def describe_safe_state(report: dict) -> str:
    """What the safe state recorded, in words: ``safe state: zcontrol retracted, shutter closed``."""
    if not report:
        return "safe state: not reached"
    return "safe state: " + ", ".join(f"{role} {outcome}" for role, outcome in report.items())


def cmd_run(args: argparse.Namespace) -> int:
    from tepl.config import load_config
    from tepl.procedures import make_procedure, run
    from tepl.procedures.params import parse_assignments
    from tepl.station import build_station

    procedure = make_procedure(args.procedure, **parse_assignments(args.set or []))
    if args.dry_run:
        return _dry_run(procedure, load_config(args.config), Path(args.out).parent if args.out else Path("."))
    if args.out is None:
        raise ValueError("--out FILE.h5 is required (or --dry-run)")
    if Path(args.out).exists() and not args.overwrite:
        raise FileExistsError(f"{args.out} already exists; pass --overwrite to replace it")
    station = build_station(args.config)
    try:
        plan = procedure.plan(station)
    except BaseException:
        close_station(station)
        raise
    bar = ProgressBar(plan.estimate_s, simulated=station.world is not None)
    return _run_and_close(station, args.out, lambda: run(procedure, station, args.out, listeners=[bar], plan=plan,
                                                         overwrite=args.overwrite))


def _dry_run(procedure, config, out_dir: Path) -> int:
    """Print the plan; nothing moves. A simulated station is built without its safe state or cooling; a
    station with real instruments is not connected to: its plan is made on simulated stand-ins of the same
    instruments and each instrument is probed (a TCP connect, the serial port, the library file). Exit status
    1 when an instrument could not be reached."""
    from tepl.reachability import fully_simulated, probe_station, stand_in_config
    from tepl.station import build_station

    simulated = fully_simulated(config)
    station = build_station(config if simulated else stand_in_config(config), cool=False, safe=False)
    try:
        print(procedure.dry_run(station, out_dir))
    finally:
        close_station(station, make_safe=False)
    if simulated:
        print(f"note: {SIMULATED_NOTE}")
        return 0
    print(f"station {config.data['station']['name']} ({config.source}) was not connected to: the plan above was "
          f"made on simulated stand-ins of its instruments, with its limits and settings and "
          f"{station.config.source.rsplit('(', 1)[-1].rstrip(')')} (axes such as the CCD's wavelengths are the "
          f"simulators')")
    print("instruments, probed without talking to them:")
    reaches = probe_station(config)
    for reach in reaches:
        print(f"  {reach.line()}")
    unreachable = [r.role for r in reaches if r.reachable is False]
    if unreachable:
        print(f"could not reach: {', '.join(unreachable)}; a run would stop at connecting to "
              f"{'it' if len(unreachable) == 1 else 'them'}")
        return 1
    return 0


def _run_and_close(station, out: str, start) -> int:
    """``start()`` a run on ``station`` into ``out``, then close the station; a signal that ended the run is
    reported with the safe state the file records, and its exit code."""
    try:
        path = start()
    except KeyboardInterrupt as exc:  # SIGINT, SIGTERM or SIGHUP: the run ended at a safe point
        print(f"\n{exc}: {describe_safe_state(getattr(exc, 'safe_state', {}))}; data kept in {out}",
              file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    finally:
        close_station(station)
    print(path)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from tepl.config import parse_config
    from tepl.data.runfile import read_run
    from tepl.procedures import resume_procedure
    from tepl.station import build_station

    recorded = read_run(args.file)
    if recorded.status == "complete":
        raise ValueError(f"{args.file}: the run is complete; there is nothing to resume")
    config = parse_config(recorded.config_text, f"{args.file}:/entry/config") if args.config is None else args.config
    measured_on = parse_config(recorded.config_text, args.file).data["station"]["name"]
    station = build_station(config)
    if station.name != measured_on:
        close_station(station)
        raise ValueError(f"{args.file} was measured on station {measured_on}, not {station.name}")
    bar = ProgressBar(simulated=station.world is not None)
    return _run_and_close(station, args.file, lambda: resume_procedure(args.file, station, listeners=[bar]))


def close_station(station, make_safe: bool = True) -> None:
    """Release the instruments (after the safe state, unless ``make_safe`` is False), with SIGINT, SIGTERM and
    SIGHUP held off; on a real rig the CCD first warms above -20 °C, which takes minutes."""
    from tepl.procedures.signals import SIGNAL_REASONS, restore_signals

    if station.spectrometer is not None and station.world is None:
        print("releasing the instruments: the CCD warms above -20 °C before ShutDown", file=sys.stderr)
    held = {signum: signal.signal(signum, signal.SIG_IGN) for signum in SIGNAL_REASONS}
    try:
        report = station.close(make_safe=make_safe)
    finally:
        restore_signals(held)
    for role, outcome in report.get("released", {}).items():
        if outcome != "released":
            print(f"{role}: {outcome}", file=sys.stderr)
