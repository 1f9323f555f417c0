"""Every fault × every procedure it applies to ends safe, with status and reason, in time, without a
library traceback (see tests/fault_matrix.py; `bench/fault_matrix.py` prints the counts)."""

from __future__ import annotations

import pytest

from tests.fault_matrix import cases, judge, run_case


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_the_fault_ends_safe_with_a_reason(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert not judge(outcome), (case.name, outcome)
