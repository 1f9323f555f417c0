"""The command line as a user runs it (subprocesses of `python -m tepl.cli`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run

FIXTURES = Path(__file__).parent / "fixtures"


def tepl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tepl.cli", *args], capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"tepl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def test_list_shows_parameters_with_units_and_bounds():
    out = tepl("list").stdout
    for name in ("raster", "line-scan", "distance-sweep", "pressure-ramp", "calibrate", "approach", "align-tip",
                 "temperature-series"):
        assert f"{name}:" in out
    assert "pixel_um = 0.005 µm in [0.0002, 10]" in out
    # the parameter allows 1e-4..3600 s; the default station 0.001..120 s: the stricter bounds are shown
    assert "exposure_s = 0.1 s in [0.001, 120]" in out and "tepl-sim" in out


def test_run_info_plot(tmp_path):
    out = tmp_path / "line.h5"
    tepl("run", "line-scan", "--out", str(out), "--set", "length_um=0.02", "--set", "pixel_um=0.005")
    r = read_run(out)
    assert r.status == "complete" and r.data["spectra"].shape[0] == 5
    assert r.parameters["length_um"] == (0.02, "µm")
    info = tepl("info", str(out)).stdout
    assert "line-scan" in info and "complete" in info and "spectra" in info
    pngs = tepl("plot", str(out), "--out", str(tmp_path / "fig")).stdout.split()
    assert pngs and all(Path(p).stat().st_size > 1000 for p in pngs)


def test_run_refuses_bad_input_with_clear_messages(tmp_path):
    p = tepl("run", "raster", "--out", str(tmp_path / "x.h5"), "--set", "pixel_um=-1", check=False)
    assert p.returncode == 2 and "pixel_um" in p.stderr
    p = tepl("run", "raster", "--out", str(tmp_path / "x.h5"), "--set", "center_x_um=100", check=False)
    assert p.returncode == 2 and "outside the allowed range" in p.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIG_DIR / "sim.yaml").read_text().replace("max_force_nN: 20", "max_force_nN: 0"))
    p = tepl("run", "raster", "--config", str(bad), "--out", str(tmp_path / "x.h5"), check=False)
    assert p.returncode == 2 and "limits.max_force_nN" in p.stderr
    assert not (tmp_path / "x.h5").exists()


def test_dry_run_prints_the_plan():
    out = tepl("run", "raster", "--dry-run", "--set", "size_x_um=0.1", "--set", "size_y_um=0.05",
               "--set", "pixel_um=0.01").stdout
    assert "dry run, nothing moved" in out
    assert "points: 66 in order, file index (iy, ix)" in out  # 11 x 6 pixels
    assert "x_um [11] 49.95 .. 50.05 µm" in out and "y_um [6] 49.975 .. 50.025 µm" in out
    assert "spectra[y_um, x_um, wavelength_nm] 6 x 11 x 1024 f4 counts (signal)" in out
    assert "exposure [0.001, 120] s (limits.exposure_s)" in out
    assert "stage travel x [0, 100] µm (limits.stage_travel_um.x)" in out
    assert "estimated time: 8.9 s" in out and "file size: up to" in out and "peak memory:" in out
    ramp = tepl("run", "pressure-ramp", "--dry-run").stdout
    assert "press depth [0, 11] nm (limits.max_press_depth_nm)" in ramp
    assert "pressure [0, 1] GPa (limits.max_pressure_GPa)" in ramp and "force [0, 20] nN" in ramp


def test_import_sif_matches_solis_csv(tmp_path):
    out = tmp_path / "sif.h5"
    tepl("import", str(FIXTURES / "idus420_kymera193_cli-0.sif"), "--out", str(out))
    r = read_run(out)
    csv = np.loadtxt(FIXTURES / "idus420_kymera193_cli-0.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(r.data["wavelength_nm"], csv[:, 0], atol=1e-3)
    np.testing.assert_allclose(np.ravel(r.data["spectra"]), csv[:, 1], rtol=1e-6)
    p = tepl("import", str(FIXTURES / "corrupt.sif"), "--out", str(tmp_path / "c.h5"), check=False)
    assert p.returncode == 2 and "corrupt.sif" in p.stderr
    assert not (tmp_path / "c.h5").exists()


def test_existing_output_and_bad_port_are_refused(tmp_path):
    existing = tmp_path / "taken.h5"
    existing.write_bytes(b"keep me")
    p = tepl("run", "raster", "--out", str(existing), check=False)
    assert p.returncode == 2 and "--overwrite" in p.stderr and existing.read_bytes() == b"keep me"
    p = tepl("serve", "pi-e727", "--port", "70000", check=False)
    assert p.returncode == 2 and "--port 70000" in p.stderr
    out = tmp_path / "sif.h5"
    tepl("import", str(FIXTURES / "idus420_kymera193_cli-0.sif"), "--out", str(out))
    assert tepl("import", str(FIXTURES / "idus420_kymera193_cli-0.sif"), "--out", str(out), check=False).returncode == 2
    tepl("import", str(FIXTURES / "idus420_kymera193_cli-0.sif"), "--out", str(out), "--overwrite")
