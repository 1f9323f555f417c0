"""The raster's fast paths keep what goes on the wire, every check and what lands in the file.

The scan loop, the E-727 link, the SDK2 plumbing and the recorder skip work that does nothing for a
well-formed call (lookups, event objects nobody listens to, error texts, file lookups); these tests pin that
the device still gets the very same commands in the same order per pixel, that bad arguments are still
refused, and that the file holds what was written (read back with plain h5py).
"""

from __future__ import annotations

import ctypes

import h5py
import numpy as np
import pytest
from pymeasure.instruments import Channel

from tepl.data.recorder import Recorder
from tepl.drivers.ctypes_lib import call_named
from tepl.drivers.pi_e727 import E727
from tepl.drivers.polling import Wait, WaitTimeout
from tepl.procedures import run_procedure
from tepl.procedures.base import Event
from tepl.roles import DeviceError, LimitError
from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.session_adapter import SessionAdapter
from tepl.sims.world import World
from tepl.station import build_station

N = 3  # pixels per side of the small rasters here


class _Recording:
    """Stands for a library object: records the name of every function the driver calls."""

    def __init__(self, lib, calls: list[str]):
        self._lib, self._calls = lib, calls

    def __getattr__(self, name: str):
        self._calls.append(name)
        return getattr(self._lib, name)


@pytest.fixture(scope="module")
def station():
    return build_station()


def _raster(station, path, **values):
    return run_procedure("raster", station, path, size_x_um=0.002 * (N - 1), size_y_um=0.002 * (N - 1),
                         pixel_um=0.002, exposure_s=0.5, **values)  # simulated seconds: no wall time at zero
    # latency, and a pause of the test process shorter than the exposure keeps the per-pixel calls as pinned below


def test_each_pixel_sends_the_same_commands_as_before(station, tmp_path):
    """Per pixel: MOV with its ERR? in one write, then ONT? to the E-727 (LF-terminated), one R9 channel read, and the
    SDK2 calls of one single-scan acquisition in the order Andor's examples make them."""
    _raster(station, tmp_path / "warm.h5")  # the exposure is set once; later pixels do not send it again
    gcs, sdk, r9 = [], [], []
    stage, ccd, transport = station.stage.instrument, station.spectrometer.ccd, station.zcontrol.r9.transport
    session = stage.adapter.connection
    feed, query, lib = session.feed, transport.query, ccd.lib
    session.feed = lambda data: gcs.append(bytes(data)) or feed(data)
    transport.query = lambda line: r9.append(line) or query(line)
    ccd.lib = _Recording(lib, sdk)
    marks = []
    move = station.stage.move_and_wait_um

    def marked_move(**targets):  # where each pixel starts in the three records
        marks.append((len(gcs), len(sdk), len(r9)))
        move(**targets)

    station.stage.move_and_wait_um = marked_move
    try:
        _raster(station, tmp_path / "wire.h5")
    finally:
        session.feed, transport.query, ccd.lib = feed, query, lib
        del station.stage.move_and_wait_um
    assert len(marks) == N * N + 1  # the approach to the first pixel moves the stage once before
    pixels = marks[2:]  # from the second pixel on: the first one's write also records the instruments' settings
    per_pixel = ["WaitForAcquisitionTimeOut", "GetAcquiredData"]  # the data once the pixel's one scan is reported
    for (g0, s0, r0), (g1, s1, r1) in zip(pixels[:-1], pixels[1:], strict=True):
        commands = gcs[g0:g1]
        assert [c.split(b" ")[0] for c in commands] == [b"MOV", b"ONT?"]
        assert commands[0].startswith(b"MOV 1 ") and b" 2 " in commands[0] and commands[0].endswith(b"\nERR?\n")
        assert commands[1] == b"ONT? 1 2 3\n"
        assert sdk[s0:s1] == ["GetAcquisitionTimings", "StartAcquisition", *per_pixel]
        assert len(r9[r0:r1]) == 1


def test_a_pixel_beyond_the_stage_travel_is_refused_before_anything_moves(station, tmp_path):
    sent = []
    session = station.stage.adapter.connection if hasattr(station.stage, "adapter") else \
        station.stage.instrument.adapter.connection
    feed = session.feed
    session.feed = lambda data: sent.append(bytes(data)) or feed(data)
    try:
        with pytest.raises(LimitError):
            station.stage.move_and_wait_um(x=150.0, y=50.0)
    finally:
        session.feed = feed
    assert sent == []


def test_events_go_to_listeners_and_are_not_made_without_them(station, tmp_path, monkeypatch):
    events: list[Event] = []
    _raster(station, tmp_path / "heard.h5", listeners=[events.append])
    data = [e for e in events if e.kind == "data" and e.message == "spectra"]
    snake = [(iy, ix) for iy in range(N) for ix in (range(N) if iy % 2 == 0 else reversed(range(N)))]
    assert [e.data["index"] for e in data] == snake
    assert [e.done for e in events if e.kind == "progress"] == list(range(1, N + 1))
    made = []
    monkeypatch.setattr("tepl.procedures.base.Event", lambda *a, **k: made.append(a) or Event(*a, **k))
    _raster(station, tmp_path / "quiet.h5")
    assert not [a for a in made if a[0] in ("data", "progress")]
    with h5py.File(tmp_path / "quiet.h5", "r") as f:  # the file is the same either way
        with h5py.File(tmp_path / "heard.h5", "r") as g:
            assert f["entry/data/spectra"].shape == g["entry/data/spectra"].shape == (N, N, 1024)
            assert np.isfinite(f["entry/data/spectra"][()]).all() and np.isfinite(f["entry/data/height_nm"][()]).all()
            assert f["entry"].attrs["steps_done"] == N


# ---------------------------------------------------------------------------------------- E-727 link
@pytest.fixture
def e727():
    world = World(seed=1)
    inst = E727(GCSAdapter(GCSController(world)), address="sim")
    inst.axes()
    inst.set_servo({"1": True, "2": True, "3": True})
    return inst


def test_axis_lists_are_checked_every_time_and_against_the_latest_sai(e727):
    assert e727.on_target_states(["1", "2"]) == {"1": True, "2": True}
    assert list(e727.positions_um(["1", "2"])) == ["1", "2"]  # a list checked before
    with pytest.raises(ValueError, match="invalid E-727 axis identifier"):
        e727.on_target_states(["1", "2 3"])
    with pytest.raises(ValueError, match="unknown E-727 axes"):
        e727.on_target_states(["1", "4"])
    with pytest.raises(ValueError, match="invalid E-727 axis identifier"):
        e727.on_target_states([["1"]])  # not even hashable
    e727.adapter.controller.axes.pop("3")  # the controller now reports two axes
    assert e727.axes() == ["1", "2"]
    with pytest.raises(ValueError, match="unknown E-727 axes"):
        e727.on_target_states(["1", "2", "3"])  # allowed before the new SAI? answer, not after


def test_error_register_read_and_raised_as_before(e727):
    from tepl.drivers.pi_gcs import GCSError

    with pytest.raises(GCSError, match="error 7.*MOV 1 150"):
        e727.move_um({"1": 150.0})  # beyond the controller's travel: it refuses with error 7
    assert e727.check_error() == 0 and e727.error_code == 0
    e727.adapter.connection.feed(b"XYZ\n")  # an unknown command behind the driver's back: error 2
    assert e727.check_error(allowed=(2,)) == 2


def test_a_subclass_with_dynamic_properties_still_refuses_their_reserved_names():
    class Tuned(E727):
        gain = E727.control("GAN?", "GAN %g", "A made-up dynamic setting.", dynamic=True, values=(0, 1))

    class Plain(E727):
        pass

    world = World(seed=1)
    tuned = Tuned(GCSAdapter(GCSController(world)), address="sim")
    with pytest.raises(AttributeError, match="reserved"):
        _ = tuned.gain_values
    tuned.gain_values = (0, 5)  # what pymeasure allows: setting them
    plain = Plain(GCSAdapter(GCSController(world)), address="sim")
    assert plain.axes() == ["1", "2", "3"]
    assert isinstance(plain.axis_1, Channel)


def test_session_adapter_keeps_non_ascii_text_and_later_settings():
    class Echo:
        def feed(self, data: bytes) -> bytes:
            return data

        def close(self) -> None:
            pass

    link = SessionAdapter(Echo(), "echo", "cp1252", "\n", "\n")
    link.write("µm 5")  # cp1252 0xB5, not the UTF-8 pair
    assert bytes(link._pending) == b"\xb5m 5\n"
    assert link.read() == "µm 5"
    link.read_termination = "\r\n"
    link.write("a\r")
    assert link.read() == "a"
    link.encoding = "utf-8"
    link.write("µ\r")
    assert link.read() == "µ"
    link.write("no end")
    with pytest.raises(TimeoutError):
        link.read()


# ---------------------------------------------------------------------------------------- SDK2 plumbing
def test_call_named_makes_its_error_text_only_for_an_error():
    asked = []

    def what() -> str:
        asked.append(1)
        return "Andor DU420 #1: SDK2"

    class Lib:
        def Good(self, out):
            out._obj.value = 3
            return 20002

        def Bad(self):
            return 20066

        def Crash(self):
            raise OSError("access violation")

    lib = Lib()
    out = ctypes.c_int()
    assert call_named(lib, "Good", (ctypes.byref(out),), (20002,), {20066: "DRV_P1INVALID"}, what) == 20002
    assert out.value == 3 and asked == []
    with pytest.raises(DeviceError, match=r"Andor DU420 #1: SDK2 Bad returned 20066 \(DRV_P1INVALID\)"):
        call_named(lib, "Bad", (), (20002,), {20066: "DRV_P1INVALID"}, what)
    with pytest.raises(DeviceError, match="SDK2 Crash failed: access violation"):
        call_named(lib, "Crash", (), (20002,), {}, what)
    with pytest.raises(DeviceError, match="^Shamrock Bad returned"):
        call_named(lib, "Bad", (), (20002,), {}, "Shamrock")


def test_a_wait_names_itself_when_it_times_out():
    wait = Wait(lambda: "Andor DU420", lambda: "the end of a 1-frame acquisition", 0.01, lambda s: None)
    wait.pause(0.02)
    with pytest.raises(WaitTimeout, match="Andor DU420: waited for the end of a 1-frame acquisition") as info:
        wait.check()
    assert info.value.instrument == "Andor DU420" and info.value.what == "the end of a 1-frame acquisition"
    with pytest.raises(ValueError, match="Andor DU420: the wait for the end"):
        Wait(lambda: "Andor DU420", lambda: "the end", float("nan"), lambda s: None)


# ---------------------------------------------------------------------------------------- recorder
def _recorder(path) -> Recorder:
    rec = Recorder(path, "raster", {}, "", {}, "tepl test")
    rec.add_axis("y_um", np.arange(3.0), "µm")
    rec.add_axis("x_um", np.arange(4.0), "µm")
    rec.add_dataset("spectra", (3, 4, 5), ("y_um", "x_um", "wl"), "counts", signal=True)
    rec.add_dataset("counts", (3, 4), ("y_um", "x_um"), "1", dtype="i4", fill=-1)
    return rec


def test_rows_written_pixel_by_pixel_keep_the_fill_and_what_the_file_holds(tmp_path):
    path = tmp_path / "rows.h5"
    rec = _recorder(path)
    rec.write("spectra", (0, 1), np.arange(5.0))  # a fresh row: the rest of it stays the fill (NaN)
    rec.write("counts", (0, 2), 7)
    rec.write("counts", (0, np.int64(3)), 8)  # a numpy index: the general path, same row
    rec.flush()
    rec.dataset("counts")[1, 0] = 42  # written through the handle: the row is no longer fresh
    rec.write("counts", (1, 1), 9)
    rec.write("spectra", (0, 2), np.ones(5))  # a row written before: what the file holds is kept
    with pytest.raises(IndexError):
        rec.write("spectra", (0, 4), np.ones(5))  # beyond the row: refused, as before
    with pytest.raises(ValueError):
        rec.write("spectra", (0, 3), np.ones(6))  # a spectrum of another length
    rec.set_attrs("/entry", steps_done=1)
    rec.set_attrs("/entry", steps_done=2)  # the object found once, set again
    rec.set_attrs("spectra", note="pixel")
    with pytest.raises(KeyError, match="no object"):
        rec.set_attrs("/entry/nothing", a=1)
    rec.close("complete")
    with h5py.File(path, "r") as f:
        spectra, counts = f["entry/data/spectra"][()], f["entry/data/counts"][()]
        assert f["entry"].attrs["steps_done"] == 2 and f["entry/data/spectra"].attrs["note"] == "pixel"
    assert np.array_equal(spectra[0, 1], np.arange(5.0)) and np.array_equal(spectra[0, 2], np.ones(5))
    assert np.isnan(spectra[0, 0]).all() and np.isnan(spectra[0, 3]).all() and np.isnan(spectra[1:]).all()
    assert counts.tolist() == [[-1, -1, 7, 8], [42, 9, -1, -1], [-1, -1, -1, -1]]


def test_a_reopened_file_keeps_its_rows(tmp_path):
    path = tmp_path / "again.h5"
    rec = _recorder(path)
    rec.write("counts", (2, 0), 5)
    rec.close("aborted", reason="interrupted")
    again = Recorder.reopen(path, "resume")
    again.write("counts", (2, 1), 6)
    again.close("complete")
    with h5py.File(path, "r") as f:
        assert f["entry/data/counts"][2].tolist() == [5, 6, -1, -1]


def test_a_multi_line_reply_is_read_whole_and_checked_as_line_by_line(e727):
    assert list(e727.positions_um()) == ["1", "2", "3"]  # 3 lines, the last without the space
    link = e727.adapter
    link._pending += b"1=1 \n2=2 \n3=3\n"
    assert e727.read_lines() == ["1=1", "2=2", "3=3"]
    link._pending += b"1=1 \n2=2 \n"  # the last line has not arrived
    with pytest.raises(DeviceError, match="reading the reply to"):
        e727.read_lines()
    assert not e727.in_step  # the next command resynchronises first
    assert e727.check_error() == 0 and e727.in_step and not link._pending
    link._pending += b"x \n" * 1200 + b"end\n"  # a reply that does not end
    with pytest.raises(DeviceError, match="did not end after 1000 lines"):
        e727.read_lines()
    assert e727.positions_um(["2"]) == {"2": pytest.approx(e727.adapter.controller.axes["2"].target_um)}
