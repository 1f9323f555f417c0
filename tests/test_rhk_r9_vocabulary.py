"""The R9 vocabulary: one table in the driver, its own copy in the simulator, overridable from the config.

The simulator's words are written on their own (``tepl.sims.rhk_r9_protocol.WORDS``), not imported from the driver's
table, so the comparison below catches a word changed on one side only."""

from __future__ import annotations

import pytest

from tepl.config import ConfigError, load_config
from tepl.config_schema import R9_VOCABULARY_KEYS
from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_vocabulary import DEFAULTS, SOURCES, WORDS, VocabularyError, vocabulary
from tepl.sims import rhk_r9_protocol as sim
from tepl.sims.rhk_r9 import R9Controller, R9InProcess
from tepl.sims.world import World
from tests.standins import BumpSample


class Recorder:
    """A transport that records every line and answers from a script."""

    def __init__(self, *replies: str):
        self.lines: list[str] = []
        self.replies = list(replies)

    def query(self, line: str) -> str:
        self.lines.append(line)
        return self.replies.pop(0)

    def close(self) -> None:
        pass


def test_driver_table_and_simulator_copy_agree_word_for_word():
    assert sim.WORDS == DEFAULTS


def test_config_schema_knows_every_vocabulary_key():
    assert tuple(R9_VOCABULARY_KEYS) == tuple(DEFAULTS)


def test_every_word_says_where_it_comes_from():
    for word in WORDS:
        assert word.source in SOURCES, word
        assert word.where.strip() and word.what.strip(), word
    assert len({w.key for w in WORDS}) == len(WORDS)


def _every_call(r9: R9) -> None:
    r9.set_setpoint_V(0.08)
    r9.setpoint_V()
    r9.set_integral_gain(10.0)
    r9.integral_gain()
    r9.set_proportional_gain(0.1)
    r9.proportional_gain()
    r9.z_bounds_m()
    r9.tip_control()
    for mode in ("Unlimit", "Freeze"):
        r9.set_tip_control(mode)
    r9.set_z_position_m(1.0e-6)
    r9.z_m(), r9.amplitude_V(), r9.phase_deg()
    r9.set_tip_control("Retract")
    r9.step_in()
    r9.step_out()
    r9.stop_procedure(r9.words["step_out"])


@pytest.mark.parametrize("key", sorted(set(DEFAULTS) - {"done", "started"}))
def test_every_word_the_driver_sends_comes_from_the_vocabulary(key):
    """Replace one word in driver and simulator alike: every call still works, and the default word is no
    longer on the wire."""
    replacement = f"X{DEFAULTS[key]}X"
    controller = R9Controller(World(sample=BumpSample(), drift_nm_per_s=(0.0, 0.0)), words={key: replacement})
    lines: list[str] = []
    transport = R9InProcess(controller)
    query = transport.query
    transport.query = lambda line: lines.append(line) or query(line)  # type: ignore[method-assign]
    _every_call(R9(transport, vocabulary={key: replacement}))
    fields = [f.strip() for line in lines for f in line.split(",")]
    assert replacement in fields
    assert DEFAULTS[key] not in fields


def test_a_word_the_simulator_does_not_know_fails_loudly():
    from tepl.roles import DeviceError

    controller = R9Controller(World(sample=BumpSample(), drift_nm_per_s=(0.0, 0.0)))
    r9 = R9(R9InProcess(controller), vocabulary={"amplitude_channel": "LIA 1 R"})
    with pytest.raises(DeviceError, match="LIA 1 R"):
        r9.amplitude_V()


def test_reply_words_come_from_the_vocabulary():
    r9 = R9(Recorder("OK", "BeganOKOK", "OKMaintien"), vocabulary={"done": "OK", "started": "Began",
                                                                   "freeze": "Maintien"})
    r9.set_tip_control("Freeze")
    r9.step_in()
    assert r9.tip_control() == "Freeze"


@pytest.mark.parametrize("overrides, message", [
    ({"amplitude": "LIA 1 R"}, "unknown key 'amplitude'"),
    ({"z_channel": ""}, "z_channel"),
    ({"controller": "Z PI, Controller"}, "controller"),
    ({"freeze": "Retract"}, "must be different"),
])
def test_bad_overrides_are_refused_naming_the_r9_and_the_key(overrides, message):
    with pytest.raises(VocabularyError, match=f"RHK R9 vocabulary.*{message}"):
        vocabulary(overrides)
    with pytest.raises(ValueError, match=message):
        R9(Recorder(), vocabulary=overrides)


def _config_with(tmp_path, vocabulary_yaml: str):
    text = (load_config(None).text.replace(
        "    setpoint_fraction: 0.9       # of the free tuning-fork amplitude",
        "    setpoint_fraction: 0.9       # of the free tuning-fork amplitude\n" + vocabulary_yaml, 1))
    assert vocabulary_yaml in text
    path = tmp_path / "station.yaml"
    path.write_text(text)
    return path


def test_config_refuses_an_unknown_vocabulary_key(tmp_path):
    path = _config_with(tmp_path, "    vocabulary:\n      lock_in_amplitude: LIA 1 R\n")
    with pytest.raises(ConfigError, match="unknown key instruments.zcontrol.vocabulary.lock_in_amplitude"):
        load_config(path)


def test_config_vocabulary_reaches_the_driver(tmp_path):
    from tepl.station import build_station

    path = _config_with(tmp_path, "    vocabulary:\n      phase_channel: LIA 1 Theta\n      retract: Withdraw\n")
    station = build_station(path)
    try:
        r9 = station.zcontrol.r9
        assert r9.phase_channel == "LIA 1 Theta" and r9.words["retract"] == "Withdraw"
        assert r9.words["z_channel"] == DEFAULTS["z_channel"]
    finally:
        station.close(make_safe=False)  # the in-process R9 keeps the default words: nothing is sent
