"""PI E-727 digital piezo controller (GCS 2.0) and the closed-loop XYZ stage (P-611.3 NanoCube) on it.

``E727`` (pymeasure) speaks GCS 2.0 as the PI manual and PIPython do: commands end with LF, numbers are
written as ``format(x, ".12g")`` (``MOV 1 10``, ``MOV 1 12.5``), set-commands never reply and are followed
by ``ERR?`` (non-zero raises ``GCSError``), #5/#7/#24 are single bytes without LF, and a reply goes on
while its line ends in a space (``1=... \\n2=... \\n3=...\\n``). The adapter is a VISA resource string
(``"TCPIP::host::50000::SOCKET"``, ``"ASRL/dev/ttyUSB0::INSTR"``) or a pymeasure adapter. Positions in µm,
velocities in µm/s.

The link is kept in step (``pi_e727_link.GCSLink``): a transport error or a reply that does not fit the
command raises ``DeviceError`` naming the controller, its address and the command, and the link is
resynchronised (``VER?``) before the next command, so a late reply is never taken as the answer to a later
command.

Modules: this one holds the controller's commands over several axes (queries answered ``{axis: value}``,
set-commands, motion and its state); ``pi_e727_link`` the link (write and read, ``ERR?``, resynchronising);
``pi_e727_axis`` the per-axis pymeasure channels ``axis_1``... (``E727Axis``).
``pi_e727_stage.E727Stage`` is the ``tepl.roles.Stage`` on top (role axes x, y, z -> controller axes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from pymeasure.instruments import Instrument

from tepl.drivers.pi_e727_axis import E727Axis
from tepl.drivers.pi_e727_link import GCSLink
from tepl.drivers.pi_gcs import (
    check_axis,
    flag_arg,
    gcs_number,
    parse_flag,
    parse_float,
    positive_value,
    split_axis_line,
)
from tepl.roles import DeviceError

READY_REPLY, BUSY_REPLY = b"\xb1\n", b"\xb0\n"
STOPPED_CODE = 10
_HEX = re.compile(r"[0-9A-Fa-f]+")


class E727(GCSLink):
    """PI E-727 piezo controller over GCS 2.0 (TCP port 50000, RS-232 at 115200 baud, or any adapter).

    Per-axis properties live on ``axis_1``, ``axis_2``, ``axis_3`` (``channels["1"]``...); the methods below
    address several axes in one command and return dicts keyed by axis identifier.
    """

    channels = Instrument.MultiChannelCreator(E727Axis, ("1", "2", "3"), prefix="axis_")

    idn = Instrument.measurement("*IDN?", "Get the identification string (str).", cast=str, maxsplit=0)
    gcs_version = Instrument.measurement(
        "CSV?", "Get the GCS syntax version (float, 2.0).", cast=str, maxsplit=0, get_process=parse_float)

    def __init__(self, adapter, name: str = "PI E-727", address: str | None = None, **kwargs):
        super().__init__(adapter, name, address, **kwargs)
        self._axes: list[str] | None = None
        self._all_axes: list[str] | None = None
        self._checked_axes: dict[tuple, tuple[list[str] | None, tuple[str, ...]]] = {}  # see _axis_list

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
