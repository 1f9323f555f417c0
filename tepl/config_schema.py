"""The station-config schema: every key a ``config/*.yaml`` file may hold, with its type and bounds
(``tepl.config`` validates against it). The role names a station knows are the keys of ``instruments``."""

from __future__ import annotations

from typing import Any

_range = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_address = {"type": "string", "minLength": 1,
            "description": "'sim', 'tcp://HOST:PORT', or a VISA resource string (e.g. ASRL/dev/ttyUSB0::INSTR)"}

SAMPLE_KINDS = ("tepl", "perovskite-qd-a", "perovskite-qd-b", "flim-reference", "single-qd", "cryo", "film")

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

# The keys of the R9 vocabulary (tepl.drivers.rhk_r9_vocabulary.WORDS; a test keeps the two lists equal): each
# corrects one word the driver sends or expects, e.g. ``vocabulary: {amplitude_channel: "Lock-in 1 R"}``.
R9_VOCABULARY_KEYS = (
    "set_hw_sub", "get_hw_sub", "set_hw", "get_hw", "read_channel", "start_procedure", "stop_procedure",
    "controller", "set_point", "value", "integral_gain", "proportional_gain", "upper_bound", "lower_bound",
    "z_position", "tip_control", "unlimit", "freeze", "retract", "z_channel", "amplitude_channel",
    "phase_channel", "step_in", "step_out", "done", "started",
)
_R9_VOCABULARY = {
    "type": "object", "additionalProperties": False,
    "description": "R9 words that differ from the driver's defaults (see tepl check-rig)",
    "properties": {k: {"type": "string", "minLength": 1, "pattern": "^[^,\\r\\n]+$"} for k in R9_VOCABULARY_KEYS},
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
                "tip_start_um": {
                    "oneOf": [{"type": "number", "exclusiveMinimum": 0},
                              {**_range, "items": {"type": "number", "exclusiveMinimum": 0}}],
                    "description": "retracted tip apex height above the substrate at power-up, µm, or [low, high] "
                                   "to draw it from with the seed (default: the fine Z's range, coarse base at 0)"},
                "coarse_step_jitter": {
                    "type": "number", "minimum": 0, "maximum": 0.5,
                    "description": "each coarse step's size lies within ±this fraction of nominal (default 0)"},
                "tip_focus_offset_nm": {
                    "type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                    "description": "tepl sample: the tip apex's lateral offset from the laser focus centre before "
                                   "any picomotor travel, [x, y] nm (default [0, 0])"},
                "tip_focus_offset_max_nm": {
                    "type": "number", "minimum": 0,
                    "description": "tepl sample: draw that offset from the seed, uniformly within this radius, nm "
                                   "(instead of tip_focus_offset_nm)"},
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
                        "settle_s": {"type": "number", "minimum": 0,
                                     "description": "after a move the first ONT? waits this long, s (default: "
                                                    "one poll interval); at most settle_timeout_s"},
                        "poll_interval_s": {"type": "number", "exclusiveMinimum": 0,
                                            "description": "ONT? polling interval while settling, s"},
                    },
                },
                "zcontrol": {
                    "type": "object", "additionalProperties": False, "required": ["driver", "address"],
                    "properties": {
                        "driver": {"enum": ["rhk-r9"]},
                        "address": _address,
                        "controller": {"type": "string"},
                        "setpoint_fraction": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                        "coarse_step_nm": {"type": "number", "exclusiveMinimum": 0,
                                           "description": "nominal height change of one coarse step, nm "
                                                          "(default 80)"},
                        "coarse_step_spread": {"type": "number", "minimum": 0, "maximum": 0.9,
                                               "description": "largest deviation of one coarse step from "
                                                              "nominal, as a fraction (default 0.25)"},
                        "contact_gap_nm": {"type": "number", "minimum": 0, "exclusiveMaximum": 100,
                                           "description": "apex-to-surface gap at which the shear-force loop "
                                                          "settles at its setpoint, nm: an approach sets the Z "
                                                          "reference to it at contact (unset: the reference is "
                                                          "left as it was)"},
                        "z_channel": {"type": "string"},
                        "amplitude_channel": {"type": "string"},
                        "phase_channel": {"type": "string"},
                        "vocabulary": _R9_VOCABULARY,
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
                        "config_dir": {"type": "string",
                                       "description": "directory SDK2 Initialize reads detector.ini and the "
                                                      "firmware from (default /usr/local/etc/andor on Linux, "
                                                      "empty on Windows)"},
                        "input_slit": {"enum": ["direct", "side"],
                                       "description": "the Kymera input slit the light enters by"},
                        "slit_width_um": {"type": "number", "minimum": 10, "maximum": 2500,
                                          "description": "input slit width, µm (the motorised slit's range "
                                                         "10-2500 µm)"},
                        "exit_port": {"enum": ["direct", "side"],
                                      "description": "the Kymera exit port the CCD is mounted on (output "
                                                     "flipper mirror)"},
                        "filter": {"type": "integer", "minimum": 1, "maximum": 6,
                                   "description": "Kymera filter-wheel position (1-6)"},
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
                "laser": {
                    "type": "object", "additionalProperties": False,
                    "required": ["driver", "wavelength_nm", "power_mW"],
                    "description": "the excitation laser (made safe with the excitation: off where it can be switched)",
                    "properties": {
                        "driver": {"enum": ["sim-laser", "fixed"],
                                   "description": "sim-laser: the twin's laser; fixed: a laser on its own supply "
                                                  "that the station describes but cannot switch"},
                        "wavelength_nm": {"type": "number", "exclusiveMinimum": 0},
                        "repetition_rate_hz": {"type": "number", "minimum": 0, "description": "0 for a CW laser"},
                        "power_mW": {"type": "number", "exclusiveMinimum": 0,
                                     "description": "output power (fixed) or rated power (sim-laser), mW"},
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
                "max_laser_power_mW": {"type": "number", "exclusiveMinimum": 0},
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


# A role another PC serves (tepl serve-instruments): ``address: pyro://HOST:PORT/ROLE`` in place of the entry's
# own settings, which are the serving PC's.
_REMOTE = {
    "type": "object", "additionalProperties": False, "required": ["address"],
    "properties": {
        "driver": {"type": "string", "description": "the served instrument's driver (for the reader; not used)"},
        "address": {"type": "string", "pattern": "^pyro://[^/]+:[0-9]+/[A-Za-z_][A-Za-z0-9_]*$",
                    "description": "pyro://HOST:PORT/ROLE of a role served by tepl serve-instruments"},
        "serializer": {"enum": ["msgpack", "serpent"]},
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "description": "longest wait for one reply (s)"},
        "tls": {"type": "object", "additionalProperties": False, "required": ["cert", "key", "ca"],
                "properties": {k: {"type": "string", "minLength": 1} for k in ("cert", "key", "ca")},
                "description": "client certificate, its key, and the CA that signed the server's (PEM files)"},
    },
}
for _name, _entry in list(SCHEMA["properties"]["instruments"]["properties"].items()):
    SCHEMA["properties"]["instruments"]["properties"][_name] = {
        "if": {"type": "object", "required": ["address"],
               "properties": {"address": {"type": "string", "pattern": "^pyro://"}}},
        "then": _REMOTE, "else": _entry}
