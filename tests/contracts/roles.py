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
        shutter.shut()
        assert not shutter.is_open()
        shutter.open()
        assert shutter.is_open()
        shutter.shut()
        shutter.shut()
        assert not shutter.is_open()


class PhotonCounterContract:
    """Every photon counter (fixtures ``counter``, built without a count-rate limit, and ``world``): bounds and
    rate limits refused before anything starts, a rate limit enforced during a measurement, time-ordered T2 /
    T3 blocks whose counts follow the true rates, histograms per channel, and a stop that is always safe.

    The truth comes from ``true_rates_per_s`` / ``true_sync_rate_hz``; override them for a World that keeps
    its detector truth elsewhere than the photon stand-in does."""

    acquisition_s = 0.5

    def true_rates_per_s(self, world) -> np.ndarray:
        return np.asarray(world.ground_truth()["world"]["detection"]["rates_per_s"], float)

    def true_sync_rate_hz(self, world) -> float:
        return float(world.ground_truth()["world"]["laser"]["repetition_rate_hz"])

    @staticmethod
    def _agrees(counts, expected) -> bool:
        """Poisson agreement, with 3 % for what a real detection path may lose (dead time, thresholds)."""
        counts, expected = np.asarray(counts, float), np.asarray(expected, float)
        return bool(np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected) + 0.03 * expected + 1))

    def test_acquisition_bounds_refused_before_starting(self, counter, world):
        start = world.clock.now()
        for bad in (counter.acquisition_range_s.high * 2, counter.acquisition_range_s.low / 2, float("nan")):
            with pytest.raises(LimitError, match="acquisition time"):
                counter.t2(bad)
            with pytest.raises(LimitError, match="acquisition time"):
                next(counter.iter_t3(bad))
            with pytest.raises(LimitError, match="acquisition time"):
                counter.histograms(bad)
        assert world.clock.now() == start  # refused before a single call reached the device

    def test_count_rates_match_the_truth(self, counter, world):
        sync_hz, rates = counter.count_rates()
        assert rates.shape == (counter.n_channels,)
        assert sync_hz == pytest.approx(self.true_sync_rate_hz(world), rel=1e-3)
        assert self._agrees(rates * 0.1, self.true_rates_per_s(world) * 0.1)  # a 100 ms rate gate

    def test_count_rate_limit_refused_before_starting(self, counter, world):
        counter.max_count_rate_per_s = 0.5 * float(self.true_rates_per_s(world).max())
        for start in (lambda: counter.t2(0.1), lambda: counter.t3(0.1), lambda: counter.histograms(0.1)):
            before = world.clock.now()
            with pytest.raises(LimitError, match="max_count_rate_per_s"):
                start()
            assert world.clock.now() - before < 0.05  # refused without measuring
        counter.max_count_rate_per_s = None
        assert counter.t2(0.05).duration_s == pytest.approx(0.05)  # nothing left running

    def test_count_rate_limit_stops_a_running_measurement(self, counter, world):
        stream = counter.iter_t3(5.0, block_s=0.1)
        next(stream)
        started = world.clock.now()
        counter.max_count_rate_per_s = 0.5 * float(self.true_rates_per_s(world).max())
        with pytest.raises(LimitError, match="max_count_rate_per_s"):
            next(stream)
        assert world.clock.now() - started < 1.0  # stopped at the next block, not after 5 s
        counter.max_count_rate_per_s = None
        assert counter.t3(0.05).duration_s == pytest.approx(0.05)

    def test_t2_blocks_are_ordered_in_range_and_follow_the_light(self, counter, world):
        acquisition_s, n = self.acquisition_s, counter.n_channels
        blocks = list(counter.iter_t2(acquisition_s, block_s=0.1))
        assert len(blocks) >= 3
        assert sum(b.duration_s for b in blocks) == pytest.approx(acquisition_s, rel=1e-3)
        end_ps = 0.0
        for block in blocks:
            end_ps += block.duration_s * 1e12
            assert block.time_ps.dtype == np.int64 and block.channel.dtype == np.int8
            if block.n_photons:
                assert block.time_ps.max() <= end_ps + 1e9  # a block holds what arrived before it was read
        time_ps = np.concatenate([b.time_ps for b in blocks])
        channel = np.concatenate([b.channel for b in blocks])
        assert np.all(np.diff(time_ps) >= 0) and time_ps.min() >= 0 and time_ps.max() < acquisition_s * 1e12
        assert channel.min() >= 0 and channel.max() < n
        assert self._agrees(np.bincount(channel, minlength=n), self.true_rates_per_s(world) * acquisition_s)

    def test_t3_blocks_are_ordered_in_range_and_follow_the_light(self, counter, world):
        acquisition_s, n = self.acquisition_s, counter.n_channels
        blocks = list(counter.iter_t3(acquisition_s, block_s=0.1))
        assert len(blocks) >= 3
        assert sum(b.duration_s for b in blocks) == pytest.approx(acquisition_s, rel=1e-3)
        whole = counter.t3(acquisition_s)
        for t3 in (whole, blocks[-1]):
            assert t3.sync.dtype == np.int64 and t3.dtime.dtype == np.int16 and t3.channel.dtype == np.int8
            assert t3.sync_period_ps == pytest.approx(1e12 / self.true_sync_rate_hz(world), rel=1e-3)
        assert np.all(np.diff(whole.sync) >= 0) and whole.sync.min() >= 0
        assert whole.sync.max() * whole.sync_period_ps < acquisition_s * 1e12
        assert whole.dtime.min() >= 0 and whole.dtime.max() * whole.resolution_ps < whole.sync_period_ps
        assert whole.channel.min() >= 0 and whole.channel.max() < n
        assert self._agrees(np.bincount(whole.channel, minlength=n), self.true_rates_per_s(world) * acquisition_s)

    def test_histograms_have_a_row_per_channel_and_follow_the_light(self, counter, world):
        counts = counter.histograms(self.acquisition_s)
        assert counts.ndim == 2 and counts.shape[0] == counter.n_channels and counts.shape[1] >= 1024
        assert counts.dtype.kind == "i" and counts.min() >= 0
        assert self._agrees(counts.sum(axis=1), self.true_rates_per_s(world) * self.acquisition_s)

    def test_stop_is_safe_in_any_state(self, counter, world):
        counter.stop()
        counter.stop()
        stream = counter.iter_t2(5.0, block_s=0.1)
        next(stream)
        counter.stop()
        counter.stop()
        stream.close()
        counter.stop()
        after = counter.t2(0.05)
        assert after.duration_s == pytest.approx(0.05) and after.n_photons > 0
