"""What the plan says about a view's quantities, as the console shows them: labels with units, the unit and
kind of a dataset, the station limit an interlock holds on a quantity, and the rectangle a pixel grid covers."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF

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


def label_axes(plot: pg.PlotWidget, bottom: str, left: str) -> None:
    """Label a plot's axes with their units in the text ("pressure (GPa)"): the ticks show the values as they
    are (pyqtgraph's SI prefix would add "(x0.001)" after the unit)."""
    for side, text in (("bottom", bottom), ("left", left)):
        axis = plot.getAxis(side)
        axis.enableAutoSIPrefix(False)
        axis.setLabel(text)


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
