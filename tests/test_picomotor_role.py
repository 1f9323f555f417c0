"""Picomotors join a station through their config entry alone: the ``picomotors`` entry of ``config/sim.yaml``
(Newport 8742, simulated; here with larger moves allowed) builds the open-loop positioner as a role, made safe
with the motion group: from moving to stopped, repeatedly, then released. Judged against the simulator's
state."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from tepl.config import CONFIG_DIR, ConfigError, parse_config
from tepl.roles import OpenLoopPositioner
from tepl.station import build_station

ENTRY = """  picomotors:
    driver: newport-8742
    address: sim                 # in-process 8742 simulator
    axes: {x: 1, y: 2, z: 3}
    max_steps_per_move: 5000
"""


def with_picomotors(entry: str = ENTRY):
    """config/sim.yaml with its picomotors entry replaced by ``entry``."""
    text = (CONFIG_DIR / "sim.yaml").read_text()
    shipped = re.search(r"^  picomotors:\n(?:    .*\n)+", text, re.MULTILINE)
    assert shipped, "config/sim.yaml has a picomotors entry"
    return parse_config(text[:shipped.start()] + entry + text[shipped.end():], "sim.yaml, picomotors replaced")


@pytest.fixture
def station():
    built = build_station(with_picomotors())
    yield built
    built.close()


def controller_of(station):
    return station.picomotors.controller.adapter.controller


def test_the_station_has_the_role(station):
    assert station.has_role("picomotors")
    role = station.picomotors
    assert isinstance(role, OpenLoopPositioner)
    assert role.axes == ("x", "y", "z") and role.safe_group == "motion"
    assert station.status()["picomotors_steps"] == {"x": 0, "y": 0, "z": 0}


def test_make_safe_from_moving_stops_idempotently_then_close(station):
    role, controller = station.picomotors, controller_of(station)
    role.move_steps("z", 5000)  # 2.5 s at 2000 steps/s
    role.move_steps("x", -3000)
    assert role.is_moving() and controller.axes[3].moving
    with pytest.raises(ValueError, match="max_steps_per_move"):
        role.move_steps("y", 5001)
    assert not controller.axes[2].moving  # the refused move sent nothing
    report = station.safe_state()
    assert report["picomotors"] == "stopped"
    assert not any(ax.moving for ax in controller.axes.values())
    counts = {axis: role.steps_counter(axis) for axis in role.axes}
    assert counts == {"x": controller.axes[1].count, "y": 0, "z": controller.axes[3].count}
    assert role.make_safe() == "stopped"
    assert {axis: role.steps_counter(axis) for axis in role.axes} == counts
    adapter = role.controller.adapter
    station.close()
    assert adapter.closed


def test_moves_advance_the_world_and_the_counter(station):
    role, world = station.picomotors, station.world
    role.move_steps("y", 800)
    role.wait(timeout_s=5.0)
    assert role.steps_counter("y") == 800 == controller_of(station).axes[2].count
    assert world.picomotor_nm[2] > 0


def test_schema_checks_the_entry():
    bad = ENTRY.replace("{x: 1, y: 2, z: 3}", "{x: 5}")
    with pytest.raises(ConfigError, match="picomotors.axes"):
        with_picomotors(bad)
    with pytest.raises(ConfigError, match="max_steps_per_move"):
        with_picomotors(ENTRY.replace("    max_steps_per_move: 5000\n", ""))


def test_tepl_serve_newport_8742_answers_a_client():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "serve", "newport-8742", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"newport-8742 simulator on 127.0.0.1:{port}" in line
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with sock:
            data = b""
            while len(data) < 6:
                data += sock.recv(64)
            assert data[:6] == b"\xff\xfb\x01\xff\xfb\x03"
            sock.sendall(b"*IDN?\r")
            reply = data[6:]
            while not reply.endswith(b"\r\n"):
                reply += sock.recv(64)
            assert reply.startswith(b"New_Focus 8742")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
