"""Command line: ``tepl list | stations | samples | run | resume | info | plot | import | export | serve | check-rig
| demo | gui``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from tepl import __version__
from tepl.progress import SIMULATED_NOTE, ProgressBar

SIMULATORS = ("pi-e727", "rhk-r9", "thorlabs-sc10", "newport-8742", "lakeshore-336")
_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _cmd_list(args: argparse.Namespace) -> int:
    from tepl.config import load_config
    from tepl.limits import StationLimits
    from tepl.procedures import PROCEDURES

    config = load_config(args.config)
    limits = StationLimits.from_config(config.data["limits"])
    names = args.procedure or list(PROCEDURES)
    unknown = [n for n in names if n not in PROCEDURES]
    if unknown:
        raise ValueError(f"no procedure {', '.join(unknown)}; known: {', '.join(PROCEDURES)}")
    print(f"{'procedures' if len(names) > 1 else 'procedure'}, with the bounds of station "
          f"{config.data['station']['name']} ({config.source}):")
    for name in names:
        cls = PROCEDURES[name]
        print(f"{name}: {cls.summary}")
        print(f"  roles: {', '.join(cls.roles)}")
        for p in cls.parameters:
            print(f"  {p.on_station(limits).describe()}")
    return 0


def _cmd_stations(args: argparse.Namespace) -> int:
    from tepl.config import CONFIG_DIR, load_config, shipped_stations
    from tepl.reachability import fully_simulated

    stations = shipped_stations()
    width = max(len(name) for name in stations)
    print(f"stations shipped with tepl ({CONFIG_DIR}); use one with --config NAME, or copy its file and edit it:")
    for name, path in stations.items():
        station = load_config(path).data["station"]
        kind = "simulated" if fully_simulated(load_config(path)) else "real rig"
        print(f"{name:<{width}}  {kind:<9}  {station.get('description', station['name'])}")
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    import shutil

    from tepl.samples import SAMPLE_FILES, SAMPLES_DIR

    out = Path(args.out)
    targets = {name: out / name for name in SAMPLE_FILES}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist{'s' * (len(existing) == 1)}; "
                              f"pass --overwrite to replace")
    out.mkdir(parents=True, exist_ok=True)
    for name, target in targets.items():
        shutil.copyfile(SAMPLES_DIR / name, target)
        print(f"{target}: {SAMPLE_FILES[name]}")
    return 0


def describe_safe_state(report: dict) -> str:
    """What the safe state recorded, in words: ``safe state: zcontrol retracted, shutter closed``."""
    if not report:
        return "safe state: not reached"
    return "safe state: " + ", ".join(f"{role} {outcome}" for role, outcome in report.items())


def _cmd_run(args: argparse.Namespace) -> int:
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
        _close_station(station)
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
        _close_station(station, make_safe=False)
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
        _close_station(station)
    print(path)
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
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
        _close_station(station)
        raise ValueError(f"{args.file} was measured on station {measured_on}, not {station.name}")
    bar = ProgressBar(simulated=station.world is not None)
    return _run_and_close(station, args.file, lambda: resume_procedure(args.file, station, listeners=[bar]))


def _close_station(station, make_safe: bool = True) -> None:
    """Release the instruments (after the safe state, unless ``make_safe`` is False), with SIGINT, SIGTERM and
    SIGHUP held off; on a real rig the CCD first warms above -20 °C, which takes minutes."""
    if station.spectrometer is not None and station.world is None:
        print("releasing the instruments: the CCD warms above -20 °C before ShutDown", file=sys.stderr)
    held = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _ENDING_SIGNALS}
    try:
        report = station.close(make_safe=make_safe)
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
    for role, outcome in report.get("released", {}).items():
        if outcome != "released":
            print(f"{role}: {outcome}", file=sys.stderr)


def _cmd_info(args: argparse.Namespace) -> int:
    from tepl.data.runfile import describe

    print(describe(args.file))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from tepl.plotting import plot_run

    out_dir = Path(args.out) if args.out else Path(args.file).with_suffix("")
    for path in plot_run(args.file, out_dir):
        print(path)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    src = Path(args.file)
    suffix = src.suffix.lower()
    if suffix == ".sif":
        from tepl.data.sif import import_sif as importer
    elif suffix == ".ptu":
        from tepl.ptu_import import import_ptu as importer
    else:
        raise ValueError(f"{src}: unknown file type {src.suffix!r}; supported: Andor .sif, PicoQuant .ptu")
    return _convert(importer, src, Path(args.out) if args.out else Path(src.with_suffix(".h5").name), args.overwrite)


def _convert(convert, src: Path, out: Path, overwrite: bool) -> int:
    """``convert(src, out)`` unless ``out`` exists (and ``overwrite`` is not set); prints the output path."""
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    print(convert(src, out, overwrite=overwrite))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from tepl.data.ptu_export import export_ptu

    src = Path(args.file)
    if not args.ptu:
        raise ValueError("choose an output format: --ptu (PicoQuant PTU time tags)")
    return _convert(export_ptu, src, Path(args.out) if args.out else src.with_suffix(".ptu"), args.overwrite)


def _cmd_serve(args: argparse.Namespace) -> int:
    from tepl.config import load_config
    from tepl.twin import build_world

    if not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port} is not a TCP port (1-65535)")
    world = build_world(load_config(args.config), real_time=True)
    if world is None:
        raise ValueError(f"{args.config}: a station without a 'simulation' section has nothing to serve")
    if args.simulator == "pi-e727":
        from tepl.sims.pi_e727 import serve
    elif args.simulator == "thorlabs-sc10":
        from tepl.sims.thorlabs_sc10 import serve
    elif args.simulator == "newport-8742":
        from tepl.sims.newport_8742 import serve
    elif args.simulator == "lakeshore-336":
        from tepl.sims.lakeshore_336 import serve
    else:
        from tepl.sims.rhk_r9 import serve
    server = serve(world, args.port).start()
    host, port = server.address
    print(f"{args.simulator} simulator on {host}:{port} (Ctrl-C stops)", flush=True)
    try:
        import time

        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


def _cmd_serve_instruments(args: argparse.Namespace) -> int:
    from tepl.config import load_config
    from tepl.remote.server import serve_station

    if not 0 <= args.port < 65536:
        raise ValueError(f"--port {args.port} is not a TCP port (0-65535; 0: any free port)")
    tls = {"cert": args.tls_cert, "key": args.tls_key, "ca": args.tls_ca} \
        if (args.tls_cert or args.tls_key or args.tls_ca) else None
    server = serve_station(load_config(args.config), args.host, args.port, args.heartbeat_timeout_s, tls)

    def ready(srv) -> None:
        print(f"serving {', '.join(srv.uri(r) for r in sorted(srv.instruments))} "
              f"({'TLS' if tls else 'loopback, no TLS'}; a silent client is made safe after "
              f"{srv.heartbeat_timeout_s:g} s; SIGTERM or Ctrl-C stops)", flush=True)

    server.serve(on_ready=ready)
    print(f"stopped; safe state: {server.safe_reports[-1]['report']}", flush=True)
    return 0


def _add_serve_instruments(sub) -> None:
    p = sub.add_parser("serve-instruments", help="serve the roles of this PC's instruments over Pyro5 to a "
                                                 "station on another PC (pyro://HOST:PORT/ROLE)")
    p.add_argument("--config", required=True, help="this PC's config: the instruments attached to it")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback; others need TLS)")
    p.add_argument("--port", type=int, default=9090, help="TCP port (0: any free port)")
    p.add_argument("--heartbeat-timeout-s", type=float, default=2.0,
                   help="a client silent this long (s) gets every instrument made safe")
    p.add_argument("--tls-cert", default=None, help="server certificate (PEM)")
    p.add_argument("--tls-key", default=None, help="server private key (PEM)")
    p.add_argument("--tls-ca", default=None, help="CA that signs the clients' certificates (PEM)")
    p.set_defaults(func=_cmd_serve_instruments)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from tepl.analyze import analyze_files

    for report in analyze_files(args.files, scheduler=args.scheduler, workers=args.workers,
                                chunk_mb=args.chunk_mb, progress=not args.quiet, n_exp=args.flim_exp,
                                min_counts=args.min_counts):
        print(report, flush=True)
    return 0


def _add_analyze(sub) -> None:
    p = sub.add_parser("analyze", help="fit the peaks of hyperspectral maps and the decays of FLIM cubes chunk by "
                                       "chunk (Dask), into an analysis group of each file")
    p.add_argument("files", nargs="+", help="run files (.h5)")
    p.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler (default: local)")
    p.add_argument("--workers", type=int, default=None, help="local worker threads (default: cores)")
    p.add_argument("--chunk-mb", type=float, default=64.0, help="size of one chunk of spectra read at once (MB)")
    p.add_argument("--flim-exp", type=int, default=2, help="exponential components of the FLIM fit (1, 2 or 3)")
    p.add_argument("--min-counts", type=float, default=500.0, help="photons a FLIM pixel needs to be fitted")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_analyze)


def _cmd_check_rig(args: argparse.Namespace) -> int:
    """Ask the config's R9 about each word of the driver's vocabulary, read-only; exit 1 if one did not answer."""
    from tepl.config import ConfigError, load_config
    from tepl.drivers.rhk_r9_check import NOT_ANSWERED, check_words, format_checks
    from tepl.instruments.rhk_r9 import connect_r9

    config = load_config(args.config)
    cfg = config.data["instruments"].get("zcontrol")
    if cfg is None or cfg.get("driver") != "rhk-r9":
        raise ConfigError(f"{config.source}: instruments.zcontrol is not an RHK R9 (driver: rhk-r9): nothing to "
                          f"check")
    r9 = connect_r9(cfg, timeout_s=args.timeout_s)
    try:
        checks = check_words(r9)
    finally:
        r9.close()
    print(format_checks(checks, r9.where.removeprefix("R9 at ")), flush=True)
    return 1 if any(c.result == NOT_ANSWERED for c in checks) else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from tepl.demo import run_demo

    run_demo(Path(args.out), config=args.config, overwrite=args.overwrite)
    return 0


def _cmd_gui(args: argparse.Namespace) -> int:
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    if getattr(args, "screenshots", None):
        from tepl.gui.screenshots import empty_views, take_screenshots

        app = QApplication.instance() or QApplication(sys.argv[:1])
        records = take_screenshots(args.screenshots, configs=[Path(args.config)] if args.config else None)
        shots = [r for r in records if r["path"]]
        empty = [f"{Path(r['path']).name}: {title}" for r in shots if r["moment"] == "end"
                 for title in empty_views(r)]
        print(f"{len(shots)} screenshots in {args.screenshots} (index.json lists what every view held)")
        for line in empty:
            print(f"empty view at the end of a run: {line}")
        return 1 if empty else 0

    from tepl.gui.console import Console
    from tepl.station import build_station

    app = QApplication.instance() or QApplication(sys.argv[:1])
    station = build_station(args.config)
    console = Console(station, Path(args.out))
    console.resize(1600, 1000)
    console.show()
    for signum in _ENDING_SIGNALS:  # Ctrl-C, kill, a closed terminal: abort the run, then quit
        signal.signal(signum, lambda signum, frame: console.close())
    wake = QTimer()  # Python runs its signal handlers only between bytecodes: wake it while Qt idles
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        return int(app.exec_())
    finally:
        _close_station(station)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose help may end with text made only when help is asked for (``more_help``)."""

    def __init__(self, *args, more_help=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.more_help = more_help

    def format_help(self) -> str:
        return super().format_help() + (self.more_help() if self.more_help else "")


def _procedures_help() -> str:
    from tepl.procedures import PROCEDURES

    width = max(len(name) for name in PROCEDURES)
    lines = [f"  {name:<{width}}  {cls.summary}" for name, cls in PROCEDURES.items()]
    return "\nprocedures (tepl list NAME shows one's parameters, units and defaults):\n" + "\n".join(lines) + "\n"


STATION_HELP = ("station: a shipped station's name (tepl stations lists them) or a YAML file "
                "(default: sim, the whole TEPL rig simulated)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tepl", description="tip-enhanced PL microscope control")
    parser.add_argument("--version", action="version", version=f"tepl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="procedures with their parameters, units, defaults and bounds")
    p.add_argument("procedure", nargs="*", help="only these procedures (default: all)")
    p.add_argument("--config", default=None, help="station whose limits tighten the bounds; " + STATION_HELP)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("stations", help="the stations shipped with tepl, one line each")
    p.set_defaults(func=_cmd_stations)

    p = sub.add_parser("samples", help="copy small sample files (an Andor .sif, a PicoQuant .ptu) for tepl import")
    p.add_argument("--out", default=".", help="folder to copy them into (default: the working folder)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files of the same names")
    p.set_defaults(func=_cmd_samples)

    p = sub.add_parser("run", help="run a procedure into one HDF5 file", more_help=_procedures_help)
    p.add_argument("procedure", help="the procedure's name (listed below)")
    p.add_argument("--config", default=None, help=STATION_HELP)
    p.add_argument("--out", default=None, help="output FILE.h5")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, check limits, disk and memory, estimate "
                   "time; move nothing (a real station is not connected to: each instrument is probed)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("resume", help="continue an interrupted (killed, aborted, failed) run in its own file")
    p.add_argument("file")
    p.add_argument("--config", default=None, help="station config (default: the one the file records)")
    p.set_defaults(func=_cmd_resume)

    p = sub.add_parser("info", help="describe a run file")
    p.add_argument("file")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("plot", help="PNG figures of a run file")
    p.add_argument("file")
    p.add_argument("--out", default=None, help="output folder (default: beside the file)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("import", help="convert an Andor .sif or PicoQuant .ptu file into a tepl HDF5 file")
    p.add_argument("file")
    p.add_argument("--out", default=None, help="output FILE.h5 (default: the file's name with .h5, in the "
                                               "working folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("export", help="write a run file's photon time tags as a PicoQuant .ptu file")
    p.add_argument("file")
    p.add_argument("--ptu", action="store_true", help="PicoQuant PTU (the only export format)")
    p.add_argument("--out", default=None, help="output FILE.ptu (default: beside the run file)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("serve", help="serve a protocol simulator on 127.0.0.1 until stopped")
    p.add_argument("simulator", choices=SIMULATORS)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config", default=None, help="station whose simulation section to use; " + STATION_HELP)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("check-rig", help="ask the config's RHK R9 about each word the driver uses (queries "
                                         "only: nothing moves); exit status 1 if a word was not answered")
    p.add_argument("--config", required=True, help="station config whose instruments.zcontrol names the R9")
    p.add_argument("--timeout-s", type=float, default=5.0, help="wait for each reply at most this long (s)")
    p.set_defaults(func=_cmd_check_rig)

    p = sub.add_parser("demo", help="a simulated session: tip approach and alignment, calibrate, raster, sweeps, "
                                     "ramps, confocal and cryostat runs, figures")
    p.add_argument("--out", default="runs", help="output folder (refused when it holds files, unless --overwrite)")
    p.add_argument("--config", default=None)
    p.add_argument("--overwrite", action="store_true", help="write into an output folder that already holds files, "
                                                            "replacing runs of the same name")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("gui", help="operator console: set up a procedure, run it, watch it live")
    p.add_argument("--config", default=None, help=STATION_HELP)
    p.add_argument("--out", default="runs", help="folder for the run files (default: runs)")
    p.add_argument("--screenshots", metavar="DIR", default=None,
                   help="run a short scripted session on each simulated station (or --config), save PNGs of the "
                        "window at the start, middle and end of each procedure to DIR, and quit")
    p.set_defaults(func=_cmd_gui)
    _add_serve_instruments(sub)
    _add_analyze(sub)
    return parser


def _end_on_signals() -> None:
    """Outside a run (building or closing the station, importing, plotting), SIGTERM and SIGHUP end the
    command like Ctrl-C: as an exception, so what was built is made safe and released on the way out."""
    from tepl.procedures.signals import SIGNAL_REASONS, Interrupted

    def raise_interrupted(signum, frame):
        raise Interrupted(signum, SIGNAL_REASONS[signum])

    for signum in _ENDING_SIGNALS:
        if signum != signal.SIGINT:
            signal.signal(signum, raise_interrupted)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (stdout replaced, as in tests)
        pass


def main(argv: list[str] | None = None) -> int:
    from tepl.config import ConfigError
    from tepl.procedures.params import ParameterError
    from tepl.roles import DeviceError, LimitError

    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        _end_on_signals()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # `tepl info f | head`: the reader has gone; say nothing more
        _quiet_stdout()
        return 141  # as a shell reports a command ended by SIGPIPE
    except (ConfigError, ParameterError, LimitError, DeviceError, OSError, ValueError) as exc:
        print(f"tepl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # before or after a run: nothing was left moving
        print(f"tepl {args.command}: {exc or 'interrupted by Ctrl-C (SIGINT)'}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))


if __name__ == "__main__":
    sys.exit(main())
