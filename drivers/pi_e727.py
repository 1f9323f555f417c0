"""PI E-727 digital piezo controller (GCS 2.0) and the closed-loop XYZ stage (P-611.3 NanoCube) on it.

``E727`` (pymeasure) speaks GCS 2.0 as the PI manual and PIPython do: commands end with LF, numbers are
written as ``format(x, ".12g")`` (``MOV 1 10``, ``MOV 1 12.5``), set-commands never reply and are followed
by ``ERR?`` (non-zero raises ``GCSError``), #5/#7/#24 are single bytes without LF, and a reply goes on
while its line ends in a space (``1=... \\n2=... \\n3=...\\n``). The adapter is a VISA resource string
(``"TCPIP::host::50000::SOCKET"``, ``"ASRL/dev/ttyUSB0::INSTR"``) or a pymeasure adapter. Positions in µm,
velocities in µm/s.

The link is kept in step: a transport error (a VISA timeout, a socket error) becomes a ``DeviceError``
naming the controller, its address and the command, and marks the link out of step, since the reply may
still arrive later. Before the next command the driver then empties the read buffer and sends ``VER?``
(a query it uses for nothing else), discarding every reply until the version lines come back, so a late
reply is never taken as the answer to a later command. A reply that does not fit the command (other axes,
another number of lines, no number) raises ``DeviceError`` and puts the link out of step the same way.

``pi_e727_stage.E727Stage`` is the ``tepl.roles.Stage`` on top (role axes x, y, z -> controller axes).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from inspect import getmembers
from typing import Any

from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.common_base import DynamicProperty
from pymeasure.instruments.validators import strict_discrete_set
from pyvisa.errors import VisaIOError

from tepl.drivers.pi_gcs import (
    GCSError,
    check_axis,
    finite_in_range,
    flag_arg,
    gcs_number,
    parse_flag,
    parse_float,
    parse_int,
    positive_value,
    split_axis_line,
)
from tepl.roles import DeviceError

READY_REPLY, BUSY_REPLY = b"\xb1\n", b"\xb0\n"
STOPPED_CODE = 10
MAX_REPLY_LINES = 1000
LINK_ERRORS = (VisaIOError, OSError)  # OSError: TimeoutError, ConnectionError and every socket error
_READ_ERRORS = (*LINK_ERRORS, UnicodeDecodeError)
RESYNC_QUERY = "VER?"  # asked only to bring the link back in step: no stale reply can look like its answer
RESYNC_MAX_REPLIES = 32  # replies discarded at most while waiting for the VER? answer
_HEX = re.compile(r"[0-9A-Fa-f]+")


log = logging.getLogger(__name__)

_FLAG = dict(validator=strict_discrete_set, values=(False, True), set_process=int, cast=str, maxsplit=0,
             get_process=parse_flag, check_set_errors=True)
_NUMBER = dict(set_process=gcs_number, cast=str, maxsplit=0, get_process=parse_float, check_set_errors=True)


def _axis_measurement(command: str, docs: str, parse: Callable[[str], object] = parse_float):
    return Channel.measurement(command, docs, cast=str, maxsplit=0, get_process=parse)


# ---------------------------------------------------------------------------------------- axis
class E727Axis(Channel):
    """One controller axis, addressed by its GCS identifier; replies ``axis=value`` are checked and unwrapped."""

    def ask(self, command: str, query_delay: float | None = None) -> str:
        try:
            axis, value = split_axis_line(super().ask(command, query_delay))
        except DeviceError as exc:
            raise self.parent.out_of_step(str(exc)) from None
        if axis != str(self.id):
            raise self.parent.out_of_step(f"answered {command.format(ch=self.id)!r} for axis {axis!r}, "
                                          f"asked about axis {self.id!r}")
        return value

    servo_enabled = Channel.control(
        "SVO? {ch}", "SVO {ch} %d", "Control the closed-loop servo (bool).", **_FLAG)
    target_um = Channel.control(
        "MOV? {ch}", "MOV {ch} %s", "Control the commanded absolute target (float, µm); setting starts a move. "
        "Its range is the axis's TMN?/TMX? once ``E727.travel_range_um`` has read them.",
        validator=finite_in_range, values=(-math.inf, math.inf), dynamic=True, **_NUMBER)
    velocity_control_enabled = Channel.control(
        "VCO? {ch}", "VCO {ch} %d", "Control velocity control (bool): on, moves run at the VEL velocity.",
        **_FLAG)

    @property
    def velocity_um_s(self) -> float:
        """Control the closed-loop velocity (float, µm/s, > 0). Setting it switches velocity control on
        (``VCO {ch} 1``) first: with it off the controller ignores VEL."""
        return parse_float(self.ask("VEL? {ch}"))

    @velocity_um_s.setter
    def velocity_um_s(self, value: float) -> None:
        self.parent.set_velocity_um_s({str(self.id): value})

    drift_compensation_enabled = Channel.control(
        "DCO? {ch}", "DCO {ch} %d", "Control drift compensation (bool).", **_FLAG)
    position_um = _axis_measurement("POS? {ch}", "Get the sensor position (float, µm).")
    on_target = _axis_measurement("ONT? {ch}", "Get the on-target state (bool).", parse_flag)
    travel_min_um = _axis_measurement("TMN? {ch}", "Get the lowest commandable position (float, µm).")
    travel_max_um = _axis_measurement("TMX? {ch}", "Get the highest commandable position (float, µm).")
    autozero_done = _axis_measurement("ATZ? {ch}", "Get whether AutoZero succeeded (bool).", parse_flag)
    stage_type = _axis_measurement("CST? {ch}", "Get the connected stage type (str).", str)


# ---------------------------------------------------------------------------------------- controller
def _refuse_reserved_names(self: Any, name: str, _get: Callable[[object, str], Any] = object.__getattribute__):
    """pymeasure's rule for an instrument with dynamic properties: their reserved names cannot be read (one
    set lookup; the set is made at the end of ``E727.__init__``, before it the class's empty set)."""
    if name in _get(self, "_reserved_names"):
        raise AttributeError(f"{name} is a reserved variable name and it cannot be read")
    return _get(self, name)


_LINK_STATE = frozenset({"last_command", "in_step", "_resyncs_owed"})  # E727's own, set per command


class E727(Instrument):
    """PI E-727 piezo controller over GCS 2.0 (TCP port 50000, RS-232 at 115200 baud, or any adapter).

    Per-axis properties live on ``axis_1``, ``axis_2``, ``axis_3`` (``channels["1"]``...); the methods below
    address several axes in one command and return dicts keyed by axis identifier.
    """

    channels = Instrument.MultiChannelCreator(E727Axis, ("1", "2", "3"), prefix="axis_")

    idn = Instrument.measurement("*IDN?", "Get the identification string (str).", cast=str, maxsplit=0)
    gcs_version = Instrument.measurement(
        "CSV?", "Get the GCS syntax version (float, 2.0).", cast=str, maxsplit=0, get_process=parse_float)

    @property
    def error_code(self) -> int:
        """Get and clear the last GCS error code (int, 0 = no error): ``ERR?``."""
        self.write("ERR?")
        return parse_int(self.read())

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
        self._axes: list[str] | None = None
        self._all_axes: list[str] | None = None
        self._checked_axes: dict[tuple, tuple[list[str] | None, tuple[str, ...]]] = {}  # see _axis_list
        self._reserved_names = frozenset(self._special_names)

    _reserved_names: frozenset[str] = frozenset()  # the instance's own set once pymeasure has listed them

    # pymeasure's rule: the names its dynamic properties reserve (``<property>_values``...) cannot be read.
    # pymeasure checks it with two ``hasattr`` calls and a list search on every attribute read, which on a
    # fast link costs more than the GCS round trip. The controller itself has no dynamic property (its axes
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

    # ---- transport helpers
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

    # ---- axes
    def axes(self) -> list[str]:
        """Configured axis identifiers (``SAI?``)."""
        self._axes = " ".join(self.ask_lines("SAI?")).split()
        return list(self._axes)

    def all_axes(self) -> list[str]:
        """All axis identifiers (``SAI? ALL``), the bit order of the #5 motion mask; read once."""
        if self._all_axes is None:
            self._all_axes = " ".join(self.ask_lines("SAI? ALL")).split()
        return list(self._all_axes)

    def _axis_list(self, axes: Iterable[str] | None) -> list[str]:
        """The axis identifiers of ``axes`` (one, several or None: none named), each checked, and checked
        against ``SAI?`` once that has been read. A list or tuple checked before against the same ``SAI?``
        answer is not checked again (a stage asks about the same axes at every move)."""
        key = tuple(axes) if isinstance(axes, (list, tuple)) else None
        try:
            known = self._checked_axes.get(key) if key is not None else None
        except TypeError:  # something unhashable, refused below
            key = known = None
        if known is not None and known[0] is self._axes:
            return list(known[1])
        names = [check_axis(a) for a in ([] if axes is None else ([axes] if isinstance(axes, str) else axes))]
        if self._axes is not None and (unknown := [a for a in names if a not in self._axes]):
            raise ValueError(f"unknown E-727 axes {unknown}; the controller has {self._axes}")
        if key is not None and len(self._checked_axes) < 64:
            self._checked_axes[key] = (self._axes, tuple(names))
        return names

    def query_axes(self, command: str, axes: Iterable[str] | None = None) -> dict[str, str]:
        """``CMD? [axes]`` -> ``{axis: value text}``; checks the reply names exactly the axes asked for."""
        names = self._axis_list(axes)
        lines = self.ask_lines(" ".join([command, *names]))
        try:
            pairs = [split_axis_line(line) for line in lines]
        except DeviceError as exc:
            raise self.out_of_step(f"reply to {command} does not fit: {exc}") from None
        reply = dict(pairs)
        expected = names or self._axes
        if len(reply) != len(pairs) or (expected and list(reply) != expected):
            raise self.out_of_step(f"answered {command} for axes {[a for a, _ in pairs]}, asked for "
                                   f"{expected or 'all axes'}")
        return reply

    def _set_axes(self, command: str, values: Mapping[str, object], fmt: Callable[[object, str], str]) -> None:
        if not values:
            raise ValueError(f"{command} needs at least one axis")
        names = self._axis_list(list(values))
        self.send(" ".join([command, *(f"{a} {fmt(values[a], f'{command} {a}')}" for a in names)]))

    # ---- servo, motion
    def servo_states(self, axes: Iterable[str] | None = None) -> dict[str, bool]:
        return {a: parse_flag(v) for a, v in self.query_axes("SVO?", axes).items()}

    def set_servo(self, states: Mapping[str, bool]) -> None:
        """``SVO a 0|1 ...``: open or close the loop of each axis."""
        self._set_axes("SVO", states, flag_arg)

    def move_um(self, targets_um: Mapping[str, float]) -> None:
        """``MOV a x ...``: absolute targets (µm); all axes start together or none moves."""
        self._set_axes("MOV", targets_um, gcs_number)

    def move_relative_um(self, steps_um: Mapping[str, float]) -> None:
        """``MVR a dx ...``: steps (µm) relative to the commanded targets."""
        self._set_axes("MVR", steps_um, gcs_number)

    def targets_um(self, axes: Iterable[str] | None = None) -> dict[str, float]:
        return {a: parse_float(v) for a, v in self.query_axes("MOV?", axes).items()}

    def positions_um(self, axes: Iterable[str] | None = None) -> dict[str, float]:
        return {a: parse_float(v) for a, v in self.query_axes("POS?", axes).items()}

    def on_target_states(self, axes: Iterable[str] | None = None) -> dict[str, bool]:
        return {a: parse_flag(v) for a, v in self.query_axes("ONT?", axes).items()}

    def travel_range_um(self, axes: Iterable[str] | None = None) -> dict[str, tuple[float, float]]:
        """``TMN?`` and ``TMX?``: the commandable range of each axis (µm)."""
        low = self.query_axes("TMN?", axes)
        high = self.query_axes("TMX?", axes)
        ranges = {a: (parse_float(low[a]), parse_float(high[a])) for a in low}
        for axis, limits in ranges.items():  # the per-axis target property refuses what the controller would
            if axis in self.channels:
                self.channels[axis].target_um_values = limits
        return ranges

    def velocities_um_s(self, axes: Iterable[str] | None = None) -> dict[str, float]:
        return {a: parse_float(v) for a, v in self.query_axes("VEL?", axes).items()}

    def velocity_control_states(self, axes: Iterable[str] | None = None) -> dict[str, bool]:
        """``VCO?``: whether moves of each axis run at the VEL velocity."""
        return {a: parse_flag(v) for a, v in self.query_axes("VCO?", axes).items()}

    def set_velocity_control(self, states: Mapping[str, bool]) -> None:
        """``VCO a 0|1 ...``: velocity control off (the servo's own slew rate) or on (moves at VEL)."""
        self._set_axes("VCO", states, flag_arg)

    def set_velocity_um_s(self, velocities: Mapping[str, float]) -> None:
        """``VCO a 1 ...`` then ``VEL a v ...``: closed-loop velocities (µm/s, > 0). Velocity control is
        switched on first, since with it off the controller accepts VEL but moves ignore it."""
        checked = {a: positive_value(v) for a, v in velocities.items()}
        self._axis_list(list(checked))  # refuse unknown axes before anything is sent
        self.set_velocity_control({a: True for a in checked})
        self._set_axes("VEL", checked, gcs_number)

    def stop(self, single_byte: bool = True) -> None:
        """Stop all axes at once: #24 (or ``STP``). The error 10 this leaves is read and swallowed."""
        if single_byte:
            self._single_byte(24)
        else:
            self.write("STP")
        self.check_error(allowed=(STOPPED_CODE,))

    def halt(self, axes: Iterable[str] | None = None) -> None:
        """``HLT [axes]``: halt axes smoothly; the resulting error 10 is swallowed."""
        self.write(" ".join(["HLT", *self._axis_list(axes)]))
        self.check_error(allowed=(STOPPED_CODE,))

    def is_ready(self) -> bool:
        """#7: True when the controller is ready (0xB1), False while busy (0xB0)."""
        self._single_byte(7)
        reply = self.read_bytes(2)
        if reply not in (READY_REPLY, BUSY_REPLY):
            raise self.out_of_step(f"answered #7 with {reply!r}, expected {READY_REPLY!r} or {BUSY_REPLY!r}")
        return reply == READY_REPLY

    def moving(self) -> dict[str, bool]:
        """#5: motion state of every axis (hex bit mask over ``SAI? ALL``)."""
        axes = self.all_axes()
        self._single_byte(5)
        text = self.read().strip()
        if not _HEX.fullmatch(text):
            raise self.out_of_step(f"answered #5 with {text!r}, expected a hex bit mask")
        mask = int(text, 16)
        return {a: bool(mask >> i & 1) for i, a in enumerate(axes)}
