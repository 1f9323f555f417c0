"""The driver's PicoQuant header constants and the simulator's own table of them agree.

Each side is written from the vendor headers on its own (``drivers/picoquant_lib.py``,
``sims/picoquant_spec.py``), so a wrong constant on one side shows up here rather than being mirrored by the
simulator and passing every other test."""

from __future__ import annotations

import pytest

from tepl.drivers import picoquant_lib as drv
from tepl.sims import picoquant_spec as sim

SCALARS = [
    "MODE_HIST", "MODE_T2", "MODE_T3", "TTREADMAX", "TTREADMIN",
    "ACQTMIN_MS", "ACQTMAX_MS", "CHANOFFSMIN_PS", "CHANOFFSMAX_PS", "STOPCNTMIN", "STOPCNTMAX",
    "ERROR_DEVICE_OPEN_FAIL", "ERROR_DEVICE_BUSY", "ERROR_DEVICE_NOT_OPEN", "ERROR_INVALID_ARGUMENT",
    "ERROR_INVALID_MODE", "ERROR_NOT_INITIALIZED", "ERROR_UNSUPPORTED_FUNCTION",
    "FLAG_OVERFLOW", "FLAG_FIFOFULL", "FLAG_SYNC_LOST", "HH_FLAG_REF_LOST", "HH_FLAG_ACTIVE",
    "WARNING_SYNC_RATE_ZERO", "WARNING_SYNC_RATE_TOO_HIGH", "WARNING_INPT_RATE_ZERO",
    "WARNING_INPT_RATE_TOO_HIGH", "WARNING_INPT_RATE_RATIO", "WARNING_DIVIDER_GREATER_ONE",
    "WARNING_TIME_SPAN_TOO_SMALL",
    "HH_DISCR_RANGE_MV", "HH_ZC_RANGE_MV", "TH260_CFD_LEVEL_RANGE_MV", "TH260_CFD_ZC_RANGE_MV",
    "TH260_TRIGGER_LEVEL_RANGE_MV", "TH260_MODEL_PICO", "TH260_MODEL_NANO",
]
LIMITS = ["prefix", "max_devices", "max_inputs", "max_binsteps", "max_lencode", "syncdiv_range", "sync_dividers",
          "offset_range_ns", "holdoff_range_ns", "warnings"]
LIBRARIES = [(drv.HH_SPEC, sim.HH_HEADER), (drv.TH260_SPEC, sim.TH260_HEADER)]


@pytest.mark.parametrize("name", SCALARS)
def test_constant_agrees(name):
    assert getattr(sim, name) == getattr(drv, name), name


@pytest.mark.parametrize("driver_spec, sim_header", LIBRARIES, ids=["HHLib", "TH260Lib"])
def test_library_limits_agree(driver_spec, sim_header):
    for name in LIMITS:
        assert getattr(sim_header, name) == getattr(driver_spec, name), name


@pytest.mark.parametrize("driver_spec, sim_header", LIBRARIES, ids=["HHLib", "TH260Lib"])
def test_the_driver_reads_the_fifo_in_counts_the_library_takes(driver_spec, sim_header):
    assert drv.TTREAD_CHUNK % sim_header.fifo_read_multiple == 0
    assert drv.TTREADMIN % drv.TTREAD_CHUNK == 0 and drv.TTREADMAX % drv.TTREAD_CHUNK == 0
    assert set(driver_spec.sync_dividers) <= set(range(driver_spec.syncdiv_range[0], driver_spec.syncdiv_range[1] + 1))


@pytest.mark.parametrize("driver_spec, sim_header", LIBRARIES, ids=["HHLib", "TH260Lib"])
def test_error_names_agree(driver_spec, sim_header):
    assert set(sim_header.error_names) == set(driver_spec.errors)
    for code in list(driver_spec.errors) + [-99, 1]:
        assert sim_header.error_name(code) == driver_spec.error_name(code), code


def test_the_simulator_imports_no_driver_module_but_the_tttr_codec():
    from pathlib import Path

    import tepl.sims

    for path in Path(tepl.sims.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("from tepl.drivers", "import tepl.drivers")):
                assert line.startswith("from tepl.drivers.tttr import"), f"{path.name}: {line}"
