"""The GCS 2.0 grammar the E-727 speaks: error codes, how numbers are written, and how replies are read
(flags, numbers, axis lines), each refusing what does not fit with a DeviceError."""

from __future__ import annotations

import math
import re

from pymeasure.instruments.validators import strict_range

from tepl.roles import DeviceError

GCS_ERRORS = {
    0: "no error", 1: "parameter syntax error", 2: "unknown command", 3: "command too long",
    5: "move with servo off or axis not referenced", 7: "position out of limits",
    8: "velocity out of limits", 10: "controller was stopped by command", 15: "invalid axis identifier",
    17: "parameter out of range", 24: "incorrect number of parameters", 54: "unknown parameter",
    73: "motion not allowed while the wave generator is active",
}
_AXIS_NAME = re.compile(r"[A-Za-z0-9_\-]{1,16}")
_DIGITS = re.compile(r"[0-9]+")


class GCSError(DeviceError):
    """The controller reported GCS error ``code`` after ``command``."""

    def __init__(self, code: int, command: str = ""):
        self.code, self.command = int(code), command
        where = f" ({command})" if command else ""
        super().__init__(f"E-727 error {code}: {GCS_ERRORS.get(self.code, 'unknown error code')}{where}")


# ---------------------------------------------------------------------------------------- values
def gcs_number(value: float, what: str = "value") -> str:
    """A finite number written as GCS clients write it (``.12g``: 10.0 -> ``10``, 12.5 -> ``12.5``)."""
    try:
        number = math.nan if isinstance(value, (bool, str, bytes)) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return format(number, ".12g")


def check_axis(axis: str) -> str:
    """A GCS axis identifier: 1-16 letters, digits, '_' or '-'."""
    if not isinstance(axis, str) or not _AXIS_NAME.fullmatch(axis):
        raise ValueError(f"invalid E-727 axis identifier {axis!r}")
    return axis


def parse_flag(text: str) -> bool:
    """A GCS boolean: exactly ``0`` or ``1``."""
    if text == "0" or text == "1":  # the usual reply, without the strip
        return text == "1"
    if text.strip() not in ("0", "1"):
        raise DeviceError(f"E-727 replied {text!r} where 0 or 1 was expected")
    return text.strip() == "1"


def parse_float(text: str) -> float:
    """A finite number; anything else (text, nan, inf) is a DeviceError."""
    try:
        value = float(text)
    except ValueError:
        raise DeviceError(f"E-727 replied {text!r} where a number was expected") from None
    if not math.isfinite(value):
        raise DeviceError(f"E-727 replied {text!r} where a finite number was expected")
    return value


def parse_int(text: str) -> int:
    """A whole number written in ASCII digits (``"²"`` is a digit to ``str.isdigit``, not to ``int``)."""
    if text == "0":  # ERR?'s usual reply, without the digit check
        return 0
    if not _DIGITS.fullmatch(text.strip()):
        raise DeviceError(f"E-727 replied {text!r} where an error code was expected")
    return int(text)


def split_axis_line(line: str) -> tuple[str, str]:
    """``"1=1.5e+01"`` -> ``("1", "1.5e+01")``."""
    axis, sep, value = line.partition("=")
    if not sep or not axis.strip() or not value.strip():
        raise DeviceError(f"E-727 reply line {line!r} is not 'axis=value'")
    return axis.strip(), value.strip()


def flag_arg(value: object, what: str) -> str:
    if value not in (True, False):  # also admits 0 and 1
        raise ValueError(f"{what} must be a bool, not {value!r}")
    return "1" if value else "0"


def finite_value(value: float, _values=()) -> float:
    gcs_number(value)
    return float(value)


def finite_in_range(value: float, values) -> float:
    """pymeasure's ``strict_range`` for a finite number (text, None, bool, nan, inf are a ValueError)."""
    return strict_range(finite_value(value), values)


def positive_value(value: float, _values=()) -> float:
    if finite_value(value) <= 0:
        raise ValueError(f"velocity must be positive, not {value!r}")
    return float(value)
