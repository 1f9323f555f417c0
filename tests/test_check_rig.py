"""``tepl check-rig --config lab.yaml``: the config's R9 is asked about each word, with queries only.

On the twin the "rig" is a served R9 simulator: ``tepl serve rhk-r9`` in another process, or a server in this
process whose R9 names one word differently (as a real R9 whose software differs from what the driver
assumes)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from tepl.cli import main
from tepl.config import load_config
from tepl.drivers.rhk_r9_vocabulary import DEFAULTS, assumed
from tepl.sims.rhk_r9 import R9Controller, serve
from tepl.sims.world import World
from tests.standins import BumpSample

SIM_ADDRESS = "address: sim                 # in-process R9 remote-interface simulator"
READ_ONLY_VERBS = {DEFAULTS["get_hw_sub"], DEFAULTS["get_hw"], DEFAULTS["read_channel"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path, port: int):
    text = load_config(None).text
    assert SIM_ADDRESS in text
    path = tmp_path / "lab.yaml"
    path.write_text(text.replace(SIM_ADDRESS, f"address: tcp://127.0.0.1:{port}", 1))
    return path


def _rows(out: str) -> dict[str, list[str]]:
    """key -> [word, source, result, detail] from the printed table (columns as format_checks pads them)."""
    rows = {}
    for line in out.splitlines():
        key = line[:18].strip()
        if key in DEFAULTS:
            rows[key] = [line[19:41].strip(), line[42:50].strip(), line[51:64].strip(), line[65:].strip()]
    return rows


def test_check_rig_against_tepl_serve(tmp_path, capsys):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "serve", "rhk-r9", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "simulator on" in line, proc.stderr.read() if proc.poll() is not None else line
        assert main(["check-rig", "--config", str(_config(tmp_path, port))]) == 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=90)  # generous: a loaded machine can starve the server's shutdown
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == set(DEFAULTS)
    for word in assumed():
        assert rows[word.key][1] == "assumed"
    for key in ("get_hw", "z_position", "amplitude_channel", "phase_channel", "z_channel", "controller",
                "retract"):  # the served R9 starts retracted: its Tip Control word is seen
        assert rows[key][2] == "answered", (key, rows[key])
    for key in ("freeze", "unlimit", "started", "step_in", "set_hw"):
        assert rows[key][2] == "not checked", (key, rows[key])


@pytest.mark.parametrize("key, renamed, unanswered", [
    ("amplitude_channel", "LIA 1 R", ["amplitude_channel"]),
    ("z_position", "Z Output", ["z_position"]),
    ("get_hw", "ReadHWParameter", ["get_hw", "tip_control"]),  # Tip Control is read with GetHWParameter only
])
def test_check_rig_reports_the_one_word_the_r9_does_not_know(tmp_path, capsys, key, renamed, unanswered):
    world = World(sample=BumpSample(), drift_nm_per_s=(0.0, 0.0))
    controller = R9Controller(world, words={key: renamed})
    lines: list[str] = []
    handle = controller.handle
    controller.handle = lambda line, *a: lines.append(line) or handle(line, *a)  # type: ignore[method-assign]
    before = (controller.tip_control, controller.piezo_nm, controller.setpoint_V, list(controller.coarse_steps_nm))
    with serve(world, 0, controller=controller) as server:
        code = main(["check-rig", "--config", str(_config(tmp_path, server.port))])
    rows = _rows(capsys.readouterr().out)
    assert code == 1
    assert rows[key][2] == "not answered" and "Error" in rows[key][3], rows[key]
    others = [k for k, row in rows.items() if row[2] == "not answered"]
    assert others == unanswered
    assert rows["controller"][2] == "answered"
    # read-only: queries only, and nothing in the R9 changed
    assert lines and {line.split(",")[0] for line in lines} <= READ_ONLY_VERBS
    assert (controller.tip_control, controller.piezo_nm, controller.setpoint_V,
            controller.coarse_steps_nm) == before


def test_check_rig_needs_a_remote_r9(capsys):
    assert main(["check-rig", "--config", str(load_config(None).source)]) == 2
    assert "tcp://HOST:PORT" in capsys.readouterr().err
