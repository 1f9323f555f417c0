"""Hyperspectral scans under shear-force feedback: ``raster`` (XY grid) and ``line-scan`` (1-D)."""

from __future__ import annotations

import numpy as np

from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.common import (
    add_spectral_axes,
    approach_spot,
    check_exposure,
    check_fit_window,
    check_stage_point,
    live_fit,
)
from tepl.procedures.params import Parameter

_READOUT_S = 0.035  # FVB readout + stage settle per pixel, for the time estimate
FLYBACK_RETRACT_NM = 1000.0  # moves longer than this between lines are made with the tip withdrawn


def grid_nm(center_um: float, size_nm: float, step_nm: float) -> np.ndarray:
    """Pixel centres (nm, stage coordinates) of a line of ``size_nm`` centred on ``center_um``."""
    n = int(round(size_nm / step_nm)) + 1
    return center_um * 1000.0 + (np.arange(n) - (n - 1) / 2.0) * step_nm


class Raster(Procedure):
    name = "raster"
    summary = "XY grid under shear-force feedback: a spectrum and the topography height per pixel"
    roles = ("stage", "zcontrol", "spectrometer", "shutter")
    parameters = (
        Parameter("center_x_um", 50.0, "µm", 0.0, 100.0, doc="scan centre, stage x"),
        Parameter("center_y_um", 50.0, "µm", 0.0, 100.0, doc="scan centre, stage y"),
        Parameter("size_x_nm", 150.0, "nm", 0.0, 100_000.0, doc="scan width"),
        Parameter("size_y_nm", 150.0, "nm", 0.0, 100_000.0, doc="scan height"),
        Parameter("step_nm", 5.0, "nm", 0.2, 10_000.0, doc="pixel pitch"),
        Parameter("order", "snake", kind=str, choices=("raster", "snake"),
                  doc="raster: every line left to right; snake: alternate"),
        Parameter("exposure_s", 0.1, "s", 1e-4, 3600.0, doc="CCD exposure per pixel"),
    )

    def axes_nm(self) -> tuple[np.ndarray, np.ndarray]:
        return (grid_nm(self["center_x_um"], self["size_x_nm"], self["step_nm"]),
                grid_nm(self["center_y_um"], self["size_y_nm"], self["step_nm"]))

    def check(self, station) -> list[str]:
        x_nm, y_nm = self.axes_nm()
        checks = [check_exposure(station, self["exposure_s"]), check_fit_window(station)]
        for corner_x in (x_nm[0], x_nm[-1]):
            for corner_y in (y_nm[0], y_nm[-1]):
                check_stage_point(station, corner_x / 1000.0, corner_y / 1000.0, "scan corner")
        checks.append(f"all {x_nm.size} x {y_nm.size} pixels inside stage travel")
        return checks

    def estimate_s(self, station) -> float:
        x_nm, y_nm = self.axes_nm()
        return x_nm.size * y_nm.size * (self["exposure_s"] + _READOUT_S)

    def prepare(self, ctx: RunContext) -> None:
        x_nm, y_nm = self.axes_nm()
        wl = ctx.station.spectrometer.wavelengths_nm()
        rec = ctx.recorder
        rec.add_axis("y_nm", y_nm, "nm")
        rec.add_axis("x_nm", x_nm, "nm")
        add_spectral_axes(rec, wl)
        shape = (y_nm.size, x_nm.size)
        rec.add_dataset("spectra", shape + (wl.size,), ("y_nm", "x_nm", "wavelength_nm"), "counts",
                        signal=True)
        rec.add_dataset("height_nm", shape, ("y_nm", "x_nm"), "nm")
        rec.add_dataset("peak_energy_eV", shape, ("y_nm", "x_nm"), "eV")
        rec.add_dataset("peak_intensity", shape, ("y_nm", "x_nm"), "counts")
        rec.add_dataset("peak_fwhm_eV", shape, ("y_nm", "x_nm"), "eV")

    def _lines(self):
        """(row index, [(column index, x_nm), ...]) in scan order."""
        x_nm, y_nm = self.axes_nm()
        for iy, y in enumerate(y_nm):
            cols = list(enumerate(x_nm))
            if self["order"] == "snake" and iy % 2 == 1:
                cols.reverse()
            yield iy, y, cols

    def execute(self, ctx: RunContext) -> None:
        st, rec = ctx.station, ctx.recorder
        wl = st.spectrometer.wavelengths_nm()
        x_nm, y_nm = self.axes_nm()
        n_lines = y_nm.size
        st.shutter.close()
        approach_spot(ctx, x_nm[0] / 1000.0, y_nm[0] / 1000.0)
        st.shutter.open()
        last_x = x_nm[0]
        for iy, y, cols in self._lines():
            line = np.empty((x_nm.size, wl.size))
            if abs(cols[0][1] - last_x) > FLYBACK_RETRACT_NM:  # a long jump to the line start: not in contact
                approach_spot(ctx, cols[0][1] / 1000.0, y / 1000.0)
            last_x = cols[-1][1]
            for ix, x in cols:
                ctx.checkpoint()
                st.stage.move_and_wait_um(x=x / 1000.0, y=y / 1000.0)
                ctx.write("height_nm", (iy, ix), st.zcontrol.z_nm())
                line[ix] = st.spectrometer.acquire(self["exposure_s"])
                ctx.write("spectra", (iy, ix), line[ix])
            fit = live_fit(wl, line)
            ctx.write("peak_energy_eV", iy, np.where(fit.ok, fit.center_eV, np.nan))
            ctx.write("peak_intensity", iy, np.where(fit.ok, fit.amplitude, np.nan))
            ctx.write("peak_fwhm_eV", iy, np.where(fit.ok, fit.fwhm_eV, np.nan))
            rec.flush()
            ctx.progress(iy + 1, n_lines, f"line {iy + 1}/{n_lines}")
            if ctx.stop_requested:
                ctx.log(f"stop requested: ended after line {iy + 1} of {n_lines}")
                break


class LineScan(Procedure):
    name = "line-scan"
    summary = "1-D scan along x under shear-force feedback (spatio-spectral contour)"
    roles = Raster.roles
    parameters = (
        Parameter("center_x_um", 50.0, "µm", 0.0, 100.0, doc="line centre, stage x"),
        Parameter("y_um", 50.0, "µm", 0.0, 100.0, doc="stage y of the line"),
        Parameter("length_nm", 130.0, "nm", 0.0, 100_000.0, doc="line length along x"),
        Parameter("step_nm", 2.0, "nm", 0.2, 10_000.0, doc="pixel pitch"),
        Parameter("exposure_s", 0.2, "s", 1e-4, 3600.0, doc="CCD exposure per pixel"),
    )

    def axis_nm(self) -> np.ndarray:
        return grid_nm(self["center_x_um"], self["length_nm"], self["step_nm"])

    def check(self, station) -> list[str]:
        x_nm = self.axis_nm()
        checks = [check_exposure(station, self["exposure_s"])]
        for x in (x_nm[0], x_nm[-1]):
            checks.append(check_stage_point(station, x / 1000.0, self["y_um"], "line end"))
        return checks

    def estimate_s(self, station) -> float:
        return self.axis_nm().size * (self["exposure_s"] + _READOUT_S)

    def prepare(self, ctx: RunContext) -> None:
        x_nm = self.axis_nm()
        wl = ctx.station.spectrometer.wavelengths_nm()
        rec = ctx.recorder
        rec.add_axis("x_nm", x_nm, "nm")
        add_spectral_axes(rec, wl)
        rec.add_dataset("spectra", (x_nm.size, wl.size), ("x_nm", "wavelength_nm"), "counts", signal=True)
        rec.add_dataset("height_nm", (x_nm.size,), ("x_nm",), "nm")

    def execute(self, ctx: RunContext) -> None:
        st, rec = ctx.station, ctx.recorder
        x_nm = self.axis_nm()
        y_um = self["y_um"]
        st.shutter.close()
        approach_spot(ctx, x_nm[0] / 1000.0, y_um)
        st.shutter.open()
        for ix, x in enumerate(x_nm):
            ctx.checkpoint()
            st.stage.move_and_wait_um(x=x / 1000.0, y=y_um)
            ctx.write("height_nm", ix, st.zcontrol.z_nm())
            ctx.write("spectra", ix, st.spectrometer.acquire(self["exposure_s"]))
            rec.flush()
            ctx.progress(ix + 1, x_nm.size, f"pixel {ix + 1}/{x_nm.size}")
            if ctx.stop_requested:
                break
