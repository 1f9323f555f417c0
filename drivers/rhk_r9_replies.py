"""RHK R9 remote interface (TCP port 12600): the line protocol's replies and where each one ends.

Wire format (hardware.md §4.1): one command per line, comma-separated fields joined by ``", "``,
terminated by ``\\n``. Replies carry **no terminator**: ``Done`` for a set-command, a number as text for a
get, and for ``StartProcedure`` an acknowledgement and a second reply when the procedure has finished.
Refusals come back as text that is neither (``Error: ...``). Every word sent and expected lives in
``tepl.drivers.rhk_r9_vocabulary`` (overridable from the station config).

Because nothing marks the end of a reply, a transport reads until the text is a whole reply of the kind the
command expects (``ReplyRule``): a set-command's ends with ``Done`` after any acknowledgements (``Started``),
a procedure's holds its acknowledgement and its completion (two ``Done``), a Tip Control reading is one of the
tip-control words; a number or an ``Error`` text counts as whole once no byte has followed for a reply gap
(``tepl.drivers.rhk_r9_socket``). ``split_acks`` and ``strip_trailing_acks`` separate acknowledgement words
from a reply's value.
"""

from __future__ import annotations

from dataclasses import dataclass

from tepl.drivers.rhk_r9_vocabulary import DEFAULTS, MODE_KEY, TIP_MODES

DONE = DEFAULTS["done"]  # default reply to every accepted set-command and procedure acknowledgement


def split_acks(text: str, acks: tuple[str, ...]) -> tuple[list[str], str]:
    """Strip acknowledgement words (and white space between them) from the front of ``text``:
    (the words found, in order; the rest)."""
    found: list[str] = []
    rest = text.lstrip()
    while True:
        for ack in acks:
            if ack and rest.startswith(ack):
                found.append(ack)
                rest = rest[len(ack):].lstrip()
                break
        else:
            return found, rest


def strip_trailing_acks(text: str, acks: tuple[str, ...]) -> tuple[str, list[str]]:
    """Strip acknowledgement words from the end of ``text``: (the rest, the words found)."""
    found: list[str] = []
    rest = text.rstrip()
    while True:
        for ack in acks:
            if ack and rest.endswith(ack) and len(rest) > len(ack):
                found.insert(0, ack)
                rest = rest[:-len(ack)].rstrip()
                break
        else:
            return rest, found


@dataclass(frozen=True)
class ReplyRule:
    """What a whole reply to one command looks like, for a transport that must find its end.

    ``kind``: ``set`` (acknowledgements ending in ``done``), ``procedure`` (acknowledgement and completion:
    ``done`` twice), ``get`` (a value, optionally one of ``words``). ``acks``: the acknowledgement words."""

    kind: str
    done: str = DONE
    acks: tuple[str, ...] = (DONE, DEFAULTS["started"])
    words: tuple[str, ...] = ()

    def state(self, text: str) -> str:
        """``complete`` (return now), ``partial`` (wait for more) or ``quiet`` (whole once nothing follows
        within the reply gap)."""
        found, rest = split_acks(text, self.acks)
        if rest.startswith("Error"):
            return "quiet"
        waiting = not rest or any(a.startswith(rest) for a in self.acks if a)
        if self.kind == "set":
            if not rest and found and found[-1] == self.done:
                return "complete"
            return "partial" if waiting else "quiet"
        if self.kind == "procedure":
            if not rest and found.count(self.done) >= 2:
                return "complete"
            return "partial" if waiting else "quiet"
        if waiting or any(w.startswith(rest) and w != rest for w in self.words):
            return "partial"
        if rest in self.words and not any(w != rest and w.startswith(rest) for w in self.words):
            return "complete"
        return "quiet"


def default_rule(line: str) -> ReplyRule:
    """The reply rule for a line sent without one, from its command verb in the default vocabulary."""
    verb = line.split(",", 1)[0].strip()
    if verb == DEFAULTS["start_procedure"]:
        return ReplyRule("procedure")
    if verb.startswith("Set") or verb == DEFAULTS["stop_procedure"]:
        return ReplyRule("set")
    return ReplyRule("get", words=tuple(DEFAULTS[MODE_KEY[m]] for m in TIP_MODES))
