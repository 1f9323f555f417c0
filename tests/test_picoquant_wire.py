"""The PicoQuant driver against what the real libraries do on the wire (issue 11):

* T2 time tags count the base resolution whatever the binning, while GetResolution reports the binned
  resolution (the vendor's HHLib / TH260Lib demos: SetBinning and GetResolution are "meaningful only in T3
  mode"; ``docs/hardware.md`` §5.2: T2 time = timetag x MeasDesc_GlobalResolution, 1 ps on a HydraHarp);
* ReadFiFo may return short while records still wait (HydraHarp on USB 3.0: whole 128-record chunks, a
  remainder only when no full chunk is left; on USB 2.0: what ~10 ms of transfer moves), so a drain ends
  only at a read of 0 records with the CTC status done, as in the vendor's ``tttrmode.c`` loop;
* the library refuses sync dividers that are not 1, 2, 4, .., SYNCDIVMAX and (HHLib) ReadFiFo counts that
  are not whole 128-record chunks within TTREADMIN..TTREADMAX, so the driver never sends them.

Expectations come from the simulator's ground truth (click times the World emitted, the unit's hidden
delays, the measurement start) and from the twin's reference dot, never from the driver.
"""

from __future__ import annotations

import ctypes

import h5py
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tepl.drivers.picoquant_counter import TcspcCounter
from tepl.drivers.picoquant_lib import MODE_T2, TTREADMAX, TTREADMIN
from tepl.drivers.picoquant_models import HydraHarp, TimeHarp260
from tepl.roles import Range
from tepl.sims.picoquant import SimHHLib, SimTH260Lib
from tests.photon_standins import PhotonStandInWorld
from tests.test_picoquant_driver import hh_lib, th_lib
from tests.test_picoquant_sim import INVALID_ARGUMENT, OK, Harp

BURST_SPAN_PS = 30_000_000  # 30 µs: within one T2 wrap (2**25 ps on a HydraHarp), so no overflow records
USB2_RECORDS_PER_READ = int(0.010 * 30e6 / 4)  # ~10 ms of the simulated HydraHarp's 30 MB/s link


class BurstWorld(PhotonStandInWorld):
    """A dark World under a CW laser (no sync records in T2), except for one burst of ``n`` clicks that falls
    within ``BURST_SPAN_PS`` after the start of the first piece of time the unit asks for after ``arm`` (that
    is the measurement start); the clicks alternate between the two detectors. The burst is the truth."""

    def __init__(self, seed: int = 5):
        super().__init__(rates_per_s=(0.0, 0.0), period_ps=float("inf"), seed=seed)
        self._armed_s: float | None = None
        self._n = 0
        self.burst: tuple[np.ndarray, np.ndarray] | None = None

    def arm(self, n: int) -> None:
        self._armed_s, self._n, self.burst = self.clock.now(), int(n), None

    def detected_photons(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        if self._armed_s is not None and self.burst is None and t0_s >= self._armed_s:
            rng = self.rng(f"burst-{self._n}")
            offsets = np.sort(rng.integers(1000, BURST_SPAN_PS, self._n))
            self.burst = (int(np.ceil(t0_s * 1e12)) + offsets, (np.arange(self._n) % 2).astype(np.int8))
        if self.burst is None or t1_s <= t0_s:
            return np.zeros(0, np.int64), np.zeros(0, np.int8)
        time_ps, channel = self.burst
        lo, hi = np.searchsorted(time_ps, [t0_s * 1e12, t1_s * 1e12])
        return time_ps[lo:hi], channel[lo:hi]


def _expected_t2(world: BurstWorld, unit_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """The burst as the unit times it: (ps from the measurement start, floored to the tag unit; input)."""
    truth = world.ground_truth()["tcspc"]
    time_ps, channel = world.burst
    measured = time_ps + np.asarray(truth["input_delay_ps"], np.int64)[channel] - truth["measurement_start_ps"]
    return (measured // int(unit_ps)) * int(unit_ps), channel


def _sorted_pairs(time_ps: np.ndarray, channel: np.ndarray) -> np.ndarray:
    order = np.lexsort((time_ps, channel))
    return np.stack([np.asarray(channel, np.int64)[order], np.asarray(time_ps, np.int64)[order]])


def _counter(lib, device_cls=HydraHarp, **options) -> TcspcCounter:
    return TcspcCounter(device_cls(lib), sleep=lib.world.clock.advance, acquisition_s=Range(0.001, 100.0, "s"),
                        **options)


# ====================================================================== the simulator answers as the library does
def test_sim_reports_the_binned_resolution_but_tags_t2_in_base_units():
    records, reported = {}, {}
    for binning in (0, 4):
        world = PhotonStandInWorld(seed=21)
        harp = Harp(SimHHLib(world))
        harp.start(MODE_T2)
        harp.ok("SetBinning", binning)
        res, steps = ctypes.c_double(), ctypes.c_int()
        harp.ok("GetBaseResolution", ctypes.byref(res), ctypes.byref(steps))
        reported[binning] = (res.value, harp.get("GetResolution", ctype=ctypes.c_double))
        harp.ok("StartMeas", 20)
        records[binning] = harp.read_all(world)
        truth_unit_ps = world.ground_truth()["tcspc"]["t2_resolution_ps"]
    assert reported[0] == (truth_unit_ps, truth_unit_ps)
    assert reported[4] == (truth_unit_ps, 16 * truth_unit_ps)  # what HH_GetResolution says: base x 2**4
    np.testing.assert_array_equal(records[0], records[4])  # the same clicks, the same tags


@pytest.mark.parametrize("link, n, reads", [
    ("usb3", 1317, [1280, 37, 0]),  # the probe: 37 records wait behind a short read
    ("usb3", 131_072 + 300, [131_072, 256, 44, 0]),
    ("usb3", 100, [100, 0]),
    ("usb2", 100_000, [USB2_RECORDS_PER_READ, 100_000 - USB2_RECORDS_PER_READ, 0]),
])
def test_sim_readfifo_delivers_as_the_link_does(link, n, reads):
    world = BurstWorld()
    harp = Harp(SimHHLib(world, link=link))
    harp.start(MODE_T2)
    world.arm(n)
    harp.ok("StartMeas", 5)
    world.clock.advance(0.01)
    assert harp.get("CTCStatus") == 1
    buffer, got = (ctypes.c_uint32 * TTREADMAX)(), ctypes.c_int()
    sizes = []
    for _ in reads:
        harp.ok("ReadFiFo", buffer, TTREADMAX, ctypes.byref(got))
        sizes.append(got.value)
    assert sizes == reads


def test_sim_refuses_what_the_libraries_refuse():
    hh = Harp(SimHHLib(PhotonStandInWorld()))
    hh.start(MODE_T2)
    for divider in (1, 2, 4, 8, 16):
        assert hh("SetSyncDiv", 0, divider) == OK
    for divider in (0, 3, 5, 6, 12, 15, 17, 32):
        assert hh("SetSyncDiv", 0, divider) == INVALID_ARGUMENT, divider
    buffer, got = (ctypes.c_uint32 * TTREADMAX)(), ctypes.c_int()
    for count in (TTREADMIN, 256, 128 * 77, TTREADMAX):
        assert hh("ReadFiFo", 0, buffer, count, ctypes.byref(got)) == OK, count
    for count in (0, 100, 129, 200, 1000, TTREADMAX - 1, TTREADMAX + 128):
        assert hh("ReadFiFo", 0, buffer, count, ctypes.byref(got)) == INVALID_ARGUMENT, count
    th = Harp(SimTH260Lib(PhotonStandInWorld()))
    th.start(MODE_T2)
    for divider in (1, 2, 4, 8):
        assert th("SetSyncDiv", 0, divider) == OK
    for divider in (3, 5, 6, 7, 16):
        assert th("SetSyncDiv", 0, divider) == INVALID_ARGUMENT, divider
    for count in (TTREADMIN - 1, TTREADMAX + 1):
        assert th("ReadFiFo", 0, buffer, count, ctypes.byref(got)) == INVALID_ARGUMENT, count


# ====================================================================== the driver: T2 times
@pytest.mark.parametrize("make, device_cls", [(SimHHLib, HydraHarp), (SimTH260Lib, TimeHarp260)],
                         ids=["HydraHarp", "TimeHarp260P"])
def test_t2_times_do_not_scale_with_the_binning(make, device_cls):
    blocks = {}
    for binning in (0, 4):
        world = PhotonStandInWorld(seed=31)
        lib = make(world)
        counter = _counter(lib, device_cls, binning=binning)
        blocks[binning] = counter.t2(0.02)
        truth = world.ground_truth()["tcspc"]
        assert blocks[binning].resolution_ps == truth["t2_resolution_ps"]
        assert counter.resolution_ps() == truth["t2_resolution_ps"]  # the counter is in T2 mode now
        # every click lies within the acquisition, and after its laser pulse by its decay (2 ns / 8 ns)
        time_ps = blocks[binning].time_ps
        assert time_ps.size > 1000 and 0 <= time_ps.min() and time_ps.max() < 0.02e12
        for ch, tau_ns in enumerate(world.detection.tau_ns):
            mine = blocks[binning].channel == ch
            absolute = time_ps[mine] + truth["measurement_start_ps"] - truth["input_delay_ps"][ch]
            unit = truth["t2_resolution_ps"]
            phase_ps = np.mod(absolute + unit, world.laser.period_ps) - 0.5 * unit
            sigma = tau_ns * 1000.0 / np.sqrt(mine.sum())
            assert abs(phase_ps.mean() - tau_ns * 1000.0) < 5 * sigma + unit, (binning, ch, phase_ps.mean())
    np.testing.assert_array_equal(blocks[0].time_ps, blocks[4].time_ps)
    np.testing.assert_array_equal(blocks[0].channel, blocks[4].channel)


# ====================================================================== the driver: the FIFO tail
def _drain_through_the_driver(link: str, n: int, make=SimHHLib, device_cls=HydraHarp) -> None:
    world = BurstWorld(seed=n % 1000)
    lib = make(world, link=link)
    counter = _counter(lib, device_cls)
    counter.t2(0.001)  # into T2 mode: the next measurement starts within a few library calls
    world.arm(n)
    block = counter.t2(0.01)  # the first look at the FIFO comes after the acquisition: it holds the burst
    truth = world.ground_truth()["tcspc"]
    assert block.n_photons == n, f"{link}: {n} records in the FIFO, {block.n_photons} read"
    expected = _expected_t2(world, truth["t2_resolution_ps"])
    np.testing.assert_array_equal(_sorted_pairs(block.time_ps, block.channel), _sorted_pairs(*expected))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 1_000_000), link=st.sampled_from(["usb3", "usb2"]))
@example(n=0, link="usb3")
@example(n=1317, link="usb3")  # the probe: 1280 read, 37 lost
@example(n=131_072 + 200, link="usb3")
@example(n=1_000_000, link="usb3")
@example(n=100_000, link="usb2")
@example(n=1_000_000, link="usb2")
def test_a_fifo_of_any_size_is_drained_record_for_record(n, link):
    _drain_through_the_driver(link, n)


@pytest.mark.parametrize("n", [0, 1317, 262_144 + 1])
def test_timeharp_fifo_is_drained_record_for_record(n):
    _drain_through_the_driver("pcie", n, SimTH260Lib, TimeHarp260)


# ====================================================================== the driver: what the library refuses
@pytest.mark.parametrize("device_cls, make_lib, divider", [
    (HydraHarp, hh_lib, 3), (HydraHarp, hh_lib, 12), (TimeHarp260, th_lib, 6), (TimeHarp260, th_lib, 16)])
def test_a_divider_the_library_refuses_is_never_sent(device_cls, make_lib, divider):
    device = device_cls(lib := make_lib())
    with pytest.raises(ValueError, match=rf"{device.spec.family} #0 .*sync divider = {divider}\b"):
        device.set_sync_divider(divider)
    with pytest.raises(ValueError, match=rf"{device.spec.family} #0 .*sync_divider = {divider}\b"):
        TcspcCounter(device, sleep=lambda s: None, acquisition_s=Range(0.001, 10.0, "s"), sync_divider=divider)
    assert lib.calls == []  # refused before the unit was even opened


@pytest.mark.parametrize("records", [200, TTREADMIN + 1, TTREADMAX - 64])
def test_a_fifo_count_the_library_refuses_is_never_sent(records):
    device = HydraHarp(lib := hh_lib())
    with pytest.raises(ValueError, match=rf"HydraHarp #0 .*{records} records"):
        device.read_fifo((ctypes.c_uint32 * records)())
    assert lib.calls == []


@pytest.mark.parametrize("make, device_cls, dividers", [(SimHHLib, HydraHarp, [1, 2, 4, 8, 16]),
                                                        (SimTH260Lib, TimeHarp260, [1, 2, 4, 8])])
def test_the_driver_lets_through_exactly_the_dividers_the_library_takes(make, device_cls, dividers):
    """The manuals' "1, 2, 4, .., SYNCDIVMAX": each divider the driver sends is accepted (a refusal would be a
    DeviceError), every other one is stopped in the driver."""
    device = device_cls(make(PhotonStandInWorld()))
    device.open()
    device.initialize("t2")
    sent = []
    for divider in range(0, 40):
        try:
            device.set_sync_divider(divider)
        except ValueError:
            continue
        sent.append(divider)
    assert sent == dividers


# ====================================================================== acceptance: g2 of the reference dot
def _hbt_station(binning: int):
    from tepl.config import CONFIG_DIR, parse_config
    from tepl.station import build_station

    data = yaml.safe_load((CONFIG_DIR / "confocal-hbt-sim.yaml").read_text())
    data["simulation"]["drift_nm_per_s"] = [0.0, 0.0]
    data["instruments"]["tcspc"]["binning"] = binning
    return build_station(parse_config(yaml.safe_dump(data), "confocal-hbt-sim.yaml"))


def test_g2_of_the_reference_dot_is_the_same_at_binning_4(tmp_path):
    from tepl.analysis.g2 import fit_g2
    from tepl.data.runfile import read_run
    from tepl.procedures import run_procedure

    runs, base_ps = {}, {}
    for binning in (0, 4):
        station = _hbt_station(binning)
        try:
            base_ps[binning] = station.tcspc.device.lib._base_resolution_ps()  # the unit's truth
            ref = station.world.sample.ground_truth()["reference_dot"]
            path = run_procedure("g2", station, tmp_path / f"g2-binning{binning}.h5", x_um=ref["x_nm"] / 1000.0,
                                 y_um=ref["y_nm"] / 1000.0, acquisition_s=10.0, bin_ns=0.5, window_ns=100.0)
        finally:
            station.close()
        run = read_run(path)
        assert run.status == "complete"
        fit = fit_g2(run.data["lag_ns"], run.data["g2"], counts=run.data["coincidences"])
        assert abs(fit.tau_ns - ref["tau_ns"]) < 0.15 * ref["tau_ns"], (binning, fit, ref["tau_ns"])
        runs[binning] = (run, fit)
    (run0, fit0), (run4, fit4) = runs[0], runs[4]
    np.testing.assert_array_equal(run4.data["lag_ns"], run0.data["lag_ns"])
    np.testing.assert_array_equal(run4.data["coincidences"], run0.data["coincidences"])
    assert fit4.tau_ns == pytest.approx(fit0.tau_ns, rel=1e-9)
    for binning in (0, 4):  # the file says what its tags count: the base resolution, whatever the binning
        with h5py.File(tmp_path / f"g2-binning{binning}.h5", "r") as f:
            assert f["entry/tags"].attrs["resolution_ps"] == pytest.approx(base_ps[binning])
