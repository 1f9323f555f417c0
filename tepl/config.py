"""Station configuration: load a ``config/*.yaml`` file and validate it against the schema.

Only the station reads config (design rule 5). Errors name the offending key as a dotted path, e.g.
``config/lab-tepl.yaml: instruments.stage.address: required key missing``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tepl.config_schema import SCHEMA


def _config_dir() -> Path:
    """The shipped station configs: ``config/`` of the source tree, else the installed ``tepl.stations``."""
    here = Path(__file__).resolve().parent
    source = here.parent / "config"
    return source if (source / "sim.yaml").is_file() else here / "stations"


CONFIG_DIR = _config_dir()
DEFAULT_CONFIG = CONFIG_DIR / "sim.yaml"


class ConfigError(ValueError):
    """The station config is malformed; the message names the file and the key."""


@dataclass
class StationConfig:
    """A validated station config: the parsed mapping, its text and where it came from."""

    data: dict
    text: str
    source: str

    @property
    def simulated(self) -> bool:
        return "simulation" in self.data


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _key_text(key: Any) -> str:
    """A YAML key as the message shows it: as written when it is plain text, else quoted (``'', 'a\\tb', 1``)."""
    return key if isinstance(key, str) and key.isprintable() and key.strip() == key and key else repr(key)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        extra = sorted(_key_text(k) for k in set(error.instance) - set(error.schema.get("properties", {})))
        keys = ", ".join(f"{where}.{k}" if where != "(top level)" else k for k in extra)
        return f"unknown key {keys}"
    if error.validator == "required":
        missing = error.message.split("'")[1]
        full = f"{where}.{missing}" if where != "(top level)" else missing
        return f"{full}: required key missing"
    if error.validator == "type" and isinstance(error.instance, str) and _looks_numeric(error.instance):
        return (f"{where}: {error.instance!r} is text, not a number (YAML reads an exponent without a sign as "
                f"text: write it like 5.0e+6)")
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {error.validator_value}"
    return f"{where}: {error.message}"


# the limits each instrument needs: a station with that instrument must state them
_LIMITS_NEEDED = {
    "zcontrol": ("tip_z_nm", "max_press_depth_nm", "max_force_nN", "max_pressure_GPa"),
    "spectrometer": ("exposure_s",),
    "tcspc": ("acquisition_s", "max_count_rate_per_s"),
}


def _numbers(value: Any, key: str):
    """(dotted key, number) for every number inside ``value``."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{key}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{key}.{i}")


_LARGEST = 10**300  # beyond what any limit or setting means, and near what a float holds


def _check_finite(data: dict) -> None:
    """Refuse NaN and infinity anywhere in the config: a NaN limit would switch its check off."""
    for key, number in _numbers(data, ""):
        if isinstance(number, int) and abs(number) > _LARGEST:
            raise ConfigError(f"{key.lstrip('.')}: a {len(str(abs(number)))}-digit number is too large")
        if not math.isfinite(number):
            raise ConfigError(f"{key.lstrip('.')}: {number} is not a finite number")


def _check_limits(data: dict) -> None:
    _check_finite(data)
    limits = data["limits"]
    for instrument, keys in _LIMITS_NEEDED.items():
        if instrument in data["instruments"]:
            for key in keys:
                if key not in limits:
                    raise ConfigError(f"limits.{key}: required key missing (the station has a {instrument})")
    ranges = {f"limits.stage_travel_um.{a}": limits["stage_travel_um"][a] for a in "xyz"}
    for key in ("tip_z_nm", "exposure_s", "acquisition_s"):
        if key in limits:
            ranges[f"limits.{key}"] = limits[key]
    for key, (low, high) in ranges.items():
        if not low < high:
            raise ConfigError(f"{key}: lower bound {low} must be below upper bound {high}")
    for key in ("exposure_s", "acquisition_s"):
        if key in limits and limits[key][0] <= 0:
            raise ConfigError(f"limits.{key}: lower bound {limits[key][0]} s must be positive")
    if "tip_z_nm" in limits and limits["tip_z_nm"][0] < 0:
        raise ConfigError("limits.tip_z_nm: lower bound must be ≥ 0 nm (the substrate)")
    inst = data["instruments"]
    stage = inst.get("stage", {})
    if stage.get("settle_s", 0.0) > stage.get("settle_timeout_s", 10.0):
        raise ConfigError(f"instruments.stage.settle_s: {stage['settle_s']} s is longer than settle_timeout_s "
                          f"({stage.get('settle_timeout_s', 10.0)} s, the longest wait for the stage to settle)")
    if "shutter" in inst and "spectrometer" not in inst:
        raise ConfigError("instruments.shutter: kymera-shutter needs instruments.spectrometer")
    tcspc = inst.get("tcspc")
    if tcspc is not None:
        offsets = tcspc.get("channel_offsets_ps")
        if offsets is not None and len(offsets) != len(tcspc["channels"]):
            raise ConfigError(f"instruments.tcspc.channel_offsets_ps: {len(offsets)} offsets for "
                              f"{len(tcspc['channels'])} channels")
        for i, channel in enumerate(tcspc["channels"]):
            low, high = channel["band_nm"]
            if not 0 < low < high:
                raise ConfigError(f"instruments.tcspc.channels.{i}.band_nm: [{low}, {high}] is not a band")
    sim = data.get("simulation", {})
    start = sim.get("tip_start_um")
    if isinstance(start, list) and not start[0] <= start[1]:
        raise ConfigError(f"simulation.tip_start_um: lower bound {start[0]} µm must not exceed upper bound {start[1]}")
    if "tcspc" in inst and "simulation" in data and "laser" not in sim:
        raise ConfigError("simulation.laser: required key missing (a simulated tcspc needs the laser)")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: where the YAML breaks and why (``line 3, column 5: found character '\\t' that ...``)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    text = where + (f"{context}: " if context else "") + problem
    return " ".join(text.split())


def parse_config(text: str, source: str = "<string>") -> StationConfig:
    """Parse and validate config text; raise ConfigError naming the key that is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {_yaml_problem(exc)}") from None
    except (ValueError, RecursionError) as exc:  # a number with thousands of digits, nesting thousands deep
        raise ConfigError(f"{source}: not a usable YAML file: {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), _key_path(e)))
    if errors:
        raise ConfigError(f"{source}: {_describe(errors[0])}")
    try:
        _check_limits(data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return StationConfig(data=data, text=text, source=source)


def instrument_where(cfg: dict) -> str:
    """Where an ``instruments.<role>`` entry is reached: its ``address``, its library path(s), or "" for an
    instrument with no connection of its own (a fixed laser, a manual lamp, the Kymera's shutter)."""
    if "address" in cfg:
        return str(cfg["address"])
    library = cfg.get("library")
    if isinstance(library, dict):
        return "library " + ", ".join(str(v) for v in library.values())
    return f"library {library}" if library is not None else ""


def instrument_name(role: str, cfg: dict) -> str:
    """An instrument as errors name it: ``stage (pi-e727 at tcp://192.168.0.27:50000)``."""
    where = instrument_where(cfg)
    return f"{role} ({cfg.get('driver', '?')}{' at ' + where if where else ''})"


def has_real_link(cfg: dict) -> bool:
    """True when an ``instruments.<role>`` entry names a real address or library (not ``sim``): the instrument
    is reached over a network, a port or a vendor library."""
    return any(key in cfg and cfg[key] != "sim" for key in ("address", "library"))


def shipped_stations() -> dict[str, Path]:
    """The stations that ship with tepl, by name (``sim``, ``confocal-sim``...) -> their YAML file."""
    return {path.stem: path for path in sorted(CONFIG_DIR.glob("*.yaml"))}


def station_candidates(name: str | Path) -> list[Path]:
    """Where ``--config NAME`` is looked for, in order: the path as given (from the working folder, also with
    ``.yaml`` added), then a
    shipped station by name (``confocal-sim``, ``confocal-sim.yaml``, or ``config/confocal-sim.yaml``: the
    shipped stations are the source tree's ``config/`` folder, installed as ``tepl.stations``)."""
    path = Path(name)
    candidates = [path] if path.suffix == ".yaml" else [path, path.parent / f"{path.name}.yaml"]
    if path.parent in (Path("."), Path("config")):
        stem = path.name.removesuffix(".yaml")
        candidates += [CONFIG_DIR / f"{stem}.yaml"]
    return list(dict.fromkeys(candidates))


def find_station(name: str | Path) -> Path:
    """The YAML file of station ``name`` (a path, a file name or a shipped station's name); ConfigError
    naming every place looked in and the shipped stations when there is none."""
    candidates = station_candidates(name)
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p if p.is_absolute() else Path.cwd() / p) for p in candidates)
    raise ConfigError(f"{name}: station config not found; looked in {looked}; shipped stations "
                      f"({CONFIG_DIR}): {', '.join(shipped_stations())} (tepl stations lists them)")


def load_config(path: str | Path | None = None) -> StationConfig:
    """Load station ``path``: a YAML file, or a shipped station by name (default: ``sim``, the embedded
    ``config/sim.yaml``)."""
    path = find_station(path) if path is not None else DEFAULT_CONFIG
    return parse_config(path.read_text(), str(path))
