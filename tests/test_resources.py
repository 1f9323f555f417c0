"""A run whose file does not fit the free disk, or whose buffers do not fit the memory, is refused before
anything moves or any file is made; the dry run prints both figures."""

from __future__ import annotations

import pytest

from tepl.procedures import base, make_procedure, run
from tepl.roles import LimitError

RASTER = {"size_x_um": 1.0, "size_y_um": 1.0, "pixel_um": 0.01, "exposure_s": 0.01}  # 101 x 101 pixels


def test_the_plan_knows_its_file_size(station):
    plan = make_procedure("raster", **RASTER).plan(station)
    spectra = plan.dataset("spectra")
    assert spectra.shape == (101, 101, 1024) and spectra.nbytes == 101 * 101 * 1024 * 4
    assert plan.file_bytes >= sum(d.nbytes for d in plan.datasets) > spectra.nbytes


def test_a_file_larger_than_the_free_disk_is_refused_before_anything(station, tmp_path, monkeypatch):
    plan = make_procedure("raster", **RASTER).plan(station)

    class Usage:
        free = plan.file_bytes - 1

    monkeypatch.setattr(base.shutil, "disk_usage", lambda path: Usage)
    before = station.world.stage_um.copy()
    with pytest.raises(LimitError, match=r"the run file needs up to [\d.]+ MiB and .* has [\d.]+ MiB free"):
        run(make_procedure("raster", **RASTER), station, tmp_path / "big.h5")
    assert not (tmp_path / "big.h5").exists()
    assert (station.world.stage_um == before).all()
    with pytest.raises(LimitError, match="free"):
        make_procedure("raster", **RASTER).dry_run(station, tmp_path)


def test_a_run_needing_more_memory_than_the_machine_has_is_refused(station, tmp_path, monkeypatch):
    monkeypatch.setattr(base, "available_memory_bytes", lambda: 1000)
    with pytest.raises(LimitError, match=r"needs [\d.]+ MiB of memory and the machine has 1000 B available"):
        make_procedure("raster", **RASTER).dry_run(station, tmp_path)


def test_the_dry_run_prints_both_figures(station, tmp_path):
    text = make_procedure("raster", **RASTER).dry_run(station, tmp_path)
    assert "resources: the run file needs up to" in text and "available" in text and "free" in text


def test_a_grid_too_large_to_visit_is_refused_before_it_is_made(station):
    with pytest.raises(LimitError, match=r"points, more than one run visits"):
        make_procedure("raster", size_x_um=90.0, size_y_um=90.0, pixel_um=0.001).plan(station)
