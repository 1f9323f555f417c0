"""Every word the RHK R9 driver puts on the wire, in one table, each with where it comes from.

RHK publishes no document of the R9 remote interface that this project could read (hardware.md §4.1). The
words come from public user scripts that drive an R9 over TCP port 12600, or they are assumed. ``source``:

- ``script``: seen verbatim in a public script (``where`` says which);
- ``assumed``: not seen in any public source; ``tepl check-rig`` asks the R9 about it read-only.

(``documented`` would be a vendor manual; no word here has one.) A station corrects a word in its config,
``instruments.zcontrol.vocabulary: {key: word}``, e.g. ``{amplitude_channel: "Lock-in 1 R"}``;
``vocabulary()`` merges such overrides with the defaults and refuses unknown keys and unusable words.

The tip-control modes keep their logical names in the code (``Unlimit`` = feedback on, ``Freeze`` = hold Z,
``Retract`` = withdraw to the upper bound); the vocabulary maps each to the word the R9 sends and accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HOOPDEV = "hoopdev/RHK-interface rhk_interface/driver/__init__.py (MIT)"
APPROACH_SCRIPT = ("public pump-probe STM script driving an R9 (class RHK: Approach, Z_Course_Steps_Out; "
                   "quoted in hardware.md §4.1)")
SOURCES = ("documented", "script", "assumed")


@dataclass(frozen=True)
class Word:
    """One word of the R9 vocabulary: ``key`` (the name this code uses), ``default`` (the R9's word as far as
    known), ``source`` (one of ``SOURCES``), ``where`` (which source, or why assumed), ``what`` (its role)."""

    key: str
    default: str
    source: str
    where: str
    what: str


WORDS: tuple[Word, ...] = (
    # command verbs
    Word("set_hw_sub", "SetHWSubParameter", "script", f"{HOOPDEV}; {APPROACH_SCRIPT}", "set a module sub-parameter"),
    Word("get_hw_sub", "GetHWSubParameter", "script", APPROACH_SCRIPT, "read a module sub-parameter"),
    Word("set_hw", "SetHWParameter", "script", APPROACH_SCRIPT, "set a module parameter (Tip Control)"),
    Word("get_hw", "GetHWParameter", "assumed",
         "the read counterpart of SetHWParameter, as GetHWSubParameter is of SetHWSubParameter", "read Tip Control"),
    Word("read_channel", "ReadChannelValue", "script", APPROACH_SCRIPT, "read one signal channel"),
    Word("start_procedure", "StartProcedure", "script", f"{HOOPDEV}; {APPROACH_SCRIPT}", "run a procedure"),
    Word("stop_procedure", "StopProcedure", "script", f"{HOOPDEV}; {APPROACH_SCRIPT}", "stop a procedure"),
    # the Z PI controller module and its parameters
    Word("controller", "Z PI Controller 1", "script", APPROACH_SCRIPT,
         "the Z feedback module (hoopdev's driver writes 'Z PI Controller')"),
    Word("set_point", "Set Point", "script", f"{HOOPDEV}; {APPROACH_SCRIPT}", "feedback setpoint (V here)"),
    Word("value", "Value", "script", f"{HOOPDEV}; {APPROACH_SCRIPT}", "the value field of a sub-parameter"),
    Word("integral_gain", "Integral Gain", "script", APPROACH_SCRIPT, "I gain"),
    Word("proportional_gain", "Proportional Gain", "script", APPROACH_SCRIPT, "P gain"),
    Word("upper_bound", "Upper Bound", "script", APPROACH_SCRIPT, "Z output upper bound (m, withdrawn)"),
    Word("lower_bound", "Lower Bound", "script", APPROACH_SCRIPT, "Z output lower bound (m, extended)"),
    Word("z_position", "Z Position", "assumed", "no public source sets the frozen Z output",
         "frozen Z output (m)"),
    Word("tip_control", "Tip Control", "script", APPROACH_SCRIPT, "feedback mode parameter"),
    Word("unlimit", "Unlimit", "script", APPROACH_SCRIPT, "Tip Control: feedback on"),
    Word("freeze", "Freeze", "assumed", "listed beside Unlimit in hardware.md §4.1; not found again in the "
                                        "stored scripts", "Tip Control: hold Z"),
    Word("retract", "Retract", "assumed", "no public source withdraws the tip through Tip Control",
         "Tip Control: withdraw Z to the upper bound"),
    # signal channels
    Word("z_channel", "z0-src", "script", APPROACH_SCRIPT, "Z piezo output (m)"),
    Word("amplitude_channel", "LIA 1 Amplitude", "assumed", "R9 lock-in channel naming not in any public source",
         "tuning-fork amplitude (V)"),
    Word("phase_channel", "LIA 1 Phase", "assumed", "R9 lock-in channel naming not in any public source",
         "tuning-fork phase (degrees)"),
    # procedures
    Word("step_in", "Pan Single Step In", "script", APPROACH_SCRIPT, "one coarse step towards the sample"),
    Word("step_out", "Pan Single Step Out", "script", APPROACH_SCRIPT, "one coarse step away from the sample"),
    # replies
    Word("done", "Done", "script", "a public R9 'Little Helper' script (RHK_initialize) compares each set "
                                   "reply with 'Done'", "reply: command accepted / procedure finished"),
    Word("started", "Started", "assumed", "an acknowledgement word some R9 versions may send before 'Done' "
                                          "(tracker issue 11)", "reply: procedure started"),
)

DEFAULTS: dict[str, str] = {w.key: w.default for w in WORDS}
BY_KEY: dict[str, Word] = {w.key: w for w in WORDS}
TIP_MODES = ("Unlimit", "Freeze", "Retract")  # the logical tip-control modes, keys below
MODE_KEY = {"Unlimit": "unlimit", "Freeze": "freeze", "Retract": "retract"}
_WORD_GROUPS = (("unlimit", "freeze", "retract"), ("done", "started"))  # words that must differ


class VocabularyError(ValueError):
    """An override of the R9 vocabulary that cannot be used (unknown key, empty word, a comma...)."""


def vocabulary(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The defaults with ``overrides`` applied: ``{key: word}``.

    Raises ``VocabularyError`` naming the R9 and the key for an unknown key or a word that cannot travel in
    one comma-separated command line (empty, a comma, a line break, surrounding spaces)."""
    words = dict(DEFAULTS)
    for key, word in (overrides or {}).items():
        if key not in DEFAULTS:
            raise VocabularyError(f"RHK R9 vocabulary: unknown key {key!r} (known: {', '.join(DEFAULTS)})")
        if not isinstance(word, str) or not word.strip() or word != word.strip() or any(c in word for c in ",\r\n"):
            raise VocabularyError(f"RHK R9 vocabulary: {key} = {word!r} is not a usable word (non-empty text "
                                  f"without commas, line breaks or surrounding spaces)")
        words[key] = word
    for group in _WORD_GROUPS:
        chosen = [words[k] for k in group]
        if len(set(chosen)) != len(chosen):
            raise VocabularyError(f"RHK R9 vocabulary: {', '.join(group)} must be different words, got {chosen}")
    return words


def assumed() -> tuple[Word, ...]:
    """The words no public source confirms: what ``tepl check-rig`` verifies on the rig."""
    return tuple(w for w in WORDS if w.source == "assumed")
