"""``tepl demo | gui``: the simulated demo session, and the operator console (or its scripted screenshots)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tepl.cli_runs import close_station


def cmd_demo(args: argparse.Namespace) -> int:
    from tepl.demo import run_demo

    run_demo(Path(args.out), config=args.config, overwrite=args.overwrite)
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
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
    from tepl.procedures.signals import SIGNAL_REASONS
    from tepl.station import build_station

    app = QApplication.instance() or QApplication(sys.argv[:1])
    station = build_station(args.config)
    console = Console(station, Path(args.out))
    console.resize(1600, 1000)
    console.show()
    for signum in SIGNAL_REASONS:  # Ctrl-C, kill, a closed terminal: abort the run, then quit
        signal.signal(signum, lambda signum, frame: console.close())
    wake = QTimer()  # Python runs its signal handlers only between bytecodes: wake it while Qt idles
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        return int(app.exec_())
    finally:
        close_station(station)
