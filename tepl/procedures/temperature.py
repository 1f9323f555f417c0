"""``temperature-series``: PL spectra (and TrPL decays) of one spot at a series of cryostat temperatures, with
paper 001's analysis (physics.md section 4).

At each setpoint the cryostat's loop is set (setpoint and heater range), the procedure waits until the
reading holds the setpoint within a band for a hold time (``wait_stable``, in pieces so that pause and abort
are answered while it waits), then records the temperature, a spectrum and, on a station with a photon
counter, a TCSPC decay histogram. Each point is fitted as it is written: the peak energy and FWHM of the
band (a pseudo-Voigt in energy, ``tepl.analysis.peaks``) and the amplitude-weighted average lifetime of a
tri-exponential decay (``tepl.analysis.lifetime.fit_trpl``). At the end the series is fitted with
E(T) = E0 + A_TE·T + A_EP·(2/(exp(ħω/k_BT) − 1) + 1) and Γ(T) = Γ0 + γ_LO/(exp(E_LO/k_BT) − 1) with E_LO
held fixed, as the paper does; the fitted values go on ``peak_energy_eV`` and ``fwhm_meV`` as attributes and
the fitted curves into ``peak_energy_model_eV`` and ``fwhm_model_meV``. The final fits read the series from
the file, so a resumed run fits every point it holds.

Temperatures K, energies eV (widths meV), times s (TCSPC ns).
"""

from __future__ import annotations

import numpy as np

from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.moves import move_to_spot
from tepl.procedures.params import Parameter, ParameterError
from tepl.procedures.spectral import spectral_axes
from tepl.procedures.sweeps import gap_steps
from tepl.roles import DeviceError, LimitError

HEATER_RANGES = ("low", "medium", "high")
MAX_SETPOINTS = 10_000
_OVERHEAD_S = 0.5  # readings, readout and settings per point, for the time estimate
_SETTLE_S = 60.0  # the estimate's settling time per setpoint, on top of the hold ...
_SETTLE_S_PER_K = 2.0  # ... and of this much per kelvin of the step
_LIFETIME_COMPONENTS = 3  # paper 001's tri-exponential TrPL fits


def _fit_window(wavelength_nm: np.ndarray, low_nm: float, high_nm: float) -> tuple[float, float]:
    low, high = max(low_nm, float(wavelength_nm.min())), min(high_nm, float(wavelength_nm.max()))
    if high - low < 0.5 * (high_nm - low_nm):
        raise LimitError(f"the spectrometer covers {wavelength_nm.min():.0f}-{wavelength_nm.max():.0f} nm, less "
                         f"than half of the fit window {low_nm:g}-{high_nm:g} nm: set its center_wavelength_nm "
                         "inside the window or move the window (fit_from_nm, fit_to_nm)")
    return low, high


class TemperatureSeries(Procedure):
    name = "temperature-series"
    resumable = True
    summary = "PL spectra (and TrPL decays) of one spot at a series of cryostat temperatures, with E(T) and Γ(T) fits"
    roles = ("stage", "spectrometer", "shutter", "cryostat")
    parameters = (
        Parameter("start_k", 10.0, "K", 0.0, 1500.0, doc="first setpoint"),
        Parameter("stop_k", 300.0, "K", 0.0, 1500.0, doc="last setpoint (below start_k: a cooling series)"),
        Parameter("step_k", 10.0, "K", 0.01, 1500.0, doc="setpoint step"),
        Parameter("band_k", 0.1, "K", 0.001, 50.0,
                  doc="stability band: largest distance of the reading from the setpoint"),
        Parameter("hold_s", 30.0, "s", 0.0, 36_000.0,
                  doc="how long the reading must stay within band_k before the point is measured"),
        Parameter("timeout_s", 1800.0, "s", 1.0, 86_400.0, doc="longest wait for one setpoint to become stable"),
        Parameter("heater_range", "high", kind=str, choices=HEATER_RANGES,
                  doc="heater range of the loop (the hottest it holds grows with the range)"),
        Parameter("x_um", 50.0, "µm", 0.0, 100.0, doc="spot, stage x"),
        Parameter("y_um", 50.0, "µm", 0.0, 100.0, doc="spot, stage y"),
        Parameter("exposure_s", 5.0, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure per temperature"),
        Parameter("acquisition_s", 5.0, "s", 1e-3, 36_000.0, limit="acquisition_s",
                  doc="TCSPC acquisition per temperature (stations with a photon counter)"),
        Parameter("tcspc_bin_ps", 200.0, "ps", 1.0, 10_000.0,
                  doc="decay bin width (a whole multiple of the TCSPC resolution)"),
        Parameter("tcspc_range_ns", 200.0, "ns", 1.0, 10_000.0,
                  doc="decay time range after the laser pulse (at most one laser period)"),
        Parameter("fit_from_nm", 450.0, "nm", 100.0, 2000.0, doc="peak-fit window, short end"),
        Parameter("fit_to_nm", 600.0, "nm", 100.0, 2000.0, doc="peak-fit window, long end"),
        Parameter("E_LO_meV", 22.0, "meV", 1.0, 200.0, doc="LO phonon energy held fixed in the Γ(T) fit"),
    )

    def __init__(self, **values):
        super().__init__(**values)
        if self["fit_to_nm"] <= self["fit_from_nm"]:
            raise ParameterError(f"parameter fit_to_nm = {self['fit_to_nm']:g} nm must be above "
                                 f"fit_from_nm = {self['fit_from_nm']:g} nm")
        n = int(np.floor(abs(self["stop_k"] - self["start_k"]) / self["step_k"] + 1e-9)) + 1
        if n > MAX_SETPOINTS:
            raise ParameterError(f"{n} setpoints from {self['start_k']:g} to {self['stop_k']:g} K in steps of "
                                 f"{self['step_k']:g} K: more than {MAX_SETPOINTS}; use a larger step_k")

    def setpoints_k(self) -> np.ndarray:
        """The setpoints (K) from start_k towards stop_k in steps of step_k, ending on stop_k."""
        return gap_steps(self["start_k"], self["stop_k"], self["step_k"])

    @staticmethod
    def counts_photons(station) -> bool:
        """True when the station has a photon counter that sees laser pulses (decays possible)."""
        return station.has_role("tcspc") and bool(np.isfinite(station.tcspc.sync_period_ps()))

    def decay_bins(self, counter) -> tuple[int, int]:
        """(TCSPC bins per decay bin, number of decay bins) for the counter's resolution and laser period."""
        resolution_ps = counter.resolution_ps()
        factor = max(1, int(round(self["tcspc_bin_ps"] / resolution_ps)))
        range_ps = min(self["tcspc_range_ns"] * 1000.0, counter.sync_period_ps())
        return factor, max(1, int(range_ps // (factor * resolution_ps)))

    # ---- plan ---------------------------------------------------------------------------------
    def make_plan(self, station, plan: PlanBuilder) -> None:
        setpoints = self.setpoints_k()
        n = setpoints.size
        cryostat = station.cryostat
        interlocks.stage_travel(plan, station, self["x_um"], self["y_um"])
        plan.interlock("cryostat setpoint", cryostat.setpoint_range_k,
                       "the loop is never given a setpoint outside the controller's range (the role checks each "
                       "again)", setpoints, "setpoint")
        interlocks.exposure(plan, station, self["exposure_s"])
        wl = station.spectrometer.wavelengths_nm()
        window = _fit_window(wl, self["fit_from_nm"], self["fit_to_nm"])
        plan.check(f"peaks fitted over {window[0]:.0f}-{window[1]:.0f} nm of the spectrometer's "
                   f"{wl.min():.0f}-{wl.max():.0f} nm")
        safe = "switches the heaters off" if cryostat.safe_heater == "off" else "leaves the heaters as they are"
        plan.check(f"each setpoint held within ±{self['band_k']:g} K for {self['hold_s']:g} s before measuring, "
                   f"waiting at most {self['timeout_s']:g} s; heater range {self['heater_range']}; the safe state "
                   f"{safe}")
        plan.points(("step",), step=np.arange(n), setpoint_k=setpoints, exposure_s=np.full(n, self["exposure_s"]))
        plan.axis("setpoint_k", setpoints, "K")
        spectral_axes(plan.axis, wl)
        plan.dataset("spectra", (n, wl.size), ("setpoint_k", "wavelength_nm"), "counts", signal=True)
        for name, unit, text in (
                ("temperature_k", "K", "control input's reading: mean of before the spectrum and after the last "
                                       "measurement of the point"),
                ("temperature_change_k", "K", "reading after minus reading before, over the point's measurements"),
                ("wait_s", "s", "time from setting the setpoint to stable"),
                ("heater_percent", "%", "heater output while measuring"),
                ("peak_energy_eV", "eV", "fitted band centre"), ("peak_energy_eV_err", "eV", "1-sigma"),
                ("fwhm_meV", "meV", "fitted band FWHM"), ("fwhm_meV_err", "meV", "1-sigma"),
                ("peak_area", "counts", "fitted band area"),
                ("peak_energy_model_eV", "eV", "the E(T) fit at the measured temperatures (end of the run)"),
                ("fwhm_model_meV", "meV", "the Γ(T) fit at the measured temperatures (end of the run)")):
            plan.dataset(name, (n,), ("setpoint_k",), unit, description=text)
        plan.attrs("/entry/data", temperature_k_indices=0)  # measured temperature: an auxiliary axis of the step
        per_point_s = self["exposure_s"] + _OVERHEAD_S
        plan.view("line", "spectra", ("setpoint_k",), "integrated counts vs setpoint")
        plan.view("spectrum", "spectra", ("wavelength_nm",), "latest spectrum")
        plan.view("line", "peak_energy_eV", ("setpoint_k",), "peak energy vs temperature")
        plan.view("line", "fwhm_meV", ("setpoint_k",), "FWHM vs temperature")
        if self.counts_photons(station):
            counter = station.tcspc
            interlocks.acquisition(plan, station, self["acquisition_s"])
            interlocks.count_rate(plan, station)
            factor, n_bins = self.decay_bins(counter)
            resolution_ps, n_ch = counter.resolution_ps(), counter.n_channels
            plan.axis("tcspc_time_ns", np.arange(n_bins) * factor * resolution_ps / 1000.0, "ns",
                      description="start of each decay bin after the sync pulse")
            plan.dataset("decays", (n, n_ch, n_bins), ("setpoint_k", "channel", "tcspc_time_ns"), "counts",
                         dtype="u4", tcspc_bins_per_bin=factor, sync_period_ns=counter.sync_period_ps() / 1000.0,
                         acquisition_s=self["acquisition_s"])
            plan.dataset("lifetime_ns", (n,), ("setpoint_k",), "ns",
                         description="amplitude-weighted average sum(A_i tau_i)/sum(A_i) of a tri-exponential fit "
                                     "of channel 0")
            plan.dataset("lifetime_ns_err", (n,), ("setpoint_k",), "ns", description="1-sigma")
            plan.dataset("tau_ns", (n, _LIFETIME_COMPONENTS), ("setpoint_k", "component"), "ns")
            plan.dataset("amplitude_fraction", (n, _LIFETIME_COMPONENTS), ("setpoint_k", "component"), "")
            plan.check(f"decays of {n_bins} bins of {factor * resolution_ps:g} ps on {n_ch} channel(s), "
                       "tri-exponential fit of channel 0")
            plan.view("line", "lifetime_ns", ("setpoint_k",), "average lifetime vs temperature")
            plan.view("decay", "decays", ("tcspc_time_ns",), "decay")
            plan.memory("one decay histogram per channel (up to 65536 bins)", n_ch * 65536 * 8)
            per_point_s += self["acquisition_s"]
        else:
            plan.check("no photon counter with laser pulses on this station: spectra only, no decays")
        steps_k = np.abs(np.diff(np.concatenate([[cryostat.temperature_k()], setpoints])))
        waits_s = np.minimum(self["timeout_s"], self["hold_s"] + _SETTLE_S + _SETTLE_S_PER_K * steps_k)
        plan.check(f"estimate: thermal waits of hold_s + {_SETTLE_S:g} s + {_SETTLE_S_PER_K:g} s per K of each "
                   f"step, {waits_s.sum():.0f} s in all (the cryostat decides)")
        plan.estimate(float(waits_s.sum()) + n * per_point_s)

    # ---- run ----------------------------------------------------------------------------------
    def execute(self, ctx: RunContext) -> None:
        st, plan = ctx.station, ctx.plan
        wl = plan.axis("wavelength_nm")
        window = _fit_window(wl, self["fit_from_nm"], self["fit_to_nm"])
        photons = plan.has_dataset("decays")
        st.shutter.shut()
        move_to_spot(ctx, self["x_um"], self["y_um"])
        st.shutter.open()
        n = len(plan.points)
        for point in ctx.visit(lambda p: f"{p['setpoint_k']:g} K ({p['step'] + 1}/{n})"):
            i, setpoint = point["step"], point["setpoint_k"]
            waited_s = self._settle(ctx, i, setpoint)
            before = st.cryostat.temperature_k()
            spectrum = st.spectrometer.acquire(point["exposure_s"])
            decays = self._decays(ctx) if photons else None
            after = st.cryostat.temperature_k()
            ctx.write("wait_s", i, waited_s)
            ctx.write("temperature_k", i, 0.5 * (before + after))
            ctx.write("temperature_change_k", i, after - before)
            ctx.write("heater_percent", i, st.cryostat.heater_percent())
            ctx.write("spectra", i, spectrum)
            energy, fwhm = self._fit_spectrum(ctx, i, wl, spectrum, window)
            message = f"{0.5 * (before + after):.2f} K: peak {energy:.4f} eV, FWHM {fwhm:.1f} meV"
            if decays is not None:
                ctx.write("decays", i, decays)
                lifetime = self._fit_decay(ctx, i, decays[0])
                message += f", average lifetime {lifetime:.2f} ns"
            ctx.log(message)
        st.shutter.shut()
        self._fit_series(ctx)

    def _settle(self, ctx: RunContext, i: int, setpoint_k: float) -> float:
        """Set the loop and wait until stable; returns the wait (s). The wait goes in pieces that each can
        hold the whole hold time, with a checkpoint between them. A piece that ends before its time is up
        failed for another reason than the temperature (the controller's own error): that error ends the run."""
        st = ctx.station
        cryostat = st.cryostat
        started = st.now_s()
        cryostat.set_setpoint_k(None, setpoint_k)
        cryostat.set_heater_range(None, self["heater_range"])
        piece_s = max(2.0 * self["hold_s"], self["hold_s"] + 60.0)
        while True:
            budget_s = max(min(piece_s, self["timeout_s"] - (st.now_s() - started)), 0.0)
            piece_started = st.now_s()
            try:
                cryostat.wait_stable(self["band_k"], self["hold_s"], budget_s)
                return st.now_s() - started
            except DeviceError:
                if st.now_s() - piece_started < 0.999 * budget_s:
                    raise
            reading = cryostat.temperature_k()
            if st.now_s() - started >= self["timeout_s"]:
                raise DeviceError(
                    f"cryostat did not hold {setpoint_k:g} ± {self['band_k']:g} K for {self['hold_s']:g} s within "
                    f"timeout_s = {self['timeout_s']:g} s (last reading {reading:.3f} K, heater range "
                    f"{self['heater_range']}): is the range strong enough?")
            ctx.progress(i, len(ctx.plan.points), f"waiting for {setpoint_k:g} K: {reading:.2f} K")
            ctx.checkpoint()

    def _decays(self, ctx: RunContext) -> np.ndarray:
        """One histogram-mode measurement, rebinned to the plan's decay bins: (channel, bin) counts."""
        counter = ctx.station.tcspc
        spec = ctx.plan.dataset("decays")
        factor = int(ctx.plan.attrs["decays"]["tcspc_bins_per_bin"])
        n_bins = spec.shape[-1]
        histograms = counter.histograms(self["acquisition_s"])
        used = histograms[:, : factor * n_bins]
        if used.shape[1] < factor * n_bins:  # a histogram shorter than the decay range: zeros beyond it
            used = np.pad(used, ((0, 0), (0, factor * n_bins - used.shape[1])))
        return used.reshape(used.shape[0], n_bins, factor).sum(axis=2)

    def _fit_spectrum(self, ctx: RunContext, i: int, wl: np.ndarray, spectrum: np.ndarray,
                      window: tuple[float, float]) -> tuple[float, float]:
        from tepl.analysis.peaks import fit_peak

        fit = fit_peak(wl, spectrum, window_nm=window)
        ok = bool(fit.ok)
        values = {"peak_energy_eV": fit.center_eV, "peak_energy_eV_err": fit.center_eV_err,
                  "fwhm_meV": 1e3 * fit.fwhm_eV, "fwhm_meV_err": 1e3 * fit.fwhm_eV_err, "peak_area": fit.amplitude}
        for name, value in values.items():
            ctx.write(name, i, float(value) if ok else np.nan)
        if not ok:
            ctx.log(f"point {i + 1}: no peak found in {window[0]:.0f}-{window[1]:.0f} nm")
        return (float(fit.center_eV), float(1e3 * fit.fwhm_eV)) if ok else (np.nan, np.nan)

    def _fit_decay(self, ctx: RunContext, i: int, counts: np.ndarray) -> float:
        from tepl.analysis.lifetime import fit_trpl

        time_ns = ctx.plan.axis("tcspc_time_ns")
        period_ns = float(ctx.plan.attrs["decays"]["sync_period_ns"])
        nan3 = np.full(_LIFETIME_COMPONENTS, np.nan)
        fit = None
        if counts.sum() >= 1000:
            try:
                fit = fit_trpl(time_ns, counts, _LIFETIME_COMPONENTS, period_ns=period_ns)
            except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
                ctx.log(f"point {i + 1}: decay fit failed: {exc}")
        if fit is None or not fit.ok:
            if fit is None and counts.sum() < 1000:
                ctx.log(f"point {i + 1}: {int(counts.sum())} counts in the decay, too few for a fit")
            elif fit is not None:
                ctx.log(f"point {i + 1}: decay fit rejected (not converged, a lifetime or IRF parameter on its "
                        f"bound, or a component without amplitude)")
            for name, value in (("lifetime_ns", np.nan), ("lifetime_ns_err", np.nan), ("tau_ns", nan3),
                                ("amplitude_fraction", nan3)):
                ctx.write(name, i, value)
            return np.nan
        ctx.write("lifetime_ns", i, fit.tau_amplitude_weighted_ns)
        ctx.write("lifetime_ns_err", i, fit.tau_amplitude_weighted_ns_err)
        ctx.write("tau_ns", i, fit.tau_ns)
        ctx.write("amplitude_fraction", i, fit.amplitude_fraction)
        return float(fit.tau_amplitude_weighted_ns)

    def _fit_series(self, ctx: RunContext) -> None:
        """E(T) with ħω free and Γ(T) with E_LO fixed, over every point the file holds."""
        from tepl.analysis.temperature import fit_linewidth, fit_peak_energy

        rec = ctx.recorder
        temperature = rec.dataset("temperature_k")[()].astype(float)
        for name, model_name, fitter, options, need in (
                ("peak_energy_eV", "peak_energy_model_eV", fit_peak_energy, {}, 4),
                ("fwhm_meV", "fwhm_model_meV", fit_linewidth, {"E_LO_meV": self["E_LO_meV"]}, 3)):
            values = rec.dataset(name)[()].astype(float)
            good = np.isfinite(temperature) & np.isfinite(values) & (temperature > 0)
            if good.sum() < need:
                ctx.log(f"{name}: {int(good.sum())} points, too few for the temperature fit (needs {need})")
                rec.set_attrs(name, fit_status=f"not fitted: {int(good.sum())} points")
                continue
            try:
                fit = fitter(temperature[good], values[good], **options)
            except (ValueError, RuntimeError) as exc:
                ctx.log(f"{name}: temperature fit failed: {exc}")
                rec.set_attrs(name, fit_status=f"failed: {exc}")
                continue
            model = np.full(values.size, np.nan)
            model[good] = fit.fitted
            ctx.write(model_name, slice(None), model)
            attrs = {f"fit_{key}": value for key, value in fit.values.items()}
            attrs.update({f"fit_{key}_err": value for key, value in fit.errors.items()})
            fixed = ", E_LO_meV held fixed" if options else ""
            rec.set_attrs(name, fit_status="fitted", fit_rms_residual=fit.rms_residual, fit_points=int(good.sum()),
                          fit_model=("E0 + A_TE T + A_EP (2/(exp(hbar w/k_B T) - 1) + 1)" if not options else
                                     "Gamma0 + gamma_LO/(exp(E_LO/k_B T) - 1)") + fixed, **attrs)
            ctx.log(f"{name} vs T: " + ", ".join(f"{k} = {v:.4g} ± {fit.errors[k]:.2g}" for k, v in fit.values.items()))
