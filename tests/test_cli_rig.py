"""A real-rig station on a machine without the rig: every connection failure names the instrument (role and
driver), its address and what was being done; ``--dry-run`` prints the plan without connecting and says, by
name and address, which instruments it could not reach. The "rig" here is local sockets: one listening, one
closed port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tepl.config import CONFIG_DIR

RASTER = ("--set", "size_x_um=0.02", "--set", "size_y_um=0.01", "--set", "pixel_um=0.005")


def tepl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tepl.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


@pytest.fixture
def closed_port():
    """A local TCP port nobody listens on (connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listening_port():
    """A local TCP port that accepts connections (and says nothing)."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def sim_with(tmp_path: Path, role_comment: str, address: str) -> Path:
    """config/sim.yaml with one simulated instrument's ``address: sim`` (found by its comment) replaced."""
    text = (CONFIG_DIR / "sim.yaml").read_text()
    line = next(x for x in text.splitlines() if "address: sim" in x and role_comment in x)
    path = tmp_path / "one-real.yaml"
    path.write_text(text.replace(line, line.split("address:")[0] + f"address: {address}"))
    return path


@pytest.mark.parametrize("comment, role, driver", [("GCS 2.0", "stage", "pi-e727"),
                                                     ("R9 remote-interface", "zcontrol", "rhk-r9")])
def test_a_run_that_cannot_connect_names_the_instrument_and_address(tmp_path, closed_port, comment, role, driver):
    address = f"tcp://127.0.0.1:{closed_port}"
    config = sim_with(tmp_path, comment, address)
    out = tmp_path / "x.h5"
    p = tepl("run", "raster", "--config", str(config), "--out", str(out), *RASTER)
    assert p.returncode == 2
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith(f"tepl run: error: {role} ({driver} at {address}): ")
    assert ": connecting: " in last  # what was being done
    assert "Connection refused" in last and not out.exists()


def lab_config(tmp_path: Path, stage_port: int, r9_port: int, sdk2: Path) -> Path:
    """config/lab-tepl.yaml pointed at local ports and files: the stage at a closed port, the R9 at a listening
    one, the SDK2 library present but the spectrograph's missing, the shutter's serial port absent."""
    text = (CONFIG_DIR / "lab-tepl.yaml").read_text()
    text = (text.replace("tcp://192.168.0.27:50000", f"tcp://127.0.0.1:{stage_port}")
                .replace("tcp://192.168.0.40:12600", f"tcp://127.0.0.1:{r9_port}")
                .replace("/usr/local/lib/libandor.so", str(sdk2))
                .replace("/usr/local/lib/libshamrockcif.so", str(tmp_path / "missing" / "libshamrockcif.so"))
                .replace("ASRL/dev/ttyUSB1::INSTR", "ASRL/dev/tepl-no-such-port::INSTR"))
    path = tmp_path / "my-lab.yaml"
    path.write_text(text)
    return path


def test_dry_run_on_a_real_rig_plans_without_connecting_and_names_what_it_cannot_reach(
        tmp_path, closed_port, listening_port):
    sdk2 = tmp_path / "libandor.so"
    sdk2.write_bytes(b"")
    config = lab_config(tmp_path, closed_port, listening_port, sdk2)
    p = tepl("run", "raster", "--config", str(config), "--dry-run", *RASTER, cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    out = p.stdout
    # the plan is the one the simulated station of the same rig makes (same limits, same instruments)
    sim = tepl("run", "raster", "--dry-run", *RASTER, cwd=tmp_path).stdout
    plan_lines = [x for x in sim.splitlines()[1:] if not x.startswith(("resources:", "note:"))]
    assert all(line in out for line in plan_lines)
    assert out.startswith("plan of raster on station tepl-lab: dry run, nothing moved")
    assert f"stage (pi-e727 at tcp://127.0.0.1:{closed_port}): NOT REACHABLE: " in out
    assert "Connection refused" in out
    assert f"zcontrol (rhk-r9 at tcp://127.0.0.1:{listening_port}): reachable" in out
    assert f"NOT REACHABLE: library not found: {tmp_path / 'missing' / 'libshamrockcif.so'}\n" in out
    shutter = "excitation_shutter (thorlabs-sc10 at ASRL/dev/tepl-no-such-port::INSTR)"
    assert f"{shutter}: NOT REACHABLE: no serial port /dev/tepl-no-such-port" in out
    assert "could not reach: excitation_shutter, stage, spectrometer" in out
    assert not list(tmp_path.glob("*.h5"))


def test_dry_run_of_a_shipped_real_station_needs_no_rig(tmp_path):
    """From an empty folder, by name: the plan of the confocal rig, on stand-ins with confocal-sim's sample."""
    p = tepl("run", "g2", "--config", "confocal-lab", "--dry-run", "--set", "acquisition_s=1", cwd=tmp_path)
    assert p.returncode in (0, 1), p.stderr
    assert "plan of g2 on station confocal-lab" in p.stdout and "the simulation section of confocal-sim" in p.stdout
    assert "tcspc (hydraharp at library /opt/picoquant/hhlib/libhh400.so): " in p.stdout


def test_dry_run_of_a_simulated_station_says_its_times_are_simulated(tmp_path):
    p = tepl("run", "confocal-raster", "--config", "confocal-sim", "--dry-run", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "estimated time:" in p.stdout and "the plan's times are the twin's simulated time" in p.stdout
    assert "probed" not in p.stdout  # nothing to reach
