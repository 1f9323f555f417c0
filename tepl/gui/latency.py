"""Keeping the console's event loop free of long pauses while a run is going.

Python's cyclic garbage collector, when it runs a full (oldest-generation) collection, walks every object the
process holds (the console, pyqtgraph, numba, h5py, the station): 25-100 ms on the machine the console was
measured on, during which no thread runs Python, so the UI stalls. ``run_started`` moves everything alive at
the start of a run into the collector's permanent generation (``gc.freeze``), so collections during the run
only walk what the run created since; ``run_ended`` gives those objects back (``gc.unfreeze``), and they are
collected between runs as usual. The console calls it when a run ends and when it is closed during a run (the
run's end then never reaches it).
"""

from __future__ import annotations

import gc


def run_started() -> None:
    """A run starts: exclude every object alive now from the collections during the run."""
    gc.freeze()


def run_ended() -> None:
    """The run is over: the frozen objects are collected again as usual."""
    gc.unfreeze()
