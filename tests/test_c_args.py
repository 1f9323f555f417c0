"""``sims.c_args.report_function``: the report-only functions the simulated C libraries are built from."""

from __future__ import annotations

import ctypes

import pytest

from tepl.sims.c_args import ArgError, report_function


def _codes(fn):
    """The decorator a simulated library gives its functions: argument errors become -position."""

    def call(self, *args):
        try:
            return fn(self, *args)
        except ArgError as e:
            return -e.position

    return call


class _Lib:
    serial = "SN-1"
    width_um = 26.0

    def check(self, handle):
        if handle != 0:
            raise ArgError(1)

    get_serial = report_function(_codes, (lambda lib: lib.serial,), success=7,
                                 check=lambda lib, handle: lib.check(handle))
    get_two = report_function(_codes, (lambda lib: 3, lambda lib: lib.width_um), handle=False)


def test_outputs_are_filled_in_order_and_the_success_code_returned():
    lib = _Lib()
    text = ctypes.create_string_buffer(16)
    assert lib.get_serial(0, text) == 7 and text.value == b"SN-1"
    n, width = ctypes.c_int(), ctypes.c_float()
    assert lib.get_two(ctypes.byref(n), ctypes.byref(width)) == 0
    assert (n.value, width.value) == (3, 26.0)


def test_a_bad_handle_or_output_is_the_argument_at_its_position():
    lib = _Lib()
    assert lib.get_serial(1, ctypes.create_string_buffer(16)) == -1
    assert lib.get_serial(0, ctypes.c_int()) == -2  # a number where a char buffer belongs
    assert lib.get_two(ctypes.byref(ctypes.c_int()), 5) == -2  # not a byref output


def test_a_wrong_number_of_arguments_is_a_python_error():
    with pytest.raises(TypeError):
        _Lib().get_two(ctypes.byref(ctypes.c_int()))
