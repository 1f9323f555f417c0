"""How a function of the simulated ShamrockCIF library (``tepl.sims.andor_shamrock.SimShamrock``) is called:
the return codes of ``ShamrockCIF.h`` the simulator answers with, the ``api`` decorator (the call's wire time,
the library refused before ``ShamrockInitialize``, a malformed argument answered with SHAMROCK_P<n>INVALID)
and the builder of the functions that only report.
"""

from __future__ import annotations

from typing import Any

from tepl.sims.andor import api_factory
from tepl.sims.c_args import report_function

SHAMROCK_COMMUNICATION_ERROR = 20201
SHAMROCK_SUCCESS = 20202
SHAMROCK_P1INVALID = 20266
SHAMROCK_P2INVALID = 20267
SHAMROCK_P3INVALID = 20268
SHAMROCK_P4INVALID = 20269
SHAMROCK_P5INVALID = 20270
SHAMROCK_NOT_INITIALIZED = 20275
SHAMROCK_NOT_AVAILABLE = 20292

_P_INVALID = {1: SHAMROCK_P1INVALID, 2: SHAMROCK_P2INVALID, 3: SHAMROCK_P3INVALID,
              4: SHAMROCK_P4INVALID, 5: SHAMROCK_P5INVALID}

WIRE_TIME_S = 0.3e-3  # USB round trip per library call

api = api_factory(SHAMROCK_NOT_INITIALIZED, _P_INVALID, WIRE_TIME_S)


def reports(*values: Any, handle: bool = True):
    """A ShamrockCIF function that only reports (``c_args.report_function``): the device index first (0, the
    one device) unless ``handle`` is False."""
    return report_function(api(), values, success=SHAMROCK_SUCCESS, handle=handle,
                           check=lambda shamrock, device: shamrock._check_device(device))
