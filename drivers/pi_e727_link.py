"""The link to a PI E-727 (``tepl.drivers.pi_e727.E727``): GCS 2.0 lines over a pymeasure adapter, kept in step.

Commands end with LF; a set-command and its ``ERR?`` go out in one write (``send``) and a non-zero code
raises ``GCSError``; the single bytes #5/#7/#24 go without LF; a reply goes on while its line ends in a space
(``1=... \\n2=... \\n3=...\\n``, ``read_lines``).

The link is kept in step: a transport error (a VISA timeout, a socket error) becomes a ``DeviceError``
naming the controller, its address and the command, and marks the link out of step, since the reply may
still arrive later. Before the next command the driver then empties the read buffer and sends ``VER?``
(a query it uses for nothing else), discarding every reply until the version lines come back, so a late
reply is never taken as the answer to a later command (``resynchronise``). A reply that does not fit the
command (other axes, another number of lines, no number) raises ``DeviceError`` and puts the link out of step
the same way (``out_of_step``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from inspect import getmembers
from typing import Any

from pymeasure.instruments import Instrument
from pymeasure.instruments.common_base import DynamicProperty
from pyvisa.errors import VisaIOError

from tepl.drivers.pi_gcs import GCSError, parse_int
from tepl.roles import DeviceError

MAX_REPLY_LINES = 1000
LINK_ERRORS = (VisaIOError, OSError)  # OSError: TimeoutError, ConnectionError and every socket error
_READ_ERRORS = (*LINK_ERRORS, UnicodeDecodeError)
RESYNC_QUERY = "VER?"  # asked only to bring the link back in step: no stale reply can look like its answer
RESYNC_MAX_REPLIES = 32  # replies discarded at most while waiting for the VER? answer


log = logging.getLogger(__name__)


def _refuse_reserved_names(self: Any, name: str, _get: Callable[[object, str], Any] = object.__getattribute__):
    """pymeasure's rule for an instrument with dynamic properties: their reserved names cannot be read (one
    set lookup; the set is made at the end of ``GCSLink.__init__``, before it the class's empty set)."""
    if name in _get(self, "_reserved_names"):
        raise AttributeError(f"{name} is a reserved variable name and it cannot be read")
    return _get(self, name)


_LINK_STATE = frozenset({"last_command", "in_step", "_resyncs_owed"})  # the link's own, set per command


class GCSLink(Instrument):
    """A pymeasure instrument speaking GCS 2.0 lines to one controller (``name`` at ``address``), kept in step.

    The adapter is a VISA resource string (``"TCPIP::host::50000::SOCKET"``, ``"ASRL/dev/ttyUSB0::INSTR"``)
    or a pymeasure adapter; the text is cp1252 with LF at both ends, 115200 baud on a serial port.
    """

    def __init__(self, adapter, name: str = "PI E-727", address: str | None = None, **kwargs):
        kwargs.setdefault("write_termination", "\n")
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("encoding", "cp1252")
        kwargs.setdefault("asrl", {"baud_rate": 115200})
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.address = address if address is not None else (adapter if isinstance(adapter, str)
                                                             else type(adapter).__name__)
        self.last_command = ""
        self.in_step = True  # False after a timeout or a reply that did not fit: resynchronise first
        self._resyncs_owed = 0  # VER? queries sent whose answer has not been read yet
        self._reserved_names = frozenset(self._special_names)

    _reserved_names: frozenset[str] = frozenset()  # the instance's own set once pymeasure has listed them

    # pymeasure's rule: the names its dynamic properties reserve (``<property>_values``...) cannot be read.
    # pymeasure checks it with two ``hasattr`` calls and a list search on every attribute read, which on a
    # fast link costs more than the GCS round trip. The E-727 itself has no dynamic property (its axes
    # do): it reserves no name, so plain attribute access keeps the rule; a subclass that adds dynamic
    # properties gets the check back, as one set lookup (``__init_subclass__``).
    __getattribute__ = object.__getattribute__

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if any(isinstance(member, DynamicProperty) for _, member in getmembers(cls)):
            cls.__getattribute__ = _refuse_reserved_names  # type: ignore[method-assign,assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        """The link's own state, set on every command, is no name pymeasure reserves: set as it is, without
        pymeasure's search of its reserved names (which renames those)."""
        if name in _LINK_STATE:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # ---- transport
    @property
    def where(self) -> str:
        """The controller and its address, for error messages: ``PI E-727 at TCPIP::host::50000::SOCKET``."""
        return f"{self.name} at {self.address}"

    def out_of_step(self, problem: str) -> DeviceError:
        """A reply that does not fit the command: the link resynchronises before the next command."""
        self.in_step = False
        return DeviceError(f"{self.where}: {problem} (last command {self.last_command!r})")

    def _link_error(self, doing: str, exc: BaseException) -> DeviceError:
        self.in_step = False  # the reply may still come, late
        return DeviceError(f"{self.where}: {doing} {self.last_command!r} failed: {type(exc).__name__}: {exc}")

    def write(self, command: str, **kwargs) -> None:
        """``command`` to the adapter (which appends LF), after resynchronising a link out of step."""
        self._write_text(command, command, **kwargs)

    def _write_text(self, text: str, command: str, **kwargs) -> None:
        """``text`` (one or more LF-separated commands) to the adapter; ``command`` is what error messages name."""
        if not self.in_step:
            self.resynchronise()
        self.last_command = command
        try:
            self.adapter.write(text, **kwargs)  # what pymeasure's Instrument.write does, one call less
        except LINK_ERRORS as exc:
            raise self._link_error("sending", exc) from exc

    def read(self, **kwargs) -> str:
        """One reply line; a reply that does not arrive or is not cp1252 text raises DeviceError."""
        try:
            return self.adapter.read(**kwargs)
        except _READ_ERRORS as exc:
            raise self._link_error("reading the reply to", exc) from exc

    def write_bytes(self, content: bytes, **kwargs) -> None:
        try:
            super().write_bytes(content, **kwargs)
        except LINK_ERRORS as exc:
            raise self._link_error("sending", exc) from exc

    def read_bytes(self, count: int, **kwargs) -> bytes:
        try:
            return super().read_bytes(count, **kwargs)
        except LINK_ERRORS as exc:
            raise self._link_error("reading the reply to", exc) from exc

    def _single_byte(self, code: int) -> None:
        self._keep_in_step()
        self.last_command = f"#{code}"
        self.write_bytes(bytes([code]))

    def _keep_in_step(self) -> None:
        if not self.in_step:
            self.resynchronise()

    def resynchronise(self) -> None:
        """Bring the link back in step after a timeout or a stray reply: empty the read buffer, ask
        ``VER?`` and discard every reply until its answer (and those of earlier unanswered ``VER?``) has
        been read. A DeviceError leaves the link out of step (the next command tries again)."""
        self.in_step = True  # so that the writes below go out
        try:
            try:
                self.adapter.flush_read_buffer()
            except NotImplementedError:
                pass
            except LINK_ERRORS as exc:
                raise self._link_error("emptying the read buffer before", exc) from exc
            self.write(RESYNC_QUERY)
            self._resyncs_owed += 1
            discarded = []
            while self._resyncs_owed:
                if len(discarded) >= RESYNC_MAX_REPLIES:
                    raise DeviceError(f"{self.where}: no answer to {RESYNC_QUERY} among {len(discarded)} replies "
                                      f"while resynchronising (first: {discarded[:3]})")
                lines = self.read_lines()
                if any(line.startswith(("FW_", "Firmware")) for line in lines):
                    self._resyncs_owed -= 1
                else:
                    discarded.append(lines)
            if discarded:
                log.warning("%s: discarded %d stale replies while resynchronising: %s", self.where,
                            len(discarded), discarded[:3])
        except BaseException:
            self.in_step = False
            raise

    def read_lines(self) -> list[str]:
        """One GCS reply: lines are read while they end in a space; returned without that space."""
        read = self.read
        line = read()
        if line[-1:] != " ":  # a one-line reply (ERR?, one axis)
            return [line]
        lines = [line[:-1]]
        read_rest = getattr(self.adapter, "read_continued_lines", None)  # an in-process link: all of it at once
        if read_rest is not None:
            try:
                rest = read_rest(" ", MAX_REPLY_LINES - 1)
            except _READ_ERRORS as exc:
                raise self._link_error("reading the reply to", exc) from exc
            lines += [line[:-1] for line in rest[:-1]]
            if rest[-1][-1:] != " ":
                lines.append(rest[-1])
                return lines
            lines.append(rest[-1][:-1])
        while len(lines) < MAX_REPLY_LINES:
            line = read()
            if line[-1:] != " ":
                lines.append(line)
                return lines
            lines.append(line[:-1])
        raise self.out_of_step(f"the reply did not end after {MAX_REPLY_LINES} lines")

    def ask_lines(self, command: str) -> list[str]:
        self.write(command)
        return self.read_lines()

    @property
    def error_code(self) -> int:
        """Get and clear the last GCS error code (int, 0 = no error): ``ERR?``."""
        self.write("ERR?")
        return parse_int(self.read())

    def check_error(self, command: str | None = None, allowed: Iterable[int] = (), asked: bool = False) -> int:
        """Read ``ERR?`` (``asked``: sent already, after the command); raise GCSError unless the code is 0 or in
        ``allowed``. Returns the code."""
        command = self.last_command if command is None else command
        try:
            code = parse_int(self.read()) if asked else self.error_code
        except DeviceError as exc:
            raise self.out_of_step(f"ERR? after {command!r}: {exc}") from None
        if code and code not in set(allowed):
            raise GCSError(code, command)
        return code

    def check_set_errors(self) -> list:
        self.check_error()
        return []

    def send(self, command: str) -> None:
        """A set-command and ``ERR?`` in one write (the controller runs them in turn: ERR? answers once the
        command has run; one packet on the link instead of two)."""
        self._write_text(f"{command}\nERR?", command)
        self.check_error(command, asked=True)
