"""Command line: ``tepl list | stations | samples | run | resume | info | plot | import | export | serve | check-rig
| demo | gui | serve-instruments | analyze``.

The console entry point ``main``: parses the arguments (``tepl.cli_parser``), runs the sub-command (the
``cmd_*`` functions of ``tepl.cli_catalog``, ``cli_runs``, ``cli_files``, ``cli_instruments``, ``cli_sessions``)
and turns its errors and the signals that end it into a message and an exit status."""

from __future__ import annotations

import os
import signal
import sys
import threading

from tepl.cli_parser import build_parser


def _end_on_signals() -> None:
    """Outside a run (building or closing the station, importing, plotting), SIGTERM and SIGHUP end the
    command like Ctrl-C: as an exception, so what was built is made safe and released on the way out."""
    from tepl.procedures.signals import SIGNAL_REASONS, Interrupted

    def raise_interrupted(signum, frame):
        raise Interrupted(signum, SIGNAL_REASONS[signum])

    for signum in SIGNAL_REASONS:
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
    from tepl.procedures.signals import SIGINT_REASON
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
        print(f"tepl {args.command}: {exc or SIGINT_REASON}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))


if __name__ == "__main__":
    sys.exit(main())
