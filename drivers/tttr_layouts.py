"""PicoQuant 32-bit TTTR record types and their bit layouts: one table serves the decoders (``tttr_decode``)
and the encoders (``tttr_encode``).

Record types are named as ``ptufile.PtuRecordType`` names them (``RECORD_TYPES``). Layouts (LSB = bit 0):

* PicoHarp T3 (0x00010303): nsync 0-15, dtime 16-27, channel 28-31 (1-4 = inputs 0-3). Channel 0xF with
  dtime 0 is an overflow (+65 536 sync periods), with dtime != 0 a marker (dtime = marker bits).
* PicoHarp T2 (0x00010203): timetag 0-27, channel 28-31 (0-4). Channel 0xF with low 4 bits 0 is an overflow
  (+210 698 240), otherwise a marker (low 4 bits = marker bits, which also are the low bits of its timetag).
* HydraHarp T3 (v1 0x00010304; v2 0x01010304 and TimeHarp 260 N/P, MultiHarp/Generic with the same layout):
  nsync 0-9, dtime 10-24, channel 25-30, special 31. Special with channel 0x3F is an overflow: +1024 (v1),
  or nsync x 1024 (v2; nsync 0 or 1 means 1024); special with channel 1-15 is a marker.
* HydraHarp T2 (v1 0x00010204; v2 0x01010204 and the same layouts): timetag 0-24, channel 25-30, special 31.
  Overflow (special, channel 0x3F): +33 552 000 (v1) or timetag x 2**25 (v2); special channel 0 is a sync
  event (consumed, not a photon); special channels 1-15 are markers.

Times are integers: T2 times in units of the global resolution (``MeasDesc_GlobalResolution``, 1 ps for
HydraHarp T2, 4 ps for PicoHarp T2), T3 macro times in sync periods and dtimes in TCSPC bins
(``MeasDesc_Resolution``).
"""

from __future__ import annotations

from dataclasses import dataclass

RECORD_TYPES: dict[str, int] = {
    "PicoHarpT3": 0x00010303,
    "PicoHarpT2": 0x00010203,
    "HydraHarpT3": 0x00010304,
    "HydraHarpT2": 0x00010204,
    "HydraHarp2T3": 0x01010304,
    "HydraHarp2T2": 0x01010204,
    "TimeHarp260NT3": 0x00010305,
    "TimeHarp260NT2": 0x00010205,
    "TimeHarp260PT3": 0x00010306,
    "TimeHarp260PT2": 0x00010206,
    "GenericT3": 0x00010307,
    "GenericT2": 0x00010207,
    # ptufile calls the MultiHarp / PicoHarp 330 record types "Generic"; the instrument names are aliases
    "MultiHarpT3": 0x00010307,
    "MultiHarpT2": 0x00010207,
}

_NAMES: dict[int, str] = {}
for _name, _code in RECORD_TYPES.items():
    _NAMES.setdefault(_code, _name)


@dataclass(frozen=True)
class BitFields:
    """Where the fields of one layout family sit in a 32-bit record (masks apply after the shift)."""

    special: int  # records >= this are special records (overflow, marker, sync)
    time_mask: int  # timetag (T2) or nsync (T3), bits 0 up
    dtime_shift: int  # T3 only: dtime in TCSPC bins
    dtime_mask: int
    channel_shift: int  # channel field, up to the top bit
    channel_base: int  # channel field value of input 0
    kind_shift: int  # the field that tells special records apart
    kind_mask: int
    overflow: int  # its value for an overflow record
    last_marker: int  # its values 1..last_marker are markers (the value = marker bits)

    @property
    def marker_time_mask(self) -> int:
        """Bits of the time field a marker record keeps (PicoHarp T2 markers overwrite its low 4 bits)."""
        return self.time_mask & ~(self.kind_mask << self.kind_shift)


#                        special      time_mask   dtime       channel   kind         overflow, last marker
FAMILY_BITS: dict[str, BitFields] = {
    "pt3": BitFields(0xF0000000, 0xFFFF, 16, 0xFFF, 28, 1, 16, 0xFFF, 0, 0xFFF),
    "pt2": BitFields(0xF0000000, 0x0FFFFFFF, 0, 0, 28, 0, 0, 0xF, 0, 0xF),
    "ht3": BitFields(0x80000000, 0x3FF, 10, 0x7FFF, 25, 0, 25, 0x3F, 0x3F, 15),
    "ht2": BitFields(0x80000000, 0x1FFFFFF, 0, 0, 25, 0, 25, 0x3F, 0x3F, 15),
}


@dataclass(frozen=True)
class RecordLayout:
    """Bit layout facts of one record type."""

    code: int
    name: str
    mode: str  # "T2" or "T3"
    family: str  # "pt2", "pt3", "ht2", "ht3"
    wrap: int  # time units (T2) or sync periods (T3) added per overflow
    multi_wrap: bool  # v2 layouts: one overflow record carries a count of wraps
    n_channels: int  # detector inputs the record can name
    dtime_bins: int  # 0 for T2

    @property
    def bits(self) -> BitFields:
        """Positions of the record's fields (``FAMILY_BITS``)."""
        return FAMILY_BITS[self.family]


def record_layout(record_type: int | str) -> RecordLayout:
    """Layout of a record type given by code (e.g. 0x01010304) or ptufile name (e.g. "HydraHarp2T3").

    Raises ValueError for unknown record types.
    """
    if isinstance(record_type, str):
        if record_type not in RECORD_TYPES:
            raise ValueError(f"unknown TTTR record type name {record_type!r}; known: {sorted(RECORD_TYPES)}")
        code = RECORD_TYPES[record_type]
    else:
        try:
            code = int(record_type)
        except (TypeError, ValueError):
            raise ValueError(f"TTTR record type must be an int code or a name, got {record_type!r}") from None
    if code not in _NAMES:
        raise ValueError(f"unknown or unsupported TTTR record type 0x{code:08X}; supported: "
                         + ", ".join(f"{n} (0x{c:08X})" for c, n in _NAMES.items()))
    name = _NAMES[code]
    if code == 0x00010303:
        return RecordLayout(code, name, "T3", "pt3", 65536, False, 4, 4096)
    if code == 0x00010203:
        return RecordLayout(code, name, "T2", "pt2", 210698240, False, 5, 0)
    if code == 0x00010304:
        return RecordLayout(code, name, "T3", "ht3", 1024, False, 63, 32768)
    if code == 0x00010204:
        return RecordLayout(code, name, "T2", "ht2", 33552000, False, 63, 0)
    if name.endswith("T3"):
        return RecordLayout(code, name, "T3", "ht3", 1024, True, 63, 32768)
    return RecordLayout(code, name, "T2", "ht2", 1 << 25, True, 63, 0)


def record_type_name(record_type: int | str) -> str:
    """ptufile's name of a record type code (e.g. 0x01010304 -> "HydraHarp2T3")."""
    return record_layout(record_type).name


def record_mode(record_type: int | str) -> str:
    """"T2" or "T3" for a record type."""
    return record_layout(record_type).mode


def layout_for(record_type: int | str, mode: str) -> RecordLayout:
    """``record_layout(record_type)``, or ValueError unless it is a ``mode`` ("T2" or "T3") format."""
    layout = record_layout(record_type)
    if layout.mode != mode:
        raise ValueError(f"record type {layout.name} (0x{layout.code:08X}) is a {layout.mode} format, "
                         f"not {mode}")
    return layout
