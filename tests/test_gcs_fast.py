"""The short paths of the in-process E-727 link keep the behaviour of the long ones: the adapter's direct write
answers exactly what the faulted path answers, and the controller's one-lookup dispatch still refuses what the
real controller refuses (GCS codes). The run file's per-line counter reads back as written after each flush,
whatever type it changes to."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tepl.sims.faults import Faults
from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.world import World
from tests.test_recorder import new_raster, write_line


def _adapter() -> GCSAdapter:
    return GCSAdapter(GCSController(World(seed=3, real_time=False)))


def _exchange(adapter: GCSAdapter, commands: list[str]) -> list[list[str]]:
    """Each command written; the reply lines of each query read (a refused query answers nothing)."""
    replies = []
    for command in commands:
        adapter.write(command)
        if "?" in command and command not in REFUSED_QUERIES:
            lines = [adapter.read()]
            while lines[-1].endswith(" "):
                lines.append(adapter.read())
            replies.append(lines)
    return replies


REFUSED_QUERIES = {"ONT? 9", "ERR? 1"}  # an unknown axis, an argument too many: error 15, error 24
SCRIPT = ["SVO 1 1 2 1 3 1", "ERR?", "MOV 1 10 2 20", "ERR?", "ONT? 1 2 3", "POS? 1", "MOV 1 500", "ERR?",
          "FOO 1", "ERR?", "ONT? 9", "ERR?", "ERR? 1", "ERR?", "SVO 1 2", "ERR?", "MOV 1", "ERR?", "MOV? 1 2"]


def test_the_direct_write_answers_as_the_faulted_path_does():
    fast, slow = _adapter(), _adapter()
    slow.faults = Faults().set(garble=True, only={"never sent"})  # names no command sent: the long path, no harm
    assert slow.faults.any
    assert _exchange(fast, SCRIPT) == _exchange(slow, SCRIPT)


def test_the_dispatch_refuses_with_the_controllers_codes():
    replies = _exchange(_adapter(), SCRIPT)
    answered = [c for c in SCRIPT if "?" in c and c not in REFUSED_QUERIES]
    errors = [int(r[0]) for r, c in zip(replies, answered, strict=True) if c == "ERR?"]
    # SVO ok, MOV ok, MOV out of travel 7, unknown command 2, invalid axis 15, ERR? with an argument 24,
    # SVO with 2 (a flag out of range) 17, MOV with no value 24
    assert errors == [0, 0, 7, 2, 15, 24, 17, 24]
    assert [line.split("=")[0] for line in replies[2]] == ["1", "2", "3"]
    assert replies[-1] == ["1=1.000000000e+01 ", "2=2.000000000e+01"]  # the refused MOVs changed no target


def test_a_closed_link_still_refuses_the_direct_write():
    adapter = _adapter()
    adapter.close()
    with pytest.raises(ConnectionError, match="E-727"):
        adapter.write("ERR?")


def test_a_counter_attribute_set_per_line_reads_back_after_each_flush_with_its_type(tmp_path):
    path = tmp_path / "run.h5"
    rec = new_raster(path)
    for iy in range(3):
        write_line(rec, iy)
        with h5py.File(path, "r", locking=False) as f:  # what a reader sees once the line is flushed
            assert f["/entry"].attrs["lines_done"] == iy + 1
            assert f["/entry"].attrs["lines_done"].dtype == np.int64
    rec.set_attrs("/entry", lines_done=2.5)  # another type, then others
    rec.set_attrs("/entry", lines_done=3.5)
    rec.set_attrs("/entry", lines_done="three")
    rec.set_attrs("/entry", lines_done=4)
    rec.set_attrs("/entry", lines_done=5)
    rec.set_attrs("/entry", lines_done=None)
    rec.set_attrs("/entry", lines_done=6)
    rec.flush()
    with h5py.File(path, "r", locking=False) as f:
        assert f["/entry"].attrs["lines_done"] == 6 and f["/entry"].attrs["lines_done"].dtype == np.int64
    rec.set_attrs("/entry", lines_done=7.25)
    rec.set_attrs("/entry", lines_done=8.5)
    rec.close("complete")
    with h5py.File(path, "r") as f:
        assert f["/entry"].attrs["lines_done"] == 8.5 and f["/entry"].attrs["lines_done"].dtype == np.float64
