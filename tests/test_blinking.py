"""ON fraction of telegraph (blinking) traces whose switching times are known."""

import numpy as np
import pytest

from tepl.analysis.blinking import BlinkingResult, on_fraction

BIN_S = 0.01
DURATION_S = 60.0
ON_RATE, OFF_RATE = 8e4, 2e3     # photons/s (paper 003: up to 8 x 10^5 at the highest excitation)


def telegraph(rng, on_fraction_target, mean_on_s=1.0, on_rate=ON_RATE, off_rate=OFF_RATE):
    """(counts per 10 ms bin, true ON fraction of time, number of complete ON periods).

    Exponential ON and OFF dwell times; the truth is computed from the switching times, not from the bins.
    """
    mean_off_s = mean_on_s * (1.0 - on_fraction_target) / on_fraction_target
    switches, states, t = [0.0], [], 0.0
    state = bool(rng.random() < on_fraction_target)
    while t < DURATION_S:
        t += rng.exponential(mean_on_s if state else mean_off_s)
        states.append(state)
        switches.append(min(t, DURATION_S))
        state = not state
    switches, states = np.array(switches), np.array(states)
    durations = np.diff(switches)
    true_fraction = durations[states].sum() / DURATION_S
    n_complete_on = int(states[1:-1].sum())
    # photons: Poisson in each bin with the rate integrated over the ON and OFF time inside the bin
    on_time = np.concatenate([[0.0], np.cumsum(durations * states)])
    edges = np.arange(0.0, DURATION_S + BIN_S / 2, BIN_S)
    on_in_bin = np.diff(np.interp(edges, switches, on_time))
    counts = rng.poisson(on_in_bin * on_rate + (BIN_S - on_in_bin) * off_rate)
    return counts, true_fraction, n_complete_on


@pytest.mark.parametrize("target", [0.90, 0.97])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_on_fraction_of_telegraph_traces(target, seed):
    rng = np.random.default_rng(seed + int(target * 100))
    counts, truth, n_on = telegraph(rng, target)
    result = on_fraction(counts, bin_s=BIN_S)
    assert isinstance(result, BlinkingResult) and result.blinks
    assert abs(result.on_fraction - truth) < 0.02
    assert result.on_rate_per_s == pytest.approx(ON_RATE, rel=0.03)
    assert OFF_RATE * BIN_S <= result.off_level < 0.25 * ON_RATE * BIN_S  # OFF bins include some switching bins
    assert OFF_RATE * BIN_S < result.threshold < ON_RATE * BIN_S
    # dwell times: as many complete ON periods as were simulated, when the OFF periods last several bins
    # (at 0.97 they average 3 bins and OFF gaps shorter than a bin merge many ON periods)
    if target == 0.90:
        assert 0.75 * n_on <= result.on_dwell_s.size <= 1.1 * n_on + 2
    assert np.all(result.on_dwell_s > 0) and np.all(np.isclose(result.on_dwell_s / BIN_S,
                                                                np.round(result.on_dwell_s / BIN_S)))


def test_off_state_of_background_counts_only():
    rng = np.random.default_rng(7)
    counts, truth, _ = telegraph(rng, 0.90, off_rate=50.0)     # dark state: 0.5 counts per bin
    result = on_fraction(counts, bin_s=BIN_S)
    assert abs(result.on_fraction - truth) < 0.02
    assert result.off_rate_per_s < 0.1 * ON_RATE


def test_trace_that_never_blinks_is_all_on():
    rng = np.random.default_rng(8)
    counts = rng.poisson(ON_RATE * BIN_S, int(DURATION_S / BIN_S))
    result = on_fraction(counts, bin_s=BIN_S)
    assert result.on_fraction == 1.0 and not result.blinks
    assert result.on_level == pytest.approx(counts.mean())
    assert result.off_dwell_s.size == 0


def test_given_threshold_is_used_as_is():
    counts = np.array([0, 5, 10, 11, 3, 20, 10, 9])
    result = on_fraction(counts, threshold=10)
    assert result.threshold == 10.0
    assert result.on_fraction == pytest.approx(np.mean(counts >= 10))
    assert result.on_level == pytest.approx(counts[counts >= 10].mean())
    assert result.on_dwell_s.size == 0       # no bin width, no dwell times
    with_bins = on_fraction(counts, threshold=10, bin_s=0.5)
    # complete runs only: ON [10, 11] and [20, 10]; OFF [3]; the runs at both ends are cut
    assert sorted(with_bins.on_dwell_s) == [1.0, 1.0] and list(with_bins.off_dwell_s) == [0.5]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="1-D trace"):
        on_fraction(np.ones((3, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        on_fraction(np.array([1.0, -2.0, 3.0]))
    with pytest.raises(ValueError, match="bin_s"):
        on_fraction(np.ones(10), bin_s=0.0)
