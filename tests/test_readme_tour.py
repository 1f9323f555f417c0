"""The README's tour, run as a new user would: its command-line block line by line in an empty folder with the
installed ``tepl``, then its Python block, in order; the files it makes are checked against independent truth
(the Solis CSV of the sample spectrum, ptufile's reading of the exported tags)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np
import ptufile
import pytest

from tepl.config import CONFIG_DIR
from tepl.procedures import PROCEDURES

README = Path(__file__).resolve().parent.parent / "README.md"
FIXTURES = Path(__file__).parent / "fixtures"
BIN = Path(sys.executable).parent  # the venv's: its `tepl` is the installed command


def tour_blocks(text: str) -> dict[str, list[str]]:
    """The fenced code blocks marked ``<!-- tour -->`` (shell) and ``<!-- tour: python -->``, by language."""
    blocks: dict[str, list[str]] = {}
    for language, body in re.findall(r"<!-- tour(?:: python)? -->\n```(\w+)\n(.*?)```", text, flags=re.S):
        blocks.setdefault(language, []).append(body)
    return blocks


def shell_commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_tour_is_marked_and_names_only_installed_commands():
    blocks = tour_blocks(README.read_text())
    assert len(blocks.get("sh", [])) == 1 and len(blocks.get("python", [])) == 1
    for command in shell_commands(blocks["sh"][0]):
        assert command.startswith("tepl "), command  # nothing from a source checkout (.venv/bin, config/)


@pytest.fixture(scope="module")
def toured(tmp_path_factory):
    """Run the tour in an empty folder; (folder, {command: completed process})."""
    folder = tmp_path_factory.mktemp("tour")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "MPLBACKEND": "Agg"}
    blocks = tour_blocks(README.read_text())
    done = {}
    for command in shell_commands(blocks["sh"][0]):
        proc = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"{command!r} failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr and "error" not in proc.stderr.lower(), (command, proc.stderr)
        done[command] = proc
    script = folder / "tour.py"
    script.write_text(blocks["python"][0])
    proc = subprocess.run([sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    done["python"] = proc
    return folder, done


def _output(done: dict, start: str) -> str:
    return next(p.stdout for c, p in done.items() if c.startswith(start))


def test_tour_runs_top_to_bottom_in_an_empty_folder(toured):
    folder, done = toured
    assert _output(done, "tepl --version").strip() == f"tepl {version('tepl')}"
    stations = _output(done, "tepl stations").splitlines()[1:]
    assert sorted(line.split()[0] for line in stations) == sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    run_help = _output(done, "tepl run --help")
    assert all(re.search(rf"^  {re.escape(name)} ", run_help, flags=re.M) for name in PROCEDURES)
    one = _output(done, "tepl list raster")
    assert "pixel_um = 0.005 µm" in one and "confocal-raster:" not in one
    assert "simulated time" in _output(done, "tepl run confocal-raster --config confocal-sim --dry-run")
    for name in ("map.h5", "spectrum.h5", "decay.h5", "flim.h5", "g2.h5", "g2.ptu", "map-python.h5"):
        assert (folder / name).is_file(), name
    assert list((folder / "map").glob("*.png")) and list((folder / "flim").glob("*.png"))


def test_tour_files_match_independent_readers(toured):
    folder, done = toured
    csv = np.loadtxt(FIXTURES / "idus420_kymera193_cli-0.csv", delimiter=",", skiprows=1)
    with h5py.File(folder / "spectrum.h5") as f:  # the shipped sample is the Solis file of that CSV
        np.testing.assert_allclose(np.ravel(f["entry/data/spectra"][()]), csv[:, 1], rtol=1e-6)
    with h5py.File(folder / "g2.h5") as f:
        time_ps, channel = f["entry/tags/time_ps"][()], f["entry/tags/channel"][()]
    with ptufile.PtuFile(folder / "g2.ptu") as ptu:  # the exported tags as PicoQuant's format reads back
        records = ptu.decode_records()
        photons = records[records["channel"] >= 0]
        seconds = ptu.global_resolution
    assert time_ps.size > 0 and np.array_equal(photons["channel"], channel)
    np.testing.assert_allclose(photons["time"] * seconds * 1e12, time_ps, atol=1)
    shape, mean_fwhm = done["python"].stdout.split(") ")
    assert shape == "(11, 11" and 0 < float(mean_fwhm) < 1  # 0.05 µm at 0.005 µm: 11 x 11 pixels, eV
