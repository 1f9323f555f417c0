"""The Andor drivers through a real shared library: ``tests/c_stubs/andor_stub.c`` (the SDK2 and ShamrockCIF
functions the drivers call, with the headers' argument types) is compiled with the system C compiler and
loaded by ``load_sdk2`` / ``load_shamrock``, so the declared ctypes signatures (32-bit ``at_32`` and
``at_u32``, floats, pointers, the ``AndorCapabilities`` struct) meet a real C calling convention."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tepl.drivers.andor_sdk2 import IDus, load_sdk2
from tepl.drivers.andor_sdk2_header import SDK2_SIGNATURES
from tepl.drivers.andor_shamrock import Kymera, load_shamrock
from tepl.roles import DeviceError

STUB = Path(__file__).parent / "c_stubs" / "andor_stub.c"


@pytest.fixture(scope="module")
def stub_library(tmp_path_factory) -> str:
    compiler = next((c for c in (os.environ.get("CC"), "cc", "gcc", "clang") if c and shutil.which(c)), None)
    if compiler is None or os.name == "nt":
        pytest.skip("no C compiler to build a stand-in libandor")
    so = tmp_path_factory.mktemp("andor") / "libandorstub.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(so), str(STUB)], check=True)
    return str(so)


def test_sdk2_through_a_compiled_library(stub_library):
    lib = load_sdk2(stub_library)
    with pytest.raises(DeviceError, match=r"Initialize returned 20070 \(DRV_INIERROR\)"):
        IDus(lib, config_dir="")
    ccd = IDus(lib, config_dir="/stub/etc/andor")
    assert (ccd.serial_number, ccd.head_model, ccd.detector_pixels) == (31415, "DU420_BEX2_DD", (1024, 255))
    assert ccd.has_shutter and ccd.shutter_min_times_ms == (15, 25)  # the struct's ulFeatures, the two ints
    assert list((ctypes.c_int * 4).in_dll(lib, "stub_shutter")) == [1, 0, 15, 25]
    spectrum = ccd.acquire_single(0.25)
    assert ctypes.c_float.in_dll(lib, "stub_exposure_s").value == 0.25 and ccd.settings()["exposure_s"] == 0.25
    np.testing.assert_array_equal(spectrum, np.arange(1024) - 5)  # signed at_32, at_u32 size
    acc, series = (SDK2_SIGNATURES["GetAcquisitionProgress"][i]._type_() for i in (0, 1))
    assert lib.GetAcquisitionProgress(ctypes.byref(acc), ctypes.byref(series)) == 20002
    assert (acc.value, series.value) == (-2, -3)  # a 64-bit declaration would read 4294967294
    ccd.set_shutter("closed", closing_ms=40)
    assert list((ctypes.c_int * 4).in_dll(lib, "stub_shutter")) == [1, 2, 40, 25]


def test_shamrock_through_a_compiled_library(stub_library):
    ky = Kymera(load_shamrock(stub_library))
    assert ky.serial_number == "KY328i-STUB" and ky.focal_length_m == pytest.approx(0.328)
    assert ky.slits_present == ["input_direct"] and ky.exit_flipper_present and not ky.shutter_present
    ky.set_slit_width_um(15.0)
    assert ky.slit_width_um() == 15.0
    ky.set_exit_port("side")
    assert ky.exit_port() == "side"
    ky.set_filter(4)
    assert (ky.filter(), ky.filter_info()) == (4, "LP 550")
    ky.set_center_wavelength_nm(700.0)
    wl = ky.calibration_nm()
    assert wl[0] < 700.0 < wl[-1] and np.mean(np.diff(wl)) == pytest.approx(0.52, rel=1e-4)
    settings = ky.settings()
    assert (settings["slit_width_um"], settings["exit_port"], settings["filter"]) == (15.0, "side", 4)
    assert settings["grating"]["lines_per_mm"] == 150.0 and settings["grating"]["blaze_nm"] == 800.0
