"""``kinetic-series``: spectra vs time at one position (spectral diffusion, charged-exciton switching,
correlated peaks of single nanocrystals). One frame is written and flushed as soon as it is read."""

from __future__ import annotations

import numpy as np

from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.common import add_spectral_axes, check_exposure, check_stage_point, move_to_spot
from tepl.procedures.params import Parameter

_READOUT_S = 0.035  # FVB readout per frame, for the time estimate


class KineticSeries(Procedure):
    name = "kinetic-series"
    summary = "Spectra vs time at one position (spectral diffusion and jumps of single emitters)"
    roles = ("stage", "spectrometer", "shutter")
    parameters = (
        Parameter("x_um", 50.0, "µm", 0.0, 100.0, doc="stage x of the emitter"),
        Parameter("y_um", 50.0, "µm", 0.0, 100.0, doc="stage y of the emitter"),
        Parameter("exposure_s", 1.0, "s", 1e-4, 3600.0, doc="CCD exposure per frame"),
        Parameter("frames", 100, "", 1, 1_000_000, kind=int, doc="number of spectra"),
    )

    def check(self, station) -> list[str]:
        return [check_stage_point(station, self["x_um"], self["y_um"]), check_exposure(station, self["exposure_s"])]

    def estimate_s(self, station) -> float:
        return self["frames"] * (self["exposure_s"] + _READOUT_S)

    def prepare(self, ctx: RunContext) -> None:
        wl = ctx.station.spectrometer.wavelengths_nm()
        rec = ctx.recorder
        n = self["frames"]
        rec.add_dataset("spectra", (n, wl.size), ("time_s", "wavelength_nm"), "counts", signal=True)
        rec.add_axis("time_s", np.full(n, np.nan), "s")  # frame start times, filled as frames arrive
        add_spectral_axes(rec, wl)
        rec.set_attrs("time_s", description="start of each exposure, s from the first one; start_clock_s: the "
                                         "first one on the station clock")

    def execute(self, ctx: RunContext) -> None:
        st = ctx.station
        n = self["frames"]
        st.shutter.close()
        move_to_spot(ctx, self["x_um"], self["y_um"])
        st.shutter.open()
        t0 = None
        for frame in range(n):
            ctx.checkpoint()
            t = st.now_s()
            t0 = t if t0 is None else t0
            spectrum = st.spectrometer.acquire(self["exposure_s"])
            if frame == 0:
                ctx.recorder.set_attrs("time_s", start_clock_s=t0)
            ctx.write("time_s", frame, t - t0)
            ctx.write("spectra", frame, spectrum)
            ctx.recorder.flush()
            ctx.progress(frame + 1, n, f"frame {frame + 1}/{n}")
            if ctx.stop_requested:
                ctx.log(f"stop requested: ended after frame {frame + 1} of {n}")
                break
        st.shutter.close()
