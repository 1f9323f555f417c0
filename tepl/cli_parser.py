"""The command line's arguments: one sub-command parser per command, each calling its ``cmd_*`` function."""

from __future__ import annotations

import argparse

from tepl import __version__
from tepl.cli_catalog import cmd_list, cmd_samples, cmd_stations
from tepl.cli_files import cmd_analyze, cmd_export, cmd_import, cmd_info, cmd_plot
from tepl.cli_instruments import cmd_check_rig, cmd_serve, cmd_serve_instruments
from tepl.cli_runs import cmd_resume, cmd_run
from tepl.cli_sessions import cmd_demo, cmd_gui

SIMULATORS = ("pi-e727", "rhk-r9", "thorlabs-sc10", "newport-8742", "lakeshore-336")


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
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("stations", help="the stations shipped with tepl, one line each")
    p.set_defaults(func=cmd_stations)

    p = sub.add_parser("samples", help="copy small sample files (an Andor .sif, a PicoQuant .ptu) for tepl import")
    p.add_argument("--out", default=".", help="folder to copy them into (default: the working folder)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files of the same names")
    p.set_defaults(func=cmd_samples)

    p = sub.add_parser("run", help="run a procedure into one HDF5 file", more_help=_procedures_help)
    p.add_argument("procedure", help="the procedure's name (listed below)")
    p.add_argument("--config", default=None, help=STATION_HELP)
    p.add_argument("--out", default=None, help="output FILE.h5")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, check limits, disk and memory, estimate "
                   "time; move nothing (a real station is not connected to: each instrument is probed)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("resume", help="continue an interrupted (killed, aborted, failed) run in its own file")
    p.add_argument("file")
    p.add_argument("--config", default=None, help="station config (default: the one the file records)")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("info", help="describe a run file")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("plot", help="PNG figures of a run file")
    p.add_argument("file")
    p.add_argument("--out", default=None, help="output folder (default: beside the file)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("import", help="convert an Andor .sif or PicoQuant .ptu file into a tepl HDF5 file")
    p.add_argument("file")
    _add_output(p, "output FILE.h5 (default: the file's name with .h5, in the working folder)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write a run file's photon time tags as a PicoQuant .ptu file")
    p.add_argument("file")
    p.add_argument("--ptu", action="store_true", help="PicoQuant PTU (the only export format)")
    _add_output(p, "output FILE.ptu (default: beside the run file)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="serve a protocol simulator on 127.0.0.1 until stopped")
    p.add_argument("simulator", choices=SIMULATORS)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config", default=None, help="station whose simulation section to use; " + STATION_HELP)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check-rig", help="ask the config's RHK R9 about each word the driver uses (queries "
                                         "only: nothing moves); exit status 1 if a word was not answered")
    p.add_argument("--config", required=True, help="station config whose instruments.zcontrol names the R9")
    p.add_argument("--timeout-s", type=float, default=5.0, help="wait for each reply at most this long (s)")
    p.set_defaults(func=cmd_check_rig)

    p = sub.add_parser("demo", help="a simulated session: tip approach and alignment, calibrate, raster, sweeps, "
                                     "ramps, confocal and cryostat runs, figures")
    p.add_argument("--out", default="runs", help="output folder (refused when it holds files, unless --overwrite)")
    p.add_argument("--config", default=None)
    p.add_argument("--overwrite", action="store_true", help="write into an output folder that already holds files, "
                                                            "replacing runs of the same name")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gui", help="operator console: set up a procedure, run it, watch it live")
    p.add_argument("--config", default=None, help=STATION_HELP)
    p.add_argument("--out", default="runs", help="folder for the run files (default: runs)")
    p.add_argument("--screenshots", metavar="DIR", default=None,
                   help="run a short scripted session on each simulated station (or --config), save PNGs of the "
                        "window at the start, middle and end of each procedure to DIR, and quit")
    p.set_defaults(func=cmd_gui)
    _add_serve_instruments(sub)
    _add_analyze(sub)
    return parser


def _add_output(p: argparse.ArgumentParser, out_help: str) -> None:
    """A converter's ``--out FILE`` (``out_help`` says its default) and ``--overwrite``."""
    p.add_argument("--out", default=None, help=out_help)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


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
    p.set_defaults(func=cmd_serve_instruments)


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
    p.set_defaults(func=cmd_analyze)
