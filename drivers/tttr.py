"""PicoQuant 32-bit TTTR records in one import: the record types and bit layouts (``tttr_layouts``), the
decoders to photon tags (``tttr_decode``) and the encoders back to records (``tttr_encode``).

Drivers import the side they need from its own module; this one is the codec's public face for the
simulators (which may import nothing else from ``tepl.drivers``), the run-file readers and writers
(``tepl.data.ptu``, ``tepl.data.ptu_export``) and the TCSPC analysis.
"""

from __future__ import annotations

from tepl.drivers.tttr_decode import T2Decoder, T3Decoder, decode_t2, decode_t3
from tepl.drivers.tttr_encode import T2Encoder, T3Encoder, encode_t2, encode_t3
from tepl.drivers.tttr_layouts import RECORD_TYPES, RecordLayout, record_layout, record_mode, record_type_name

__all__ = [
    "RECORD_TYPES",
    "RecordLayout",
    "T2Decoder",
    "T2Encoder",
    "T3Decoder",
    "T3Encoder",
    "decode_t2",
    "decode_t3",
    "encode_t2",
    "encode_t3",
    "record_layout",
    "record_mode",
    "record_type_name",
]
