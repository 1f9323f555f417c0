"""Vendor C libraries through ctypes: loading with declared argument types, output arguments, return codes.

Shared by the Andor SDK2 / ShamrockCIF drivers and the PicoQuant HHLib / TH260Lib drivers; each vendor
module keeps only its own function table, constants and code names. A driver is given a library object (the
real ``CDLL`` from ``load_library`` or a simulator with the same function names), so nothing here knows
whether it talks to hardware.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import Any

from tepl.roles import DeviceError

# shorthands for the argument tables (``<vendor>_SIGNATURES``): C type -> ctypes type
INT, UINT, FLOAT, DOUBLE, CHAR_P = ctypes.c_int, ctypes.c_uint, ctypes.c_float, ctypes.c_double, ctypes.c_char_p
P_INT, P_UINT, P_LONG = ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_long)
P_FLOAT, P_DOUBLE = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_double)


def load_library(path: str, signatures: dict[str, list], what: str, restype: Any = ctypes.c_uint) -> ctypes.CDLL:
    """Load ``path`` (stdcall ``WinDLL`` on Windows, ``CDLL`` elsewhere) and declare the argument types of
    the functions in ``signatures``; every declared function returns ``restype`` (the Andor SDKs return
    unsigned codes, the PicoQuant libraries int). A library that does not load raises DeviceError."""
    loader = ctypes.WinDLL if os.name == "nt" else ctypes.CDLL  # type: ignore[attr-defined]
    try:
        lib = loader(path)
    except OSError as e:
        raise DeviceError(f"cannot load the {what} library {path!r}: {e}") from e
    for name, argtypes in signatures.items():
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.argtypes, fn.restype = argtypes, restype
    return lib


@functools.lru_cache(maxsize=512)
def float7(value: float) -> float:
    """A C float's value to the 7 significant digits it holds (0.01, not 0.009999999776); the values a driver
    reads again and again (exposure, cycle times) are remembered, not formatted each time."""
    return float(f"{value:.7g}")


def plain(obj: Any) -> Any:
    """A ctypes output as a Python number; floats to the 7 significant digits a C float holds."""
    return float7(obj.value) if isinstance(obj, ctypes.c_float) else obj.value


def call_checked(function: Callable[..., Any], args: tuple, ok: tuple[int, ...],
                 error: Callable[[int], str]) -> int:
    """Call a C function that returns a status code; a code outside ``ok`` raises DeviceError with the
    message ``error(code)``. Returns the code (some functions answer with one of several good codes)."""
    code = int(function(*args))
    if code not in ok:
        raise DeviceError(error(code))
    return code


def code_text(code: int, names: dict[int, str]) -> str:
    """``code (NAME)`` for an error message, from the header's table of code names."""
    return f"{code} ({names.get(code, 'unknown code')})"


def call_named(lib: Any, name: str, args: tuple, ok: tuple[int, ...], names: dict[int, str],
               what: str | Callable[[], str]) -> int:
    """``call_checked`` of ``lib.<name>``; the error reads "<what> <name> returned <code> (<NAME>)" from the
    header's table of code ``names``. A call that fails in the OS (an access violation, a lost USB device:
    ctypes raises OSError) is a DeviceError "<what> <name> failed: ..." too. ``what`` may be a function
    giving the text, asked only when there is an error to report."""
    def words() -> str:
        return what() if callable(what) else what

    try:
        return call_checked(getattr(lib, name), args, ok, lambda code: f"{words()} {name} returned "
                                                                       f"{code_text(code, names)}")
    except OSError as exc:
        raise DeviceError(f"{words()} {name} failed: {exc}") from exc


def library_name(lib: Any) -> str:
    """Where a library object comes from, for error messages: a loaded CDLL's path, else its class name."""
    return str(lib._name) if isinstance(lib, ctypes.CDLL) else type(lib).__name__


def read_outputs(call: Callable[..., Any], ctype: Any, n_out: int, *inputs: Any) -> tuple:
    """Call ``call(*inputs, byref(out1), ..., byref(out_n))`` with ``n_out`` fresh outputs of ``ctype``;
    returns their values (``plain``)."""
    if n_out == 1:  # most calls: one output
        out = ctype()
        call(*inputs, ctypes.byref(out))
        return (float7(out.value) if isinstance(out, ctypes.c_float) else out.value,)
    outs = [ctype() for _ in range(n_out)]
    call(*inputs, *[ctypes.byref(o) for o in outs])
    return tuple([plain(o) for o in outs])


def text_buffer(size: int) -> ctypes.Array:
    """A char buffer for a string of up to ``size`` characters plus the C terminator."""
    return ctypes.create_string_buffer(size + 1)


def text_of(buffer: ctypes.Array) -> str:
    """The text a C function wrote into a char buffer (undecodable bytes replaced, blanks stripped)."""
    return buffer.value.decode(errors="replace").strip()
