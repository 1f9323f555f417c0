"""Import a PicoQuant PTU file into a tepl run file (procedure "import-ptu", status "complete").

It reads the file (``tepl.data.ptu``), histograms its photons (``tepl.analysis.tcspc``) and records the run
(``tepl.data``), so it stands above both the data and the analysis layers. The run file holds:

* ``/entry/parameters``: ``source_file``, ``source_sha256``;
* ``/entry/instrument/picoquant_ptu``: every PTU header tag (indexed tags as arrays; the PTU tag type of each
  in the group's ``pq_tag_types`` attribute, JSON), units on the resolution / time / rate tags;
* ``/entry/data`` (NXdata): T3 files ``decay[channel, tcspc_time_ns]`` (counts per TCSPC bin, axis at bin
  centres, ns); T2 files ``counts[channel, time_s]`` (binned intensity trace, axis at bin centres, s);
* ``/entry/tags``: all photons, markers and the original records (see ``tepl.data.tags``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tepl.analysis.tcspc import bin_trace, decay_histogram
from tepl.data.importing import import_recorder, refuse_existing, source_parameters
from tepl.data.ptu import read_ptu
from tepl.data.ptu_header import INSTRUMENT, TAG_UNITS, header_for_hdf5
from tepl.data.tags import add_tags, append_tags


def _nice_bin_s(duration_s: float, max_bins: int = 2000) -> float:
    """The smallest of 1, 2, 5 x 10^k s giving at most ``max_bins`` bins over ``duration_s``."""
    target = max(duration_s, 1e-6) / max_bins
    exponent = int(np.floor(np.log10(target)))
    for k in (exponent, exponent + 1):
        for m in (1.0, 2.0, 5.0):
            step = float(f"{m}e{k}")
            if step >= target * (1 - 1e-9):
                return step
    return float(f"1e{exponent + 2}")


def import_ptu(ptu_path, h5_path, overwrite: bool = False, trace_bin_s: float | None = None) -> Path:
    """Convert the PTU file at ``ptu_path`` into a tepl run file at ``h5_path`` and return its path.

    The PTU is read and decoded completely before anything is written; a bad file raises PtuImportError and
    leaves no output behind. An existing ``h5_path`` is refused (FileExistsError) unless ``overwrite``.
    ``trace_bin_s`` sets the T2 trace bin (default: 1-2-5 steps, at most 2000 bins).
    """
    ptu_path, h5_path = Path(ptu_path), Path(h5_path)
    ptu = read_ptu(ptu_path)
    refuse_existing(h5_path, overwrite)
    header, types = header_for_hdf5(ptu.tags)
    parameters = source_parameters(ptu_path)
    if trace_bin_s is not None and not (np.isfinite(trace_bin_s) and trace_bin_s > 0):
        raise ValueError(f"trace_bin_s must be a positive number of s, got {trace_bin_s!r}")
    block, n_ch = ptu.block, ptu.n_channels
    if ptu.mode == "T3":
        n_bins = int(block.dtime.max()) + 1 if block.dtime.size else 1
        decay = decay_histogram(block.dtime, block.channel, n_bins, n_ch)
    else:
        bin_s = float(trace_bin_s) if trace_bin_s else _nice_bin_s(ptu.duration_s)
        time_s, trace = bin_trace(block.time_ps, block.channel, bin_s, max(ptu.duration_s, bin_s), n_ch)
    with import_recorder(h5_path, "import-ptu", parameters, {INSTRUMENT: header}, overwrite) as recorder:
        recorder.set_attrs(f"/entry/instrument/{INSTRUMENT}", pq_tag_types=json.dumps(types))
        for key, unit in TAG_UNITS.items():
            if header.get(key) is not None:  # an empty tag is an attribute, with no dataset to carry units
                recorder.set_attrs(f"/entry/instrument/{INSTRUMENT}/{key}", units=unit)
        for message in ptu.warnings:
            recorder.append_event(f"ptufile: {message}")
        if ptu.mode == "T3":
            recorder.add_dataset("decay", decay.shape, ("channel", "tcspc_time_ns"), "counts", dtype="i8",
                                 signal=True)
            recorder.add_axis("tcspc_time_ns", (np.arange(n_bins) + 0.5) * ptu.resolution_s * 1e9, "ns")
            recorder.write("decay", slice(None), decay)
            recorder.set_attrs("decay", long_name="photons per TCSPC bin and detector channel")
        else:
            recorder.add_dataset("counts", trace.shape, ("channel", "time_s"), "counts", dtype="i8", signal=True)
            recorder.add_axis("time_s", time_s, "s")
            recorder.write("counts", slice(None), trace)
            recorder.set_attrs("counts", long_name="photons per time bin and detector channel", bin_s=bin_s)
        sync_period_ps = ptu.global_resolution_ps if ptu.mode == "T3" else (
            1e12 / ptu.sync_rate_hz if ptu.sync_rate_hz > 0 else float("inf"))
        add_tags(recorder, ptu.mode, resolution_ps=block.resolution_ps, sync_period_ps=sync_period_ps,
                 n_channels=n_ch, duration_s=ptu.duration_s, markers=True, raw_records=True,
                 chunk=int(np.clip(ptu.n_records, 1 << 12, 1 << 20)), record_type=ptu.record_type,
                 record_type_name=ptu.record_type_name, global_resolution_ps=ptu.global_resolution_ps,
                 source_file=ptu_path.name)
        append_tags(recorder, block, ptu.marker_time, ptu.marker_bits, ptu.records)
        recorder.set_attrs("/entry", source_format="PicoQuant PTU", source_file=ptu_path.name)
        recorder.append_event(f"imported {ptu.n_records} {ptu.record_type_name} records, {block.n_photons} photons, "
                              f"{ptu.marker_bits.size} markers from {ptu_path.name}")
    return h5_path
