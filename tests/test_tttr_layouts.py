"""The bit-field table of the TTTR record layouts (``tttr_layouts.FAMILY_BITS``) against the layouts the
PicoQuant manuals give: the fields of a photon record do not overlap and fill the 32 bits."""

from __future__ import annotations

import pytest

from tepl.drivers.tttr_layouts import FAMILY_BITS, RECORD_TYPES, record_layout

# (time field, dtime field, channel field, special bit) as (first bit, width) from the manuals
MANUAL = {
    "pt3": ((0, 16), (16, 12), (28, 4), None),
    "pt2": ((0, 28), None, (28, 4), None),
    "ht3": ((0, 10), (10, 15), (25, 6), 31),
    "ht2": ((0, 25), None, (25, 6), 31),
}


def _mask(first: int, width: int) -> int:
    return ((1 << width) - 1) << first


@pytest.mark.parametrize("family", sorted(MANUAL))
def test_family_bits_are_the_manuals(family):
    bits = FAMILY_BITS[family]
    time, dtime, channel, special_bit = MANUAL[family]
    assert bits.time_mask == _mask(*time)
    if dtime is None:
        assert bits.dtime_mask == 0
    else:
        assert bits.dtime_mask << bits.dtime_shift == _mask(*dtime)
    assert bits.channel_shift == channel[0]
    fields = [_mask(*f) for f in (time, dtime, channel) if f is not None]
    fields += [1 << special_bit] if special_bit is not None else []
    assert sum(fields) == 0xFFFFFFFF and all(a & b == 0 for i, a in enumerate(fields) for b in fields[i + 1:])
    # special records: the whole channel field set (PicoHarp) or the special bit (HydraHarp family)
    assert bits.special == (_mask(*channel) if special_bit is None else 1 << special_bit)


def test_every_record_type_names_its_family_bits():
    for code in RECORD_TYPES.values():
        layout = record_layout(code)
        assert layout.bits is FAMILY_BITS[layout.family]
        assert layout.family[2] == layout.mode[1]


def test_picoharp_t2_markers_overwrite_the_low_timetag_bits():
    assert FAMILY_BITS["pt2"].marker_time_mask == 0x0FFFFFF0
    for family in ("pt3", "ht3", "ht2"):
        assert FAMILY_BITS[family].marker_time_mask == FAMILY_BITS[family].time_mask
