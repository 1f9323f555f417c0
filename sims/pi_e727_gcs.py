"""The GCS 2.0 grammar of the PI E-727 as the simulated controller speaks it (``pi_e727_controller``).

Commands end with LF, the single bytes 0x05 (#5), 0x07 (#7) and 0x18 (#24) stand alone, a line longer than
``MAX_LINE_CHARS`` is error 3, set-commands never reply, errors wait in a register that ``ERR?`` reads and
clears, multi-line replies end all lines but the last with space + LF. ``GCSSession`` frames one client's
byte stream into commands; the parsers here turn arguments into values or raise ``GCSCommandError`` with the
GCS error code the controller stores.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tepl.sims.pi_e727_controller import GCSController

IDN = "(c)2015-2018 Physik Instrumente (PI) GmbH & Co. KG, E-727.3SDA, 0119004727, 14.11.01.05"
MAX_LINE_CHARS = 512
ENCODING = "cp1252"

# GCS error codes this controller raises.
E_PARAM_SYNTAX, E_UNKNOWN_COMMAND, E_COMMAND_TOO_LONG = 1, 2, 3
E_NO_SERVO, E_POS_OUT_OF_LIMITS, E_VEL_OUT_OF_LIMITS, E_STOPPED = 5, 7, 8, 10
E_INVALID_AXIS, E_PARAM_OUT_OF_RANGE, E_PARAM_COUNT = 15, 17, 24

HELP_LINES = (
    ("#5", "Request Motion Status"), ("#7", "Request Controller Ready Status"), ("#24", "Stop All Axes"),
    ("*IDN?", "Get Device Identification"), ("ATZ", "Set Automatic Zero Point Calibration"),
    ("ATZ?", "Get Automatic Zero Point Calibration"), ("CST?", "Get Assignment Of Stages To Axes"),
    ("CSV?", "Get Current Syntax Version"), ("DCO", "Set Drift Compensation Mode"),
    ("DCO?", "Get Drift Compensation Mode"), ("ERR?", "Get Error Number"), ("HLP?", "Get List Of Commands"),
    ("HLT", "Halt Motion Smoothly"), ("MOV", "Set Target Position"), ("MOV?", "Get Target Position"),
    ("MVR", "Set Target Relative To Current Target"), ("ONT?", "Get On Target State"),
    ("POS?", "Get Real Position"), ("SAI?", "Get List Of Current Axis Identifiers"), ("STP", "Stop All Axes"),
    ("SVO", "Set Servo Mode"), ("SVO?", "Get Servo Mode"), ("TMN?", "Get Minimum Commandable Position"),
    ("TMX?", "Get Maximum Commandable Position"), ("VEL", "Set Closed-Loop Velocity"),
    ("VEL?", "Get Closed-Loop Velocity"), ("VCO", "Set Velocity Control Mode"),
    ("VCO?", "Get Velocity Control Mode"), ("VER?", "Get Versions Of Firmware And Drivers"),
)
HELP_HEADER, HELP_FOOTER = "The following commands are valid:", "end of help"
VERSION_LINES = ("FW_ARM: 14.11.01.05", "FW_FPGA: 01.05", "Firmware=14.11", "FW_STATUS:RELEASE")

class GCSCommandError(Exception):
    """A command the controller rejects; ``args[0]`` is the GCS error code it stores."""


def parse_float(text: str) -> float:
    """A finite number argument; error 1 (syntax) otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise GCSCommandError(E_PARAM_SYNTAX) from None
    if not math.isfinite(value):
        raise GCSCommandError(E_PARAM_SYNTAX)
    return value


def parse_flag(text: str) -> bool:
    """A 0/1 argument; another integer is error 17 (out of range), anything else error 1."""
    if text not in ("0", "1"):
        raise GCSCommandError(E_PARAM_OUT_OF_RANGE if text.lstrip("-").isdigit() else E_PARAM_SYNTAX)
    return text == "1"


def no_args(args: list[str]) -> None:
    """A command that takes no arguments; error 24 (parameter count) when it is given some."""
    if args:
        raise GCSCommandError(E_PARAM_COUNT)


def decode_line(line: bytes) -> str:
    """A command's bytes as text: cp1252, an undecodable byte replaced (ASCII, the usual, by the C codec)."""
    return line.decode("ascii") if line.isascii() else line.decode(ENCODING, errors="replace")


def encode_reply(reply: str) -> bytes:
    """A reply's text as the bytes sent (cp1252; ASCII, the usual, by the C codec)."""
    return reply.encode("ascii") if reply.isascii() else reply.encode(ENCODING)


def reply_lines(lines: list[str]) -> str:
    """A multi-line reply: every line but the last ends with space + LF."""
    return " \n".join(lines) + "\n"


# LF-terminated lines of text (tab and CR allowed, no other control byte), each shorter than MAX_LINE_CHARS
_PLAIN_LINES = re.compile(rb"(?:[^\x00-\x08\x0a-\x0c\x0e-\x1f]{0,%d}\n)+" % (MAX_LINE_CHARS - 1))


class GCSSession:
    """One client's byte stream: splits it into LF-terminated commands and single-byte commands."""

    def __init__(self, controller: GCSController):
        self.controller = controller
        self._line = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> bytes:
        """Bytes from the client in, reply bytes out (replies are produced as each command completes)."""
        data = bytes(data)
        if not self._line and not self._overflow and data.endswith(b"\n") and _PLAIN_LINES.fullmatch(data):
            # whole commands of plain text, none too long (what a driver sends): line by line, not byte by byte
            if data.find(b"\n") == len(data) - 1:  # one command, as a driver sends them (ASCII: decoded in C)
                line = data[:-1]
                return self.controller.execute_line(line.decode("ascii") if line.isascii() else decode_line(line))
            return b"".join(self.controller.execute_line(decode_line(line)) for line in data[:-1].split(b"\n"))
        out = bytearray()
        for byte in bytes(data):
            if byte < 0x20 and byte not in (0x09, 0x0A, 0x0D):  # #5, #7, #24; other control bytes: error 2
                out += self.controller.execute_single(byte)
            elif byte == 0x0A:
                line, overflow = bytes(self._line), self._overflow
                self._line.clear()
                self._overflow = False
                text = decode_line(line)
                out += self.controller.execute_line(text, too_long=overflow)
            elif len(self._line) >= MAX_LINE_CHARS:
                self._overflow = True
            else:
                self._line.append(byte)
        return bytes(out)

    def close(self) -> None:
        self._line.clear()  # drop any partial command
