"""PicoQuant TCSPC programming libraries through ctypes: HHLib 3.0 (HydraHarp 400) and TH260Lib 3.1 (TimeHarp 260).

Both libraries export C functions with a model prefix (``HH_``, ``TH260_``) that take the device index first
and return an int: 0 on success, a negative error code otherwise (``errorcodes.h``). This module holds what
the headers define: the argument types of every function the driver calls (``hhlib.h`` / ``th260lib.h``),
the constants and limits (``hhdefin.h`` / ``th260defin.h``), the error codes, the flag bits of ``GetFlags``
and the warning bits of ``GetWarnings``. ``load_hhlib`` / ``load_th260lib`` load the real library (``CDLL``
on Linux, stdcall ``WinDLL`` on Windows) with those declarations.

Units follow the headers: CFD and trigger levels in mV, channel offsets in ps, the histogram offset in ns,
acquisition times in ms, resolutions in ps, the sync period in s.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from tepl.drivers.ctypes_lib import CHAR_P, INT, P_DOUBLE, P_INT, P_UINT, UINT, load_library

# ---- hhdefin.h / th260defin.h: shared constants ----------------------------------------------------------
MODE_HIST = 0
MODE_T2 = 2
MODE_T3 = 3
MODE_CONT = 8  # HydraHarp continuous mode (not used by this driver)
MODES = {"hist": MODE_HIST, "t2": MODE_T2, "t3": MODE_T3}

TTREADMAX = 131072  # records one ReadFiFo call can deliver
TTREADMIN = 128  # smallest buffer (records) ReadFiFo accepts
TTREAD_CHUNK = 128  # HHLib 3.0 takes ReadFiFo counts in whole chunks of 128 records (the driver does for both)

EDGE_RISING = 1
EDGE_FALLING = 0

MAXSTRLEN_LIBVER = 8
MAXSTRLEN_ERRSTR = 40
MAXSTRLEN_SERIAL = 8
MAXSTRLEN_MODEL = 16
MAXSTRLEN_PART = 8
MAXSTRLEN_VERSION = 16
MAXSTRLEN_WRNTXT = 16384

ACQTMIN_MS = 1
ACQTMAX_MS = 360_000_000  # 100 h
CHANOFFSMIN_PS = -99_999
CHANOFFSMAX_PS = 99_999
STOPCNTMIN = 1
STOPCNTMAX = 4_294_967_295

# ---- errorcodes.h ---------------------------------------------------------------------------------------
# The two libraries share the numbers; TH260Lib adds -11, -12, -29, -30 and -80, HHLib adds -38, -57..-59.
_ERROR_NAMES = {
    0: "ERROR_NONE",
    -1: "ERROR_DEVICE_OPEN_FAIL", -2: "ERROR_DEVICE_BUSY", -3: "ERROR_DEVICE_HEVENT_FAIL",
    -4: "ERROR_DEVICE_CALLBSET_FAIL", -5: "ERROR_DEVICE_BARMAP_FAIL", -6: "ERROR_DEVICE_CLOSE_FAIL",
    -7: "ERROR_DEVICE_RESET_FAIL", -8: "ERROR_DEVICE_GETVERSION_FAIL", -9: "ERROR_DEVICE_VERSION_MISMATCH",
    -10: "ERROR_DEVICE_NOT_OPEN",
    -16: "ERROR_INSTANCE_RUNNING", -17: "ERROR_INVALID_ARGUMENT", -18: "ERROR_INVALID_MODE",
    -19: "ERROR_INVALID_OPTION", -20: "ERROR_INVALID_MEMORY", -21: "ERROR_INVALID_RDATA",
    -22: "ERROR_NOT_INITIALIZED", -23: "ERROR_NOT_CALIBRATED", -24: "ERROR_DMA_FAIL",
    -25: "ERROR_XTDEVICE_FAIL", -26: "ERROR_FPGACONF_FAIL", -27: "ERROR_IFCONF_FAIL",
    -28: "ERROR_FIFORESET_FAIL",
    -32: "ERROR_USB_GETDRIVERVER_FAIL", -33: "ERROR_USB_DRIVERVER_MISMATCH", -34: "ERROR_USB_GETIFINFO_FAIL",
    -35: "ERROR_USB_HISPEED_FAIL", -36: "ERROR_USB_VCMD_FAIL", -37: "ERROR_USB_BULKRD_FAIL",
    -40: "ERROR_LANEUP_TIMEOUT", -41: "ERROR_DONEALL_TIMEOUT", -43: "ERROR_MACTIVE_TIMEOUT",
    -44: "ERROR_MEMCLEAR_FAIL", -45: "ERROR_MEMTEST_FAIL", -46: "ERROR_CALIB_FAIL", -47: "ERROR_REFSEL_FAIL",
    -48: "ERROR_STATUS_FAIL", -49: "ERROR_MODNUM_FAIL", -50: "ERROR_DIGMUX_FAIL", -51: "ERROR_MODMUX_FAIL",
    -52: "ERROR_MODFWPCB_MISMATCH", -53: "ERROR_MODFWVER_MISMATCH", -54: "ERROR_MODPROPERTY_MISMATCH",
    -55: "ERROR_INVALID_MAGIC", -56: "ERROR_INVALID_LENGTH",
    **{-64 - i: f"ERROR_EEPROM_F{i + 1:02d}" for i in range(11)},
}
HH_ERRORS: dict[int, str] = {code: f"HH_{name}" for code, name in _ERROR_NAMES.items()}
HH_ERRORS.update({-38: "HH_ERROR_USB_RESET_FAIL", -42: "HH_ERROR_MODACK_TIMEOUT", -57: "HH_ERROR_RATE_FAIL",
                  -58: "HH_ERROR_MODFWVER_TOO_LOW", -59: "HH_ERROR_MODFWVER_TOO_HIGH"})
TH260_ERRORS: dict[int, str] = {code: f"TH260_{name}" for code, name in _ERROR_NAMES.items()}
TH260_ERRORS.update({-11: "TH260_ERROR_DEVICE_LOCKED", -12: "TH260_ERROR_DEVICE_DRIVERVER_MISMATCH",
                     -29: "TH260_ERROR_THREADSTATE_FAIL", -30: "TH260_ERROR_THREADLOCK_FAIL",
                     -42: "TH260_ERROR_MB_ACK_TIMEOUT", -80: "TH260_ERROR_UNSUPPORTED_FUNCTION"})

ERROR_NONE = 0
ERROR_DEVICE_OPEN_FAIL = -1
ERROR_DEVICE_BUSY = -2
ERROR_DEVICE_NOT_OPEN = -10
ERROR_INVALID_ARGUMENT = -17
ERROR_INVALID_MODE = -18
ERROR_NOT_INITIALIZED = -22
ERROR_UNSUPPORTED_FUNCTION = -80  # TH260Lib only

# ---- GetFlags bits --------------------------------------------------------------------------------------
FLAG_OVERFLOW = 0x0001  # histogram mode: a bin reached the stop count
FLAG_FIFOFULL = 0x0002  # TTTR modes: FIFO overrun, records were lost
FLAG_SYNC_LOST = 0x0004
HH_FLAG_REF_LOST = 0x0008
HH_FLAG_SYSERROR = 0x0010
HH_FLAG_ACTIVE = 0x0020  # measurement running
TH260_FLAG_EVTS_DROPPED = 0x0008
TH260_FLAG_SYSERROR = 0x0010
TH260_FLAG_SOFTERROR = 0x0020

HH_FLAGS = {0x0001: "FLAG_OVERFLOW", 0x0002: "FLAG_FIFOFULL", 0x0004: "FLAG_SYNC_LOST", 0x0008: "FLAG_REF_LOST",
            0x0010: "FLAG_SYSERROR", 0x0020: "FLAG_ACTIVE"}
TH260_FLAGS = {0x0001: "FLAG_OVERFLOW", 0x0002: "FLAG_FIFOFULL", 0x0004: "FLAG_SYNC_LOST",
               0x0008: "FLAG_EVTS_DROPPED", 0x0010: "FLAG_SYSERROR", 0x0020: "FLAG_SOFTERROR"}

# ---- GetWarnings bits -----------------------------------------------------------------------------------
WARNING_SYNC_RATE_ZERO = 0x0001
WARNING_SYNC_RATE_TOO_LOW = 0x0002  # TH260Lib calls it WARNING_SYNC_RATE_VERY_LOW
WARNING_SYNC_RATE_TOO_HIGH = 0x0004
WARNING_INPT_RATE_ZERO = 0x0010
WARNING_INPT_RATE_TOO_HIGH = 0x0040
WARNING_INPT_RATE_RATIO = 0x0100
WARNING_DIVIDER_GREATER_ONE = 0x0200
WARNING_TIME_SPAN_TOO_SMALL = 0x0400
WARNING_OFFSET_UNNECESSARY = 0x0800
WARNING_DIVIDER_TOO_SMALL = 0x1000  # TH260Lib only
WARNING_COUNTS_DROPPED = 0x2000  # TH260Lib only

HH_WARNINGS = {0x0001: "WARNING_SYNC_RATE_ZERO", 0x0002: "WARNING_SYNC_RATE_TOO_LOW",
               0x0004: "WARNING_SYNC_RATE_TOO_HIGH", 0x0010: "WARNING_INPT_RATE_ZERO",
               0x0040: "WARNING_INPT_RATE_TOO_HIGH", 0x0100: "WARNING_INPT_RATE_RATIO",
               0x0200: "WARNING_DIVIDER_GREATER_ONE", 0x0400: "WARNING_TIME_SPAN_TOO_SMALL",
               0x0800: "WARNING_OFFSET_UNNECESSARY"}
TH260_WARNINGS = {**HH_WARNINGS, 0x0002: "WARNING_SYNC_RATE_VERY_LOW", 0x1000: "WARNING_DIVIDER_TOO_SMALL",
                  0x2000: "WARNING_COUNTS_DROPPED"}


def bit_names(value: int, table: dict[int, str]) -> list[str]:
    """Names of the bits set in ``value`` (flags or warnings), unknown bits as hex."""
    names = [name for bit, name in table.items() if value & bit]
    rest = value & ~sum(table)
    if rest:
        names.append(f"0x{rest:04X}")
    return names


# ---- library descriptions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class LibrarySpec:
    """What one PicoQuant library's headers define: name prefix, version, limits and code tables."""

    prefix: str  # function-name prefix: "HH" or "TH260"
    family: str  # instrument family, for messages
    version: str  # LIB_VERSION the driver was written for
    max_devices: int  # MAXDEVNUM
    max_inputs: int  # HHMAXINPCHAN / MAXINPCHAN
    max_binsteps: int  # BINSTEPSMAX / MAXBINSTEPS (the actual number comes from GetBaseResolution)
    max_lencode: int  # MAXLENCODE: histogram length = 1024 * 2**lencode
    syncdiv_range: tuple[int, int]  # SYNCDIVMIN..SYNCDIVMAX
    sync_dividers: tuple[int, ...]  # what SetSyncDiv accepts: "1, 2, 4, .., SYNCDIVMAX" (the manuals)
    offset_range_ns: tuple[int, int]  # SetOffset
    holdoff_range_ns: tuple[int, int]
    errors: dict[int, str] = field(repr=False)
    flags: dict[int, str] = field(repr=False)
    warnings: dict[int, str] = field(repr=False)

    @property
    def max_histogram_bins(self) -> int:
        return 1024 << self.max_lencode

    def error_name(self, code: int) -> str:
        return self.errors.get(int(code), f"{self.prefix}_ERROR_UNKNOWN")


HH_SPEC = LibrarySpec(prefix="HH", family="HydraHarp", version="3.0", max_devices=8, max_inputs=8,
                      max_binsteps=26, max_lencode=6, syncdiv_range=(1, 16), sync_dividers=(1, 2, 4, 8, 16),
                      offset_range_ns=(0, 500_000),
                      holdoff_range_ns=(0, 524_296), errors=HH_ERRORS, flags=HH_FLAGS, warnings=HH_WARNINGS)
TH260_SPEC = LibrarySpec(prefix="TH260", family="TimeHarp 260", version="3.1", max_devices=4, max_inputs=2,
                         max_binsteps=22, max_lencode=5, syncdiv_range=(1, 8), sync_dividers=(1, 2, 4, 8),
                         offset_range_ns=(0, 100_000_000),
                         holdoff_range_ns=(0, 25_500), errors=TH260_ERRORS, flags=TH260_FLAGS,
                         warnings=TH260_WARNINGS)

# HydraHarp CFD (hhdefin.h): levels and zero cross are positive magnitudes of the negative detector pulse.
HH_DISCR_RANGE_MV = (0, 1000)
HH_ZC_RANGE_MV = (0, 40)
# TimeHarp 260 P CFD and TimeHarp 260 N edge trigger (th260defin.h): signed levels.
TH260_CFD_LEVEL_RANGE_MV = (-1200, 0)
TH260_CFD_ZC_RANGE_MV = (-40, 0)
TH260_TRIGGER_LEVEL_RANGE_MV = (-1200, 1200)
TH260_MODEL_PICO = "TimeHarp 260 P"  # HWIDENT_PICO, as GetHardwareInfo names it
TH260_MODEL_NANO = "TimeHarp 260 N"  # HWIDENT_NANO
TIMINGMODE_HIRES = 0
TIMINGMODE_LORES = 1

# ---- function signatures (hhlib.h 3.0, th260lib.h 3.1); all return int --------------------------------

_COMMON_SIGNATURES: dict[str, list[Any]] = {
    "GetLibraryVersion": [CHAR_P], "GetErrorString": [CHAR_P, INT],
    "OpenDevice": [INT, CHAR_P], "CloseDevice": [INT],
    "GetHardwareInfo": [INT, CHAR_P, CHAR_P, CHAR_P], "GetSerialNumber": [INT, CHAR_P], "GetFeatures": [INT, P_INT],
    "GetBaseResolution": [INT, P_DOUBLE, P_INT], "GetNumOfInputChannels": [INT, P_INT],
    "SetSyncDiv": [INT, INT], "SetSyncCFD": [INT, INT, INT], "SetSyncChannelOffset": [INT, INT],
    "SetInputCFD": [INT, INT, INT, INT], "SetInputChannelOffset": [INT, INT, INT],
    "SetInputChannelEnable": [INT, INT, INT],
    "SetStopOverflow": [INT, INT, UINT], "SetBinning": [INT, INT], "SetOffset": [INT, INT],
    "SetHistoLen": [INT, INT, P_INT], "SetMeasControl": [INT, INT, INT, INT],
    "ClearHistMem": [INT], "StartMeas": [INT, INT], "StopMeas": [INT], "CTCStatus": [INT, P_INT],
    "GetHistogram": [INT, P_UINT, INT, INT], "GetResolution": [INT, P_DOUBLE], "GetSyncPeriod": [INT, P_DOUBLE],
    "GetSyncRate": [INT, P_INT], "GetCountRate": [INT, INT, P_INT], "GetFlags": [INT, P_INT],
    "GetElapsedMeasTime": [INT, P_DOUBLE], "GetWarnings": [INT, P_INT], "GetWarningsText": [INT, CHAR_P, INT],
    "GetHardwareDebugInfo": [INT, CHAR_P],
    "SetMarkerHoldoffTime": [INT, INT], "SetMarkerEdges": [INT, INT, INT, INT, INT],
    "SetMarkerEnable": [INT, INT, INT, INT, INT], "ReadFiFo": [INT, P_UINT, INT, P_INT],
}
HH_SIGNATURES: dict[str, list[Any]] = {
    **{f"HH_{name}": args for name, args in _COMMON_SIGNATURES.items()},
    "HH_Initialize": [INT, INT, INT], "HH_Calibrate": [INT],
    "HH_GetNumOfModules": [INT, P_INT], "HH_GetModuleInfo": [INT, INT, P_INT, P_INT],
    "HH_GetModuleIndex": [INT, INT, P_INT],
}
TH260_SIGNATURES: dict[str, list[Any]] = {
    **{f"TH260_{name}": args for name, args in _COMMON_SIGNATURES.items()},
    "TH260_Initialize": [INT, INT],
    "TH260_SetSyncEdgeTrg": [INT, INT, INT], "TH260_SetInputEdgeTrg": [INT, INT, INT, INT],
    "TH260_SetInputDeadTime": [INT, INT, INT], "TH260_SetTimingMode": [INT, INT], "TH260_SetTriggerOutput": [INT, INT],
}


def load_hhlib(path: str) -> ctypes.CDLL:
    """Load HHLib (``hhlib.so`` / ``hhlib64.dll``) and declare the functions the driver uses (restype int)."""
    return load_library(path, HH_SIGNATURES, "PicoQuant HHLib", restype=ctypes.c_int)


def load_th260lib(path: str) -> ctypes.CDLL:
    """Load TH260Lib (``th260lib.so`` / ``th260lib64.dll``) and declare the functions the driver uses."""
    return load_library(path, TH260_SIGNATURES, "PicoQuant TH260Lib", restype=ctypes.c_int)
