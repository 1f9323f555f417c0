"""``align-tip`` on the TEPL twin: the picomotors bring the tip apex into the laser focus, judged by the twin's
ground truth (the apex offset from the focus centre, the true step sizes).

The twin: the apex starts ``simulation.tip_focus_offset_*`` from the focus and moves with the picomotors' true
travel; the tip-enhanced emission follows the focus intensity at the apex (400 nm FWHM Gaussian). The
picomotors step shorter backward than forward by an amount the procedure does not know.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

from tepl.analysis.focus_scan import fit_focus_peak, gaussian_on_background, step_sizes_from_scans
from tepl.config import CONFIG_DIR, parse_config
from tepl.data.runfile import read_run
from tepl.procedures import run_procedure
from tepl.procedures.align import AlignmentError, step_parameters_from
from tepl.roles import LimitError
from tepl.station import build_station

SEEDS = range(20)
TOLERANCE_NM = 50.0


def station_with(seed: int, simulation: str = "tip_focus_offset_nm: [0, 0]"):
    text = (CONFIG_DIR / "sim.yaml").read_text()
    text = text.replace("seed: 7", f"seed: {seed}").replace("tip_focus_offset_nm: [0, 0]", simulation)
    return build_station(parse_config(text, f"sim.yaml, seed {seed}"))


def apex_error_nm(station) -> float:
    """Distance of the apex from the focus centre now, by ground truth."""
    return float(np.hypot(*station.world.ground_truth()["world"]["tip_focus"]["apex_offset_nm"]))


def displace_apex(station, offset_nm: np.ndarray) -> None:
    """Put the apex ``offset_nm`` from the focus, whatever the picomotors have travelled (a knocked tip)."""
    world = station.world
    world.tip_focus_offset_nm = world.tip_focus_offset_nm + np.asarray(offset_nm) - np.array(world.apex_offset_nm())


# ---------------------------------------------------------------------------------------------- the twin
def test_the_tip_signal_follows_the_focus_and_the_far_field_does_not():
    station = station_with(0)
    world, sample = station.world, station.world.sample
    try:
        wl = np.linspace(640.0, 760.0, 200)
        bare_au = (60000.0, 50000.0)
        centred = sample.photon_rate(*bare_au, 2.0, wl, 0.0, 1.0).sum()
        fwhm = world.ground_truth()["sample"]["focus_fwhm_nm"]
        for offset in ((200.0, 0.0), (150.0, -250.0)):
            shifted = sample.photon_rate(*bare_au, 2.0, wl, 0.0, 1.0, apex_offset_nm=offset).sum()
            expected = np.exp(-4 * np.log(2) * (offset[0] ** 2 + offset[1] ** 2) / fwhm**2)
            assert shifted / centred == pytest.approx(expected, rel=1e-9)
        # far field alone (tip withdrawn): the focus decides, wherever the apex is
        dots = world.ground_truth()["sample"]
        focus = (float(dots["x_nm"][0]), float(dots["y_nm"][0]))
        far, _ = sample.dot_rates(*focus, 2000.0)
        apex = (focus[0] + 1500.0, focus[1])
        far_shifted, _ = sample.dot_rates(*apex, 2000.0, apex_offset_nm=(1500.0, 0.0))
        np.testing.assert_allclose(far_shifted, far, rtol=1e-6)
        # the picomotors carrying the tip move the apex by their true travel
        assert world.tip_picomotor_axes == (1, 2)
        station.picomotors.move_steps("x", 100)
        station.picomotors.wait(5.0)
        assert world.apex_offset_nm()[0] == pytest.approx(world.picomotor_nm[1]) and world.picomotor_nm[1] > 1000
    finally:
        station.close()


def test_a_drawn_start_offset_is_seeded_and_bounded():
    a, b = station_with(3, "tip_focus_offset_max_nm: 3000"), station_with(3, "tip_focus_offset_max_nm: 3000")
    try:
        assert np.array_equal(a.world.tip_focus_offset_nm, b.world.tip_focus_offset_nm)
        assert 0 < apex_error_nm(a) <= 3000.0
    finally:
        a.close()
        b.close()


def test_step_sizes_from_a_forward_and_a_backward_scan():
    """A 400 nm focus at 700 nm, scanned with 33 nm forward and 27.5 nm backward steps, noise added."""
    rng = np.random.default_rng(0)
    forward_nm, backward_nm, peak_nm, span = 33.0, 27.5, 700.0, 40
    steps = np.arange(0, span + 1, 2)
    fwd = gaussian_on_background(steps * forward_nm, peak_nm, 400.0, 6000.0, 50.0) + rng.normal(0, 40, steps.size)
    back_nm = span * forward_nm - steps * backward_nm
    bwd = gaussian_on_background(back_nm, peak_nm, 400.0, 6000.0, 50.0) + rng.normal(0, 40, steps.size)
    peak_f = fit_focus_peak(steps, fwd, 400.0 / 30.0)
    peak_b = fit_focus_peak(steps, bwd, 400.0 / 26.0)
    assert peak_f.center == pytest.approx(peak_nm / forward_nm, abs=0.1)
    sizes = step_sizes_from_scans(peak_f, peak_b, span, 400.0)
    assert sizes.backward_over_forward == pytest.approx(backward_nm / forward_nm, rel=0.005)
    assert sizes.forward_nm == pytest.approx(forward_nm, rel=0.01)
    assert sizes.backward_nm == pytest.approx(backward_nm, rel=0.01)
    assert fit_focus_peak(steps[:3], fwd[:3], 13.0) is None  # too few points


# ---------------------------------------------------------------------------------------------- alignment
def _align_twice(seed: int, tmp_path) -> tuple[str, float]:
    """A first alignment from up to 1 µm with the nominal step sizes measures them; after the apex is knocked
    up to 3 µm away, the next alignment, given those sizes, brings it back. Returns how the second ended
    ("aligned" or "refused") and the final apex error by the twin's truth, nm."""
    station = station_with(seed, "tip_focus_offset_max_nm: 1000")
    try:
        first = run_procedure("align-tip", station, tmp_path / f"first-{seed}.h5")
        assert apex_error_nm(station) < TOLERANCE_NM
        truth = station.world.ground_truth()["picomotor_8742"]["step_nm"]
        measured = step_parameters_from(first)
        for axis, number in (("x", "1"), ("y", "2")):  # the sizes now; they drift a little with every move
            for way in ("forward", "backward"):
                assert measured[f"{axis}_{way}_step_nm"] == pytest.approx(truth[number][way], rel=0.05)

        rng = np.random.default_rng([seed, 3000])
        radius_nm, angle = 3000.0 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
        displace_apex(station, radius_nm * np.array([np.cos(angle), np.sin(angle)]))
        try:
            second = run_procedure("align-tip", station, tmp_path / f"second-{seed}.h5", **measured)
        except AlignmentError as exc:  # a refusal, said as such: never an apex left in the wrong place
            assert "no tip signal" in str(exc)
            return "refused", apex_error_nm(station)
        assert read_run(second).status == "complete"
        return "aligned", apex_error_nm(station)
    finally:
        station.close()


def test_aligns_from_random_offsets_up_to_3_um(tmp_path):
    """Over 20 seeds every alignment completes and ends within 50 nm of the focus centre."""
    outcomes = [_align_twice(seed, tmp_path) for seed in SEEDS]
    assert all(how == "aligned" and error < TOLERANCE_NM for how, error in outcomes), outcomes


def test_the_file_records_every_probe_and_the_optimum(tmp_path):
    station = station_with(11, "tip_focus_offset_nm: [700, -400]")
    try:
        path = run_procedure("align-tip", station, tmp_path / "align.h5")
        counters = {axis: station.picomotors.steps_counter(axis) for axis in ("x", "y")}
        with h5py.File(path, "r") as f:
            data = f["entry/data"]
            n = int(data.attrs["probes"])
            phases = list(data.attrs["phase_names"])
            phase = data["phase"][:n]
            assert phase[0] == phases.index("start") and phase[-1] == phases.index("final")
            assert {phases.index(p) for p in ("search", "x forward", "x backward", "y forward", "y backward")} \
                <= set(phase.tolist())
            assert np.all(data["phase"][n:] == -1)  # nothing beyond the probes made
            assert np.all(np.isfinite(data["signal"][:n])) and np.all(np.isfinite(data["spectra"][:n]))
            for axis in ("x", "y"):  # counters relative to the start (which was 0 on this fresh controller)
                assert data[f"{axis}_steps"][n - 1] == data.attrs[f"optimum_{axis}_steps"] == counters[axis]
            fits = int(np.sum(data["fit_axis"][:] >= 0))
            assert fits >= 4 and np.all(np.isfinite(data["fit_center_steps"][:fits]))
            assert data["signal"][n - 1] == data.attrs["final_signal"] > 0.7 * data.attrs["fitted_peak_signal"]
        assert apex_error_nm(station) < TOLERANCE_NM
    finally:
        station.close()


# ---------------------------------------------------------------------------------------------- refusals
def _no_light(station):
    station.laser.set_power_mW(0.0)  # the run opens the excitation path, but no light leaves the laser


def _no_tip(station):
    params = station.world.sample.params
    station.world.sample.params = dataclasses.replace(params, plasmon_rate_at_2nm=0.0, peak_enhancement=0.0)


@pytest.mark.parametrize("darken", [_no_light, _no_tip], ids=["laser at 0 mW", "no tip signal"])
def test_refuses_without_signal_after_the_search(darken, tmp_path):
    station = station_with(5, "tip_focus_offset_nm: [300, 200]")
    world = station.world
    darken(station)
    start = np.array(world.apex_offset_nm())
    excursion = []

    def watch(event):
        if event.kind == "data":
            excursion.append(np.hypot(*(np.array(world.apex_offset_nm()) - start)))

    try:
        with pytest.raises(AlignmentError, match="no tip signal") as refused:
            run_procedure("align-tip", station, tmp_path / "dark.h5", listeners=[watch])
        assert "excitation open" in str(refused.value) and "engaged over bare Au" in str(refused.value)
        result = read_run(tmp_path / "dark.h5")
        assert result.status == "failed" and "no tip signal" in result.reason
        with h5py.File(tmp_path / "dark.h5", "r") as f:
            phase = f["entry/data/phase"][:]
            assert set(phase[phase >= 0].tolist()) == {0, 1}  # the start and the search, no fine scans
        assert max(excursion) < 6000.0  # max_travel_um
        assert np.hypot(*(np.array(world.apex_offset_nm()) - start)) < 1500.0  # moved back towards the start
        assert world.tip_distance_nm() > 50.0 and not world.shutter_open  # the safe state
    finally:
        station.close()


def test_a_search_beyond_the_travel_limit_is_refused_before_anything_moves(tmp_path):
    station = station_with(5, "tip_focus_offset_nm: [2000, 0]")
    world = station.world
    try:
        with pytest.raises(LimitError, match="align-tip max_travel_um"):
            run_procedure("align-tip", station, tmp_path / "far.h5", search_radius_um=5.0, max_travel_um=4.0)
        assert not (tmp_path / "far.h5").exists()
        assert world.picomotor_nm == {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
        assert all(station.picomotors.steps_counter(axis) == 0 for axis in ("x", "y", "z"))
        assert world.tip_distance_nm() > 50.0
    finally:
        station.close()
