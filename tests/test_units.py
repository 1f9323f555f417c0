"""Numbers in words with the SI prefix of their size."""

from __future__ import annotations

import pytest

from tepl.units import si_text


@pytest.mark.parametrize("value, text", [
    (113200.0, "113.2 kcounts/s"), (5.0e6, "5 Mcounts/s"), (2.5e9, "2.5 Gcounts/s"), (999.0, "999 counts/s"),
    (0.5, "0.5 counts/s"), (-1500.0, "-1.5 kcounts/s"), (0.0, "0 counts/s"),
])
def test_si_text(value, text):
    assert si_text(value, "counts/s") == text
