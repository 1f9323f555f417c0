"""Simulated HHLib / TH260Lib against ground truth: a stand-in World with known count rates and a known
mono-exponential decay at a 2 MHz laser. The libraries are called the way a C program calls them (ctypes
outputs, char buffers, uint32 arrays); records are decoded with tepl.drivers.tttr and, independently, ptufile."""

from __future__ import annotations

import ctypes

import numpy as np
import ptufile
import pytest
from scipy import stats

from tepl.data.ptu import write_ptu
from tepl.drivers.picoquant_counter import TcspcCounter
from tepl.drivers.picoquant_lib import (
    FLAG_FIFOFULL,
    FLAG_SYNC_LOST,
    MODE_HIST,
    MODE_T2,
    MODE_T3,
    TTREADMAX,
    TTREADMIN,
    WARNING_INPT_RATE_RATIO,
    WARNING_SYNC_RATE_ZERO,
)
from tepl.drivers.picoquant_models import HydraHarp
from tepl.drivers.tttr_decode import T2Decoder, T3Decoder
from tepl.drivers.tttr_layouts import RECORD_TYPES
from tepl.roles import DeviceError, Range
from tepl.sims.picoquant import SimHHLib, SimTH260Lib
from tests.photon_standins import PhotonStandInWorld

OK, OPEN_FAIL, BUSY, NOT_OPEN, INVALID_ARGUMENT, INVALID_MODE, NOT_INITIALIZED, UNSUPPORTED = \
    0, -1, -2, -10, -17, -18, -22, -80


class Harp:
    """Calls a simulated library the way a C program does."""

    def __init__(self, lib, devidx: int = 0):
        self.lib, self.devidx = lib, devidx

    def __call__(self, name, *args):
        return getattr(self.lib, f"{self.lib.PREFIX}_{name}")(*args)

    def ok(self, name, *args):
        code = self(name, self.devidx, *args)
        assert code == OK, (name, code)

    def get(self, name, *inputs, ctype=ctypes.c_int):
        out = ctype()
        self.ok(name, *inputs, ctypes.byref(out))
        return out.value

    def start(self, mode: int, refsource: bool = True):
        serial = ctypes.create_string_buffer(9)
        assert self("OpenDevice", self.devidx, serial) == OK
        if self.lib.PREFIX == "HH":
            self.ok("Initialize", mode, 0)
        else:
            self.ok("Initialize", mode)
        return serial.value.decode()

    def read_all(self, world, poll_s: float = 0.05) -> np.ndarray:
        """Poll the FIFO like the vendor demo until the acquisition is over and the FIFO is empty."""
        buffer, n = (ctypes.c_uint32 * TTREADMAX)(), ctypes.c_int()
        chunks = []
        while True:
            self.ok("ReadFiFo", buffer, TTREADMAX, ctypes.byref(n))
            if n.value:
                chunks.append(np.ctypeslib.as_array(buffer)[: n.value].copy())
            elif self.get("CTCStatus"):
                return np.concatenate(chunks) if chunks else np.zeros(0, np.uint32)
            else:
                world.clock.advance(poll_s)

    def rates(self):
        return self.get("GetSyncRate"), [self.get("GetCountRate", ch) for ch in range(self.lib.n_channels)]


@pytest.fixture
def world():
    return PhotonStandInWorld(rates_per_s=(80_000.0, 30_000.0), tau_ns=(2.0, 8.0), seed=11)


def _within(measured, expected, n_sigma=5.0):
    """Poisson agreement of a count with its expectation."""
    return abs(measured - expected) <= n_sigma * np.sqrt(expected) + 1


# ====================================================================== protocol: identity, order, arguments
def test_identity_and_devices(world):
    hh = Harp(SimHHLib(world, serial="1043210"))
    text = ctypes.create_string_buffer(41)
    assert hh("GetLibraryVersion", text) == OK and text.value == b"3.0"
    assert hh("GetErrorString", text, -17) == OK and text.value == b"HH_ERROR_INVALID_ARGUMENT"
    assert hh("OpenDevice", 1, text) == OPEN_FAIL and text.value == b""
    assert hh("OpenDevice", 8, text) == INVALID_ARGUMENT
    assert hh.start(MODE_HIST) == "1043210"
    model, part, version = (ctypes.create_string_buffer(17) for _ in range(3))
    hh.ok("GetHardwareInfo", model, part, version)
    assert model.value == b"HydraHarp 400"
    assert hh.get("GetNumOfInputChannels") == 2
    base, steps = ctypes.c_double(), ctypes.c_int()
    hh.ok("GetBaseResolution", ctypes.byref(base), ctypes.byref(steps))
    assert (base.value, steps.value) == (1.0, 26)
    th = Harp(SimTH260Lib(world, model="TimeHarp 260 N", n_channels=1))
    assert th("GetLibraryVersion", text) == OK and text.value == b"3.1"
    assert th("GetErrorString", text, -80) == OK and text.value == b"TH260_ERROR_UNSUPPORTED_FUNCTION"
    th.start(MODE_T2)
    th.ok("GetHardwareInfo", model, part, version)
    assert model.value == b"TimeHarp 260 N" and th.get("GetNumOfInputChannels") == 1
    assert th.get("GetResolution", ctype=ctypes.c_double) == 250.0
    assert not hasattr(th.lib, "TH260_Calibrate") and not hasattr(hh.lib, "HH_SetSyncEdgeTrg")
    truth = world.ground_truth()["tcspc"]
    assert truth["model"] == "TimeHarp 260 N" and len(truth["input_delay_ps"]) == 1


def test_wrong_order_of_calls(world):
    hh = Harp(SimHHLib(world))
    assert hh("SetBinning", 0, 2) == NOT_OPEN
    serial = ctypes.create_string_buffer(9)
    assert hh("OpenDevice", 0, serial) == OK
    assert hh("StartMeas", 0, 100) == NOT_INITIALIZED  # start before initialize
    assert hh("GetHardwareInfo", 0, serial, serial, serial) == NOT_INITIALIZED
    assert hh("Initialize", 0, 5, 0) == INVALID_MODE
    hh.ok("Initialize", MODE_HIST, 0)
    n = ctypes.c_int()
    assert hh("ReadFiFo", 0, (ctypes.c_uint32 * TTREADMAX)(), TTREADMAX, ctypes.byref(n)) == INVALID_MODE
    hh.ok("StartMeas", 100)
    assert hh("StartMeas", 0, 100) == BUSY
    hh.ok("StopMeas")
    hh.ok("StopMeas")  # harmless when nothing runs
    hh.ok("Initialize", MODE_T2, 0)
    assert hh("GetHistogram", 0, (ctypes.c_uint32 * 65536)(), 0, 0) == INVALID_MODE
    hh.ok("CloseDevice")
    assert hh("GetFlags", 0, ctypes.byref(n)) == NOT_OPEN
    assert hh("CloseDevice", 3) == OK  # no harm closing every index


_OUT = object()  # placeholder for a fresh ctypes output


@pytest.mark.parametrize("name, args", [
    ("SetSyncCFD", (1001, 10)), ("SetSyncCFD", (50, 41)), ("SetSyncCFD", (-5, 10)),
    ("SetInputCFD", (0, 50, 41)), ("SetInputCFD", (2, 50, 10)), ("SetInputCFD", (-1, 50, 10)),
    ("SetBinning", (26,)), ("SetBinning", (2.0,)), ("SetSyncDiv", (17,)), ("SetSyncDiv", (0,)),
    ("SetOffset", (500_001,)), ("SetHistoLen", (7, _OUT)), ("StartMeas", (0,)), ("StartMeas", (360_000_001,)),
    ("SetInputChannelOffset", (0, 100_000)), ("SetSyncChannelOffset", (-100_000,)),
    ("SetInputChannelEnable", (0, 2)), ("GetCountRate", (5, _OUT)), ("SetStopOverflow", (1, 0)),
    ("SetMarkerEdges", (1, 0, 2, 1)),
])
def test_hydraharp_out_of_range_arguments(world, name, args):
    hh = Harp(SimHHLib(world))
    hh.start(MODE_HIST)
    args = tuple(ctypes.byref(ctypes.c_int()) if a is _OUT else a for a in args)
    assert hh(name, 0, *args) == INVALID_ARGUMENT


def test_timeharp_arguments_follow_the_board(world):
    pico = Harp(SimTH260Lib(world, model="TimeHarp 260 P"))
    pico.start(MODE_T3)
    assert pico("SetSyncCFD", 0, 50, -10) == INVALID_ARGUMENT  # the P board's CFD levels are negative
    assert pico("SetSyncCFD", 0, -1201, -10) == INVALID_ARGUMENT
    assert pico("SetSyncEdgeTrg", 0, -50, 0) == UNSUPPORTED
    assert pico("SetSyncDiv", 0, 9) == INVALID_ARGUMENT  # SYNCDIVMAX 8
    assert pico("SetOffset", 0, 100_000_001) == INVALID_ARGUMENT
    assert pico("SetHistoLen", 0, 6, ctypes.byref(ctypes.c_int())) == INVALID_ARGUMENT  # MAXLENCODE 5
    pico.ok("SetSyncCFD", -100, -20)
    nano = Harp(SimTH260Lib(world, model="TimeHarp 260 N"))
    nano.start(MODE_T3)
    assert nano("SetInputCFD", 0, 0, -50, -10) == UNSUPPORTED
    assert nano("SetInputEdgeTrg", 0, 0, 1201, 0) == INVALID_ARGUMENT
    assert nano("SetInputEdgeTrg", 0, 0, -50, 2) == INVALID_ARGUMENT
    nano.ok("SetInputEdgeTrg", 0, -50, 0)
    assert nano("SetTimingMode", 0, 1) == UNSUPPORTED


def test_ctc_status_and_elapsed_time_follow_the_clock(world):
    hh = Harp(SimHHLib(world))
    hh.start(MODE_T3)
    hh.ok("StartMeas", 100)
    assert hh.get("CTCStatus") == 0
    world.clock.advance(0.05)
    assert hh.get("GetElapsedMeasTime", ctype=ctypes.c_double) == pytest.approx(50.0, abs=0.5)
    world.clock.advance(0.06)
    assert hh.get("CTCStatus") == 1
    assert hh.get("GetElapsedMeasTime", ctype=ctypes.c_double) == pytest.approx(100.0)
    hh.ok("StartMeas", 1000)
    world.clock.advance(0.2)
    hh.ok("StopMeas")
    world.clock.advance(1.0)
    assert hh.get("CTCStatus") == 1
    assert hh.get("GetElapsedMeasTime", ctype=ctypes.c_double) == pytest.approx(200.0, abs=0.5)


# ====================================================================== count rates
@pytest.mark.parametrize("make", [lambda w: SimHHLib(w), lambda w: SimTH260Lib(w, model="TimeHarp 260 P")])
def test_count_rates_match_the_true_rates(world, make):
    harp = Harp(make(world))
    harp.start(MODE_T3)
    assert harp.rates() == (0, [0, 0])  # no complete 100 ms gate since Initialize
    world.clock.advance(0.15)
    before = world.clock.now()
    sync, rates = harp.rates()
    assert world.clock.now() - before == pytest.approx(3 * harp.lib.model.wire_time_s)  # only the call times
    assert sync == 2_000_000
    for rate, true in zip(rates, world.detection.rates_per_s, strict=True):
        assert _within(rate * 0.1, true * 0.1)
    assert harp.rates() == (sync, rates)  # one value per gate, as the hardware registers hold it
    harp.ok("SetSyncDiv", 4)
    world.clock.advance(0.15)
    assert harp.get("GetSyncRate") == 500_000
    assert harp.get("GetSyncPeriod", ctype=ctypes.c_double) == pytest.approx(4 * 500e-9)
    world.set_rates((150_000.0, 0.0))
    world.clock.advance(0.1)
    sync, rates = harp.rates()
    assert _within(rates[0] * 0.1, 15_000) and rates[1] == 0


def test_discriminator_levels_beyond_the_pulse_count_nothing(world):
    hh = Harp(SimHHLib(world, pulse_height_mV=400.0))
    hh.start(MODE_T2)
    hh.ok("SetInputCFD", 1, 500, 10)
    hh.ok("SetSyncCFD", 900, 10)
    world.clock.advance(0.15)
    sync, rates = hh.rates()
    assert sync == 0 and rates[0] > 0 and rates[1] == 0
    nano = Harp(SimTH260Lib(world, model="TimeHarp 260 N", serial="1500124"))
    nano.start(MODE_T2)
    nano.ok("SetInputEdgeTrg", 0, 50, 1)  # positive level: the negative pulses never cross it
    nano.ok("SetInputEdgeTrg", 1, -50, 0)
    world.clock.advance(0.15)
    assert nano.rates()[1][0] == 0 and nano.rates()[1][1] > 0


def test_warnings_sync_zero_and_pile_up(world):
    cw = PhotonStandInWorld(period_ps=float("inf"), seed=3)
    hh = Harp(SimHHLib(cw))
    hh.start(MODE_T3)
    cw.clock.advance(0.15)
    hh.rates()
    bits = hh.get("GetWarnings")
    assert bits & WARNING_SYNC_RATE_ZERO
    text = ctypes.create_string_buffer(16385)
    hh.ok("GetWarningsText", text, bits)
    assert b"WARNING_SYNC_RATE_ZERO" in text.value
    assert hh.get("GetSyncPeriod", ctype=ctypes.c_double) == 0.0
    bright = PhotonStandInWorld(rates_per_s=(300_000.0, 10_000.0), seed=4)  # 15 % of the 2 MHz sync
    hh = Harp(SimHHLib(bright))
    hh.start(MODE_HIST)
    bright.clock.advance(0.15)
    hh.rates()
    assert hh.get("GetWarnings") & WARNING_INPT_RATE_RATIO
    assert not hh.get("GetWarnings") & WARNING_SYNC_RATE_ZERO


# ====================================================================== T3, T2 and histograms against truth
def _ptufile_decode(tmp_path, records, record_type, global_s, resolution_s):
    path = write_ptu(tmp_path / f"{record_type}.ptu", records, record_type, global_s, resolution_s)
    with ptufile.PtuFile(path) as ptu:
        return ptu.decode_records()


def test_t3_stream_reproduces_decay_and_counts(world, tmp_path):
    hh = Harp(SimHHLib(world))
    hh.start(MODE_T3)
    hh.ok("SetBinning", 4)  # 16 ps bins, 524 ns window: the whole 500 ns period
    acquisition_s = 1.0
    hh.ok("StartMeas", int(acquisition_s * 1000))
    records = hh.read_all(world)
    assert hh.get("GetFlags") & FLAG_FIFOFULL == 0
    nsync, dtime, channel, _, _ = T3Decoder(RECORD_TYPES["HydraHarp2T3"]).decode(records)
    resolution_ps = hh.get("GetResolution", ctype=ctypes.c_double)
    assert resolution_ps == 16.0
    truth = world.ground_truth()["tcspc"]
    assert np.all(np.diff(nsync) >= 0) and nsync.max() < acquisition_s * 2e6
    for ch, (rate, tau_ns) in enumerate(zip(world.detection.rates_per_s, world.detection.tau_ns, strict=True)):
        mine = channel == ch
        assert _within(mine.sum(), rate * acquisition_s)
        delay_ps = (dtime[mine] + 0.5) * resolution_ps - (truth["input_delay_ps"][ch] - truth["sync_delay_ps"])
        sigma = tau_ns * 1000.0 / np.sqrt(mine.sum())
        assert abs(delay_ps.mean() - tau_ns * 1000.0) < 5 * sigma + 1.0, (ch, delay_ps.mean())
        assert delay_ps.min() > -resolution_ps  # nothing before the pulse
    # ptufile reads the same photons from the same records
    ref = _ptufile_decode(tmp_path, records, "HydraHarp2T3", 500e-9, 16e-12)
    photons = ref[ref["channel"] >= 0]
    np.testing.assert_array_equal(photons["time"], nsync)
    np.testing.assert_array_equal(photons["dtime"], dtime)
    np.testing.assert_array_equal(photons["channel"], channel)


@pytest.mark.parametrize("make, record_type", [(lambda w: SimHHLib(w), "HydraHarp2T2"),
                                               (lambda w: SimTH260Lib(w), "TimeHarp260PT2")])
def test_t2_tags_are_continuous_across_overflows(world, tmp_path, make, record_type):
    harp = Harp(make(world))
    harp.start(MODE_T2)
    acquisition_s = 0.2  # ~6000 overflows of 2**25 ps on the HydraHarp, ~240 of 2**25 x 25 ps on the TimeHarp
    harp.ok("StartMeas", int(acquisition_s * 1000))
    records = harp.read_all(world, poll_s=0.03)
    base, steps = ctypes.c_double(), ctypes.c_int()  # T2 tags count the base resolution, not GetResolution's
    harp.ok("GetBaseResolution", ctypes.byref(base), ctypes.byref(steps))
    resolution_ps = base.value
    decoder = T2Decoder(RECORD_TYPES[record_type])
    tags, channel, _, _ = decoder.decode(records)
    time_ps = tags * int(resolution_ps)
    assert np.all(np.diff(time_ps) >= 0) and 0 <= time_ps.min() and time_ps.max() < acquisition_s * 1e12
    assert abs(decoder.n_sync - acquisition_s * 2e6) <= 1  # one sync record per laser pulse
    truth = world.ground_truth()["tcspc"]
    period = world.laser.period_ps
    for ch, (rate, tau_ns) in enumerate(zip(world.detection.rates_per_s, world.detection.tau_ns, strict=True)):
        mine = channel == ch
        assert _within(mine.sum(), rate * acquisition_s)
        # a lost or doubled overflow would move tags by 2**25 units: the phase to the laser would smear out
        absolute_ps = time_ps[mine] + truth["measurement_start_ps"] - truth["input_delay_ps"][ch]
        # tags are floored to the resolution: a click just after its pulse may read up to one tag early
        phase_ps = np.mod(absolute_ps + resolution_ps, period) - 0.5 * resolution_ps
        sigma = tau_ns * 1000.0 / np.sqrt(mine.sum())
        assert abs(phase_ps.mean() - tau_ns * 1000.0) < 5 * sigma + resolution_ps, (ch, phase_ps.mean())
    ref = _ptufile_decode(tmp_path, records, record_type, resolution_ps * 1e-12, resolution_ps * 1e-12)
    events = ref[ref["channel"] >= 0]  # ptufile reports sync (and input 0) as channel 0, overflows as -1
    assert np.all(np.diff(events["time"].astype(np.int64)) >= 0)
    assert (events["channel"] == 1).sum() == (channel == 1).sum()
    assert (events["channel"] == 0).sum() == (channel == 0).sum() + decoder.n_sync
    np.testing.assert_array_equal(events["time"][events["channel"] == 1], tags[channel == 1])


def test_histogram_mode_equals_the_t3_histogram_statistically(world):
    hh = Harp(SimHHLib(world))

    def decay(mode):
        hh.start(mode)
        hh.ok("SetBinning", 4)
        hh.ok("SetOffset", 1)  # ns
        if mode == MODE_HIST:
            assert hh.get("SetHistoLen", 5) == 32768
            hh.ok("ClearHistMem")
        hh.ok("StartMeas", 1000)
        if mode == MODE_T3:
            _, dtime, channel, _, _ = T3Decoder(RECORD_TYPES["HydraHarp2T3"]).decode(hh.read_all(world))
            return np.stack([np.bincount(dtime[channel == ch], minlength=32768) for ch in range(2)])
        world.clock.advance(1.01)
        assert hh.get("CTCStatus") == 1
        counts = np.zeros((2, 32768), np.int64)
        for ch in range(2):
            buffer = (ctypes.c_uint32 * 32768)()
            hh.ok("GetHistogram", buffer, ch, 0)
            counts[ch] = np.ctypeslib.as_array(buffer)
        return counts

    hist, t3 = decay(MODE_HIST), decay(MODE_T3)
    for ch in range(2):
        a, b = hist[ch, :2048].reshape(-1, 64).sum(1), t3[ch, :2048].reshape(-1, 64).sum(1)  # 1 ns bins to 32 ns
        used = (a + b) > 0
        chi2 = np.sum((a[used] - b[used]) ** 2 / (a[used] + b[used]))
        assert stats.chi2.sf(chi2, used.sum()) > 1e-4, (ch, chi2, used.sum())
        assert _within(hist[ch].sum(), world.detection.rates_per_s[ch])


def test_offsets_binning_and_enable_move_the_decay(world):
    hh = Harp(SimHHLib(world))

    def mean_delay_ps(**settings):
        hh.start(MODE_HIST)
        hh.ok("SetBinning", settings.get("binning", 3))
        hh.ok("SetInputChannelOffset", 0, settings.get("input_ps", 0))
        hh.ok("SetSyncChannelOffset", settings.get("sync_ps", 0))
        hh.ok("SetOffset", settings.get("offset_ns", 0))
        hh.ok("SetInputChannelEnable", 1, settings.get("enable_1", 1))
        hh.ok("StartMeas", 500)
        world.clock.advance(0.51)
        res = hh.get("GetResolution", ctype=ctypes.c_double)
        counts = []
        for ch in range(2):
            buffer = (ctypes.c_uint32 * 65536)()
            hh.ok("GetHistogram", buffer, ch, 1)
            counts.append(np.ctypeslib.as_array(buffer).astype(np.int64))
        centres = (np.arange(65536) + 0.5) * res
        return res, (counts[0] * centres).sum() / counts[0].sum(), counts[1].sum()

    res, plain, n1 = mean_delay_ps()
    assert res == 8.0 and n1 > 0
    assert mean_delay_ps(binning=5)[0] == 32.0
    assert mean_delay_ps(input_ps=5000)[1] - plain == pytest.approx(5000.0, abs=60.0)
    assert mean_delay_ps(sync_ps=1000)[1] - plain == pytest.approx(-1000.0, abs=60.0)
    assert mean_delay_ps(offset_ns=1)[1] - plain == pytest.approx(-1000.0, abs=60.0)
    assert mean_delay_ps(enable_1=0)[2] == 0


def test_t3_without_sync_records_nothing_and_flags_it():
    cw = PhotonStandInWorld(period_ps=float("inf"), seed=5)
    hh = Harp(SimHHLib(cw))
    hh.start(MODE_T3)
    hh.ok("StartMeas", 100)
    records = hh.read_all(cw)
    assert records.size == 0 and hh.get("GetFlags") & FLAG_SYNC_LOST


# ====================================================================== FIFO
def test_fifo_overrun_when_reads_are_too_slow(world):
    hh = Harp(SimHHLib(world, fifo_records=50_000))
    hh.start(MODE_T2)
    hh.ok("StartMeas", 1000)
    world.clock.advance(0.01)  # 20 000 sync records + photons: fits
    assert hh.get("GetFlags") & FLAG_FIFOFULL == 0
    world.clock.advance(0.1)  # 200 000 more: the FIFO overflows
    assert hh.get("GetFlags") & FLAG_FIFOFULL
    records = hh.read_all(world)
    assert records.size == 50_000  # what the FIFO held, nothing after
    tags, _, _, _ = T2Decoder(RECORD_TYPES["HydraHarp2T2"]).decode(records)
    assert np.all(np.diff(tags) >= 0)
    hh.ok("StartMeas", 100)  # a new measurement clears the flag
    assert hh.get("GetFlags") & FLAG_FIFOFULL == 0


def test_fifo_read_often_enough_never_overruns(world):
    hh = Harp(SimHHLib(world, fifo_records=50_000))
    hh.start(MODE_T2)
    hh.ok("StartMeas", 300)
    records = hh.read_all(world, poll_s=0.01)
    assert hh.get("GetFlags") & FLAG_FIFOFULL == 0
    assert records.size > 600_000


def test_readfifo_hands_out_at_most_count(world):
    hh = Harp(SimHHLib(world))
    hh.start(MODE_T2)
    hh.ok("StartMeas", 10)
    world.clock.advance(0.02)
    small, n = (ctypes.c_uint32 * TTREADMIN)(), ctypes.c_int()
    sizes = []
    for _ in range(3):
        hh.ok("ReadFiFo", small, TTREADMIN, ctypes.byref(n))
        sizes.append(n.value)
    assert sizes == [TTREADMIN] * 3
    rest = hh.read_all(world)
    assert 3 * TTREADMIN + rest.size > 20_000  # the 10 ms of syncs and photons, none lost
    assert hh("ReadFiFo", 0, small, TTREADMIN - 1, ctypes.byref(n)) == INVALID_ARGUMENT
    assert hh("ReadFiFo", 0, small, TTREADMAX + 1, ctypes.byref(n)) == INVALID_ARGUMENT


def test_driver_reports_a_fifo_overrun_and_stops(world):
    lib = SimHHLib(world, fifo_records=20_000)
    counter = TcspcCounter(HydraHarp(lib), sleep=world.clock.advance, acquisition_s=Range(0.001, 10.0, "s"),
                           fifo_poll_s=0.05)
    with pytest.raises(DeviceError, match="FIFO overrun"):
        counter.t2(1.0)
    assert Harp(lib).get("CTCStatus") == 1  # the measurement was stopped
