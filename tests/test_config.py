"""Station config: schema validation with errors that name the key."""

from pathlib import Path

import pytest

from tepl.config import CONFIG_DIR, ConfigError, load_config, parse_config

SIM_TEXT = (CONFIG_DIR / "sim.yaml").read_text()


def test_shipped_configs_validate():
    assert load_config().simulated
    lab = load_config(CONFIG_DIR / "lab-tepl.yaml")
    assert not lab.simulated
    assert lab.data["instruments"]["stage"]["address"].startswith("tcp://")


@pytest.mark.parametrize("edit, message", [
    (("settle_timeout_s: 5", "settle_timeout_s: 5\n    baud: 9600"), "unknown key instruments.stage.baud"),
    (("    address: sim                 # in-process GCS 2.0 simulator\n", ""),
     "instruments.stage.address: required key missing"),
    (("max_press_depth_nm: 11", "max_press_depth_nm: -3"), "limits.max_press_depth_nm"),
    (("tip_z_nm: [0, 2000]", "tip_z_nm: [500, 100]"), "limits.tip_z_nm: lower bound 500"),
    (("exposure_s: [0.001, 120]", "exposure_s: [0, 120]"), "limits.exposure_s"),
    (("x: [0, 100], y", "x: [0, 100, 3], y"), "limits.stage_travel_um.x"),
    (("driver: rhk-r9", "driver: rhk-r8"), "instruments.zcontrol.driver"),
    (("limits:", "limit:"), "unknown key limit"),
])
def test_bad_config_names_the_key(edit, message):
    old, new = edit
    assert old in SIM_TEXT
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        parse_config(SIM_TEXT.replace(old, new, 1), "sim.yaml")


def test_not_yaml_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("a: [1, 2", "broken.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.yaml")


def test_bad_tcp_address_is_refused_before_connecting():
    from tepl.station import build_station

    text = SIM_TEXT.replace("address: sim                 # in-process GCS 2.0 simulator",
                            "address: tcp://", 1)
    with pytest.raises(ConfigError, match="instruments.stage.address"):
        build_station(parse_config(text, "sim.yaml"))


def test_an_installed_tepl_finds_the_station_configs_it_ships(tmp_path: Path, monkeypatch):
    """Outside the source tree (a wheel install) the configs come from the package ``tepl.stations``."""
    import importlib.util
    import shutil
    import sys

    import tepl.config

    site = tmp_path / "site-packages"
    (site / "tepl" / "stations").mkdir(parents=True)
    shutil.copy(tepl.config.__file__, site / "tepl" / "config.py")
    for yaml_file in CONFIG_DIR.glob("*.yaml"):
        shutil.copy(yaml_file, site / "tepl" / "stations" / yaml_file.name)
    spec = importlib.util.spec_from_file_location("installed_tepl_config", site / "tepl" / "config.py")
    installed = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, installed)  # its dataclasses look their module up
    spec.loader.exec_module(installed)
    assert installed.CONFIG_DIR == site / "tepl" / "stations"
    assert installed.load_config(installed.DEFAULT_CONFIG).data == load_config(CONFIG_DIR / "sim.yaml").data


@pytest.mark.parametrize("key", ["max_press_depth_nm", "max_force_nN", "max_pressure_GPa"])
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_limit_that_is_not_finite_is_refused_with_its_key(key, value):
    text = (CONFIG_DIR / "sim.yaml").read_text()
    line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{key}:"))
    bad = text.replace(line, f"  {key}: {value}")
    with pytest.raises(ConfigError, match=rf"limits\.{key}: "):  # NaN and +inf: "not a finite number"
        parse_config(bad, "bad.yaml")


def test_a_range_limit_with_nan_is_refused():
    text = (CONFIG_DIR / "sim.yaml").read_text().replace("tip_z_nm: [0, 2000]", "tip_z_nm: [0, .nan]")
    with pytest.raises(ConfigError, match=r"limits\.tip_z_nm\.1: nan is not a finite number"):
        parse_config(text, "bad.yaml")


def test_the_stage_settling_time_and_poll_interval_come_from_the_config():
    from tepl.station import build_station

    text = SIM_TEXT.replace("settle_timeout_s: 5",
                            "settle_timeout_s: 5\n    settle_s: 0.002\n    poll_interval_s: 0.01")
    station = build_station(parse_config(text, "sim.yaml"), cool=False)
    try:
        stage = station.instruments["stage"]
        assert (stage.settle_s, stage.poll_interval_s) == (0.002, 0.01)
    finally:
        station.close()
    with pytest.raises(ConfigError, match="instruments.stage.settle_s"):
        parse_config(SIM_TEXT.replace("settle_timeout_s: 5", "settle_timeout_s: 5\n    settle_s: -1"), "sim.yaml")
    too_long = SIM_TEXT.replace("settle_timeout_s: 5", "settle_timeout_s: 5\n    settle_s: 6")
    with pytest.raises(ConfigError, match=r"instruments.stage.settle_s: 6 s is longer than settle_timeout_s \(5 s"):
        parse_config(too_long, "sim.yaml")
