"""Confocal photon-counting raster: per-pixel counts on every SPAD and per-pixel TCSPC decays (a FLIM cube).

``scans = N`` repeats the raster; each scan is kept (``counts[scan, channel, y, x]``), its drift relative to
the first scan is measured by cross-correlating the count images, and the FLIM cube and the count sum are
accumulated after moving each scan back by the measured drift (whole pixels for the cube, so every cube bin
stays a photon count). With a CW laser (no sync pulses) only the counts are recorded, from T2 tags.
"""

from __future__ import annotations

import numpy as np

from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.base import Event, Procedure, RunContext
from tepl.procedures.params import Parameter
from tepl.procedures.sweeps import centred_grid, grid_points, scan_area_parameters

_PIXEL_OVERHEAD_S = 0.01  # stage settle + FIFO drain per pixel, for the time estimate


def shift_whole_pixels(data: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``data[channel, y, x, ...]`` with its image content moved by ``dy`` rows and ``dx`` columns (whole
    pixels); pixels with nothing moved onto them are 0."""
    out = np.zeros_like(data)
    ny, nx = data.shape[1], data.shape[2]
    src_y = slice(max(0, -dy), min(ny, ny - dy))
    dst_y = slice(max(0, dy), min(ny, ny + dy))
    src_x = slice(max(0, -dx), min(nx, nx - dx))
    dst_x = slice(max(0, dx), min(nx, nx + dx))
    out[:, dst_y, dst_x] = data[:, src_y, src_x]
    return out


class ConfocalRaster(Procedure):
    name = "confocal-raster"
    resumable = True
    summary = "XY raster of the sample under the focus: counts per SPAD and TCSPC decays per pixel (FLIM)"
    roles = ("stage", "tcspc")
    parameters = scan_area_parameters(20.0, 0.5, 0.01, 50.0, "raster") + (
        Parameter("dwell_s", 0.1, "s", 1e-3, 60.0, limit="acquisition_s", doc="photon counting time per pixel"),
        Parameter("scans", 1, "", 1, 100, kind=int, doc="consecutive scans, summed after drift correction"),
        Parameter("tcspc_bin_ps", 64.0, "ps", 1.0, 10_000.0,
                  doc="FLIM bin width (a whole multiple of the TCSPC resolution)"),
        Parameter("tcspc_range_ns", 100.0, "ns", 1.0, 10_000.0,
                  doc="FLIM time range after the laser pulse (at most one laser period)"),
    )

    # ---- geometry and bins --------------------------------------------------------------------
    def flim_bins(self, counter) -> tuple[int, int]:
        """(TCSPC bins per FLIM bin, number of FLIM bins) for the counter's resolution and laser period."""
        resolution_ps = counter.resolution_ps()
        factor = max(1, int(round(self["tcspc_bin_ps"] / resolution_ps)))
        range_ps = min(self["tcspc_range_ns"] * 1000.0, counter.sync_period_ps())
        return factor, max(1, int(range_ps // (factor * resolution_ps)))

    @staticmethod
    def pulsed(counter) -> bool:
        """True when laser pulses reach the sync input (TCSPC decays possible)."""
        return bool(np.isfinite(counter.sync_period_ps()))

    def make_plan(self, station, plan: PlanBuilder) -> None:
        counter = station.tcspc
        n_ch, n_scans = counter.n_channels, self["scans"]
        x_um = plan.axis("x_um", centred_grid(self["center_x_um"], self["size_x_um"], self["pixel_um"]), "µm")
        y_um = plan.axis("y_um", centred_grid(self["center_y_um"], self["size_y_um"], self["pixel_um"]), "µm")
        pixels = grid_points(x_um, y_um, self["order"], n_scans)
        plan.points(("scan", "iy", "ix"), scan=pixels["scan"], iy=pixels["iy"], ix=pixels["ix"], x_um=pixels["x"],
                    y_um=pixels["y"], dwell_s=np.full(pixels["ix"].size, self["dwell_s"]))
        interlocks.stage_travel(plan, station, x_um, y_um, "scan corner")
        interlocks.acquisition(plan, station, self["dwell_s"])
        interlocks.count_rate(plan, station)
        shape = (y_um.size, x_um.size)
        plan.dataset("counts", (n_scans, n_ch) + shape, ("scan", "channel", "y_um", "x_um"), "counts", dtype="u4",
                     signal=True)
        plan.dataset("counts_sum", (n_ch,) + shape, ("channel", "y_um", "x_um"), "counts")
        plan.dataset("scans_summed", shape, ("y_um", "x_um"), "", dtype="u2")
        plan.view("count-map", "counts", ("x_um", "y_um"), "counts")
        n_bins = 1
        if self.pulsed(counter):
            factor, n_bins = self.flim_bins(counter)
            resolution_ps = counter.resolution_ps()
            plan.axis("tcspc_time_ns", np.arange(n_bins) * factor * resolution_ps / 1000.0, "ns",
                      description="start of each TCSPC bin after the sync pulse")
            sync_hz, _ = counter.count_rates()
            plan.dataset("flim", (n_ch,) + shape + (n_bins,), ("channel", "y_um", "x_um", "tcspc_time_ns"),
                         "counts", dtype="u4", sync_rate_hz=float(sync_hz), dwell_s=self["dwell_s"],
                         tcspc_bins_per_bin=factor,
                         description="decays summed over the scans (see scans_summed); laser pulses per pixel "
                                     "= scans_summed x dwell_s x sync_rate_hz, for a dead-time correction")
            plan.dataset("flim_scan", (n_ch,) + shape + (n_bins,), ("channel", "y_um", "x_um", "tcspc_time_ns"),
                         "counts", dtype="u4",
                         description="decays of the scan in progress, written line by line (not drift corrected): "
                                     "an interrupted scan keeps every completed line here; flim_scan_number "
                                     "says which scan each line belongs to")
            plan.dataset("flim_scan_number", (y_um.size,), ("y_um",), "", dtype="i2", fill=-1,
                         description="the scan each line of flim_scan holds (-1: none yet)")
            plan.check(f"FLIM cube of {n_bins} bins of {factor * resolution_ps:g} ps")
            plan.view("decay", "flim_scan", ("tcspc_time_ns",), "decay of the scan in progress")
        else:
            plan.check("no laser pulses on the sync input (CW): counts only, no FLIM cube")
        plan.dataset("drift_nm", (n_scans, 2), ("scan", "xy"), "nm", columns="x, y",
                     description="sample drift since the first scan, measured by cross-correlation")
        plan.dataset("scan_start_s", (n_scans,), ("scan",), "s")
        plan.attrs("/entry/data", channel_names=", ".join(station.counter_channel_labels()))
        plan.estimate(n_scans * x_um.size * y_um.size * (self["dwell_s"] + _PIXEL_OVERHEAD_S))
        cube_bytes = n_ch * x_um.size * y_um.size * n_bins * 4
        plan.memory("FLIM cube of the scan and its sum", 2 * cube_bytes)
        plan.memory("count images", n_ch * x_um.size * y_um.size * (4 + 8))

    # ---- run ----------------------------------------------------------------------------------
    # ---- run ----------------------------------------------------------------------------------
    def restore(self, ctx: RunContext) -> None:
        """Read back the sums, the reference image and the scan in progress of an interrupted run."""
        self._state = _ScanState.read(ctx)

    def execute(self, ctx: RunContext) -> None:
        from tepl.analysis.tcspc import decay_histogram

        st, plan = ctx.station, ctx.plan
        counter = st.tcspc
        n_x, n_y, n_scans = plan.axis("x_um").size, plan.axis("y_um").size, self["scans"]
        state = getattr(self, "_state", None) or _ScanState.new(ctx)
        self._state = None
        points = list(plan.points.rows())
        lines = [points[i:i + n_x] for i in range(0, len(points), n_x)]

        def label(line) -> str:
            return f"scan {line[0]['scan'] + 1}/{n_scans}, line {line[0]['iy'] + 1}/{n_y}"

        for line in ctx.visit(label, lines):
            scan, iy = line[0]["scan"], line[0]["iy"]
            if iy == 0:
                state.start_scan(ctx, scan)
            for point in line:
                ctx.checkpoint()
                ix = point["ix"]
                st.stage.move_and_wait_um(x=point["x_um"], y=point["y_um"])
                block = counter.t3(point["dwell_s"]) if state.pulsed else counter.t2(point["dwell_s"])
                state.image[:, iy, ix] = np.bincount(block.channel.astype(np.int64),
                                                     minlength=state.n_ch)[:state.n_ch]
                _show_pixel(ctx, scan, iy, ix, state.image[:, iy, ix])
                if state.pulsed:
                    state.cube[:, iy, ix] = decay_histogram(block.dtime, block.channel, state.n_bins, state.n_ch,
                                                            state.factor)  # dtime beyond the last bin left out
            ctx.write("counts", (scan, slice(None), iy), state.image[:, iy])
            if state.pulsed:  # the line's decays reach the file with its counts: an abort keeps them
                ctx.write("flim_scan", (slice(None), iy), state.cube[:, iy])
                ctx.write("flim_scan_number", iy, scan)
            if iy == n_y - 1:
                state.finish_scan(ctx, scan, self["pixel_um"])
            elif ctx.stop_requested:
                ctx.log(f"stop requested: scan {scan + 1} ended early and is not summed")


def _show_pixel(ctx: RunContext, scan: int, iy: int, ix: int, counts: np.ndarray) -> None:
    """Tell the live views a pixel's counts per channel as soon as it is measured (event ``live``: the line
    reaches the file with ``counts[scan, :, iy]`` once complete, so nothing is recorded here)."""
    ctx.emit(Event("live", "counts", data={"name": "counts", "index": (scan, slice(None), iy, ix),
                                           "value": counts.copy()}))


class _ScanState:
    """What a confocal raster keeps in memory between lines: the scan in progress (counts and decays), the
    drift-corrected sums, the reference image of the first scan and the run's time origin."""

    def __init__(self, ctx: RunContext):
        plan, counter = ctx.plan, ctx.station.tcspc
        self.n_x, self.n_y, self.n_ch = plan.axis("x_um").size, plan.axis("y_um").size, counter.n_channels
        self.pulsed = plan.has_dataset("flim")
        self.factor = int(plan.attrs["flim"]["tcspc_bins_per_bin"]) if self.pulsed else 1
        self.n_bins = plan.axis("tcspc_time_ns").size if self.pulsed else 1
        self.flim_sum = np.zeros((self.n_ch, self.n_y, self.n_x, self.n_bins), np.uint32)
        self.counts_sum = np.zeros((self.n_ch, self.n_y, self.n_x))
        self.covered = np.zeros((self.n_y, self.n_x), np.uint16)
        self.reference: np.ndarray | None = None
        self.image = np.zeros((self.n_ch, self.n_y, self.n_x), np.uint32)
        self.cube = np.zeros((self.n_ch, self.n_y, self.n_x, self.n_bins), np.uint32)
        self.t_run0 = ctx.station.now_s()

    @classmethod
    def new(cls, ctx: RunContext) -> _ScanState:
        return cls(ctx)

    @classmethod
    def read(cls, ctx: RunContext) -> _ScanState:
        """The state an interrupted run left in its file, ``ctx.first_step`` lines in."""
        state, rec = cls(ctx), ctx.recorder
        scan, done_rows = divmod(ctx.first_step, state.n_y)
        state.counts_sum = rec.dataset("counts_sum")[()].astype(float)
        state.covered = rec.dataset("scans_summed")[()]
        if state.pulsed:
            state.flim_sum = rec.dataset("flim")[()]
        if scan > 0:
            state.reference = rec.dataset("counts")[0].sum(axis=0).astype(float)
        if done_rows:
            state.image[:, :done_rows] = rec.dataset("counts")[scan, :, :done_rows]
            if state.pulsed:
                state.cube[:, :done_rows] = rec.dataset("flim_scan")[:, :done_rows]
        starts = rec.dataset("scan_start_s")[()]
        started = starts[: scan + 1][np.isfinite(starts[: scan + 1])]
        if started.size:  # go on from the last scan's start: times since the first scan, roughly
            state.t_run0 = ctx.station.now_s() - float(started[-1])
        return state

    def start_scan(self, ctx: RunContext, scan: int) -> None:
        ctx.write("scan_start_s", scan, ctx.station.now_s() - self.t_run0)
        self.image.fill(0)
        self.cube.fill(0)

    def finish_scan(self, ctx: RunContext, scan: int, pixel_um: float) -> None:
        """Measure the drift against the first scan, add the scan to the sums and write them."""
        from tepl.analysis.drift import image_shift

        total = self.image.sum(axis=0).astype(float)
        if self.reference is None:
            self.reference, dy, dx = total, 0.0, 0.0
        else:
            dy, dx = image_shift(self.reference, total)
        # the sample drifted by d: its features appear moved by -d in stage coordinates
        drift_x_nm, drift_y_nm = -dx * pixel_um * 1000.0, -dy * pixel_um * 1000.0
        ctx.write("drift_nm", scan, [drift_x_nm, drift_y_nm])
        iy_shift, ix_shift = -int(round(dy)), -int(round(dx))
        self.flim_sum += shift_whole_pixels(self.cube, iy_shift, ix_shift)
        self.counts_sum += shift_whole_pixels(self.image, iy_shift, ix_shift)
        self.covered += shift_whole_pixels(np.ones((1, self.n_y, self.n_x), np.uint16), iy_shift, ix_shift)[0]
        if self.pulsed:
            ctx.recorder.write("flim", slice(None), self.flim_sum)
        ctx.recorder.write("counts_sum", slice(None), self.counts_sum)
        ctx.recorder.write("scans_summed", slice(None), self.covered)
        ctx.log(f"scan {scan + 1}: drift ({drift_x_nm:.0f}, {drift_y_nm:.0f}) nm since scan 1, "
                f"{int(self.image.sum())} photons")
