"""``tepl gui --screenshots DIR``: a short scripted session on every simulated station, saving a PNG of the
console window at the start, in the middle and at the end of each procedure the station can run, with a JSON
index saying what every plan view held in each (for reviews and the docs).

The parameters below make each run short; everything else is the console as an operator uses it: the form is
filled, Start is pressed, and the views draw what the run writes.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SHORT_RUNS: dict[str, dict[str, Any]] = {
    "raster": {"size_x_um": 0.06, "size_y_um": 0.06, "pixel_um": 0.005, "exposure_s": 0.05},
    "line-scan": {"length_um": 0.06, "pixel_um": 0.005, "exposure_s": 0.05},
    "distance-sweep": {"stop_gap_nm": 12.0, "gap_step_nm": 1.5, "exposure_s": 0.1},  # above the dot (make demo)
    "pressure-ramp": {"start_gap_nm": 12.0, "min_gap_nm": 5.0, "gap_step_nm": 0.5, "exposure_s": 0.1},
    "kinetic-series": {"frames": 20, "exposure_s": 0.05},
    "confocal-raster": {"size_x_um": 2.0, "size_y_um": 2.0, "pixel_um": 0.2, "dwell_s": 0.005},
    "g2": {"acquisition_s": 3.0, "block_s": 0.25},
    "time-trace": {"acquisition_s": 3.0, "bin_s": 0.01},
    "temperature-series": {"x_um": 25.0, "start_k": 10.0, "stop_k": 170.0, "step_k": 40.0, "hold_s": 20.0,
                           "exposure_s": 10.0, "acquisition_s": 3.0, "tcspc_bin_ps": 400.0},
}
"""Parameters of a short run per procedure (the others run with their defaults)."""

AT_A_DOT = ("distance-sweep", "pressure-ramp")
"""Procedures run on the twin's brightest quantum dot (``x_um``, ``y_um``), so a sweep has a dot to enhance and a
ramp one to press."""


def brightest_dot_um(station: Any) -> dict[str, float]:
    """``{"x_um": ..., "y_um": ...}`` of the brightest dot of a simulated TEPL sample (its ground truth); empty on
    a station without one."""
    try:
        truth = station.world.ground_truth()["sample"]
        i = int(np.argmax(truth["orientation"]))
        return {"x_um": float(truth["x_nm"][i]) / 1000.0, "y_um": float(truth["y_nm"][i]) / 1000.0}
    except (AttributeError, KeyError, TypeError, IndexError, ValueError):
        return {}

MOMENTS = ("start", "mid", "end")

MID_AT: dict[str, float] = {"distance-sweep": 0.75}
"""Where a run holds for its "mid" picture, as the fraction of its steps done (default half-way). A distance sweep
starts far from the dot, where the tip does not enhance it: the spectra of its first half hold too little of the
dot to fit, so its approach curve has points from about two thirds of the sweep on."""


def simulated_configs() -> list[Path]:
    """The simulated stations: ``sim.yaml`` and every ``*-sim.yaml`` of the embedded configs."""
    from tepl.config import CONFIG_DIR

    return [CONFIG_DIR / "sim.yaml"] + sorted(CONFIG_DIR.glob("*-sim.yaml"))


def _wait(app: Any, until: Callable[[], bool], timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.005)
    return until()


def _grab(app: Any, console: Any, path: Path) -> None:
    console.views.redraw()
    app.processEvents()
    console.grab().save(str(path))


def _contents(console: Any) -> list[dict[str, Any]]:
    return [{"kind": c["view"].kind, "dataset": c["view"].dataset, "title": c["view"].title, "values": c["values"],
             "x_label": c["x_label"], "y_label": c["y_label"], "colour_bar": c["colour_bar"]}
            for c in console.views.view_contents()]


def session(console: Any, out_dir: Path, prefix: str, procedures: Sequence[str] | None = None,
            timeout_s: float = 300.0) -> list[dict[str, Any]]:
    """Run every procedure ``console``'s station can run (or ``procedures``), saving ``<prefix>-<procedure>-
    <moment>.png``; returns one record per screenshot (path, procedure, moment, status, views' contents)."""
    from PyQt5.QtWidgets import QApplication

    app = QApplication.instance()
    box = console.procedure_box
    names = [box.itemText(i) for i in range(box.count()) if box.model().item(i).isEnabled()]
    records = []
    for name in names if procedures is None else [n for n in names if n in procedures]:
        console.select_procedure(name)
        values = {**SHORT_RUNS.get(name, {}), **(brightest_dot_um(console.station) if name in AT_A_DOT else {})}
        console.set_values(name, {k: v for k, v in values.items() if k in console.values(name)})
        console.pause_next_run_at = MID_AT.get(name, 0.5)  # the run holds itself there for the "mid" picture
        if not console.start_run():
            console.pause_next_run_at = None
            continue
        if not _wait(app, lambda: console.plan is not None or not console.is_running(), 60.0):
            continue
        if console.plan is None:  # refused: logged, no screenshots
            records.append({"procedure": name, "status": console.run_status, "path": None, "moment": None,
                            "views": []})
            continue
        shots = {}
        _wait(app, lambda: console.progress_bar.value() >= 1 or not console.is_running(), timeout_s)
        shots["start"] = _snap(app, console, out_dir, prefix, name, "start")
        # held at its next safe point past half-way (the console shows it paused); a run of one step ends first
        _wait(app, lambda: console.run_state.paused and "run paused" in console.log_view.entries[-1][2]
              or not console.is_running(), timeout_s)
        _wait(app, lambda: not console.views.busy, 30.0)  # the live fits of what arrived drawn
        shots["mid"] = _snap(app, console, out_dir, prefix, name, "mid")
        if console.is_running():
            console.worker.control.resume()
        if not _wait(app, lambda: not console.is_running(), timeout_s):
            console.abort_run("screenshot session timed out")
            _wait(app, lambda: not console.is_running(), 60.0)
        _wait(app, lambda: not console.views.busy, 30.0)  # the live fits of the last points drawn
        shots["end"] = _snap(app, console, out_dir, prefix, name, "end")
        for moment, record in shots.items():
            records.append({**record, "procedure": name, "moment": moment})
    return records


def _snap(app: Any, console: Any, out_dir: Path, prefix: str, name: str, moment: str) -> dict[str, Any]:
    path = out_dir / f"{prefix}-{name}-{moment}.png"
    _grab(app, console, path)
    return {"path": str(path), "views": _contents(console), "status": console.run_status or "running",
            "run_file": str(console.run_path)}


def empty_views(record: dict[str, Any]) -> list[str]:
    """Titles of the views of a screenshot record that show nothing although the run file holds finite values
    of their dataset (a view of a quantity the run could not measure, all NaN in the file, is not empty)."""
    import numpy as np

    from tepl.data.runfile import read_run

    run = read_run(record["run_file"])
    empty = []
    for view in record["views"]:
        data = run.data.get(view["dataset"])
        measured = data is not None and np.isfinite(np.asarray(data, float)).any()
        if measured and not view["values"]:
            empty.append(view["title"])
    return empty


def take_screenshots(out_dir: str | Path, configs: Sequence[Path] | None = None,
                     procedures: Sequence[str] | None = None, size: tuple[int, int] = (1600, 1000)) -> list[dict]:
    """The scripted session on each station of ``configs`` (default: every simulated one); writes the PNGs and
    ``index.json`` (the records) to ``out_dir``, the run files to ``out_dir/runs``, and returns the records."""
    from PyQt5.QtWidgets import QApplication

    from tepl.gui.console import Console
    from tepl.station import build_station

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    records: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tepl-screens-") as tmp:
        for config in configs or simulated_configs():
            station = build_station(config)
            try:
                console = Console(station, out / "runs", status_interval_s=None, settings_dir=Path(tmp))
                console.resize(*size)
                console.show()
                app.processEvents()
                for record in session(console, out, Path(config).stem, procedures):
                    records.append({**record, "station": station.name, "config": Path(config).name})
                console.close()
            finally:
                station.close()
    (out / "index.json").write_text(json.dumps(records, indent=1))
    return records
