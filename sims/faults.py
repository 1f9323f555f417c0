"""A fault switchboard the simulators share, so tests can make a device misbehave on purpose.

Every simulator that supports faults holds a ``Faults`` (attribute ``faults``), all switched off by default:
then nothing here runs and every reply is byte for byte what it was without it. A test switches one on::

    lib.faults.stall = True                   # the device stops making progress
    adapter.faults.set(delay_s=0.0, count=1)  # the next reply comes late

The kinds (which simulator supports which is listed in ``KINDS``):

``stall``
    the device stops making progress: a link simulator sends no reply at all (the client times out); a
    library simulator keeps answering but a running measurement or acquisition never ends (CTCStatus stays
    0, GetStatus stays DRV_ACQUIRING while WaitForAcquisitionTimeOut reports scan events).
``delay_s``
    a link simulator holds each reply back: the client's read finds nothing (it times out) and the reply
    arrives ``delay_s`` s of wall time later (0: not by itself), or when the client sends its next command,
    whichever is first,
    ahead of that command's own reply: the classic late reply. A library call sleeps ``delay_s`` (wall time).
``garble``
    the reply is corrupted: a link simulator answers for other axes / with other text, a library call
    writes nothing useful (link: digits and axis names changed; library: returns as if it succeeded).
``error_code``
    a library function returns this code instead of running (e.g. -1 or DRV_USBERROR 20089).
``disconnect``
    the link is gone: a link simulator raises ``ConnectionError`` (in-process) or closes the socket (TCP).
``nan_reply``
    numbers in replies read ``nan``.
``interrupt``
    the next call raises ``KeyboardInterrupt``, as Ctrl-C would in the middle of a wait.
``retract_ignored``
    a device fault of the R9: ``Tip Control, Retract`` is acknowledged (``Done``, and the tip control reads
    ``Retract`` afterwards) but the Z output stays where it was, as with a Z amplifier that stopped following
    the controller. Only a reading of Z (and of the tuning-fork amplitude) shows the tip was not withdrawn.

``only`` restricts the faults to calls or commands whose name contains one of its strings (``{"CTCStatus"}``,
``{"POS?"}``); ``count`` switches the faults off again after that many affected calls (None: until
``clear``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, fields
from typing import ClassVar

_LINES = ("pi_e727", "thorlabs_sc10", "newport_8742", "lakeshore_336", "rhk_r9")  # simulators behind a text link
_LIBRARIES = ("picoquant", "andor_sdk2")  # simulators of a vendor's C library
KINDS = {
    "stall": (*_LINES, *_LIBRARIES, "tcp"),
    "delay_s": (*_LINES, *_LIBRARIES, "tcp"),
    "garble": (*_LINES, "tcp"),
    "error_code": _LIBRARIES,
    "disconnect": (*_LINES, "tcp"),
    "nan_reply": ("pi_e727", "rhk_r9", "tcp"),
    "interrupt": (*_LINES, *_LIBRARIES),
    "retract_ignored": ("rhk_r9",),
}
"""Each fault kind and the simulators that support it (``tcp``: any simulator served by ``LoopbackServer``)."""

_NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_VALUE = re.compile(rb"=" + _NUMBER.pattern)
_MIRROR = bytes.maketrans(b"0123456789", b"9876543210")


@dataclass
class Faults:
    """Which faults are on (all off by default). See the module's docstring for what each does."""

    stall: bool = False
    delay_s: float | None = None  # wall-clock seconds; None: off (0.0: late until the next command)
    garble: bool = False
    error_code: int | None = None
    disconnect: bool = False
    nan_reply: bool = False
    interrupt: bool = False
    retract_ignored: bool = False
    only: frozenset[str] = frozenset()
    count: int | None = None
    hits: int = 0  # affected calls so far
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def set(self, **kinds: object) -> Faults:
        """Switch faults on (``set(stall=True, only={"CTCStatus"}, count=1)``); returns self."""
        names = {f.name for f in fields(self)} - {"hits", "_lock"}
        for name, value in kinds.items():
            if name not in names:
                raise ValueError(f"unknown fault {name!r}; known: {sorted(names)}")
            setattr(self, name, frozenset(value) if name == "only" else value)  # type: ignore[arg-type]
        return self

    def clear(self) -> None:
        """Everything off again."""
        self.stall = self.garble = self.disconnect = self.nan_reply = self.interrupt = self.retract_ignored = False
        self.delay_s = self.error_code = self.count = None
        self.only = frozenset()

    any: ClassVar[bool] = False
    """Whether any fault is on: kept up to date by every change of a switch (asked at every simulated call)."""

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name in KINDS:  # a switch is on when it is neither False nor None (a delay of 0.0 s is on)
            d = self.__dict__
            object.__setattr__(self, "any", any(d.get(k) is not None and d.get(k) is not False for k in KINDS))

    def hit(self, name: str = "") -> Faults | None:
        """The faults that apply to the call or command ``name`` (a copy, so a ``count`` running out does not
        change them halfway through the call), or None; counts the call towards ``count``."""
        if not self.any or (self.only and not any(o in name for o in self.only)):
            return None
        with self._lock:
            snapshot = Faults(**{kind: getattr(self, kind) for kind in KINDS})
            self.hits += 1
            if self.count is not None:
                self.count -= 1
                if self.count <= 0:
                    self.clear()
        return snapshot

    # ------------------------------------------------------------------ what a reply becomes
    def interrupt_now(self) -> None:
        """Raise KeyboardInterrupt when ``interrupt`` is on (Ctrl-C in the middle of a call)."""
        if self.interrupt:
            raise KeyboardInterrupt("fault injected: interrupt")

    def corrupt(self, reply: bytes) -> bytes:
        """A reply as ``garble`` / ``nan_reply`` make it (unchanged when neither is on).

        ``nan_reply`` writes the values (after ``=``, or every number of a reply without ``=``) as ``nan``;
        ``garble`` mirrors every digit (axis ``1=`` becomes ``8=``, 12.5 becomes 87.4) and puts ``?`` before
        a reply without digits (``Done``)."""
        if self.nan_reply:  # values after "=" (GCS axis=value), else every number (a bare value)
            reply = _VALUE.sub(b"=nan", reply) if b"=" in reply else _NUMBER.sub(b"nan", reply)
        if self.garble and reply:
            mirrored = reply.translate(_MIRROR)
            reply = mirrored if mirrored != reply else b"?" + reply
        return reply
