"""Ask a real R9 about the words of the vocabulary, read-only: ``tepl check-rig``.

Only queries are sent (``GetHWSubParameter``, ``GetHWParameter``, ``ReadChannelValue``); nothing that sets a
parameter, switches Tip Control or starts a procedure, so the tip never moves. Each word is reported as
``answered`` (the R9 gave a usable reply to a query that uses it), ``not answered`` (an error text, a reply
of the wrong kind, or no reply; the detail says which) or ``not checked`` (no query can use it without
changing the R9's state: the set verbs, the procedure names, the Tip Control words other than the present one,
the reply words).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_replies import ReplyRule
from tepl.drivers.rhk_r9_vocabulary import BY_KEY, MODE_KEY, WORDS
from tepl.roles import DeviceError

ANSWERED, NOT_ANSWERED, NOT_CHECKED = "answered", "not answered", "not checked"


@dataclass(frozen=True)
class WordCheck:
    """The outcome for one vocabulary word: ``key``, the ``word`` sent, its ``source``, ``result`` (one of
    ``ANSWERED``, ``NOT_ANSWERED``, ``NOT_CHECKED``), ``query`` (the line sent, if any) and ``detail`` (the
    reply, or the error text, or why not checked)."""

    key: str
    word: str
    source: str
    result: str
    query: str
    detail: str


def _ask(r9: R9, line: str, rule: ReplyRule) -> tuple[bool, str]:
    """(answered, reply or error text) for one read-only query."""
    try:
        reply = r9._query(line, rule)
    except DeviceError as exc:
        return False, str(exc)
    text = reply.strip()
    if not text or text.startswith("Error"):
        return False, text or "empty reply"
    return True, text


def _number(ok: bool, text: str) -> tuple[bool, str]:
    if not ok:
        return ok, text
    try:
        value = float(text)
    except ValueError:
        return False, f"not a number: {text!r}"
    return (True, text) if math.isfinite(value) else (False, f"not a finite number: {text!r}")


def check_words(r9: R9) -> list[WordCheck]:
    """Query the R9 once for each word a read-only query can use; one ``WordCheck`` per vocabulary word,
    in the order of ``WORDS``."""
    w = r9.words
    get_rule = ReplyRule("get", w["done"], (w["done"], w["started"]))
    outcome: dict[str, tuple[str, str, str]] = {}

    def record(keys: tuple[str, ...], line: str, ok: bool, detail: str) -> None:
        for key in keys:  # a word shared by several queries is answered when any query using it was
            if key not in outcome or (ok and outcome[key][0] != ANSWERED):
                outcome[key] = (ANSWERED if ok else NOT_ANSWERED, line, detail)

    sub = ("get_hw_sub", "controller")
    for name, with_value in (("upper_bound", True), ("lower_bound", True), ("set_point", True),
                             ("z_position", True), ("integral_gain", False), ("proportional_gain", False)):
        fields = [w["get_hw_sub"], w["controller"], w[name]] + ([w["value"]] if with_value else [])
        line = ", ".join(fields)
        ok, detail = _number(*_ask(r9, line, get_rule))
        record((*sub, name, *(("value",) if with_value else ())), line, ok, detail)
    for name in ("z_channel", "amplitude_channel", "phase_channel"):
        line = f"{w['read_channel']}, {w[name]}"
        ok, detail = _number(*_ask(r9, line, get_rule))
        record(("read_channel", name), line, ok, detail)
    line = ", ".join([w["get_hw"], w["controller"], w["tip_control"]])
    ok, detail = _ask(r9, line, get_rule)
    modes = {w[MODE_KEY[m]]: MODE_KEY[m] for m in MODE_KEY}
    if ok and detail not in modes:
        ok, detail = False, f"not one of the Tip Control words {sorted(modes)}: {detail!r}"
    record(("get_hw", "controller", "tip_control"), line, ok, detail)
    if ok:
        record((modes[detail],), line, True, f"the present Tip Control is {detail!r}")
    checks = []
    for word in WORDS:
        result, query, detail = outcome.get(word.key, (NOT_CHECKED, "", _why_not(word.key)))
        checks.append(WordCheck(word.key, w[word.key], BY_KEY[word.key].source, result, query, detail))
    return checks


def _why_not(key: str) -> str:
    if key in ("unlimit", "freeze", "retract"):
        return "only the present Tip Control word can be seen without switching it"
    if key in ("done", "started"):
        return "a reply word: seen only in replies to commands that change the R9's state"
    return "used only by commands that change the R9's state"


def format_checks(checks: list[WordCheck], address: str) -> str:
    """A plain-text table of the checks, one word per line, then a one-line summary."""
    lines = [f"R9 vocabulary at {address} (read-only queries):",
             f"{'key':<18} {'word':<22} {'source':<8} {'result':<13} detail"]
    for c in checks:
        lines.append(f"{c.key:<18} {c.word:<22} {c.source:<8} {c.result:<13} {c.detail}")
    failed = [c.key for c in checks if c.result == NOT_ANSWERED]
    assumed_open = [c.key for c in checks if c.source == "assumed" and c.result == NOT_CHECKED]
    summary = f"{sum(c.result == ANSWERED for c in checks)} answered, {len(failed)} not answered"
    if failed:
        summary += f" ({', '.join(failed)})"
    if assumed_open:
        summary += f"; assumed and not checkable read-only: {', '.join(assumed_open)}"
    return "\n".join([*lines, summary])
