"""Fuzzing as tests: a bounded, reproducible set of cases per target (``tests/fuzzing.py``); every bad config,
parameter, SIF or PTU file and device reply must end in one of the project's errors with a one-line message.
``bench/fuzz.py`` runs the same strategies for 10,000+ cases."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzzing import TARGETS, close_stations

EXAMPLES = {"config": 300, "parameters": 250, "sif": 150, "ptu": 120, "reply:e727": 300, "reply:r9": 300,
            "reply:sc10": 300, "cli": 60}


@pytest.fixture(scope="module", autouse=True)
def _stations():
    yield
    close_stations()


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_bad_input_ends_in_a_clear_error(target, caplog):
    caplog.set_level(logging.CRITICAL)

    @settings(max_examples=EXAMPLES[target.name], deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(target.strategy)
    def check(case):
        result = target.check(case)
        assert not result.uncaught, f"{target.name}: {result.error}"

    check()


def test_every_target_has_a_bounded_set():
    assert {t.name for t in TARGETS} == set(EXAMPLES)
    assert abs(sum(t.share for t in TARGETS) - 1) < 1e-9
