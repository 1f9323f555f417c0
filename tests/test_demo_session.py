"""The lines ``tepl demo`` prints about its day, checked against the twin's truth: the approach's gap, the
alignment, the film temperature series; the day's starting tip; the refusal of a folder that holds files."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tepl import cli
from tepl.config import CONFIG_DIR, load_config
from tepl.data.runfile import read_run
from tepl.demo_day import TIP_FOCUS_OFFSET_NM, TIP_START_UM, day_config, start_day
from tepl.demo_photons import FILM_SERIES, report_temperature_series
from tepl.procedures import run_procedure
from tepl.station import build_station


def test_the_day_starts_with_the_tip_up_and_off_the_focus():
    cfg = day_config()
    assert cfg.data["simulation"]["tip_start_um"] == TIP_START_UM
    assert cfg.data["simulation"]["tip_focus_offset_nm"] == list(TIP_FOCUS_OFFSET_NM)
    assert "demo day" in cfg.source and "tip_start_um" in cfg.text.splitlines()[0]
    station = build_station(cfg)
    try:
        truth = station.world.ground_truth()
        assert truth["r9"]["tip_start_nm"] == pytest.approx(1000.0 * TIP_START_UM)
        assert np.hypot(*station.world.apex_offset_nm()) == pytest.approx(1000.0, rel=0.01)
    finally:
        station.close()
    stated = load_config(CONFIG_DIR / "confocal-sim.yaml")  # a station without a tip is left as it is
    assert day_config(stated) is stated


def test_the_day_lines_match_the_twin(tmp_path):
    """The approach and alignment lines, each compared with the twin's truth at the moment it is printed."""
    station = build_station(day_config())
    lines: list[tuple[str, float, float, int]] = []
    world = station.world

    def say(line: str) -> None:
        lines.append((line, world.tip_distance_nm(), float(np.hypot(*world.apex_offset_nm())),
                      len(world.ground_truth()["r9"]["coarse_steps_nm"])))

    def step(name: str, procedure: str, **params):
        return run_procedure(procedure, station, tmp_path / f"{name}.h5", **params)

    try:
        start_day(station, step, say)
    finally:
        station.close()
    assert not world.crashed
    (contact, true_gap, _, steps_taken), = [x for x in lines if "Z reference set at contact" in x[0]]
    steps, gap = re.search(r"contact after (\d+) coarse steps .* gap ([\d.]+) nm", contact).groups()
    assert int(steps) == steps_taken
    assert float(gap) == pytest.approx(true_gap, abs=0.1)  # the printed gap is the apex-to-surface distance
    (aligned, _, apex_error_nm, _), = [x for x in lines if "apex moved" in x[0]]
    assert apex_error_nm < 50.0  # the apex ends in the focus centre, by the twin's truth
    assert read_run(tmp_path / "align-tip.h5").status == "complete"


def test_the_temperature_series_line_matches_the_film(tmp_path):
    """The demo's five-setpoint series of the six-layer film: the printed E0, Γ0, γ_LO and lifetimes against
    the film's truth."""
    station = build_station(CONFIG_DIR / "film-cryo-sim.yaml")
    try:
        path = run_procedure("temperature-series", station, tmp_path / "series.h5", **FILM_SERIES)
    finally:
        station.close()
    lines: list[str] = []
    report_temperature_series(path, lines.append)
    numbers = re.search(r"E0 = ([\d.]+) eV; Γ0 = ([\d.]+) meV, γ_LO = ([\d.]+) meV; average lifetime ([\d.]+) ns "
                        r"at (\d+) K, ([\d.]+) ns at (\d+) K", lines[0]).groups()
    e0, gamma0, gamma_lo, tau_cold, t_cold, tau_hot, t_hot = (float(v) for v in numbers)
    film = read_run(path).simulation["sample"]["films"]["multilayer"]
    print(lines[0], {k: film[k] for k in ("E0_eV", "gamma0_meV", "gamma_LO_meV", "average_lifetime_ns_at_295_k")})
    assert e0 == pytest.approx(film["E0_eV"], abs=0.02)  # 5 setpoints, the 15 µm slit broadening the lines: within 1 %
    assert gamma0 == pytest.approx(film["gamma0_meV"], rel=0.25)
    assert gamma_lo == pytest.approx(film["gamma_LO_meV"], rel=0.25)
    assert t_cold == pytest.approx(10, abs=1) and t_hot == pytest.approx(290, abs=1)
    assert tau_hot == pytest.approx(film["average_lifetime_ns_at_295_k"], rel=0.2)
    assert tau_cold > 1.5 * tau_hot  # the multilayer's lifetime rises at low temperature


def test_demo_refuses_a_folder_that_holds_files(tmp_path, capsys):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "01-approach.h5").write_bytes(b"an earlier run")
    assert cli.main(["demo", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out.resolve()) in err and "--overwrite" in err and "not empty" in err
    assert (out / "01-approach.h5").read_bytes() == b"an earlier run" and len(list(out.iterdir())) == 1
    afile = tmp_path / "file"
    afile.write_text("x")
    assert cli.main(["demo", "--out", str(afile)]) == 2
    assert "a file of that name exists" in capsys.readouterr().err
