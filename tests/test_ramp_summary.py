"""summarize_ramp on synthetic ramps whose peak energies, widths and intensities are known."""

import numpy as np
import pytest

from tepl.analysis.peaks import pseudo_voigt
from tepl.analysis.ramp import summarize_ramp

HC = 1239.84198


def _ramp(blink_step=None, seed=1):
    rng = np.random.default_rng(seed)
    wl = np.linspace(560.0, 840.0, 1024)
    energy = HC / wl
    width = np.abs(np.gradient(energy))
    press = np.linspace(14.0, 2.0, 49)
    gap = np.concatenate([press, press[-2::-1]])
    direction = np.concatenate([np.ones(49), -np.ones(48)])
    center = 1.905 - 0.045 * np.clip(10.0 - gap, 0, None) * 1.38 / 8.0  # 62 meV at 2 nm
    area = 2e6 * np.exp(-np.abs(gap - 8.5) / 2.0)
    if blink_step is not None:
        area[blink_step] *= 0.01
    spectra = np.array([a * pseudo_voigt(energy, c, 0.170, 0.4) * width for a, c in zip(area, center, strict=True)])
    spectra = rng.poisson(spectra + 500.0).astype(float)
    spectra[:, wl < 636.0] = rng.poisson(500.0, (gap.size, int((wl < 636.0).sum())))
    return wl, spectra, gap, direction


@pytest.mark.parametrize("blink_step", [None, 0, 3])
def test_recovers_shift_quench_gap_release_and_width(blink_step):
    s = summarize_ramp(*_ramp(blink_step))
    assert s.shift_at_deepest_meV == pytest.approx(-62.1, abs=3 * s.shift_at_deepest_err_meV + 1.0)
    assert s.gap_at_max_intensity_nm == pytest.approx(8.5, abs=0.25)
    assert abs(s.release_offset_meV) < 3 * s.release_offset_err_meV + 0.5
    assert s.plateau_fwhm_meV == pytest.approx(170.0, abs=10.0)
    assert s.deepest_gap_nm == 2.0


def test_refuses_a_ramp_without_reference():
    wl, spectra, gap, direction = _ramp()
    with pytest.raises(ValueError, match="unstrained reference"):
        summarize_ramp(wl, spectra, gap, direction, unstrained_gap_nm=50.0)
    with pytest.raises(ValueError, match="no complete step"):
        summarize_ramp(wl, np.full_like(spectra, np.nan), gap, direction)
