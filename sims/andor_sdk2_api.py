"""How a function of the simulated Andor SDK2 library (``tepl.sims.andor_sdk2.SimSDK2``) is called: the
return codes of ``atmcd32d.h`` the simulator answers with, the ``api`` decorator (the call's wire time, the
library refused before ``Initialize``, DRV_ACQUIRING while acquiring, a malformed argument answered with
DRV_P<n>INVALID) and the builders of the functions that only report or only store one setting.
"""

from __future__ import annotations

import ctypes
from typing import Any

from tepl.sims.andor import api_factory
from tepl.sims.c_args import ArgError, report_function

DRV_SUCCESS = 20002
DRV_NO_NEW_DATA = 20024
DRV_P1INVALID, DRV_P2INVALID, DRV_P3INVALID, DRV_P4INVALID = 20066, 20067, 20068, 20069
DRV_ACQUIRING = 20072
DRV_IDLE = 20073
DRV_INIERROR = 20070
DRV_NOT_INITIALIZED = 20075
DRV_NOT_SUPPORTED = 20991
DRV_NOT_AVAILABLE = 20992
AC_FEATURES_POLLING, AC_FEATURES_EVENTS, AC_FEATURES_SHUTTER, AC_FEATURES_SHUTTEREX = 1, 2, 8, 16
AC_FEATURES_TEMPERATUREDURINGACQUISITION = 512
_P_INVALID = {1: DRV_P1INVALID, 2: DRV_P2INVALID, 3: DRV_P3INVALID, 4: DRV_P4INVALID}

WIRE_TIME_S = 0.2e-3  # USB round trip per library call

# every SDK2 function: the wire time, then the camera brought up to the present (``_catch_up``)
api = api_factory(DRV_NOT_INITIALIZED, _P_INVALID, WIRE_TIME_S, busy=DRV_ACQUIRING, before="_catch_up")


def referenced(ref: Any) -> Any:
    """The C object behind an output passed as ``ctypes.byref(obj)`` or ``ctypes.pointer(obj)`` (None: neither)."""
    obj = getattr(ref, "_obj", None)
    if obj is None and hasattr(ref, "contents"):
        obj = ref.contents
    return obj


def check_width(ref: Any, n_bytes: int, position: int) -> None:
    """An output passed by reference must be a C object of ``n_bytes`` (the header's type); else ArgError."""
    obj = referenced(ref)
    if obj is None or ctypes.sizeof(obj) != n_bytes:
        raise ArgError(position)


def reports(*values: Any):
    """An SDK2 function that only reports, through its output arguments (``c_args.report_function``)."""
    return report_function(api(), values, success=DRV_SUCCESS, handle=False)


def sets(attribute: str, kind: type, allowed: Any):
    """An SDK2 function that stores one setting: ``kind`` of the argument if ``allowed`` (else DRV_P1INVALID;
    DRV_ACQUIRING while acquiring), kept as ``attribute`` of the camera."""

    def set_value(self, value: Any) -> int:
        setattr(self, attribute, kind(self._setting(value, allowed)))
        return DRV_SUCCESS

    return api()(set_value)
