"""Shipped stations found by name from any folder; ``tepl stations`` lists them; a name found nowhere is refused
with every place looked in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tepl.config import CONFIG_DIR, ConfigError, load_config

CONFOCAL = (CONFIG_DIR / "confocal-sim.yaml").resolve()


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """An empty working folder that is not the source tree."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", ["confocal-sim", "confocal-sim.yaml", "config/confocal-sim.yaml", str(CONFOCAL)])
def test_a_shipped_station_is_found_from_any_folder(elsewhere, name):
    config = load_config(name)
    assert Path(config.source).resolve() == CONFOCAL
    assert config.data == yaml.safe_load(CONFOCAL.read_text())


def test_a_file_in_the_working_folder_comes_before_a_shipped_one(elsewhere):
    text = CONFOCAL.read_text().replace("name: confocal-sim", "name: my-confocal")
    (elsewhere / "confocal-sim.yaml").write_text(text)
    assert load_config("confocal-sim").data["station"]["name"] == "my-confocal"
    assert load_config("confocal-sim.yaml").data["station"]["name"] == "my-confocal"


def test_an_unknown_station_names_where_it_looked(elsewhere):
    with pytest.raises(ConfigError) as caught:
        load_config("confocal-simm")
    message = str(caught.value)
    for looked in (elsewhere / "confocal-simm", elsewhere / "confocal-simm.yaml", CONFIG_DIR / "confocal-simm.yaml"):
        assert str(looked) in message
    assert "confocal-sim, " in message and "tepl stations" in message


def test_an_explicit_missing_path_is_not_replaced_by_a_shipped_station(elsewhere):
    with pytest.raises(ConfigError, match="station config not found"):
        load_config(elsewhere / "sub" / "sim.yaml")


def test_tepl_stations_lists_each_shipped_station_on_one_line(elsewhere):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["tepl", "stations"], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout.splitlines()
    assert str(CONFIG_DIR) in out[0]
    rows = {line.split()[0]: line for line in out[1:]}
    assert sorted(rows) == sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    for name, line in rows.items():
        data = yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text())
        assert line.endswith(data["station"]["description"])
        real = any(cfg.get(k, "sim") != "sim" for cfg in data["instruments"].values() for k in ("address", "library"))
        assert line.split()[1] == ("real" if real else "simulated"), line
