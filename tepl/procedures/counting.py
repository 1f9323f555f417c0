"""Photon counting at one position from T2 time tags: ``g2`` (HBT antibunching) and ``time-trace`` (blinking).

Both keep every time tag in ``/entry/tags`` (appended and flushed block by block, so a crash loses at most
the block in progress) and update their histogram or trace after each block.
"""

from __future__ import annotations

import numpy as np

from tepl.analysis.normalisation import g2_normalisation
from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.moves import move_to_spot
from tepl.procedures.params import Parameter, ParameterError
from tepl.roles import LimitError
from tepl.units import si_text

_TAG_BYTES = 8 + 1  # one T2 tag in the file: time (int64) and channel (int8)

_POSITION = (
    Parameter("x_um", 50.0, "µm", 0.0, 100.0, doc="stage x of the emitter"),
    Parameter("y_um", 50.0, "µm", 0.0, 100.0, doc="stage y of the emitter"),
)


MIN_G2_COINCIDENCES = 100  # a g2 histogram holding fewer coincidences in all is not fitted


def too_few_for_g2_fit(photons_a: int, photons_b: int, coincidences: np.ndarray) -> bool:
    """True when a g2 histogram is too thin to fit: no photon on one of its two detectors, or fewer than
    ``MIN_G2_COINCIDENCES`` coincidences (counts) in all its lag bins."""
    return photons_a == 0 or photons_b == 0 or int(np.sum(coincidences)) < MIN_G2_COINCIDENCES


class _TagProcedure(Procedure):
    """Shared by g2 and time-trace: checks, the tag store and the block loop."""

    roles = ("stage", "tcspc")

    def plan_tags(self, station, plan: PlanBuilder) -> None:
        """The spot, the acquisition, the count-rate interlock, the block points and the tag store."""
        counter = station.tcspc
        interlocks.stage_travel(plan, station, self["x_um"], self["y_um"])
        interlocks.acquisition(plan, station, self["acquisition_s"])
        interlocks.count_rate(plan, station)
        block_s = min(self["block_s"], self["acquisition_s"])
        if self["block_s"] > self["acquisition_s"]:
            plan.check(f"block_s {self['block_s']:g} s longer than the acquisition: one block")
        n_blocks = int(np.ceil(self["acquisition_s"] / block_s - 1e-9))
        starts = np.arange(n_blocks) * block_s
        plan.points(("block",), block=np.arange(n_blocks), start_s=starts,
                    duration_s=np.minimum(block_s, self["acquisition_s"] - starts))
        max_rate = station.limits.count_rate_per_s.high
        at_limit = int(min(max_rate * counter.n_channels * self["acquisition_s"], 2**62)) * _TAG_BYTES
        plan.stream("tags", at_limit, mode="T2", resolution_ps=counter.t2_resolution_ps(),
                    sync_period_ps=counter.sync_period_ps(), n_channels=counter.n_channels,
                    duration_s=self["acquisition_s"])
        plan.memory("one block of tags", int(max_rate * counter.n_channels * block_s) * _TAG_BYTES)
        plan.estimate(self["acquisition_s"])

    def blocks(self, ctx: RunContext):
        """Move to the spot, then yield (T2 block, its start in s from the measurement start) until the
        acquisition ends or the operator stops; every block's tags are in the file before it is yielded."""
        from tepl.data.tags import append_tags

        move_to_spot(ctx, self["x_um"], self["y_um"])
        sync_hz, rates = ctx.station.tcspc.count_rates()
        ctx.log("count rates before the measurement: " + ", ".join(f"channel {i} {si_text(r, 'counts/s')}"
                                                                    for i, r in enumerate(rates)))
        block_s = float(ctx.plan.points["duration_s"][0])
        start_s, n_photons = 0.0, 0
        stream = ctx.station.tcspc.iter_t2(self["acquisition_s"], block_s=block_s)
        try:
            for block in stream:
                append_tags(ctx.recorder, block)
                block_start_s, start_s = start_s, start_s + block.duration_s  # the file holds tags up to start_s
                ctx.recorder.set_attrs("/entry/tags", duration_s=start_s)
                ctx.recorder.flush()
                n_photons += block.n_photons
                yield block, block_start_s
                ctx.progress(int(round(1000 * start_s / self["acquisition_s"])), 1000,
                             f"{start_s:.1f}/{self['acquisition_s']:g} s, {n_photons} photons")
                ctx.checkpoint()
                if ctx.stop_requested:
                    ctx.log(f"stop requested: ended after {start_s:.2f} s")
                    break
        finally:  # an abort or a failure leaves the measured duration, never the requested one
            stream.close()
            ctx.recorder.set_attrs("/entry/tags", duration_s=start_s)


class G2(_TagProcedure):
    name = "g2"
    summary = "Hanbury Brown-Twiss correlation of two SPADs from T2 time tags at one position"
    parameters = _POSITION + (
        Parameter("acquisition_s", 60.0, "s", 1e-3, 36_000.0, limit="acquisition_s", doc="measurement time"),
        Parameter("bin_ns", 0.5, "ns", 0.001, 1000.0, doc="correlation bin width"),
        Parameter("window_ns", 200.0, "ns", 1.0, 1e6, doc="largest |lag| kept"),
        Parameter("block_s", 1.0, "s", 0.01, 60.0, doc="tags are read, stored and correlated per block"),
        Parameter("channel_a", 0, "", 0, 7, kind=int, doc="start detector"),
        Parameter("channel_b", 1, "", 0, 7, kind=int, doc="stop detector"),
    )

    def lag_edges_ps(self) -> np.ndarray:
        n_half = int(np.ceil(self["window_ns"] / self["bin_ns"] - 0.5))
        return (np.arange(-n_half, n_half + 2) - 0.5) * self["bin_ns"] * 1000.0

    def make_plan(self, station, plan: PlanBuilder) -> None:
        n = station.tcspc.n_channels
        for key in ("channel_a", "channel_b"):
            if self[key] >= n:
                raise LimitError(f"{key} = {self[key]}: the TCSPC has channels 0..{n - 1}")
        if self["channel_a"] == self["channel_b"]:
            raise ParameterError("channel_a and channel_b must be different detectors (one SPAD's dead time "
                                 "hides its own short lags)")
        self.plan_tags(station, plan)
        splitter = station.counter_splitter()
        if splitter != "50-50":
            plan.check(f"note: splitter is {splitter!r}, so this is a cross-correlation of two bands, "
                       "not an HBT g2")
        edges = self.lag_edges_ps()
        n_lags = edges.size - 1
        plan.axis("lag_ns", 0.5 * (edges[:-1] + edges[1:]) / 1000.0, "ns")
        plan.dataset("g2", (n_lags,), ("lag_ns",), "", signal=True)
        plan.dataset("coincidences", (n_lags,), ("lag_ns",), "counts", dtype="u8")
        plan.dataset("photons", (n,), ("channel",), "counts", dtype="u8")
        plan.view("g2", "g2", ("lag_ns",), "g2")

    def execute(self, ctx: RunContext) -> None:
        a, b = self["channel_a"], self["channel_b"]
        edges = self.lag_edges_ps()
        bin_ps, window_ps = self["bin_ns"] * 1000.0, float(-edges[0])
        coincidences = np.zeros(edges.size - 1, np.int64)
        photons = np.zeros(ctx.station.tcspc.n_channels, np.int64)
        tail_a = tail_b = np.zeros(0, np.int64)
        duration_s = 0.0
        for block, start_s in self.blocks(ctx):
            t_ps = block.time_ps  # from the measurement start
            new_a, new_b = t_ps[block.channel == a], t_ps[block.channel == b]
            # pairs with at least one new tag: (all recent a, new b) + (new a, earlier b)
            coincidences += self._histogram(np.concatenate([tail_a, new_a]), new_b, edges, bin_ps, window_ps)
            coincidences += self._histogram(new_a, tail_b, edges, bin_ps, window_ps)
            photons += np.bincount(block.channel.astype(np.int64), minlength=photons.size)[: photons.size]
            duration_s = start_s + block.duration_s
            if block.n_photons:  # later tags pair only with tags within the window of the latest one
                cutoff = int(t_ps.max()) - window_ps - bin_ps
                tail_a = np.concatenate([tail_a, new_a])
                tail_a = tail_a[tail_a > cutoff]
                tail_b = np.concatenate([tail_b, new_b])
                tail_b = tail_b[tail_b > cutoff]
            norm = self._normalisation(photons, duration_s)
            ctx.write("coincidences", slice(None), coincidences)
            ctx.write("g2", slice(None), coincidences / norm if norm > 0 else np.full(coincidences.size, np.nan))
            ctx.write("photons", slice(None), photons)
        self._fit(ctx, coincidences, photons, duration_s)

    def _normalisation(self, photons: np.ndarray, duration_s: float) -> float:
        """Coincidences per lag bin of uncorrelated light (``g2_normalisation``) for the two channels."""
        return g2_normalisation(photons[self["channel_a"]], photons[self["channel_b"]], self["bin_ns"] * 1000.0,
                                duration_s)

    @staticmethod
    def _histogram(t_a: np.ndarray, t_b: np.ndarray, edges: np.ndarray, bin_ps: float,
                   window_ps: float) -> np.ndarray:
        from tepl.analysis.correlation import cross_correlate

        if t_a.size == 0 or t_b.size == 0:
            return np.zeros(edges.size - 1, np.int64)
        lags_ps, counts = cross_correlate(t_a, t_b, bin_ps, window_ps)
        out = np.zeros(edges.size - 1, np.int64)
        idx = np.searchsorted(edges, lags_ps) - 1
        ok = (idx >= 0) & (idx < out.size)
        np.add.at(out, idx[ok], np.asarray(counts)[ok])
        return out

    def _fit(self, ctx: RunContext, coincidences: np.ndarray, photons: np.ndarray, duration_s: float) -> None:
        """Fit 1 - C·exp(-|t|/τ) (IRF-convolved) to the finished histogram; the result goes on ``g2``."""
        from tepl.analysis.g2 import fit_g2

        a, b = self["channel_a"], self["channel_b"]
        if duration_s <= 0 or too_few_for_g2_fit(photons[a], photons[b], coincidences):
            ctx.log("too few coincidences for a g2 fit")
            return
        lag_ns = ctx.plan.axis("lag_ns")
        norm = self._normalisation(photons, duration_s)
        try:
            fit = fit_g2(lag_ns, coincidences / norm, counts=coincidences)
        except (ValueError, RuntimeError) as exc:
            ctx.log(f"g2 fit failed: {exc}")
            return
        ctx.recorder.set_attrs("g2", fit_tau_ns=float(fit.tau_ns), fit_contrast=float(fit.contrast),
                               fit_t0_ns=float(fit.t0_ns), fit_irf_sigma_ns=float(fit.irf_sigma_ns),
                               fit_normalization=float(fit.normalization),
                               fit_model="normalization x (1 - C exp(-|t - t0|/tau)), IRF-convolved")
        ctx.log(f"g2 fit: tau = {fit.tau_ns:.2f} ns, C = {fit.contrast:.3f}")


class TimeTrace(_TagProcedure):
    name = "time-trace"
    summary = "Binned intensity vs time at one position (blinking), keeping every time tag"
    parameters = _POSITION + (
        Parameter("acquisition_s", 60.0, "s", 1e-3, 36_000.0, limit="acquisition_s", doc="measurement time"),
        Parameter("bin_s", 0.01, "s", 1e-6, 10.0, doc="trace bin width"),
        Parameter("block_s", 1.0, "s", 0.01, 60.0, doc="tags are read, stored and binned per block"),
    )

    def make_plan(self, station, plan: PlanBuilder) -> None:
        n, n_ch = max(1, int(round(self["acquisition_s"] / self["bin_s"]))), station.tcspc.n_channels
        if n > 50_000_000:
            raise ParameterError(f"{n} trace bins: use a longer bin_s")
        self.plan_tags(station, plan)
        plan.axis("time_s", (np.arange(n) + 0.5) * self["bin_s"], "s")
        plan.dataset("counts", (n,), ("time_s",), "counts", dtype="u4", signal=True)
        plan.dataset("counts_channel", (n_ch, n), ("channel", "time_s"), "counts", dtype="u4")
        plan.memory("trace per channel", n_ch * n * 8)
        plan.view("trace", "counts", ("time_s",), f"counts per {self['bin_s']:g} s bin")

    def execute(self, ctx: RunContext) -> None:
        n, n_ch = ctx.plan.axis("time_s").size, ctx.station.tcspc.n_channels
        bin_ps = self["bin_s"] * 1e12
        trace = np.zeros((n_ch, n), np.int64)
        filled, end_s = 0, 0.0
        for block, start_s in self.blocks(ctx):
            idx = (block.time_ps // bin_ps).astype(np.int64)  # times from the measurement start
            ok = idx < n
            flat = block.channel[ok].astype(np.int64) * n + idx[ok]
            trace += np.bincount(flat, minlength=n_ch * n).reshape(n_ch, n)
            end_s = start_s + block.duration_s
            # bins from the first one this block touched (a block's edge need not fall on a bin edge)
            first = int(block.time_ps.min() // bin_ps) if block.n_photons else filled
            filled = self._write_bins(ctx, trace, min(first, filled), min(n, int(end_s * 1e12 // bin_ps)))
        # the last, partly covered bin holds the photons up to the end of the measurement
        filled = self._write_bins(ctx, trace, max(filled - 1, 0), min(n, int(np.ceil(end_s * 1e12 / bin_ps - 1e-9))))
        self._analyse(ctx, trace.sum(axis=0)[:filled])

    @staticmethod
    def _write_bins(ctx: RunContext, trace: np.ndarray, start: int, stop: int) -> int:
        """(Re)write bins ``start:stop`` of the trace; returns how many bins are written."""
        if stop > start:
            ctx.write("counts_channel", (slice(None), slice(start, stop)), trace[:, start:stop])
            ctx.write("counts", slice(start, stop), trace[:, start:stop].sum(axis=0))
        return max(start, stop)

    def _analyse(self, ctx: RunContext, counts: np.ndarray) -> None:
        from tepl.analysis.blinking import on_fraction

        if counts.size < 10:
            return
        try:
            result = on_fraction(counts, bin_s=self["bin_s"])
        except (ValueError, RuntimeError) as exc:
            ctx.log(f"blinking analysis failed: {exc}")
            return
        ctx.recorder.set_attrs("counts", on_fraction=float(result.on_fraction),
                               on_threshold_counts=float(result.threshold))
        ctx.log(f"ON fraction {result.on_fraction:.3f} (threshold {result.threshold:.1f} counts per bin)")
