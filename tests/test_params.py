"""Procedure parameters: units, bounds and clear refusals before anything moves."""

import pytest

from tepl.procedures import PROCEDURES, make_procedure
from tepl.procedures.params import ParameterError, parse_assignments


def test_every_procedure_has_units_and_valid_defaults():
    for name, cls in PROCEDURES.items():
        proc = cls()
        assert proc.name == name
        for p in cls.parameters:
            assert p.coerce(p.default) == proc[p.name]
            if p.kind is float:
                assert p.unit or p.name.endswith("fraction"), p.name


def test_strings_from_the_command_line_are_converted():
    proc = make_procedure("raster", **parse_assignments(["pixel_um=0.0025", "order=raster"]))
    assert proc["pixel_um"] == 0.0025 and proc["order"] == "raster"


@pytest.mark.parametrize("values, message", [
    ({"pixel_um": "0"}, "pixel_um = 0 µm is outside its bounds"),
    ({"pixel_um": "abc"}, "pixel_um: 'abc' is not a valid float"),
    ({"order": "spiral"}, "order: 'spiral' is not one of"),
    ({"exposure_s": "nan"}, "exposure_s: nan is not a finite number"),
    ({"speed": "3"}, "unknown parameter speed"),
])
def test_bad_parameters_are_refused(values, message):
    with pytest.raises(ParameterError, match=message):
        make_procedure("raster", **values)


def test_ramp_needs_min_below_start_and_unknown_procedure():
    with pytest.raises(ParameterError, match="min_gap_nm"):
        make_procedure("pressure-ramp", start_gap_nm=5, min_gap_nm=6)
    with pytest.raises(ParameterError, match="unknown procedure"):
        make_procedure("teleport")
    with pytest.raises(ParameterError, match="name=value"):
        parse_assignments(["pixel_um"])


def test_a_huge_integer_is_refused_with_its_bounds_not_an_overflow():
    huge = "9" * 400
    with pytest.raises(ParameterError, match=r"parameter frames = 9+ is outside its bounds \[1, 1000000\]"):
        make_procedure("kinetic-series", frames=huge)
    with pytest.raises(ParameterError, match="exposure_s: inf is not a finite number"):
        make_procedure("kinetic-series", exposure_s=huge)
