"""What the plan says about a view's quantities, as the console shows them: labels with units, the unit and
kind of a dataset, the station limit an interlock holds on a quantity, and the rectangle a pixel grid covers."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF

COUNTS_LABEL = "counts (counts)"  # counts (per pixel of a spectrum, integrated, photons): the unit alone, "(kcounts)"
PER_BIN_LABEL = "counts/bin (counts/bin)"  # photon counts per time bin: the unit alone
_UNIT_TOKENS = {"um": "µm", "k": "K", "ev": "eV", "mev": "meV", "ns": "ns", "nm": "nm", "s": "s", "gpa": "GPa",
                "nn": "nN"}


def quantity_label(name: str, unit: str = "") -> str:
    """A dataset or axis name as a plot label: ``peak_energy_eV`` -> "peak energy (eV)", ``setpoint_k`` with
    unit K -> "setpoint (K)", ``signal`` in counts -> "signal (counts)", ``amplitude`` without unit -> "amplitude".
    A trailing unit token in the name is dropped in favour of ``unit`` (or the token's own spelling)."""
    quantity, _, token = name.rpartition("_")
    if quantity and (token.lower() in _UNIT_TOKENS or token == unit):
        unit = unit or _UNIT_TOKENS[token.lower()]
    else:
        quantity = name
    quantity = quantity.replace("_", " ")
    return f"{quantity} ({unit})" if unit else quantity


def unit_of(plan: Any, name: str) -> str:
    """The unit the plan states for an axis or dataset ``name`` ('' when it states none)."""
    for axis in plan.axes:
        if axis.name == name:
            return axis.unit
    if plan.has_dataset(name):
        return plan.dataset(name).unit
    return ""


def is_spectral(plan: Any, name: str) -> bool:
    """True for a dataset of spectra (its last dimension is the wavelength axis)."""
    return plan.has_dataset(name) and plan.dataset(name).dims[-1:] == ("wavelength_nm",)


def pixel_rect(x: np.ndarray, y: np.ndarray) -> QRectF:
    """The rectangle an image of pixels centred on the grid ``x`` (columns) x ``y`` (rows) covers."""
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[1] - y[0]) if y.size > 1 else 1.0
    return QRectF(float(x[0]) - dx / 2, float(y[0]) - dy / 2, dx * x.size, dy * y.size)


_SI_SYMBOLS = frozenset(("m", "s", "eV", "Pa", "N", "W", "Hz", "K", "V", "A", "J", "g"))
_LABEL_UNIT = re.compile(r"^(?P<quantity>.*\S) \((?P<unit>[^()]+)\)$")


def takes_si_prefix(unit: str) -> bool:
    """True for a unit shown with the SI prefix of the values' size: an SI symbol without a prefix (s, K, eV, Pa)
    or counts (counts, counts/bin); a unit with its prefix already (nm, µm, meV, GPa) keeps it, as does anything
    else (px, %)."""
    return unit in _SI_SYMBOLS or unit == "counts" or unit.startswith("counts/")


def split_label(label: str) -> tuple[str, str]:
    """"pressure (GPa)" -> ("pressure", "GPa"); a label without a unit in brackets -> (label, "")."""
    match = _LABEL_UNIT.match(label)
    return (match["quantity"], match["unit"]) if match else (label, "")


def set_axis_label(axis: pg.AxisItem, quantity: str, unit: str = "") -> None:
    """Label ``axis`` with a quantity and its unit. A unit that takes an SI prefix (``takes_si_prefix``) gets
    the prefix of the values' size from pyqtgraph, the ticks scaled to match ("(Mcounts)" with ticks 1.15, never
    1.15e+06; "peak FWHM (meV)" for values in eV); any other unit, none, or a log axis
    (its decades are its scale): the values as they are, the unit in the text (never "(x0.001)"). A quantity that
    is its unit ("counts (counts)") shows the unit alone, "(Mcounts)": the axis of a short plot has room for it
    (the plot's title says what is counted)."""
    quantity = "" if quantity == unit else quantity
    if unit and takes_si_prefix(unit) and not axis.logMode:
        # whole photons or counts: never "mcounts" for values below one (an empty plot, a dim signal)
        ranges = ((1.0, math.inf),) if unit.startswith("counts") else None
        axis.setLabel(quantity, units=unit, siPrefixEnableRanges=ranges)
        axis.enableAutoSIPrefix(True)
    else:  # no range where pyqtgraph would scale the ticks, so none left from an earlier label either
        axis.setLabel(f"{quantity} ({unit})".strip() if unit else quantity, siPrefixEnableRanges=())
        axis.enableAutoSIPrefix(False)


def shown_label(axis: pg.AxisItem) -> str:
    """The label an axis shows, as text: "setpoint (K)", "intensity (kcounts)", "(Mcounts)"."""
    unit = f"({axis.labelUnitPrefix}{axis.labelUnits})" if axis.labelUnits else ""
    return f"{axis.labelText} {unit}".strip()


def label_axes(plot: pg.PlotWidget, bottom: str, left: str) -> None:
    """Label a plot's axes, each given as "quantity (unit)" or a quantity without unit (``set_axis_label``)."""
    for side, text in (("bottom", bottom), ("left", left)):
        set_axis_label(plot.getAxis(side), *split_label(text))


def limit_for(plan: Any, name: str, unit: str = "") -> Any:
    """The station limit (``tepl.limits.Range``) an interlock of the plan holds on the quantity ``name``, or
    None: the limit's config key ends with the name (``force_nN``), or, in the same unit, the interlock is
    named after the quantity ("force", "stage travel x") or checked it ("tip-sample gap 40 .. 8.5 nm")."""
    unit = unit_of(plan, name) or unit
    quantity = quantity_label(name).split(" (")[0]
    word = re.compile(rf"\b{re.escape(quantity)}\b")
    for interlock in plan.interlocks:
        limit = interlock.limit
        if limit.name.endswith(name):
            return limit
        if unit and limit.unit == unit and (interlock.name == quantity or interlock.name.endswith(" " + quantity)
                                            or word.search(interlock.checked.replace(limit.unit, ""))):
            return limit
    return None
