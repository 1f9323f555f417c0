"""The run form: the procedure choice and one form of parameter editors per procedure, each editor bounded by
the parameter's limits on this station (``Parameter.on_station``), with its unit and doc."""

from __future__ import annotations

import math
from typing import Any

from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import Qt

from tepl.procedures import PROCEDURES, Parameter

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e15


def _decimals(param: Parameter) -> int:
    """Decimals a spin box needs to show the parameter's bounds and default exactly (2 to 6; 4 for µm)."""
    values = [float(v) for v in (param.low, param.high, param.default) if v is not None]
    # a stage position to the nanometre (a region or a point drawn on a nanometre-scale map)
    least = 4 if param.unit == "µm" else 2
    return max([least] + [next((d for d in range(7) if math.isclose(round(v, d), v, rel_tol=1e-12)), 6)
                          for v in values])


def make_editor(param: Parameter) -> qw.QWidget:
    """The input widget of one parameter: a bounded spin box (unit as suffix), a combo box for choices, a
    check box for a bool, a line edit for free text. The tooltip is the parameter's doc and bounds."""
    suffix = f" {param.unit}" if param.unit else ""
    if param.kind is bool:
        widget: qw.QWidget = qw.QCheckBox()
        widget.setChecked(bool(param.default))
    elif param.choices:
        widget = qw.QComboBox()
        widget.addItems(list(param.choices))
        widget.setCurrentText(str(param.default))
    elif param.kind is int:
        widget = qw.QSpinBox(suffix=suffix)
        widget.setRange(-_INT_LIMIT if param.low is None else int(math.ceil(param.low)),
                        _INT_LIMIT if param.high is None else int(math.floor(param.high)))
        widget.setValue(int(param.default))
    elif param.kind is float:
        widget = qw.QDoubleSpinBox(suffix=suffix, decimals=_decimals(param),
                                   stepType=qw.QAbstractSpinBox.AdaptiveDecimalStepType)
        widget.setRange(-_FLOAT_LIMIT if param.low is None else float(param.low),
                        _FLOAT_LIMIT if param.high is None else float(param.high))
        widget.setValue(float(param.default))
    else:
        widget = qw.QLineEdit(str(param.default))
    widget.setObjectName(param.name)
    widget.setToolTip(param.describe())
    return widget


def set_editor_value(widget: qw.QWidget, value: Any) -> None:
    """Put ``value`` into an editor made by ``make_editor``."""
    if isinstance(widget, qw.QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, qw.QComboBox):
        widget.setCurrentText(str(value))
    elif isinstance(widget, qw.QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, qw.QDoubleSpinBox):
        widget.setValue(float(value))
    else:
        widget.setText(str(value))


REGION_PARAMETERS = ("center_x_um", "center_y_um", "size_x_um", "size_y_um")
"""The parameters a region drawn on a map fills, in the form of every procedure that has them."""
SPOT_PARAMETERS = ("x_um", "y_um")
"""The parameters a point of interest fills, in the form of every procedure that has them."""


def editor_value(widget: qw.QWidget) -> Any:
    """The value an editor made by ``make_editor`` holds."""
    if isinstance(widget, qw.QCheckBox):
        return widget.isChecked()
    if isinstance(widget, qw.QComboBox):
        return widget.currentText()
    if isinstance(widget, (qw.QSpinBox, qw.QDoubleSpinBox)):
        return widget.value()
    return widget.text()


class ProcedureForms:
    """The procedure box (a procedure this station cannot run is listed greyed out, with the roles it lacks)
    and a page of editors per procedure in ``pages``; ``editors[procedure][parameter]``."""

    def __init__(self, station: Any):
        self.procedure_box = qw.QComboBox()
        self.pages = qw.QStackedWidget()
        self.editors: dict[str, dict[str, qw.QWidget]] = {}
        for name, cls in PROCEDURES.items():
            self.procedure_box.addItem(name)
            index = self.procedure_box.count() - 1
            missing = [role for role in cls.roles if not station.has_role(role)]
            if missing:  # listed greyed out, so the operator sees what this station cannot run and why
                self.procedure_box.model().item(index).setEnabled(False)
                self.procedure_box.setItemData(index, f"{cls.summary} (needs {', '.join(missing)}, which "
                                                      f"this station lacks)", Qt.ToolTipRole)
            else:
                self.procedure_box.setItemData(index, cls.summary, Qt.ToolTipRole)
            page = qw.QWidget()
            form = qw.QFormLayout(page)
            self.editors[name] = {}
            for param in cls.parameters:
                editor = make_editor(param.on_station(station.limits))
                label = qw.QLabel(param.name)
                label.setToolTip(param.doc)
                form.addRow(label, editor)
                self.editors[name][param.name] = editor
            self.pages.addWidget(page)
        self.procedure_box.currentIndexChanged.connect(self.pages.setCurrentIndex)
        runnable = [i for i in range(self.procedure_box.count()) if self.procedure_box.model().item(i).isEnabled()]
        if runnable:
            self.procedure_box.setCurrentIndex(runnable[0])

    def select(self, name: str) -> None:
        """Show the form of procedure ``name``."""
        self.procedure_box.setCurrentIndex(list(PROCEDURES).index(name))

    def values(self, procedure: str | None = None) -> dict[str, Any]:
        """The form's values of ``procedure`` (default: the selected one)."""
        editors = self.editors[procedure or self.procedure_box.currentText()]
        return {name: editor_value(widget) for name, widget in editors.items()}

    def set_values(self, procedure: str, values: dict[str, Any]) -> None:
        """Fill the form of ``procedure`` with ``values`` (names it does not have are refused)."""
        unknown = sorted(set(values) - set(self.editors[procedure]))
        if unknown:
            raise KeyError(f"{procedure} has no parameters {unknown}")
        for name, value in values.items():
            set_editor_value(self.editors[procedure][name], value)
