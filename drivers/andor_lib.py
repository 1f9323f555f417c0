"""Loading an Andor C library through ctypes, and reading its output arguments (shared by SDK2 and Shamrock)."""

from __future__ import annotations

import ctypes
import os
from typing import Any

from tepl.roles import DeviceError


def load_library(path: str, signatures: dict[str, list], what: str, restype: Any = ctypes.c_uint) -> ctypes.CDLL:
    """Load ``path`` (stdcall ``WinDLL`` on Windows) and declare the argument types of the functions used;
    every declared function returns ``restype`` (the Andor SDKs return unsigned codes)."""
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


def plain(obj: Any) -> Any:
    """A ctypes output as a Python number; floats to the 7 significant digits a C float holds."""
    return float(f"{obj.value:.7g}") if isinstance(obj, ctypes.c_float) else obj.value
