"""Issue acceptance 2 on the simulated confocal stations, measured through drivers, simulators, procedures,
run files and the project's own analysis; expectations from the twin's ground truth (the sample's stated
decays, the reference QD's g2, its true ON time, the World's drift rate)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from tepl.config import CONFIG_DIR, parse_config
from tepl.data.runfile import read_run
from tepl.procedures import run_procedure
from tepl.station import build_station


def station_from(config_name: str, **simulation) -> object:
    """A station from a shipped config with its ``simulation`` section edited."""
    data = yaml.safe_load((CONFIG_DIR / config_name).read_text())
    data["simulation"].update(simulation)
    return build_station(parse_config(yaml.safe_dump(data), config_name))


# ---------------------------------------------------------------------------------------------- FLIM
def _flim_raster(tmp_path_factory, name: str, dwell_s: float, size_x_um: float, size_y_um: float):
    st = station_from("confocal-sim.yaml", sample="flim-reference", drift_nm_per_s=[0.0, 0.0])
    path = tmp_path_factory.mktemp("flim") / f"{name}.h5"
    # pixels 1 µm apart on both halves of the reference film (split at x = 50 µm)
    run_procedure("confocal-raster", st, path, size_x_um=size_x_um, size_y_um=size_y_um, pixel_um=1.0,
                  dwell_s=dwell_s, tcspc_range_ns=200.0, tcspc_bin_ps=32.0)
    st.close()
    return read_run(path)


@pytest.fixture(scope="module")
def flim_run(tmp_path_factory):
    """4 x 2 pixels of 1 s: ~10^5 photons each."""
    return _flim_raster(tmp_path_factory, "long", 1.0, 3.0, 1.0)


@pytest.fixture(scope="module")
def flim_run_1e4(tmp_path_factory):
    """8 x 4 pixels of 0.1 s: ~10^4 photons each."""
    return _flim_raster(tmp_path_factory, "short", 0.1, 7.0, 3.0)


def _fit_channel0(run):
    """Pile-up corrected (22 ns SPAD dead time, from the config) two-exponential ML fits of channel 0."""
    import h5py

    from tepl.analysis.flim import fit_flim
    from tepl.analysis.normalisation import dead_time_correction

    d = run.data
    t_ns = np.asarray(d["tcspc_time_ns"], float)
    with h5py.File(run.path, "r") as f:
        attrs = f["/entry/data/flim"].attrs
        pulses = d["scans_summed"] * attrs["dwell_s"] * attrs["sync_rate_hz"]
    dead_ns = yaml.safe_load(run.config_text)["instruments"]["tcspc"]["channels"][0]["dead_time_ns"]
    cube = dead_time_correction(np.asarray(d["flim"][0], float), pulses[..., None], t_ns[1] - t_ns[0], dead_ns)
    return fit_flim(cube, t_ns, n_exp=2, period_ns=500.0), np.asarray(d["flim"][0]).sum(axis=-1)


def _sides(run):
    truth = run.simulation["sample"]["film"]
    split_um = float(truth["split_x_nm"]) / 1000.0
    x_um = np.asarray(run.data["x_um"])
    return [(truth["left"], x_um < split_um), (truth["right"], x_um > split_um)]


def test_flim_fits_recover_paper_003_decays_per_pixel(flim_run):
    """τ1, τ2 and the amplitude fractions of every pixel within 10 % (≥ 10^5 photons per pixel)."""
    maps, photons = _fit_channel0(flim_run)
    assert photons.min() >= 1e5, photons
    assert maps.ok.all()
    for side, columns in _sides(flim_run):
        for name in ("tau_ns", "amplitude_fraction"):
            fitted = getattr(maps, name)[:, :, columns]
            truth = np.broadcast_to(np.asarray(side[name])[:, None, None], fitted.shape)
            np.testing.assert_allclose(fitted, truth, rtol=0.10, err_msg=name)


def test_flim_fits_at_1e4_photons_per_pixel(flim_run_1e4):
    """At 10^4 photons a pixel's τ1 scatters by ~11 % (the statistical limit of the 1.9 / 6.6 ns decay):
    the medians over each half are within 10 % and the fits' own errors cover the scatter."""
    maps, photons = _fit_channel0(flim_run_1e4)
    assert photons.min() >= 1e4, photons
    assert maps.ok.mean() >= 0.9
    for side, columns in _sides(flim_run_1e4):
        tau = maps.tau_ns[:, :, columns].reshape(2, -1)
        frac = maps.amplitude_fraction[:, :, columns].reshape(2, -1)
        np.testing.assert_allclose(np.nanmedian(tau, axis=1), side["tau_ns"], rtol=0.10)
        np.testing.assert_allclose(np.nanmedian(frac, axis=1), side["amplitude_fraction"], rtol=0.10)
        pulls = (tau - np.asarray(side["tau_ns"])[:, None]) / maps.tau_ns_err[:, :, columns].reshape(2, -1)
        assert np.nanmedian(np.abs(pulls)) < 1.5


def _cramer_rao_rel_sd(tau_ns, fraction, background, n_photons, range_ns=200.0, bin_ns=0.032) -> np.ndarray:
    """Lowest relative standard deviations (tau1, tau2) any unbiased estimator can reach for a two-exponential
    decay of ``n_photons`` counts in Poisson bins (no IRF, so a slight underestimate): the Cramér-Rao bound
    from the Fisher information sum_bins (dmu/dp_i dmu/dp_j) / mu, written here independently of the fitter."""
    t = np.arange(0.0, range_ns, bin_ns) + bin_ns / 2

    def mu(p):
        t1, t2, f1, b, n = p
        shape = f1 * np.exp(-t / t1) + (1 - f1) * np.exp(-t / t2)
        return n * (shape / shape.sum() * (1 - b) + b / t.size)

    p = np.array([tau_ns[0], tau_ns[1], fraction[0], background, n_photons], float)
    jac = np.empty((t.size, p.size))
    for i in range(p.size):
        h = np.zeros_like(p)
        h[i] = 1e-6 * p[i]
        jac[:, i] = (mu(p + h) - mu(p - h)) / (2 * h[i])
    fisher = jac.T @ (jac / mu(p)[:, None])
    return np.sqrt(np.diag(np.linalg.inv(fisher)))[:2] / p[:2]


def test_flim_fit_scatter_at_1e4_photons_is_the_cramer_rao_bound(flim_run_1e4):
    """Per pixel at 10^4 photons the fits scatter as little as statistics allows: the RMS relative error of
    tau1 and tau2 over each half is within 0.6-1.6x the Cramér-Rao bound. For 1.9 / 6.6 ns that bound on
    tau1 is itself above 10 %, so 'every pixel within 10 %' needs more photons (the 10^5 test above)."""
    maps, photons = _fit_channel0(flim_run_1e4)
    for side, columns in _sides(flim_run_1e4):
        truth = np.asarray(side["tau_ns"])[:, None]
        rel = (maps.tau_ns[:, :, columns].reshape(2, -1) - truth) / truth
        bound = np.array([_cramer_rao_rel_sd(side["tau_ns"], side["amplitude_fraction"],
                                             side["background_fraction"], n) for n in photons[:, columns].ravel()])
        ratio = np.sqrt(np.nanmean(rel**2, axis=1)) / np.sqrt(np.mean(bound**2, axis=0))
        assert np.all((ratio > 0.6) & (ratio < 1.6)), (side["tau_ns"], ratio)
    left = _sides(flim_run_1e4)[0][0]
    assert _cramer_rao_rel_sd(left["tau_ns"], left["amplitude_fraction"], left["background_fraction"], 1e4)[0] > 0.10


def test_flim_file_layout(flim_run):
    d, dims = flim_run.data, flim_run.dims
    assert dims["counts"] == ("scan", "channel", "y_um", "x_um")
    assert dims["flim"] == ("channel", "y_um", "x_um", "tcspc_time_ns")
    assert d["drift_nm"].shape == (1, 2) and np.all(d["drift_nm"] == 0)
    assert flim_run.units["tcspc_time_ns"] == "ns" and flim_run.units["x_um"] == "µm"
    # the cube holds every photon counted within its time range: never more than the pixel counts
    assert np.all(d["flim"].sum(axis=-1) <= d["counts"][0])
    assert d["flim"].sum() > 0.95 * d["counts"].sum()


# ---------------------------------------------------------------------------------------------- g2 and blinking
@pytest.fixture(scope="module")
def hbt_station():
    st = station_from("confocal-hbt-sim.yaml", drift_nm_per_s=[0.0, 0.0])
    yield st
    st.close()


def test_g2_of_the_reference_qd(hbt_station, tmp_path):
    from tepl.analysis.g2 import fit_g2

    ref = hbt_station.world.sample.ground_truth()["reference_dot"]
    path = run_procedure("g2", hbt_station, tmp_path / "g2.h5", x_um=ref["x_nm"] / 1000.0,
                         y_um=ref["y_nm"] / 1000.0, acquisition_s=30.0, bin_ns=0.5, window_ns=200.0)
    r = read_run(path)
    assert r.status == "complete"
    fit = fit_g2(r.data["lag_ns"], r.data["g2"], counts=r.data["coincidences"])
    assert abs(fit.tau_ns - ref["tau_ns"]) < 0.10 * ref["tau_ns"], fit
    assert abs(fit.contrast - ref["contrast"]) < 0.05, fit
    # the fit the procedure stored on g2 describes the stored g2: plateau ~1 and the model through the data
    import h5py

    from tepl.analysis.g2 import g2_model

    with h5py.File(path, "r") as f:
        attrs = dict(f["/entry/data/g2"].attrs)
    assert attrs["fit_normalization"] == pytest.approx(fit.normalization, rel=0.02)
    assert attrs["fit_normalization"] == pytest.approx(1.0, abs=0.1)
    model = g2_model(r.data["lag_ns"], attrs["fit_tau_ns"], attrs["fit_contrast"], attrs["fit_t0_ns"],
                     attrs["fit_irf_sigma_ns"], attrs["fit_normalization"])
    sigma = np.maximum(model, 1e-3) / np.sqrt(np.maximum(r.data["coincidences"], 1))  # Poisson, relative
    assert np.mean(((r.data["g2"] - model) / sigma) ** 2) < 2.0
    # the raw tags are in the file and give the same histogram again
    from tepl.analysis.correlation import g2_from_tags
    from tepl.data.tags import read_tags

    tags = read_tags(path)
    assert tags.n_photons == int(r.data["photons"].sum())
    lag_ns, _, counts = g2_from_tags(tags.time_ps, tags.channel, 500.0, 200_000.0, tags.duration_s)
    np.testing.assert_allclose(lag_ns, r.data["lag_ns"])
    np.testing.assert_array_equal(counts, r.data["coincidences"])


def test_time_trace_on_fraction(hbt_station, tmp_path):
    from tepl.analysis.blinking import on_fraction

    sample = hbt_station.world.sample
    ref = sample.ground_truth()["reference_dot"]
    path = run_procedure("time-trace", hbt_station, tmp_path / "trace.h5", x_um=ref["x_nm"] / 1000.0,
                         y_um=ref["y_nm"] / 1000.0, acquisition_s=30.0, bin_s=0.01)
    r = read_run(path)
    assert r.status == "complete"
    from tepl.data.tags import read_tags

    tags = read_tags(path)
    start_s = hbt_station.world.ground_truth()["tcspc"]["measurement_start_ps"] * 1e-12
    truth = sample.true_on_fraction(ref["index"], start_s, start_s + 30.0)
    measured = on_fraction(r.data["counts"], bin_s=0.01)
    assert abs(measured.on_fraction - truth) < 0.02, (measured.on_fraction, truth)
    # every tag is kept, and binning them again gives the trace
    assert tags.n_photons == int(r.data["counts"].sum())
    np.testing.assert_array_equal(r.data["counts_channel"].sum(axis=0), r.data["counts"])


# ---------------------------------------------------------------------------------------------- drift
def test_multi_scan_drift_correction_residual_below_a_pixel(tmp_path):
    """Three scans of sample A with a fast drift (~0.5 µm per scan): the measured drift matches the World's
    drift between scan starts within one pixel, and the summed image is as sharp as one scan."""
    rate_nm_per_s = np.array([6.0, -4.0])
    st = station_from("confocal-sim.yaml", drift_nm_per_s=rate_nm_per_s.tolist())
    pixel_um = 0.4
    path = run_procedure("confocal-raster", st, tmp_path / "drift.h5", size_x_um=12.0, size_y_um=12.0,
                         pixel_um=pixel_um, dwell_s=0.01, scans=3, tcspc_range_ns=50.0)
    st.close()
    r = read_run(path)
    assert r.status == "complete"
    truth_nm = (r.data["scan_start_s"] - r.data["scan_start_s"][0])[:, None] * rate_nm_per_s[None, :]
    assert np.abs(truth_nm[-1]).max() > 1.5 * pixel_um * 1000.0  # the drift is worth correcting
    residual_px = np.abs(r.data["drift_nm"] - truth_nm) / (pixel_um * 1000.0)
    assert residual_px.max() < 1.0, (r.data["drift_nm"], truth_nm)
    assert r.data["counts_sum"].sum() > 0
