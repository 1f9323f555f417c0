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


def _config_dir() -> Path:
    """The shipped station configs: ``config/`` of the source tree, else the installed ``tepl.stations``."""
    here = Path(__file__).resolve().parent
    source = here.parent / "config"
    return source if (source / "sim.yaml").is_file() else here / "stations"


CONFIG_DIR = _config_dir()
DEFAULT_CONFIG = CONFIG_DIR / "sim.yaml"


class ConfigError(ValueError):
    """The station config is malformed; the message names the file and the key."""


_range = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_address = {"type": "string", "minLength": 1,
            "description": "'sim', 'tcp://HOST:PORT', or a VISA resource string (e.g. ASRL/dev/ttyUSB0::INSTR)"}

SAMPLE_KINDS = ("tepl", "perovskite-qd-a", "perovskite-qd-b", "flim-reference", "single-qd", "cryo")

_detector = {
    "type": "object", "additionalProperties": False, "required": ["name", "band_nm"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "band_nm": _range,
        "efficiency": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "dark_counts_per_s": {"type": "number", "minimum": 0},
        "dead_time_ns": {"type": "number", "minimum": 0},
        "jitter_fwhm_ps": {"type": "number", "exclusiveMinimum": 0},
    },
}

_TCSPC: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["driver", "library", "channels"],
    "properties": {
        "driver": {"enum": ["hydraharp", "timeharp260"]},
        "library": {"type": "string", "minLength": 1, "description": "'sim' or the path of HHLib / TH260Lib"},
        "model": {"type": "string", "description": "TimeHarp 260: 'TimeHarp 260 P' or 'TimeHarp 260 N'"},
        "device_index": {"type": "integer", "minimum": 0, "maximum": 7},
        "sync_divider": {"enum": [1, 2, 4, 8, 16]},
        "sync_level_mV": {"type": "number"},
        "input_level_mV": {"type": "number"},
        "binning": {"type": "integer", "minimum": 0, "maximum": 21},
        "offset_ns": {"type": "number", "minimum": 0},
        "timeout_margin_s": {"type": "number", "exclusiveMinimum": 0,
                             "description": "how much longer than the acquisition a measurement may take (s)"},
        "channel_offsets_ps": {"type": "array", "items": {"type": "number"}},
        "channels": {"type": "array", "items": _detector, "minItems": 1, "maxItems": 8,
                     "description": "the detector on each input, in input order, with its band-pass filter"},
        "splitter": {"enum": ["dichroic", "50-50"],
                     "description": "dichroic: each detector sees its own band; 50-50: HBT beam splitter"},
    },
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["station", "instruments", "limits"],
    "properties": {
        "station": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
        },
        "simulation": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "seed": {"type": "integer"},
                "real_time": {"type": "boolean"},
                "n_dots": {"type": "integer", "minimum": 0, "maximum": 50},
                "sample": {"enum": list(SAMPLE_KINDS),
                           "description": "which virtual sample sits on the stage (default tepl)"},
                "drift_nm_per_s": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                "longpass_edge_nm": {"type": ["number", "null"], "exclusiveMinimum": 0},
                "laser": {
                    "type": "object", "additionalProperties": False,
                    "required": ["wavelength_nm", "repetition_rate_hz"],
                    "properties": {"wavelength_nm": {"type": "number", "exclusiveMinimum": 0},
                                   "repetition_rate_hz": {"type": "number", "minimum": 0,
                                                          "description": "0 for a CW laser"},
                                   "pulse_fwhm_ps": {"type": "number", "exclusiveMinimum": 0}},
                },
            },
        },
        "instruments": {
            "type": "object", "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "stage": {
                    "type": "object", "additionalProperties": False, "required": ["driver", "address"],
                    "properties": {
                        "driver": {"enum": ["pi-e727"]},
                        "address": _address,
                        "axes": {"type": "object", "additionalProperties": False,
                                 "required": ["x", "y", "z"],
                                 "properties": {a: {"type": "string"} for a in "xyz"}},
                        "settle_timeout_s": {"type": "number", "exclusiveMinimum": 0},
                    },
                },
                "zcontrol": {
                    "type": "object", "additionalProperties": False, "required": ["driver", "address"],
                    "properties": {
                        "driver": {"enum": ["rhk-r9"]},
                        "address": _address,
                        "controller": {"type": "string"},
                        "setpoint_fraction": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                        "z_channel": {"type": "string"},
                        "amplitude_channel": {"type": "string"},
                        "phase_channel": {"type": "string"},
                    },
                },
                "spectrometer": {
                    "type": "object", "additionalProperties": False, "required": ["driver", "library"],
                    "properties": {
                        "driver": {"enum": ["andor"]},
                        "library": {
                            "oneOf": [
                                {"const": "sim"},
                                {"type": "object", "additionalProperties": False,
                                 "required": ["sdk2", "spectrograph"],
                                 "properties": {"sdk2": {"type": "string", "minLength": 1},
                                                "spectrograph": {"type": "string", "minLength": 1}}},
                            ],
                        },
                        "grating": {"type": "integer", "minimum": 1, "maximum": 4},
                        "center_wavelength_nm": {"type": "number", "exclusiveMinimum": 0},
                        "target_temperature_c": {"type": "number", "minimum": -100, "maximum": 30},
                        "timeout_margin_s": {"type": "number", "exclusiveMinimum": 0,
                                             "description": "how much longer than expected an acquisition may "
                                                            "take (s)"},
                    },
                },
                "shutter": {
                    "type": "object", "additionalProperties": False, "required": ["driver"],
                    "properties": {"driver": {"enum": ["kymera-shutter"]}},
                },
                "lamp": {
                    "type": "object", "additionalProperties": False, "required": ["driver"],
                    "properties": {"driver": {"enum": ["sim-lamp", "manual"]}},
                },
                "excitation_shutter": {
                    "type": "object", "additionalProperties": False, "required": ["driver", "address"],
                    "description": "the shutter that blocks the excitation laser (made safe first)",
                    "properties": {
                        "driver": {"enum": ["thorlabs-sc10"]},
                        "address": _address,
                        "open_timeout_s": {"type": "number", "exclusiveMinimum": 0,
                                           "description": "longest wait for the shutter to open or shut, s"},
                    },
                },
                "picomotors": {
                    "type": "object", "additionalProperties": False,
                    "required": ["driver", "address", "axes", "max_steps_per_move"],
                    "description": "open-loop picomotor axes (steps, no position): made safe with the motion",
                    "properties": {
                        "driver": {"enum": ["newport-8742"]},
                        "address": {**_address, "description": "'sim', 'tcp://HOST:PORT' (default port 23), or a "
                                                               "VISA resource string (USB)"},
                        "axes": {"type": "object", "minProperties": 1, "maxProperties": 4,
                                 "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 4},
                                 "description": "axis name -> controller axis 1-4, e.g. {x: 1, y: 2}"},
                        "max_steps_per_move": {"type": "integer", "minimum": 1,
                                               "description": "largest move one call may ask for, steps"},
                        "stop_timeout_s": {"type": "number", "exclusiveMinimum": 0,
                                           "description": "longest wait for the axes to stop, s"},
                    },
                },
                "cryostat": {
                    "type": "object", "additionalProperties": False,
                    "required": ["driver", "address", "setpoint_range_k"],
                    "description": "the cryostat's temperature controller (made safe with the stages)",
                    "properties": {
                        "driver": {"enum": ["lakeshore-336"]},
                        "address": {**_address, "description": "'sim', 'tcp://HOST[:PORT]' (port 7777 by "
                                    "default), or a VISA resource string (e.g. ASRL/dev/ttyUSB0::INSTR)"},
                        "input": {"enum": ["A", "B", "C", "D"], "description": "the control input (default A)"},
                        "output": {"enum": [1, 2], "description": "the heater output of the loop (default 1)"},
                        "setpoint_range_k": {**_range, "description": "the setpoints accepted, K"},
                        "safe_heater": {"enum": ["off", "keep"],
                                        "description": "the safe state switches every heater off (default) "
                                                       "or keeps the controller as it is"},
                        "poll_interval_s": {"type": "number", "exclusiveMinimum": 0,
                                            "description": "time between readings while waiting to be stable, s"},
                    },
                },
                "tcspc": _TCSPC,
            },
        },
        "limits": {
            "type": "object", "additionalProperties": False,
            "required": ["stage_travel_um"],
            "properties": {
                "stage_travel_um": {"type": "object", "additionalProperties": False,
                                    "required": ["x", "y", "z"],
                                    "properties": {a: _range for a in "xyz"}},
                "tip_z_nm": _range,
                "max_press_depth_nm": {"type": "number", "minimum": 0},
                "max_force_nN": {"type": "number", "exclusiveMinimum": 0},
                "max_pressure_GPa": {"type": "number", "exclusiveMinimum": 0},
                "exposure_s": _range,
                "acquisition_s": _range,
                "max_count_rate_per_s": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "calibration": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "wavelength_file": {"type": ["string", "null"]},
                "contact_stiffness_nN_per_nm": {
                    "type": "number", "exclusiveMinimum": 0,
                    "description": "tip-sample contact stiffness: the Z controller then holds max_force_nN and "
                                   "max_pressure_GPa (over strain.contact_area_nm2) for every press"},
                "strain": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "shift_eV_per_percent": {"type": "number"},
                        "reference_strain_percent": {"type": "number", "exclusiveMinimum": 0},
                        "reference_pressure_GPa": {"type": "number", "exclusiveMinimum": 0},
                        "poisson_ratio": {"type": "number"},
                        "contact_area_nm2": {"type": "number", "exclusiveMinimum": 0},
                    },
                },
            },
        },
    },
}


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


def load_config(path: str | Path | None = None) -> StationConfig:
    """Load ``path`` (default: the embedded ``config/sim.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    return parse_config(path.read_text(), str(path))
