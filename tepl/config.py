"""Station configuration: load a ``config/*.yaml`` file and validate it against the schema.

Only the station reads config (design rule 5). Errors name the offending key as a dotted path, e.g.
``config/lab-tepl.yaml: instruments.stage.address: required key missing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEFAULT_CONFIG = CONFIG_DIR / "sim.yaml"


class ConfigError(ValueError):
    """The station config is malformed; the message names the file and the key."""


_range = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_address = {"type": "string", "minLength": 1,
            "description": "'sim', 'tcp://HOST:PORT', or a VISA resource string (e.g. ASRL/dev/ttyUSB0::INSTR)"}

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
            },
        },
        "instruments": {
            "type": "object", "additionalProperties": False,
            "required": ["stage", "zcontrol", "spectrometer", "shutter"],
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
            },
        },
        "limits": {
            "type": "object", "additionalProperties": False,
            "required": ["stage_travel_um", "tip_z_nm", "max_press_depth_nm", "max_force_nN",
                         "max_pressure_GPa", "exposure_s"],
            "properties": {
                "stage_travel_um": {"type": "object", "additionalProperties": False,
                                    "required": ["x", "y", "z"],
                                    "properties": {a: _range for a in "xyz"}},
                "tip_z_nm": _range,
                "max_press_depth_nm": {"type": "number", "minimum": 0},
                "max_force_nN": {"type": "number", "exclusiveMinimum": 0},
                "max_pressure_GPa": {"type": "number", "exclusiveMinimum": 0},
                "exposure_s": _range,
            },
        },
        "calibration": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "wavelength_file": {"type": ["string", "null"]},
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


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        keys = ", ".join(f"{where}.{k}" if where != "(top level)" else k for k in extra)
        return f"unknown key {keys}"
    if error.validator == "required":
        missing = error.message.split("'")[1]
        full = f"{where}.{missing}" if where != "(top level)" else missing
        return f"{full}: required key missing"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {error.validator_value}"
    return f"{where}: {error.message}"


def _check_limits(data: dict) -> None:
    limits = data["limits"]
    ranges = {f"limits.stage_travel_um.{a}": limits["stage_travel_um"][a] for a in "xyz"}
    ranges["limits.tip_z_nm"] = limits["tip_z_nm"]
    ranges["limits.exposure_s"] = limits["exposure_s"]
    for key, (low, high) in ranges.items():
        if not low < high:
            raise ConfigError(f"{key}: lower bound {low} must be below upper bound {high}")
    if limits["exposure_s"][0] <= 0:
        raise ConfigError(f"limits.exposure_s: lower bound {limits['exposure_s'][0]} s must be positive")
    if limits["tip_z_nm"][0] < 0:
        raise ConfigError("limits.tip_z_nm: lower bound must be ≥ 0 nm (the substrate)")


def parse_config(text: str, source: str = "<string>") -> StationConfig:
    """Parse and validate config text; raise ConfigError naming the key that is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
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
