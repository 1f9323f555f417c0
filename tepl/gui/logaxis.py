"""A logarithmic plot axis labelled where an operator reads it: at whole decades (10⁰, 10¹, 10² ...), with
the ticks in between left unlabelled; an axis spanning fewer than two decades also labels 2 and 5 times a
decade, so it always carries a readable scale."""

from __future__ import annotations

import math

import pyqtgraph as pg

_MANTISSAS_FEW_DECADES = (1.0, 2.0, 5.0)  # labelled when fewer than two decades are in view


def labelled_mantissas(low_log10: float, high_log10: float) -> tuple[float, ...]:
    """The mantissas (1 for decades) whose ticks carry a label on an axis showing 10^low .. 10^high."""
    low, high = sorted((low_log10, high_log10))
    decades_in_view = math.floor(high) - math.ceil(low) + 1
    return (1.0,) if decades_in_view >= 2 else _MANTISSAS_FEW_DECADES


def mantissa(log10_value: float) -> float:
    """The mantissa of 10^log10_value, in [1, 10)."""
    return 10.0 ** (log10_value - math.floor(log10_value + 1e-9))


class DecadeLogAxis(pg.AxisItem):
    """An ``AxisItem`` that, in log mode, labels the ticks at ``labelled_mantissas`` of its range only."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        strings = super().logTickStrings(values, scale, spacing)
        keep = labelled_mantissas(*self.range)
        return [text if any(math.isclose(mantissa(value), k, rel_tol=1e-6) for k in keep) else ""
                for value, text in zip(values, strings, strict=True)]


def log_plot(title: str) -> pg.PlotWidget:
    """A plot whose y axis is logarithmic and labelled by ``DecadeLogAxis``."""
    plot = pg.PlotWidget(title=title, axisItems={"left": DecadeLogAxis("left")})
    plot.setLogMode(x=False, y=True)
    return plot
