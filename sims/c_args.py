"""The callee side of a ctypes call, for the simulated C libraries (Andor SDK2 / ShamrockCIF, PicoQuant).

A simulated library receives exactly what a ctypes call would pass: numbers (Python or ``ctypes.c_int`` /
``c_float`` ...), ``ctypes.byref(obj)`` / ``ctypes.pointer(obj)`` for outputs, ``ctypes.create_string_buffer``
for strings, ctypes arrays for data. These helpers read and write them; an argument that cannot be used
raises ``ArgError`` with its 1-based position, which each library answers with its own code.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np


class ArgError(Exception):
    """Argument ``position`` (1-based) cannot be used; the library answers its P<n>INVALID code."""

    def __init__(self, position: int):
        super().__init__(position)
        self.position = position


_BYREF = type(ctypes.byref(ctypes.c_int()))  # what ctypes.byref returns


def val(arg: Any) -> Any:
    """The value of an input argument given as a Python number/bytes or as a ctypes simple object."""
    return arg.value if hasattr(arg, "value") and not isinstance(arg, (bytes, str)) else arg


def set_out(ref: Any, value: Any, position: int) -> None:
    """Write through an output argument passed as ``ctypes.byref(obj)`` or ``ctypes.pointer(obj)``."""
    if type(ref) is _BYREF and isinstance(ref._obj, ctypes._SimpleCData):  # the usual call: byref(c_int())
        ref._obj.value = value
        return
    obj = getattr(ref, "_obj", None)
    if obj is None and hasattr(ref, "contents"):
        obj = ref.contents
    if obj is None or not hasattr(obj, "value"):
        raise ArgError(position)
    obj.value = value


def set_text(buffer: Any, text: str, position: int) -> None:
    """Fill a char buffer made with ``ctypes.create_string_buffer`` (truncated to fit, NUL-terminated)."""
    if not isinstance(buffer, ctypes.Array) or buffer._type_ is not ctypes.c_char:
        raise ArgError(position)
    buffer.value = text.encode()[: len(buffer) - 1]


def c_array(array: Any, n: int, dtype: Any, position: int) -> np.ndarray:
    """A numpy view of at least ``n`` elements of a ctypes array (or pointer) of ``dtype``."""
    try:
        out = np.ctypeslib.as_array(array) if isinstance(array, ctypes.Array) else \
            np.ctypeslib.as_array(array, shape=(n,))
    except (TypeError, ValueError) as e:
        raise ArgError(position) from e
    if out.dtype != np.dtype(dtype) or out.size < n:
        raise ArgError(position)
    return out


def report_function(decorate: Callable[[Callable], Callable], values: tuple[Callable[[Any], Any], ...], *,
                    success: int = 0, handle: bool = True,
                    check: Callable[[Any, Any], None] | None = None) -> Callable:
    """A simulated library function that only reports: ``(handle, out_1, ..., out_n)`` (or just the outputs
    when ``handle`` is False). ``check(lib, handle)`` runs first when given; output i then gets
    ``values[i](lib)``, text into a char buffer, a number through ``byref``, and the call returns ``success``.
    ``decorate`` is the library's own wrapper (wire time, state checks, ``ArgError`` to return codes)."""
    first = 2 if handle else 1

    def report(self, *args: Any) -> int:
        if len(args) != len(values) + first - 1:
            raise TypeError(f"takes {'a handle and ' if handle else ''}{len(values)} outputs, got {len(args)} "
                            "arguments")
        if handle and check is not None:
            check(self, args[0])
        for position, (out, value) in enumerate(zip(args[first - 1:], values, strict=True), start=first):
            result = value(self)
            (set_text if isinstance(result, str) else set_out)(out, result, position)
        return success

    return decorate(report)
