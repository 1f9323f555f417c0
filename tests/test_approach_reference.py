"""After an approach from tens of µm, Z is the real gap: the approach sets the Z reference at contact from
``instruments.zcontrol.contact_gap_nm``, and the gaps later runs record agree with the twin's true
apex-to-surface distance (ground truth read at every exposure)."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.config import CONFIG_DIR, parse_config
from tepl.data.runfile import read_run
from tepl.procedures import run_procedure
from tepl.roles import LimitError
from tepl.station import build_station

BARE_AU_UM = (60.0, 50.0)  # away from the dot field
GAP_TOLERANCE_NM = 0.5  # Au roughness between the approach spot and the measured one, plus Z noise


def _station(seed: int, start_um: float = 20.0, zcontrol_extra: str = ""):
    text = (CONFIG_DIR / "sim.yaml").read_text().replace("seed: 7", f"seed: {seed}")
    text = text.replace("real_time: false", f"real_time: false\n  tip_start_um: {start_um}")
    if zcontrol_extra:
        text = text.replace("    contact_gap_nm: 1.75", zcontrol_extra)
    return build_station(parse_config(text, f"sim.yaml, seed {seed}, tip {start_um} µm up"))


def _true_gaps_at_exposures(station) -> list[float]:
    """Record the twin's apex-to-surface distance at every CCD exposure (ground truth, read by the test)."""
    world, seen = station.world, []
    original = world.spectrum_photons

    def spectrum_photons(*args, **kwargs):
        seen.append(world.tip_distance_nm())
        return original(*args, **kwargs)

    world.spectrum_photons = spectrum_photons
    return seen


def test_the_twins_contact_gap_is_the_configured_one():
    """The config's contact_gap_nm is the gap where the twin's shear-force amplitude falls to the setpoint."""
    station = _station(7)
    try:
        zc = station.zcontrol
        r9 = zc.r9.transport.controller
        assert zc.contact_gap_nm == pytest.approx(r9.setpoint_distance_nm(), abs=0.01)
        assert zc.settings()["contact_gap_nm"] == zc.contact_gap_nm
    finally:
        station.close()


@pytest.mark.parametrize("seed", [3, 8])
def test_gaps_recorded_after_an_approach_are_the_true_gaps(tmp_path, seed):
    station = _station(seed)
    try:
        world = station.world
        station.stage.move_and_wait_um(x=BARE_AU_UM[0], y=BARE_AU_UM[1])
        approach = read_run(run_procedure("approach", station, tmp_path / "approach.h5"))
        assert approach.status == "complete" and not world.crashed
        assert world.ground_truth()["r9"]["coarse_steps_nm"], "the tip started out of reach: it had to step"
        # at contact Z reads the contact gap, and the twin's apex stands that far above the surface
        assert station.zcontrol.z_nm() == pytest.approx(1.75, abs=0.1)
        assert world.tip_distance_nm() == pytest.approx(1.75, abs=0.1)
        assert any("Z reference set at contact" in line for line in approach.log)

        truth = _true_gaps_at_exposures(station)
        sweep = read_run(run_procedure("distance-sweep", station, tmp_path / "sweep.h5", x_um=BARE_AU_UM[0],
                                       y_um=BARE_AU_UM[1], start_gap_nm=20.0, stop_gap_nm=2.0, gap_step_nm=2.0,
                                       exposure_s=0.01))
        recorded = np.asarray(sweep.data["gap_nm"], float)
        true_gap = np.array(truth[-recorded.size:])
        error_nm = np.abs(recorded - true_gap)
        print(f"seed {seed}: recorded gap - true gap: max {error_nm.max():.3f} nm, mean {error_nm.mean():.3f} nm")
        assert error_nm.max() < GAP_TOLERANCE_NM
        # and elsewhere (a nearby bare spot) the gap is the apex height above the Au plane within the roughness
        assert np.all(recorded > 1.0)
    finally:
        station.close()


def test_without_a_contact_gap_a_height_approach_leaves_z_unreferenced(tmp_path):
    """The older behaviour stays for a config that states no contact gap: after coarse steps, placing the tip at
    a gap is refused until a reference is declared."""
    station = _station(3, zcontrol_extra="    # no contact gap stated")
    try:
        assert station.zcontrol.contact_gap_nm is None
        run_procedure("approach", station, tmp_path / "approach.h5")
        assert not station.zcontrol.z_referenced
        station.zcontrol.freeze()
        with pytest.raises(LimitError, match="lost its reference"):
            station.zcontrol.set_z_nm(station.zcontrol.z_nm() + 5.0)
    finally:
        station.close()


def test_a_contact_gap_out_of_range_is_refused_naming_the_key():
    from tepl.config import ConfigError

    text = (CONFIG_DIR / "sim.yaml").read_text().replace("contact_gap_nm: 1.75", "contact_gap_nm: -2")
    with pytest.raises(ConfigError, match="contact_gap_nm"):
        parse_config(text, "bad")
