"""Hyperspectral scans under shear-force feedback: ``raster`` (XY grid) and ``line-scan`` (1-D)."""

from __future__ import annotations

import numpy as np

from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.moves import approach_spot
from tepl.procedures.params import Parameter
from tepl.procedures.spectral import LineFits, check_fit_window, refit_missing, spectral_axes
from tepl.procedures.sweeps import centred_grid, grid_points, scan_area_parameters

_READOUT_S = 0.035  # FVB readout + stage settle per pixel, for the time estimate
FLYBACK_RETRACT_UM = 1.0  # moves longer than this between lines are made with the tip withdrawn


class Raster(Procedure):
    name = "raster"
    resumable = True
    summary = "XY grid under shear-force feedback: a spectrum and the topography height per pixel"
    roles = ("stage", "zcontrol", "spectrometer", "shutter")
    parameters = scan_area_parameters(0.15, 0.005, 0.0002, 10.0, "snake") + (
        Parameter("exposure_s", 0.1, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure per pixel"),
    )

    def make_plan(self, station, plan: PlanBuilder) -> None:
        x_um = plan.axis("x_um", centred_grid(self["center_x_um"], self["size_x_um"], self["pixel_um"]), "µm")
        y_um = plan.axis("y_um", centred_grid(self["center_y_um"], self["size_y_um"], self["pixel_um"]), "µm")
        wl = spectral_axes(plan.axis, station.spectrometer.wavelengths_nm())
        pixels = grid_points(x_um, y_um, self["order"])
        plan.points(("iy", "ix"), iy=pixels["iy"], ix=pixels["ix"], x_um=pixels["x"], y_um=pixels["y"],
                    exposure_s=np.full(pixels["ix"].size, self["exposure_s"]))
        interlocks.stage_travel(plan, station, pixels["x"], pixels["y"], "scan corner")
        interlocks.tip_z(plan, station)
        interlocks.exposure(plan, station, self["exposure_s"])
        check_fit_window(plan, station)
        shape = (y_um.size, x_um.size)
        plan.dataset("spectra", shape + (wl.size,), ("y_um", "x_um", "wavelength_nm"), "counts", signal=True)
        plan.dataset("height_nm", shape, ("y_um", "x_um"), "nm")
        plan.dataset("peak_energy_eV", shape, ("y_um", "x_um"), "eV")
        plan.dataset("peak_intensity", shape, ("y_um", "x_um"), "counts")
        plan.dataset("peak_fwhm_eV", shape, ("y_um", "x_um"), "eV")
        plan.estimate(x_um.size * y_um.size * (self["exposure_s"] + _READOUT_S))
        plan.memory("one line of spectra", x_um.size * wl.size * 8)
        plan.view("map", "spectra", ("x_um", "y_um"), "integrated counts")
        plan.view("spectrum", "spectra", ("wavelength_nm",), "latest spectrum")
        plan.view("map", "height_nm", ("x_um", "y_um"), "height")
        plan.view("map", "peak_energy_eV", ("x_um", "y_um"), "peak energy")
        plan.view("map", "peak_fwhm_eV", ("x_um", "y_um"), "peak FWHM")

    @staticmethod
    def _lines(plan) -> list[list[dict]]:
        """The plan's points grouped by scan line, in scan order (the steps of ``ctx.visit``)."""
        n_x = plan.axis("x_um").size
        points = list(plan.points.rows())
        return [points[i:i + n_x] for i in range(0, len(points), n_x)]

    def restore(self, ctx: RunContext) -> None:
        """Fit again the completed lines whose fit the interrupted run had not written yet."""
        done = [line[0]["iy"] for line in self._lines(ctx.plan)[:ctx.first_step]]
        refitted = refit_missing(ctx, ctx.plan.axis("wavelength_nm"), done)
        if refitted:
            ctx.log(f"peak fits of {refitted} completed line(s) written on resume")

    def execute(self, ctx: RunContext) -> None:
        st, plan = ctx.station, ctx.plan
        wl = plan.axis("wavelength_nm")
        n_x, n_lines = plan.axis("x_um").size, plan.axis("y_um").size
        lines = self._lines(plan)
        if ctx.first_step >= len(lines):
            return
        first = lines[ctx.first_step][0]
        st.shutter.shut()
        approach_spot(ctx, first["x_um"], first["y_um"])
        st.shutter.open()
        last_x_um = first["x_um"]
        # the calls made at every pixel, looked up once (the station finds a role by name on each access)
        checkpoint, write = ctx.checkpoint, ctx.write
        move, z_nm, acquire = st.stage.move_and_wait_um, st.zcontrol.z_nm, st.spectrometer.acquire
        with LineFits(ctx, wl) as fits:  # each line is fitted while the next one is measured
            for line_points in ctx.visit(lambda line: f"line {line[0]['iy'] + 1}/{n_lines}", lines):
                iy = line_points[0]["iy"]
                line = np.empty((n_x, wl.size))
                if abs(line_points[0]["x_um"] - last_x_um) > FLYBACK_RETRACT_UM:  # a long jump: not in contact
                    approach_spot(ctx, line_points[0]["x_um"], line_points[0]["y_um"])
                last_x_um = line_points[-1]["x_um"]
                for point in line_points:
                    checkpoint()
                    ix = point["ix"]
                    move(x=point["x_um"], y=point["y_um"])  # the stage checks the travel limits first
                    write("height_nm", (iy, ix), z_nm())
                    line[ix] = acquire(point["exposure_s"])
                    write("spectra", (iy, ix), line[ix])
                fits.submit(iy, line)


class LineScan(Procedure):
    name = "line-scan"
    resumable = True
    summary = "1-D scan along x under shear-force feedback (spatio-spectral contour)"
    roles = Raster.roles
    parameters = (
        Parameter("center_x_um", 50.0, "µm", 0.0, 100.0, doc="line centre, stage x"),
        Parameter("y_um", 50.0, "µm", 0.0, 100.0, doc="stage y of the line"),
        Parameter("length_um", 0.13, "µm", 0.0, 100.0, doc="line length along x"),
        Parameter("pixel_um", 0.002, "µm", 0.0002, 10.0, doc="pixel pitch"),
        Parameter("exposure_s", 0.2, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure per pixel"),
    )

    def make_plan(self, station, plan: PlanBuilder) -> None:
        x_um = plan.axis("x_um", centred_grid(self["center_x_um"], self["length_um"], self["pixel_um"]), "µm")
        wl = spectral_axes(plan.axis, station.spectrometer.wavelengths_nm())
        plan.points(("ix",), ix=np.arange(x_um.size), x_um=x_um, y_um=np.full(x_um.size, self["y_um"]),
                    exposure_s=np.full(x_um.size, self["exposure_s"]))
        interlocks.stage_travel(plan, station, x_um, self["y_um"], "line end")
        interlocks.tip_z(plan, station)
        interlocks.exposure(plan, station, self["exposure_s"])
        plan.dataset("spectra", (x_um.size, wl.size), ("x_um", "wavelength_nm"), "counts", signal=True)
        plan.dataset("height_nm", (x_um.size,), ("x_um",), "nm")
        plan.estimate(x_um.size * (self["exposure_s"] + _READOUT_S))
        plan.view("line", "spectra", ("x_um",), "integrated counts")
        plan.view("spectrum", "spectra", ("wavelength_nm",), "latest spectrum")

    def execute(self, ctx: RunContext) -> None:
        st, n = ctx.station, len(ctx.plan.points)
        if ctx.first_step >= n:
            return
        st.shutter.shut()
        approach_spot(ctx, float(ctx.plan.points["x_um"][ctx.first_step]), float(ctx.plan.points["y_um"][0]))
        st.shutter.open()
        for point in ctx.visit(lambda p: f"pixel {p['ix'] + 1}/{n}"):
            st.stage.move_and_wait_um(x=point["x_um"], y=point["y_um"])
            ctx.write("height_nm", point["ix"], st.zcontrol.z_nm())
            ctx.write("spectra", point["ix"], st.spectrometer.acquire(point["exposure_s"]))
