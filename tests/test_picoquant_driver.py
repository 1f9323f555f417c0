"""PicoQuant HydraHarp / TimeHarp 260 driver against a recording library: every call's name and arguments,
the header limits checked before anything is sent, error codes turned into DeviceError with the library's text,
and the PhotonCounter glue (configuration after each Initialize, FIFO draining and decoding, stops)."""

from __future__ import annotations

import ctypes
import inspect
import shutil
import subprocess

import numpy as np
import pytest

from tepl.drivers.picoquant_counter import TcspcCounter
from tepl.drivers.picoquant_lib import (
    FLAG_FIFOFULL,
    HH_SIGNATURES,
    TH260_SIGNATURES,
    TTREADMAX,
    load_hhlib,
    load_th260lib,
)
from tepl.drivers.picoquant_models import HydraHarp, TimeHarp260
from tepl.drivers.tttr_encode import T2Encoder, T3Encoder
from tepl.drivers.tttr_layouts import RECORD_TYPES
from tepl.roles import DeviceError, Range
from tepl.sims.picoquant import SimHHLib, SimTH260Lib


def _plain(arg):
    if isinstance(arg, ctypes.Array):
        return f"buf[{len(arg)}]"
    if hasattr(arg, "_obj"):
        return "out"
    return arg.value if isinstance(arg, ctypes._SimpleCData) else arg


class RecordingHarpLib:
    """Records every call as (name, plain args). Answers: ``returns`` (code, or a list consumed in order),
    ``outputs`` (values for the byref outputs, a list of tuples consumed in order), ``texts`` (strings for the
    char buffers), ``fifo`` (record arrays handed out by successive ReadFiFo calls), ``histograms``."""

    def __init__(self, prefix, returns=None, outputs=None, texts=None, fifo=None, histograms=None):
        self.prefix, self.calls = prefix, []
        self.returns, self.outputs, self.texts = dict(returns or {}), dict(outputs or {}), dict(texts or {})
        self.fifo = [np.asarray(f, np.uint32) for f in (fifo or [])]
        self.histograms = histograms or {}

    @staticmethod
    def _next(table, name, default):
        value = table.get(name, default)
        return (value.pop(0) if len(value) > 1 else value[0]) if isinstance(value, list) else value

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args):
            self.calls.append((name, tuple(_plain(a) for a in args)))
            short = name.split("_", 1)[1]
            if short == "ReadFiFo":
                chunk = self.fifo.pop(0) if self.fifo else np.zeros(0, np.uint32)
                np.ctypeslib.as_array(args[1])[: chunk.size] = chunk
                args[3]._obj.value = chunk.size
            elif short == "GetHistogram":
                out = np.ctypeslib.as_array(args[1])
                out[:] = self.histograms[args[2]][: out.size]
            elif short == "GetErrorString":
                args[0].value = f"text for {args[1]}".encode()
            else:
                outs = iter(self._next(self.outputs, name, ()))
                texts = iter(self.texts.get(name, ()))
                for a in args:
                    if hasattr(a, "_obj"):
                        a._obj.value = next(outs, 0)
                    elif isinstance(a, ctypes.Array) and a._type_ is ctypes.c_char:
                        a.value = next(texts).encode()
            return self._next(self.returns, name, 0)

        return call

    def names(self):
        return [name for name, _ in self.calls]


def hh_lib(**kw):
    outputs = {"HH_GetNumOfInputChannels": (2,), "HH_GetBaseResolution": (1.0, 26), "HH_GetResolution": (16.0,),
               "HH_SetHistoLen": (65536,), "HH_GetSyncRate": (2_000_000,), "HH_GetCountRate": (50_000,),
               "HH_GetSyncPeriod": (5e-7,), "HH_CTCStatus": (0,), "HH_GetFlags": (0,),
               "HH_GetElapsedMeasTime": (100.0,)}
    outputs.update(kw.pop("outputs", {}))
    texts = {"HH_GetLibraryVersion": ("3.0",), "HH_OpenDevice": ("1043210",),
             "HH_GetHardwareInfo": ("HydraHarp 400", "930004", "2.0"), "HH_GetSerialNumber": ("1043210",)}
    return RecordingHarpLib("HH", outputs=outputs, texts=texts, **kw)


def th_lib(model="TimeHarp 260 P", **kw):
    base = 25.0 if model.endswith("P") else 250.0
    outputs = {"TH260_GetNumOfInputChannels": (2,), "TH260_GetBaseResolution": (base, 22),
               "TH260_GetResolution": (base,), "TH260_SetHistoLen": (32768,), "TH260_GetSyncRate": (2_000_000,),
               "TH260_GetCountRate": (50_000,), "TH260_GetSyncPeriod": (5e-7,), "TH260_CTCStatus": (0,),
               "TH260_GetFlags": (0,), "TH260_GetElapsedMeasTime": (100.0,)}
    outputs.update(kw.pop("outputs", {}))
    texts = {"TH260_GetLibraryVersion": ("3.1",), "TH260_OpenDevice": ("1500123",),
             "TH260_GetHardwareInfo": (model, "930022", "1.1")}
    return RecordingHarpLib("TH260", outputs=outputs, texts=texts, **kw)


# ====================================================================== device calls
def test_hydraharp_open_initialize_and_identity():
    dev = HydraHarp(lib := hh_lib(), device_index=0)
    assert dev.library_version() == "3.0"
    assert dev.open() == "1043210"
    dev.initialize("t3")
    info = dev.hardware_info()
    assert dev.base_resolution() == (1.0, 26)
    dev.initialize("hist", reference="external")
    assert lib.calls == [
        ("HH_GetLibraryVersion", ("buf[9]",)), ("HH_OpenDevice", (0, "buf[9]")), ("HH_Initialize", (0, 3, 0)),
        ("HH_GetNumOfInputChannels", (0, "out")), ("HH_GetHardwareInfo", (0, "buf[17]", "buf[9]", "buf[17]")),
        ("HH_GetBaseResolution", (0, "out", "out")), ("HH_Initialize", (0, 0, 1)),
        ("HH_GetNumOfInputChannels", (0, "out")),
    ]
    assert info == {"model": "HydraHarp 400", "part_number": "930004", "version": "2.0"}
    assert (dev.mode, dev.n_inputs) == ("hist", 2)


def test_hydraharp_settings_and_measurement_calls():
    dev = HydraHarp(lib := hh_lib(fifo=[[7, 8, 9]], histograms={1: np.arange(65536)}), device_index=3)
    dev.initialize("hist")
    del lib.calls[:]
    dev.calibrate()
    dev.set_sync_divider(4)
    dev.set_sync_cfd_mV(50, 10)
    dev.set_sync_channel_offset_ps(-5000)
    dev.set_input_cfd_mV(1, 100, 8)
    dev.set_channel_offset_ps(1, 1200)
    dev.enable_channel(1, False)
    dev.set_binning(4)
    dev.set_offset_ns(20)
    assert dev.set_histogram_length(6) == 65536
    dev.set_stop_overflow(True, 1000)
    dev.set_marker_edges((True, False, True, False))
    dev.set_marker_enable((True, True, False, False))
    dev.clear_histogram_memory()
    dev.start(1500)
    assert dev.ctc_done() is False
    records = dev.read_fifo((ctypes.c_uint32 * TTREADMAX)())
    counts = dev.histogram(1)
    dev.stop()
    assert lib.calls == [
        ("HH_Calibrate", (3,)), ("HH_SetSyncDiv", (3, 4)), ("HH_SetSyncCFD", (3, 50, 10)),
        ("HH_SetSyncChannelOffset", (3, -5000)), ("HH_SetInputCFD", (3, 1, 100, 8)),
        ("HH_SetInputChannelOffset", (3, 1, 1200)), ("HH_SetInputChannelEnable", (3, 1, 0)),
        ("HH_SetBinning", (3, 4)), ("HH_SetOffset", (3, 20)), ("HH_SetHistoLen", (3, 6, "out")),
        ("HH_SetStopOverflow", (3, 1, 1000)), ("HH_SetMarkerEdges", (3, 1, 0, 1, 0)),
        ("HH_SetMarkerEnable", (3, 1, 1, 0, 0)), ("HH_ClearHistMem", (3,)), ("HH_StartMeas", (3, 1500)),
        ("HH_CTCStatus", (3, "out")), ("HH_ReadFiFo", (3, "buf[131072]", 131072, "out")),
        ("HH_GetHistogram", (3, "buf[65536]", 1, 0)), ("HH_StopMeas", (3,)),
    ]
    np.testing.assert_array_equal(records, [7, 8, 9])
    assert records.dtype == np.uint32
    np.testing.assert_array_equal(counts, np.arange(65536))


def test_readings_use_the_header_units():
    dev = HydraHarp(lib := hh_lib(outputs={"HH_GetFlags": (0x22,), "HH_GetWarnings": (0x11,)}))
    dev.initialize("t3")
    del lib.calls[:]
    assert dev.resolution_ps() == 16.0
    assert dev.sync_rate_hz() == 2_000_000
    assert dev.count_rate_hz(1) == 50_000
    assert dev.sync_period_s() == pytest.approx(5e-7)
    assert dev.elapsed_ms() == 100.0
    assert dev.flag_names(dev.flags()) == ["FLAG_FIFOFULL", "FLAG_ACTIVE"]
    assert dev.warnings() == 0x11
    assert lib.calls == [
        ("HH_GetResolution", (0, "out")), ("HH_GetSyncRate", (0, "out")), ("HH_GetCountRate", (0, 1, "out")),
        ("HH_GetSyncPeriod", (0, "out")), ("HH_GetElapsedMeasTime", (0, "out")), ("HH_GetFlags", (0, "out")),
        ("HH_GetWarnings", (0, "out")),
    ]


@pytest.mark.parametrize("call, match", [
    (lambda d: d.set_sync_divider(17), "sync divider = 17"),
    (lambda d: d.set_sync_cfd_mV(1001, 10), "sync CFD level = 1001 mV"),
    (lambda d: d.set_input_cfd_mV(0, 50, 41), "input 0 CFD zero cross = 41 mV"),
    (lambda d: d.set_input_cfd_mV(2, 50, 10), "input channel = 2"),
    (lambda d: d.set_channel_offset_ps(0, 100_000), "channel offset = 100000 ps"),
    (lambda d: d.set_binning(26), "binning = 26"),
    (lambda d: d.set_offset_ns(500_001), "histogram offset = 500001 ns"),
    (lambda d: d.set_histogram_length(7), "histogram length code = 7"),
    (lambda d: d.start(0), "acquisition time = 0 ms"),
    (lambda d: d.start(360_000_001), r"\[1, 360000000\] ms"),
    (lambda d: d.set_binning(2.5), "binning = 2.5"),
    (lambda d: d.initialize("cont"), "measurement mode 'cont'"),
    (lambda d: d.read_fifo((ctypes.c_int16 * TTREADMAX)()), "c_uint32 array"),
    (lambda d: d.read_fifo((ctypes.c_uint32 * 64)()), "FIFO buffer length = 64 records"),
])
def test_arguments_are_checked_before_anything_is_sent(call, match):
    dev = HydraHarp(lib := hh_lib())
    dev.n_inputs = 2
    with pytest.raises(ValueError, match=match):
        call(dev)
    assert lib.calls == []


def test_device_index_must_exist():
    with pytest.raises(ValueError, match="device index = 8"):
        HydraHarp(hh_lib(), device_index=8)
    with pytest.raises(ValueError, match="device index = 4"):
        TimeHarp260(th_lib(), device_index=4)


def test_nonzero_return_raises_with_the_library_text():
    dev = HydraHarp(lib := hh_lib(returns={"HH_SetBinning": -17, "HH_StartMeas": -22}))
    with pytest.raises(DeviceError, match=r"HH_SetBinning returned -17 \(text for -17\)"):
        dev.set_binning(3)
    assert lib.calls[-2:] == [("HH_SetBinning", (0, 3)), ("HH_GetErrorString", ("buf[41]", -17))]
    with pytest.raises(DeviceError, match=r"HH_StartMeas returned -22 \(text for -22\)"):
        dev.start(100)
    silent = HydraHarp(hh_lib(returns={"HH_OpenDevice": -1, "HH_GetErrorString": -17}))
    with pytest.raises(DeviceError, match=r"HH_OpenDevice returned -1 \(HH_ERROR_DEVICE_OPEN_FAIL\)"):
        silent.open()
    positive = HydraHarp(hh_lib(returns={"HH_CloseDevice": 1}))
    with pytest.raises(DeviceError, match="HH_CloseDevice returned 1"):
        positive.close()


def test_timeharp_discriminators_follow_the_board():
    pico = TimeHarp260(lib := th_lib("TimeHarp 260 P"))
    pico.initialize("t2")
    pico.hardware_info()
    pico.calibrate()  # the TimeHarp 260 calibrates itself: no call
    del lib.calls[:]
    pico.set_sync_discriminator(50, 10)
    pico.set_input_discriminator(1, 100, 5)
    pico.set_sync_cfd_mV(-60, -8)
    assert lib.calls == [("TH260_SetSyncCFD", (0, -50, -10)), ("TH260_SetInputCFD", (0, 1, -100, -5)),
                         ("TH260_SetSyncCFD", (0, -60, -8))]
    assert pico.record_type_prefix() == "TimeHarp260P"
    with pytest.raises(ValueError, match=r"sync CFD level = 50 mV must be a whole number in \[-1200, 0\]"):
        pico.set_sync_cfd_mV(50, -10)
    nano = TimeHarp260(lib := th_lib("TimeHarp 260 N"))
    nano.initialize("t3")
    del lib.calls[:]
    nano.set_sync_discriminator(50, 10)  # model asked first
    nano.set_input_discriminator(0, 120, 10)
    nano.set_input_edge_trigger_mV(1, 300, "rising")
    assert lib.calls == [("TH260_GetHardwareInfo", (0, "buf[17]", "buf[9]", "buf[17]")),
                         ("TH260_SetSyncEdgeTrg", (0, -50, 0)), ("TH260_SetInputEdgeTrg", (0, 0, -120, 0)),
                         ("TH260_SetInputEdgeTrg", (0, 1, 300, 1))]
    assert nano.record_type_prefix() == "TimeHarp260N"
    with pytest.raises(ValueError, match="trigger edge 'up'"):
        nano.set_sync_edge_trigger_mV(-50, "up")


def test_timeharp_initialize_has_no_reference_argument():
    dev = TimeHarp260(lib := th_lib())
    dev.initialize("t3")
    assert lib.calls[0] == ("TH260_Initialize", (0, 3))


def test_read_fifo_rejects_an_impossible_record_count():
    dev = HydraHarp(hh_lib(fifo=[np.zeros(TTREADMAX, np.uint32)]))
    buffer = (ctypes.c_uint32 * 256)()
    with pytest.raises(ValueError, match="FIFO buffer length"):
        dev.read_fifo((ctypes.c_uint32 * (TTREADMAX + 1))())
    dev.lib.fifo = [np.arange(100, dtype=np.uint32)]
    np.testing.assert_array_equal(dev.read_fifo(buffer), np.arange(100))
    np.testing.assert_array_equal(dev.read_fifo(buffer), [])


def test_loaders_report_a_missing_library():
    with pytest.raises(DeviceError, match="nonexistent/hhlib.so"):
        load_hhlib("/nonexistent/hhlib.so")
    with pytest.raises(DeviceError, match="TH260Lib"):
        load_th260lib("/nonexistent/th260lib.so")


STUB_C = r"""
#include <string.h>
int HH_GetLibraryVersion(char* v) { strcpy(v, "3.0"); return 0; }
int HH_GetErrorString(char* s, int code) { strcpy(s, code == -17 ? "invalid argument" : "other"); return 0; }
int HH_SetBinning(int devidx, int binning) { return binning > 25 ? -17 : 0; }
int HH_StartMeas(int devidx, int tacq) { return -22; }
int HH_GetResolution(int devidx, double* res) { *res = 16.0 * (devidx + 1); return 0; }
int HH_ReadFiFo(int devidx, unsigned int* buf, int count, int* n) {
    for (int i = 0; i < 5; i++) buf[i] = 0x80000000u + (unsigned int)i;
    *n = 5; return 0;
}
"""


def test_a_real_c_library_through_the_declared_signatures(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler to build a stand-in HHLib")
    (tmp_path / "stub.c").write_text(STUB_C)
    so = tmp_path / "libhhstub.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(so), str(tmp_path / "stub.c")], check=True)
    lib = load_hhlib(str(so))
    assert lib.HH_StartMeas(0, 10) == -22  # restype int: negative codes stay negative
    dev = HydraHarp(lib, device_index=1)
    assert dev.library_version() == "3.0"
    assert dev.resolution_ps() == 32.0
    dev.set_binning(25)
    with pytest.raises(DeviceError, match=r"HH_StartMeas returned -22 \(other\)"):
        dev.start(100)
    records = dev.read_fifo((ctypes.c_uint32 * TTREADMAX)())
    np.testing.assert_array_equal(records, 0x80000000 + np.arange(5))


# ====================================================================== the PhotonCounter on a recording library
def _counter(lib, device_cls=HydraHarp, **options):
    sleeps = []
    counter = TcspcCounter(device_cls(lib), sleep=sleeps.append, acquisition_s=Range(0.001, 100.0, "s"), **options)
    return counter, sleeps


def test_counter_opens_initialises_and_configures():
    counter, sleeps = _counter(lib := hh_lib(), sync_divider=2, sync_level_mV=60, input_levels_mV=[100, 120],
                               binning=4, offset_ns=3, channel_offsets_ps=[0, 250])
    assert lib.calls == [
        ("HH_GetLibraryVersion", ("buf[9]",)), ("HH_OpenDevice", (0, "buf[9]")), ("HH_Initialize", (0, 0, 0)),
        ("HH_GetNumOfInputChannels", (0, "out")), ("HH_GetHardwareInfo", (0, "buf[17]", "buf[9]", "buf[17]")),
        ("HH_GetBaseResolution", (0, "out", "out")), ("HH_Calibrate", (0,)), ("HH_SetSyncDiv", (0, 2)),
        ("HH_SetSyncCFD", (0, 60, 10)), ("HH_SetSyncChannelOffset", (0, 0)),
        ("HH_SetInputCFD", (0, 0, 100, 10)), ("HH_SetInputChannelOffset", (0, 0, 0)),
        ("HH_SetInputChannelEnable", (0, 0, 1)), ("HH_SetInputCFD", (0, 1, 120, 10)),
        ("HH_SetInputChannelOffset", (0, 1, 250)), ("HH_SetInputChannelEnable", (0, 1, 1)),
        ("HH_SetBinning", (0, 4)), ("HH_SetOffset", (0, 3)), ("HH_SetHistoLen", (0, 6, "out")),
        ("HH_SetStopOverflow", (0, 0, 4294967295)),
    ]
    assert sleeps == [0.15]  # count rates are valid 100 ms after Initialize
    settings = counter.settings()
    assert (settings["model"], settings["serial"], settings["library_version"]) == ("HydraHarp 400", "1043210", "3.0")
    assert (settings["sync_divider"], settings["binning"], settings["record_type"]) == (2, 4, "HydraHarp2")
    assert counter.n_channels == 2 and counter.sync_period_ps() == pytest.approx(500_000.0)
    sync, rates = counter.count_rates()
    assert sync == 2e6 and rates.tolist() == [50_000.0, 50_000.0]


def test_counter_refuses_bad_options_before_configuring():
    with pytest.raises(ValueError, match="input_levels_mV needs 2 values"):
        _counter(hh_lib(), input_levels_mV=[50])
    with pytest.raises(ValueError, match="sync level = -50 mV must be given as a magnitude"):
        _counter(hh_lib(), sync_level_mV=-50)
    with pytest.raises(ValueError, match="record_type 'HydraHarp3'"):
        _counter(hh_lib(), record_type="HydraHarp3")
    lib = hh_lib()
    with pytest.raises(ValueError, match="binning = 30"):
        _counter(lib, binning=30)
    assert "HH_SetBinning" not in lib.names()


def _t3_records(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    nsync = np.sort(rng.integers(0, 200_000, n))
    dtime = rng.integers(0, 32768, n)
    channel = rng.integers(0, 2, n)
    records = T3Encoder(RECORD_TYPES["HydraHarp2T3"]).encode(nsync, dtime, channel)
    return records, nsync, dtime, channel


def test_counter_t3_stream_initialises_once_drains_and_decodes():
    records, nsync, dtime, channel = _t3_records()
    half = records.size // 2
    lib = hh_lib(fifo=[records[:half], records[half:]],
                 outputs={"HH_CTCStatus": [(0,), (1,), (0,), (1,)], "HH_GetElapsedMeasTime": [(50.0,), (100.0,)]})
    counter, sleeps = _counter(lib)
    del lib.calls[:], sleeps[:]
    block = counter.t3(0.1)
    names = lib.names()
    assert names[:3] == ["HH_GetSyncRate", "HH_GetCountRate", "HH_GetCountRate"]  # the rate limit is checked first
    assert lib.calls[3] == ("HH_Initialize", (0, 3, 0)) and names.count("HH_Initialize") == 1
    assert "HH_SetHistoLen" not in names  # T3: no histogram length
    assert names[names.index("HH_StartMeas") - 3:names.index("HH_StartMeas")] == [
        "HH_GetResolution", "HH_GetSyncRate", "HH_GetSyncPeriod"]
    assert ("HH_StartMeas", (0, 100)) in lib.calls and names[-1] == "HH_StopMeas"
    np.testing.assert_array_equal(block.sync, nsync)
    np.testing.assert_array_equal(block.dtime, dtime)
    np.testing.assert_array_equal(block.channel, channel)
    assert (block.resolution_ps, block.sync_period_ps, block.duration_s) == (16.0, 500_000.0, 0.1)
    del lib.calls[:]
    lib.outputs["HH_CTCStatus"] = (1,)
    counter.t3(0.05)
    assert "HH_Initialize" not in lib.names()  # same mode: no new Initialize, no reconfiguration


def test_counter_t2_times_in_ps_and_sync_records_dropped():
    rng = np.random.default_rng(2)
    tags = np.sort(rng.integers(0, 40_000_000, 500))  # TimeHarp 260 P tags of 25 ps: 1 ms, 23 overflows
    channel = rng.integers(0, 2, 500)
    records = T2Encoder(RECORD_TYPES["TimeHarp260PT2"]).encode(tags, channel)
    sync = np.uint32(0x80000000) | np.uint32(123)  # a sync record (special, channel 0)
    records = np.insert(records, [10, 300], sync)
    lib = th_lib(fifo=[records], outputs={"TH260_GetResolution": (25.0,), "TH260_CTCStatus": (1,)})
    counter, _ = _counter(lib, device_cls=TimeHarp260)
    block = counter.t2(0.002)
    np.testing.assert_array_equal(block.time_ps, tags * 25)
    np.testing.assert_array_equal(block.channel, channel)
    assert block.resolution_ps == 25.0
    assert ("TH260_SetSyncCFD", (0, -50, -10)) in lib.calls


def test_counter_stops_on_fifo_overrun():
    lib = hh_lib(outputs={"HH_GetFlags": (FLAG_FIFOFULL,)})
    counter, _ = _counter(lib)
    with pytest.raises(DeviceError, match="FIFO overrun"):
        counter.t2(1.0)
    assert lib.names()[-1] == "HH_StopMeas"


def test_counter_refuses_t3_without_sync():
    lib = hh_lib(outputs={"HH_GetSyncRate": (0,), "HH_GetSyncPeriod": (0.0,)})
    counter, _ = _counter(lib)
    with pytest.raises(DeviceError, match="T3 mode needs a sync signal"):
        counter.t3(1.0)
    assert "HH_StartMeas" not in lib.names()
    assert counter.sync_period_ps() == float("inf")


def test_counter_stops_when_the_stream_is_closed_early():
    lib = hh_lib(fifo=[_t3_records()[0]])
    counter, _ = _counter(lib)
    stream = counter.iter_t3(10.0, block_s=0.1)
    first = next(stream)
    assert first.n_photons == 3000 and lib.names()[-1] != "HH_StopMeas"
    stream.close()
    assert lib.names()[-1] == "HH_StopMeas"


def test_counter_histograms_read_every_channel_then_stop():
    hist = {0: np.arange(65536) % 7, 1: np.arange(65536) % 5}
    lib = hh_lib(histograms=hist, outputs={"HH_CTCStatus": [(0,), (0,), (1,)]})
    counter, sleeps = _counter(lib)
    del lib.calls[:], sleeps[:]
    counts = counter.histograms(0.25)
    assert counts.shape == (2, 65536) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts, np.stack([hist[0], hist[1]]))
    names = lib.names()
    assert names[:3] == ["HH_GetSyncRate", "HH_GetCountRate", "HH_GetCountRate"]  # rate check first
    assert names[3:5] == ["HH_ClearHistMem", "HH_StartMeas"] and ("HH_StartMeas", (0, 250)) in lib.calls
    assert names[-3:] == ["HH_GetHistogram", "HH_GetHistogram", "HH_StopMeas"]
    assert "HH_Initialize" not in names  # constructed in histogram mode
    assert sleeps and all(s > 0 for s in sleeps)


def test_counter_stop_is_safe_before_initialisation():
    lib = hh_lib()
    counter, _ = _counter(lib)
    counter.stop()
    counter.device.mode = None  # as after CloseDevice
    del lib.calls[:]
    counter.stop()
    assert lib.calls == []


# ====================================================================== declarations match what is called
def _session_calls(device_cls, lib):
    counter, _ = _counter(lib, device_cls=device_cls)
    lib.outputs[f"{lib.prefix}_CTCStatus"] = (1,)
    counter.histograms(0.01)
    counter.t2(0.01)
    counter.t3(0.01)
    counter.warnings()
    return lib.calls


@pytest.mark.parametrize("device_cls, make_lib, signatures", [
    (HydraHarp, hh_lib, HH_SIGNATURES), (TimeHarp260, th_lib, TH260_SIGNATURES),
    (TimeHarp260, lambda: th_lib("TimeHarp 260 N"), TH260_SIGNATURES)])
def test_every_call_is_declared_with_its_argument_count(device_cls, make_lib, signatures):
    lib = make_lib()
    lib.histograms = {0: np.zeros(65536, np.uint32), 1: np.zeros(65536, np.uint32)}
    calls = _session_calls(device_cls, lib)
    dev = device_cls(lib)
    dev.n_inputs = 2
    dev.set_marker_edges()
    dev.set_marker_enable()
    dev.set_stop_overflow(True, 10)
    dev.close()
    for name, args in calls + lib.calls:
        assert name in signatures, name
        assert len(args) == len(signatures[name]), (name, args)


@pytest.mark.parametrize("sim_cls, signatures", [(SimHHLib, HH_SIGNATURES), (SimTH260Lib, TH260_SIGNATURES)])
def test_simulated_functions_take_the_declared_arguments(sim_cls, signatures):
    for short in sim_cls.FUNCTIONS:
        name = f"{sim_cls.PREFIX}_{short}"
        assert name in signatures, name
        params = list(inspect.signature(getattr(sim_cls, f"_{short}")).parameters.values())[1:]
        if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            continue  # SetMarkerEdges / SetMarkerEnable take devidx + 4 values
        assert len(params) == len(signatures[name]), name
