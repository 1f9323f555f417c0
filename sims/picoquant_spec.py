"""The simulator's own table of the PicoQuant library headers: HHLib 3.0 (``hhdefin.h``, ``hhlib.h``) and
TH260Lib 3.1 (``th260defin.h``, ``th260lib.h``), with the shared ``errorcodes.h``.

Written from the headers (see ``docs/hardware.md`` §5.1: modes, ``TTREADMAX``, ``MAXDEVNUM``, ``HHMAXCHAN``,
the HydraHarp flag bits), not taken from the driver: the simulator is the other end of the library and must
not mirror a wrong driver constant. ``tests/test_picoquant_constants.py`` holds the two tables against each
other. Units follow the headers: CFD and trigger levels in mV, channel offsets in ps, the histogram offset and
marker hold-off in ns, acquisition times in ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---- measurement modes and FIFO (hhdefin.h / th260defin.h) ----------------------------------------------
MODE_HIST = 0
MODE_T2 = 2
MODE_T3 = 3
TTREADMAX = 131_072  # records one ReadFiFo call can deliver (128 K)
TTREADMIN = 128  # smallest ReadFiFo buffer, records

# ---- limits shared by both libraries --------------------------------------------------------------------
ACQTMIN_MS = 1
ACQTMAX_MS = 100 * 3600 * 1000  # 100 h
CHANOFFSMIN_PS = -99_999
CHANOFFSMAX_PS = 99_999
STOPCNTMIN = 1
STOPCNTMAX = 0xFFFF_FFFF

# ---- errorcodes.h: the codes the simulator returns ------------------------------------------------------
ERROR_DEVICE_OPEN_FAIL = -1
ERROR_DEVICE_BUSY = -2
ERROR_DEVICE_NOT_OPEN = -10
ERROR_INVALID_ARGUMENT = -17
ERROR_INVALID_MODE = -18
ERROR_NOT_INITIALIZED = -22
ERROR_UNSUPPORTED_FUNCTION = -80  # TH260Lib only

# every code, as GetErrorString names it without the library prefix
ERROR_NAMES = {
    0: "ERROR_NONE",
    -1: "ERROR_DEVICE_OPEN_FAIL",
    -2: "ERROR_DEVICE_BUSY",
    -3: "ERROR_DEVICE_HEVENT_FAIL",
    -4: "ERROR_DEVICE_CALLBSET_FAIL",
    -5: "ERROR_DEVICE_BARMAP_FAIL",
    -6: "ERROR_DEVICE_CLOSE_FAIL",
    -7: "ERROR_DEVICE_RESET_FAIL",
    -8: "ERROR_DEVICE_GETVERSION_FAIL",
    -9: "ERROR_DEVICE_VERSION_MISMATCH",
    -10: "ERROR_DEVICE_NOT_OPEN",
    -16: "ERROR_INSTANCE_RUNNING",
    -17: "ERROR_INVALID_ARGUMENT",
    -18: "ERROR_INVALID_MODE",
    -19: "ERROR_INVALID_OPTION",
    -20: "ERROR_INVALID_MEMORY",
    -21: "ERROR_INVALID_RDATA",
    -22: "ERROR_NOT_INITIALIZED",
    -23: "ERROR_NOT_CALIBRATED",
    -24: "ERROR_DMA_FAIL",
    -25: "ERROR_XTDEVICE_FAIL",
    -26: "ERROR_FPGACONF_FAIL",
    -27: "ERROR_IFCONF_FAIL",
    -28: "ERROR_FIFORESET_FAIL",
    -32: "ERROR_USB_GETDRIVERVER_FAIL",
    -33: "ERROR_USB_DRIVERVER_MISMATCH",
    -34: "ERROR_USB_GETIFINFO_FAIL",
    -35: "ERROR_USB_HISPEED_FAIL",
    -36: "ERROR_USB_VCMD_FAIL",
    -37: "ERROR_USB_BULKRD_FAIL",
    -40: "ERROR_LANEUP_TIMEOUT",
    -41: "ERROR_DONEALL_TIMEOUT",
    -43: "ERROR_MACTIVE_TIMEOUT",
    -44: "ERROR_MEMCLEAR_FAIL",
    -45: "ERROR_MEMTEST_FAIL",
    -46: "ERROR_CALIB_FAIL",
    -47: "ERROR_REFSEL_FAIL",
    -48: "ERROR_STATUS_FAIL",
    -49: "ERROR_MODNUM_FAIL",
    -50: "ERROR_DIGMUX_FAIL",
    -51: "ERROR_MODMUX_FAIL",
    -52: "ERROR_MODFWPCB_MISMATCH",
    -53: "ERROR_MODFWVER_MISMATCH",
    -54: "ERROR_MODPROPERTY_MISMATCH",
    -55: "ERROR_INVALID_MAGIC",
    -56: "ERROR_INVALID_LENGTH",
    -64: "ERROR_EEPROM_F01",
    -65: "ERROR_EEPROM_F02",
    -66: "ERROR_EEPROM_F03",
    -67: "ERROR_EEPROM_F04",
    -68: "ERROR_EEPROM_F05",
    -69: "ERROR_EEPROM_F06",
    -70: "ERROR_EEPROM_F07",
    -71: "ERROR_EEPROM_F08",
    -72: "ERROR_EEPROM_F09",
    -73: "ERROR_EEPROM_F10",
    -74: "ERROR_EEPROM_F11",
}
HH_ONLY_ERROR_NAMES = {-38: "ERROR_USB_RESET_FAIL", -42: "ERROR_MODACK_TIMEOUT", -57: "ERROR_RATE_FAIL",
                       -58: "ERROR_MODFWVER_TOO_LOW", -59: "ERROR_MODFWVER_TOO_HIGH"}
TH260_ONLY_ERROR_NAMES = {-11: "ERROR_DEVICE_LOCKED", -12: "ERROR_DEVICE_DRIVERVER_MISMATCH",
                          -29: "ERROR_THREADSTATE_FAIL", -30: "ERROR_THREADLOCK_FAIL", -42: "ERROR_MB_ACK_TIMEOUT",
                          -80: "ERROR_UNSUPPORTED_FUNCTION"}

# ---- GetFlags bits --------------------------------------------------------------------------------------
FLAG_OVERFLOW = 0x0001  # histogram mode: a bin reached the stop count
FLAG_FIFOFULL = 0x0002  # TTTR modes: FIFO overrun
FLAG_SYNC_LOST = 0x0004
HH_FLAG_REF_LOST = 0x0008  # HydraHarp: external reference lost
HH_FLAG_ACTIVE = 0x0020  # HydraHarp: measurement running

# ---- GetWarnings bits -----------------------------------------------------------------------------------
WARNING_SYNC_RATE_ZERO = 0x0001
WARNING_SYNC_RATE_TOO_HIGH = 0x0004
WARNING_INPT_RATE_ZERO = 0x0010
WARNING_INPT_RATE_TOO_HIGH = 0x0040
WARNING_INPT_RATE_RATIO = 0x0100
WARNING_DIVIDER_GREATER_ONE = 0x0200
WARNING_TIME_SPAN_TOO_SMALL = 0x0400

# the names GetWarningsText prints, per library
HH_WARNING_NAMES = {
    0x0001: "WARNING_SYNC_RATE_ZERO",
    0x0002: "WARNING_SYNC_RATE_TOO_LOW",
    0x0004: "WARNING_SYNC_RATE_TOO_HIGH",
    0x0010: "WARNING_INPT_RATE_ZERO",
    0x0040: "WARNING_INPT_RATE_TOO_HIGH",
    0x0100: "WARNING_INPT_RATE_RATIO",
    0x0200: "WARNING_DIVIDER_GREATER_ONE",
    0x0400: "WARNING_TIME_SPAN_TOO_SMALL",
    0x0800: "WARNING_OFFSET_UNNECESSARY",
}
TH260_WARNING_NAMES = {  # TH260Lib renames bit 0x0002 and adds two
    **HH_WARNING_NAMES,
    0x0002: "WARNING_SYNC_RATE_VERY_LOW",
    0x1000: "WARNING_DIVIDER_TOO_SMALL",
    0x2000: "WARNING_COUNTS_DROPPED",
}

# ---- trigger inputs -------------------------------------------------------------------------------------
HH_DISCR_RANGE_MV = (0, 1000)  # HydraHarp CFD level: magnitude of the negative pulse
HH_ZC_RANGE_MV = (0, 40)  # HydraHarp CFD zero cross
TH260_CFD_LEVEL_RANGE_MV = (-1200, 0)  # TimeHarp 260 P: signed levels
TH260_CFD_ZC_RANGE_MV = (-40, 0)
TH260_TRIGGER_LEVEL_RANGE_MV = (-1200, 1200)  # TimeHarp 260 N edge trigger
TH260_MODEL_PICO = "TimeHarp 260 P"  # GetHardwareInfo model (HWIDENT_PICO)
TH260_MODEL_NANO = "TimeHarp 260 N"  # HWIDENT_NANO


@dataclass(frozen=True)
class LibraryHeader:
    """What one library's headers fix for the simulated unit: name prefix, limits and the name tables."""

    prefix: str  # function-name prefix: "HH" or "TH260"
    max_devices: int  # MAXDEVNUM
    max_inputs: int  # HHMAXINPCHAN / MAXINPCHAN
    max_binsteps: int  # BINSTEPSMAX / MAXBINSTEPS
    max_lencode: int  # MAXLENCODE: histogram length = 1024 * 2**lencode bins
    syncdiv_range: tuple[int, int]  # SetSyncDiv: SYNCDIVMIN..SYNCDIVMAX
    sync_dividers: tuple[int, ...]  # the dividers SetSyncDiv accepts: powers of 2 up to SYNCDIVMAX
    fifo_read_multiple: int  # ReadFiFo's count must be a multiple of this many records (1: bounds only)
    offset_range_ns: tuple[int, int]  # SetOffset, ns
    holdoff_range_ns: tuple[int, int]  # SetMarkerHoldoffTime, ns
    error_names: dict[int, str] = field(repr=False)  # code -> name without the prefix
    warnings: dict[int, str] = field(repr=False)  # warning bit -> name

    def error_name(self, code: int) -> str:
        """GetErrorString's text for ``code``: the prefixed name, or <prefix>_ERROR_UNKNOWN."""
        name = self.error_names.get(int(code))
        return f"{self.prefix}_{name}" if name else f"{self.prefix}_ERROR_UNKNOWN"


# Sync dividers: the manuals give SetSyncDiv's argument as "1, 2, 4, .., SYNCDIVMAX" (SYNCDIVMAX 16 in hhdefin.h,
# 8 in th260defin.h). ReadFiFo: HHLib 3.0 takes counts in whole 128-record chunks (USB transfer blocks);
# for TH260Lib (PCIe) no such rule was found, so only TTREADMIN..TTREADMAX is enforced.
HH_HEADER = LibraryHeader(prefix="HH", max_devices=8, max_inputs=8, max_binsteps=26, max_lencode=6,
                          syncdiv_range=(1, 16), sync_dividers=(1, 2, 4, 8, 16), fifo_read_multiple=128,
                          offset_range_ns=(0, 500_000), holdoff_range_ns=(0, 524_296),
                          error_names={**ERROR_NAMES, **HH_ONLY_ERROR_NAMES}, warnings=HH_WARNING_NAMES)
TH260_HEADER = LibraryHeader(prefix="TH260", max_devices=4, max_inputs=2, max_binsteps=22, max_lencode=5,
                             syncdiv_range=(1, 8), sync_dividers=(1, 2, 4, 8), fifo_read_multiple=1,
                             offset_range_ns=(0, 100_000_000), holdoff_range_ns=(0, 25_500),
                             error_names={**ERROR_NAMES, **TH260_ONLY_ERROR_NAMES}, warnings=TH260_WARNING_NAMES)
