"""Contract-test suites, one per role. A test module subclasses a suite and provides the fixture
(``stage``, ``zcontrol``, ``spectrometer``, ``shutter``) built on one implementation, plus ``world``
(the simulator's World) so the suite can check what the implementation did against ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.roles import LimitError


class StageContract:
    """Every closed-loop stage: moves land, limits are refused before anything moves."""

    def test_move_lands_on_target(self, stage, world):
        stage.move_and_wait_um(x=40.0, y=60.5, z=50.0)
        pos = stage.position_um()
        assert abs(pos["x"] - 40.0) < 0.01 and abs(pos["y"] - 60.5) < 0.01
        assert stage.on_target()
        np.testing.assert_allclose(world.stage_um[:2], [40.0, 60.5], atol=0.01)

    def test_out_of_limits_is_refused_before_moving(self, stage, world):
        stage.move_and_wait_um(x=10.0)
        before = world.stage_um.copy()
        with pytest.raises(LimitError, match="x"):
            stage.move_to_um(x=stage.travel_um["x"].high + 1.0)
        np.testing.assert_allclose(world.stage_um, before, atol=1e-6)

    def test_unknown_axis_is_refused(self, stage):
        with pytest.raises(LimitError, match="axis"):
            stage.move_to_um(w=1.0)

    def test_stop_leaves_stage_still(self, stage, world):
        stage.move_to_um(x=90.0)
        stage.stop()
        p1 = stage.position_um()["x"]
        world.clock.advance(1.0)
        assert abs(stage.position_um()["x"] - p1) < 1e-3


class ZControllerContract:
    """Every shear-force Z controller: engage holds the setpoint, retract withdraws, limits hold."""

    def test_engage_holds_setpoint_above_surface(self, zcontrol, world):
        zcontrol.retract()
        z = zcontrol.engage(0.9)
        assert zcontrol.state() == "engaged"
        assert abs(zcontrol.amplitude() - 0.9) < 0.03
        distance = world.tip_distance_nm()
        assert 0.2 < distance < 5.0, distance
        assert abs(z - world.tip_z_nm) < 0.5

    def test_retract_withdraws(self, zcontrol, world):
        zcontrol.engage(0.9)
        zcontrol.retract()
        assert zcontrol.state() == "retracted"
        assert world.tip_distance_nm() > 50.0
        assert zcontrol.amplitude() > 0.99

    def test_set_z_only_when_frozen_and_within_range(self, zcontrol, world):
        zcontrol.engage(0.9)
        with pytest.raises(LimitError):
            zcontrol.set_z_nm(zcontrol.z_nm() + 5.0)
        zcontrol.freeze()
        target = zcontrol.z_nm() + 5.0
        zcontrol.set_z_nm(target)
        assert abs(zcontrol.z_nm() - target) < 0.2
        assert abs(world.tip_z_nm - target) < 0.2
        with pytest.raises(LimitError, match="tip z"):
            zcontrol.set_z_nm(zcontrol.z_range_nm.low - 1.0)
        zcontrol.retract()


class SpectrometerContract:
    """Every spectrometer: exposure bounds, calibrated axis, counts that follow the light."""

    def test_exposure_bounds_refused(self, spectrometer):
        with pytest.raises(LimitError, match="exposure"):
            spectrometer.acquire(spectrometer.exposure_range_s.high * 2)
        with pytest.raises(LimitError, match="exposure"):
            spectrometer.acquire(-1.0)

    def test_wavelength_axis_monotonic_and_centred(self, spectrometer):
        spectrometer.set_center_wavelength_nm(700.0)
        wl = spectrometer.wavelengths_nm()
        assert wl.ndim == 1 and np.all(np.diff(wl) > 0)
        assert abs(wl[wl.size // 2] - 700.0) < 5.0
        assert abs(spectrometer.center_wavelength_nm() - 700.0) < 1e-6

    def test_lamp_lines_appear_at_their_wavelengths(self, spectrometer, world):
        spectrometer.set_center_wavelength_nm(700.0)
        world.lamp_on, world.shutter_open = True, True
        counts = spectrometer.acquire(0.5)
        world.lamp_on, world.shutter_open = False, False
        wl = spectrometer.wavelengths_nm()
        brightest = wl[np.argmax(counts)]
        from tepl.sims.world import ARHG_LINES_NM
        assert np.min(np.abs(ARHG_LINES_NM - brightest)) < 3.0

    def test_dark_frame_is_baseline_only(self, spectrometer, world):
        world.lamp_on, world.shutter_open = False, False
        counts = spectrometer.acquire(0.1)
        assert counts.std() < 50 and 100 < counts.mean() < 2000

    def test_calibration_dropped_when_the_grating_turns(self, spectrometer):
        spectrometer.set_center_wavelength_nm(700.0)
        measured = spectrometer.wavelengths_nm() + 0.5
        spectrometer.set_calibration_nm(measured)
        np.testing.assert_allclose(spectrometer.wavelengths_nm(), measured)
        np.testing.assert_allclose(spectrometer.spectrograph_wavelengths_nm(), measured - 0.5)
        spectrometer.set_center_wavelength_nm(710.0)
        assert abs(spectrometer.wavelengths_nm()[measured.size // 2] - 710.0) < 5.0
        with pytest.raises(ValueError, match="calibration"):
            spectrometer.set_calibration_nm(measured[:10])

    def test_series_shape(self, spectrometer):
        series = spectrometer.acquire_series(0.1, 3)
        assert series.shape == (3, spectrometer.wavelengths_nm().size)


class ShutterContract:
    def test_open_close(self, shutter):
        shutter.close()
        assert not shutter.is_open()
        shutter.open()
        assert shutter.is_open()
        shutter.close()
        shutter.close()
        assert not shutter.is_open()
