"""RHK R9 / R9+ remote interface (TCP port 12600): the command layer ``R9``, one method per command.

Every word sent and expected lives in ``tepl.drivers.rhk_r9_vocabulary`` (overridable from the station
config); the line protocol and where each reply ends are in ``tepl.drivers.rhk_r9_replies``. ``R9``'s
transport is ``tepl.drivers.rhk_r9_socket.R9Socket`` (the rig) or any object with ``query(line) -> str``
returning the whole reply text (such as the simulator's in-process transport). A transport error (``OSError``:
timeouts, refused or broken connections) becomes a ``DeviceError`` naming the R9's address and the command; a
reply that does not fit its command is a ``DeviceError`` too, and the transport is reset (``reset()``, when it
has one) so that the next command starts on a clean link. Acknowledgement words before or after a get's value
(late replies of an earlier command) are dropped and logged. The ``ZController`` role on top of it,
``R9ZController``, is in ``tepl.drivers.rhk_r9_zcontrol``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from tepl.drivers.rhk_r9_replies import ReplyRule, split_acks, strip_trailing_acks
from tepl.drivers.rhk_r9_socket import R9Transport
from tepl.drivers.rhk_r9_vocabulary import MODE_KEY, TIP_MODES
from tepl.drivers.rhk_r9_vocabulary import vocabulary as words_with
from tepl.roles import DeviceError

TIP_CONTROL_WORDS = TIP_MODES  # logical modes: feedback on / hold Z / withdraw to the upper bound

log = logging.getLogger(__name__)


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

