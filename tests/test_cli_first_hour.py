"""What a new user meets first: --version, one procedure's parameters, help that lists the procedures, a pipe
closed early, import into the working folder, the sample files, and a progress bar with the plan's time."""

from __future__ import annotations

import io
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tepl.procedures import PROCEDURES, make_procedure
from tepl.procedures.base import Event
from tepl.progress import ProgressBar, plan_time_left_s
from tepl.samples import SAMPLE_FILES, SAMPLES_DIR

FIXTURES = Path(__file__).parent / "fixtures"


def tepl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tepl.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def test_version_is_the_installed_distributions():
    assert tepl("--version").stdout.strip() == f"tepl {version('tepl')}"


def test_list_one_procedure_shows_its_parameters_with_units_and_defaults():
    out = tepl("list", "g2").stdout
    for p in PROCEDURES["g2"].parameters:
        assert f"  {p.name} = " in out
    assert "acquisition_s = 60.0 s" in out and "raster:" not in out
    bad = tepl("list", "rastr")
    assert bad.returncode == 2 and "no procedure rastr; known: raster," in bad.stderr


def test_run_help_lists_every_procedure_with_its_summary():
    out = tepl("run", "--help").stdout
    for name, cls in PROCEDURES.items():
        assert any(line.split(None, 1) == [name, cls.summary] for line in out.splitlines()), name


def test_a_pipe_closed_early_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written (`tepl list | head` at its limit)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""


def test_import_writes_into_the_working_folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    p = tepl("import", str(FIXTURES / "idus420_kymera193_cli-0.sif"), cwd=work)
    assert p.returncode == 0, p.stderr
    assert (work / "idus420_kymera193_cli-0.h5").is_file()
    assert not (FIXTURES / "idus420_kymera193_cli-0.h5").exists()


def test_samples_are_the_test_fixtures_and_are_not_overwritten(tmp_path):
    assert (SAMPLES_DIR / "spectrum.sif").read_bytes() == (FIXTURES / "idus420_kymera193_cli-0.sif").read_bytes()
    assert (SAMPLES_DIR / "decay.ptu").read_bytes() == (FIXTURES / "picoquant" / "hydraharp_v20_t3.ptu").read_bytes()
    assert tepl("samples", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SAMPLE_FILES)
    again = tepl("samples", cwd=tmp_path)
    assert again.returncode == 2 and "pass --overwrite" in again.stderr


def test_progress_shows_steps_elapsed_rate_and_the_plans_time_left():
    stream = io.StringIO()
    bar = ProgressBar(estimate_s=100.0, simulated=True, stream=stream)
    for done in range(1, 5):
        bar(Event("progress", f"line {done}/4", done, 4))
    bar(Event("status", "complete", data={"path": "x.h5"}))
    text = stream.getvalue()
    assert text.startswith("the station is simulated: the plan's times are the twin's simulated time")
    final = text.split("\r")[-1]
    assert "4/4" in final and "elapsed" in final and "step/s" in final
    assert "plan: 0 s of 100 s simulated time left" in final  # tqdm draws at most every 0.1 s between
    assert text.rstrip().endswith("run complete: x.h5")
    assert plan_time_left_s(100.0, 1, 4) == pytest.approx(75.0)


def test_a_run_shows_progress_with_the_plan_estimate(tmp_path):
    from tepl.station import build_station

    station = build_station()
    try:
        estimate = make_procedure("line-scan", length_um=0.02, pixel_um=0.005).plan(station).estimate_s
    finally:
        station.close()
    p = tepl("run", "line-scan", "--out", str(tmp_path / "l.h5"), "--set", "length_um=0.02",
             "--set", "pixel_um=0.005")
    assert p.returncode == 0, p.stderr
    assert "simulated time" in p.stderr and "elapsed" in p.stderr
    assert f"plan: 0 s of {estimate:.0f} s simulated time left" in p.stderr
