"""RHK R9 / R9+ remote interface (TCP port 12600): the transport and the command layer.

Wire format (hardware.md §4.1): one command per line, comma-separated fields joined by ``", "``,
terminated by ``\\n``. Replies carry **no terminator**: ``Done`` for a set-command, a number as text for a
get, and for ``StartProcedure`` an acknowledgement and a second reply when the procedure has finished.
Refusals come back as text that is neither (``Error: ...``). Every word sent and expected lives in
``tepl.drivers.rhk_r9_vocabulary`` (overridable from the station config).

Because nothing marks the end of a reply, one ``recv`` is not one reply: TCP may deliver a reply in several
segments, or two replies in one. ``R9Socket`` therefore reads until the text is a whole reply of the kind the
command expects (``ReplyRule``): a set-command's ends with ``Done`` after any acknowledgements (``Started``),
a procedure's holds its acknowledgement and its completion (two ``Done``), a Tip Control reading is one of the
tip-control words; a number or an ``Error`` text counts as whole once no byte has followed for
``reply_gap_s``. Acknowledgement words before or after a get's value (late replies of an earlier command) are
dropped and logged, so a server that acknowledges with two lines never shifts later answers; bytes that
arrived unasked are drained before each command for the same reason.

``R9`` is the command layer; its transport is ``R9Socket`` (the rig) or any object with
``query(line) -> str`` returning the whole reply text (such as the simulator's in-process transport). A
transport error (``OSError``: timeouts, refused or broken connections) becomes a ``DeviceError`` naming the
R9's address and the command; a reply that does not fit its command is a ``DeviceError`` too, and the
transport is reset (``reset()``, when it has one) so that the next command starts on a clean link. The
``ZController`` role on top of it, ``R9ZController``, is in ``tepl.drivers.rhk_r9_zcontrol``.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tepl.drivers.rhk_r9_vocabulary import DEFAULTS, MODE_KEY, TIP_MODES
from tepl.drivers.rhk_r9_vocabulary import vocabulary as words_with
from tepl.roles import DeviceError

DEFAULT_PORT = 12600
DONE = DEFAULTS["done"]  # default reply to every accepted set-command and procedure acknowledgement
TIP_CONTROL_WORDS = TIP_MODES  # logical modes: feedback on / hold Z / withdraw to the upper bound
Z_POSITION_PARAMETER = DEFAULTS["z_position"]
PAN_STEP_IN = DEFAULTS["step_in"]
PAN_STEP_OUT = DEFAULTS["step_out"]
REPLY_GAP_S = 0.02  # a number or an error text is whole once no byte followed for this long (s)
_RECV_BYTES = 4096
_MAX_STALE_BYTES = 1 << 16  # stale bytes drained before a command at most; beyond that the link is reset

log = logging.getLogger(__name__)


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


class R9Transport(Protocol):
    def query(self, line: str) -> str:
        """Send one command line (no terminator); return the whole reply text (both replies for a
        procedure)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def _command_word(line: str) -> str:
    return line.split(",", 1)[0].strip()


def _default_rule(line: str) -> ReplyRule:
    """The reply rule for a line sent without one (``R9Socket.query``), from its default command verb."""
    verb = _command_word(line)
    if verb == DEFAULTS["start_procedure"]:
        return ReplyRule("procedure")
    if verb.startswith("Set") or verb == DEFAULTS["stop_procedure"]:
        return ReplyRule("set")
    return ReplyRule("get", words=tuple(DEFAULTS[MODE_KEY[m]] for m in TIP_MODES))


class R9Socket:
    """Persistent TCP connection to the R9 remote interface; one exchange at a time (thread-safe).

    ``timeout_s`` bounds the wait for a whole reply; ``procedure_timeout_s`` the wait for a procedure to
    finish; ``reply_gap_s`` is how long a reply without a recognisable end (a number, an error text) waits
    for further segments (all s, wall-clock). After a timeout or a broken connection the socket is closed and
    the next exchange reconnects, so a late reply never gets mistaken for the answer to a later command;
    bytes that arrived unasked since the last reply are drained (and logged) before each command.
    """

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout_s: float = 5.0,
                 procedure_timeout_s: float = 60.0, reply_gap_s: float = REPLY_GAP_S):
        self.host, self.port = host, int(port)
        self.timeout_s = float(timeout_s)
        self.procedure_timeout_s = float(procedure_timeout_s)
        self.reply_gap_s = float(reply_gap_s)
        if not (self.timeout_s > 0 and self.procedure_timeout_s > 0 and 0 < self.reply_gap_s < self.timeout_s):
            raise ValueError(f"R9 at {self.address}: timeouts must be positive and the reply gap "
                             f"({reply_gap_s!r} s) shorter than the reply timeout ({timeout_s!r} s)")
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _socket(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            except OSError as exc:
                raise DeviceError(f"cannot connect to the R9 at {self.address}: {exc}") from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
        return self._sock

    def connect(self) -> None:
        """Open the connection now (it is otherwise opened by the first exchange); DeviceError if refused."""
        with self._lock:
            self._socket()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _read(self, sock: socket.socket, line: str, rule: ReplyRule, timeout_s: float) -> str:
        """Read segments until they make a whole reply under ``rule`` (see the module docstring)."""
        data = bytearray()
        deadline = time.monotonic() + timeout_s
        state = "partial"
        while True:
            remaining = deadline - time.monotonic()
            wait = min(self.reply_gap_s, remaining) if state == "quiet" else remaining
            if wait <= 0 and state != "quiet":
                raise self._late(line, timeout_s, data)
            sock.settimeout(max(wait, 1e-4))
            try:
                chunk = sock.recv(_RECV_BYTES)
            except TimeoutError:
                if state == "quiet":
                    return data.decode("utf-8", errors="replace")
                raise self._late(line, timeout_s, data) from None
            if not chunk:
                raise DeviceError(f"the R9 at {self.address} closed the connection while answering {line!r}"
                                  + (f" (received {bytes(data)!r})" if data else ""))
            data += chunk
            state = rule.state(data.decode("utf-8", errors="replace"))
            if state == "complete":
                return data.decode("utf-8", errors="replace")

    def _late(self, line: str, timeout_s: float, data: bytearray) -> DeviceError:
        if not data:
            return DeviceError(f"no reply from the R9 at {self.address} to {line!r} within {timeout_s:g} s")
        return DeviceError(f"incomplete reply from the R9 at {self.address} to {line!r} within {timeout_s:g} s: "
                           f"received {bytes(data)!r}")

    def _drain(self, sock: socket.socket, line: str) -> socket.socket:
        """Discard what arrived unasked (a late reply); returns the socket to use (a new one if the R9 had
        closed this one)."""
        stale = bytearray()
        sock.setblocking(False)
        try:
            while len(stale) < _MAX_STALE_BYTES:
                try:
                    data = sock.recv(_RECV_BYTES)
                except (BlockingIOError, InterruptedError):
                    break
                if not data:  # closed by the R9 since the last reply: connect again
                    self._close()
                    return self._socket()
                stale += data
            else:
                self._close()  # a flood of unasked bytes: start on a new connection
                return self._socket()
        finally:
            if self._sock is sock:
                sock.settimeout(self.timeout_s)
        if stale:
            log.warning("R9 at %s: discarded %d stale bytes before %r: %r", self.address, len(stale), line,
                        bytes(stale[:80]))
        return sock

    def exchange(self, line: str, rule: ReplyRule) -> str:
        """Send one command line (no terminator); return its whole reply text as ``rule`` delimits it."""
        if "\n" in line or "\r" in line:
            raise ValueError(f"an R9 command is one line, got {line!r}")
        timeout_s = self.procedure_timeout_s if rule.kind == "procedure" else self.timeout_s
        with self._lock:
            sock = self._socket()
            try:
                sock = self._drain(sock, line)
                sock.sendall((line + "\n").encode("utf-8"))
                return self._read(sock, line, rule, timeout_s)
            except DeviceError:
                self._close()
                raise
            except OSError as exc:
                self._close()
                raise DeviceError(f"R9 connection to {self.address} failed during {line!r}: {exc}") from exc

    def query(self, line: str) -> str:
        """``exchange`` with the reply rule of the default vocabulary's command verb."""
        return self.exchange(line, _default_rule(line))

    def reset(self) -> None:
        """Drop the connection (the next query connects again): after a reply that did not fit."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close()


def finite(value: float, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return value


class R9:
    """The R9 commands this project uses, one method per command. Units: V, m, degrees.

    ``vocabulary``: overrides of the R9 words (``tepl.drivers.rhk_r9_vocabulary``, keys such as
    ``controller``, ``z_channel``, ``retract``); ``controller`` and the channel names may also be given
    directly (older station configs). The tip-control modes keep their logical names (``TIP_CONTROL_WORDS``)
    in the calls; the words on the wire are the vocabulary's.
    """

    def __init__(self, transport: R9Transport, controller: str | None = None, z_channel: str | None = None,
                 amplitude_channel: str | None = None, phase_channel: str | None = None,
                 vocabulary: Mapping[str, str] | None = None):
        self.transport = transport
        direct = {k: v for k, v in (("controller", controller), ("z_channel", z_channel),
                                    ("amplitude_channel", amplitude_channel), ("phase_channel", phase_channel))
                  if v is not None}
        self.words = words_with(dict(vocabulary or {}) | direct)
        w = self.words
        self._acks = (w["done"], w["started"])
        self._mode_of_word = {w[MODE_KEY[m]]: m for m in TIP_MODES}
        self._set_rule = ReplyRule("set", w["done"], self._acks)
        self._procedure_rule = ReplyRule("procedure", w["done"], self._acks)
        self._get_rule = ReplyRule("get", w["done"], self._acks)
        self._tip_rule = ReplyRule("get", w["done"], self._acks, tuple(self._mode_of_word))

    @property
    def controller(self) -> str:
        return self.words["controller"]

    @property
    def z_channel(self) -> str:
        return self.words["z_channel"]

    @property
    def amplitude_channel(self) -> str:
        return self.words["amplitude_channel"]

    @property
    def phase_channel(self) -> str:
        return self.words["phase_channel"]

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ plumbing
    @property
    def where(self) -> str:
        """``R9 at host:port`` (or the in-process transport's name), for error messages."""
        transport: Any = self.transport
        return f"R9 at {getattr(transport, 'address', None) or type(transport).__name__}"

    def _query(self, command: str, rule: ReplyRule) -> str:
        exchange = getattr(self.transport, "exchange", None)
        try:
            return exchange(command, rule) if exchange is not None else self.transport.query(command)
        except OSError as exc:  # a transport that does not wrap its own errors (TimeoutError, ConnectionError)
            self._reset()
            raise DeviceError(f"{self.where}: {command!r} failed: {type(exc).__name__}: {exc}") from exc

    def _reset(self) -> None:
        reset = getattr(self.transport, "reset", None)
        if reset is not None:
            reset()

    def _mismatch(self, command: str, reply: str, expected: str) -> DeviceError:
        """A reply that is not an answer to ``command``: the link may be out of step, so it is reset."""
        self._reset()
        return DeviceError(f"{self.where}: reply to {command!r} is not {expected}: {reply!r}")

    def _set(self, command: str) -> None:
        reply = self._query(command, self._set_rule)
        found, rest = split_acks(reply, self._acks)
        if rest.startswith("Error"):
            raise DeviceError(f"{self.where} refused {command!r}: replied {reply!r}")
        if rest or not found or found[-1] != self.words["done"]:
            raise self._mismatch(command, reply, repr(self.words["done"]))
        if len(found) > 1:
            log.info("%s: %r acknowledged with %r", self.where, command, found)

    def _get(self, command: str, rule: ReplyRule | None = None) -> str:
        reply = self._query(command, rule or self._get_rule)
        before, rest = split_acks(reply, self._acks)
        value, after = strip_trailing_acks(rest, self._acks)
        if not value or value.startswith("Error"):
            raise DeviceError(f"{self.where} refused {command!r}: replied {reply!r}")
        if before or after:  # late acknowledgements of an earlier command around the value
            log.warning("%s: dropped acknowledgements %r around the reply to %r", self.where, before + after,
                        command)
        return value

    def _get_float(self, command: str) -> float:
        reply = self._get(command)
        try:
            value = float(reply)
        except ValueError:
            raise self._mismatch(command, reply, "a number") from None
        if not math.isfinite(value):
            raise DeviceError(f"{self.where}: reply to {command!r} is not a finite number: {reply!r}")
        return value

    def _procedure(self, command: str) -> None:
        reply = self._query(command, self._procedure_rule)
        found, rest = split_acks(reply, self._acks)
        if rest or found.count(self.words["done"]) < 2:
            if not rest.startswith("Error") and not (found and not rest):
                self._reset()
            raise DeviceError(f"{self.where}: procedure {command!r} did not complete: replied {reply!r}")

    def _line(self, *fields: str) -> str:
        return ", ".join(fields)

    def _sub(self, verb: str, *fields: str) -> str:
        return self._line(self.words[verb], self.controller, *(self.words[f] for f in fields))

    # ------------------------------------------------------------------ Z PI controller
    def setpoint_V(self) -> float:
        """Amplitude setpoint of the Z loop, V."""
        return self._get_float(self._sub("get_hw_sub", "set_point", "value"))

    def set_setpoint_V(self, setpoint_V: float) -> None:
        v = finite(setpoint_V, "setpoint")
        self._set(self._line(self._sub("set_hw_sub", "set_point", "value"), repr(v)))

    def integral_gain(self) -> float:
        return self._get_float(self._sub("get_hw_sub", "integral_gain"))

    def set_integral_gain(self, gain: float) -> None:
        self._set(self._line(self._sub("set_hw_sub", "integral_gain"), repr(finite(gain, "integral gain"))))

    def proportional_gain(self) -> float:
        return self._get_float(self._sub("get_hw_sub", "proportional_gain"))

    def set_proportional_gain(self, gain: float) -> None:
        self._set(self._line(self._sub("set_hw_sub", "proportional_gain"),
                             repr(finite(gain, "proportional gain"))))

    def z_bounds_m(self) -> tuple[float, float]:
        """(lower, upper) bound of the Z output, m; lower = fully extended towards the sample."""
        lower = self._get_float(self._sub("get_hw_sub", "lower_bound", "value"))
        upper = self._get_float(self._sub("get_hw_sub", "upper_bound", "value"))
        if not lower < upper:
            raise DeviceError(f"R9 Z bounds are not an interval: lower {lower!r} m, upper {upper!r} m")
        return lower, upper

    def tip_control(self) -> str:
        """The tip-control mode: ``Unlimit`` (feedback on), ``Freeze`` (hold) or ``Retract`` (withdrawn)."""
        command = self._sub("get_hw", "tip_control")
        word = self._get(command, self._tip_rule).strip()
        if word not in self._mode_of_word:
            raise self._mismatch(command, word, f"a tip-control word {sorted(self._mode_of_word)}")
        return self._mode_of_word[word]

    def set_tip_control(self, mode: str) -> None:
        """Switch the tip-control mode (``TIP_CONTROL_WORDS``); the vocabulary's word goes on the wire."""
        if mode not in MODE_KEY:
            raise ValueError(f"tip control {mode!r} is not one of {list(TIP_CONTROL_WORDS)}")
        self._set(self._line(self._sub("set_hw", "tip_control"), self.words[MODE_KEY[mode]]))

    def set_z_position_m(self, z_m: float) -> None:
        """Place the Z output at ``z_m`` metres; the R9 accepts it only while frozen."""
        z = finite(z_m, "Z position")
        self._set(self._line(self._sub("set_hw_sub", "z_position", "value"), repr(z)))

    # ------------------------------------------------------------------ signals
    def read_channel(self, channel: str) -> float:
        return self._get_float(self._line(self.words["read_channel"], channel))

    def z_m(self) -> float:
        """Z piezo output (the topography signal), m."""
        return self.read_channel(self.z_channel)

    def amplitude_V(self) -> float:
        """Tuning-fork amplitude from the lock-in, V."""
        return self.read_channel(self.amplitude_channel)

    def phase_deg(self) -> float:
        """Tuning-fork phase from the lock-in, degrees."""
        return self.read_channel(self.phase_channel)

    # ------------------------------------------------------------------ procedures
    def start_procedure(self, name: str) -> None:
        """Run an R9 procedure and return when it has finished."""
        self._procedure(self._line(self.words["start_procedure"], name))

    def stop_procedure(self, name: str) -> None:
        self._set(self._line(self.words["stop_procedure"], name))

    def step_in(self) -> None:
        """One coarse step towards the sample."""
        self.start_procedure(self.words["step_in"])

    def step_out(self) -> None:
        """One coarse step away from the sample."""
        self.start_procedure(self.words["step_out"])

