"""Live panels for the views a plan declares beside its main one (``tepl.plan.VIEW_KINDS``): which panel
shows a declared view (``panel_class``, ``make_panel``); the panels are in the modules of this package.

- ``line`` / ``approach``: a dataset's value per point (a spectrum counts as its integrated counts) against a
  plan axis (``line``) or against another dataset the run measures as it goes (``approach``: the gap of a
  TEPL approach curve, the coarse travel of a tip approach);
- ``decay``: the latest TCSPC decay per channel against the plan's delay axis, on a log scale;
- ``map``: a per-pixel dataset as an image on the plan's two stage axes.

Each panel takes the run's dataset writes through ``handlers()`` (UI thread), keeps only what it shows and
redraws when something arrived. Labels come from the plan: names and units of its axes and datasets.
"""

from __future__ import annotations

from typing import Any

from tepl.gui.labels import is_spectral
from tepl.gui.panels.approach import ApproachFitPanel
from tepl.gui.panels.base import ViewPanel
from tepl.gui.panels.decay import DecayPanel
from tepl.gui.panels.images import MapPanel, SpectraLinePanel
from tepl.gui.panels.ramp import RampPanel
from tepl.gui.panels.series import SeriesPanel

PANELS: dict[str, type[ViewPanel]] = {"line": SeriesPanel, "approach": SeriesPanel, "decay": DecayPanel,
                                      "map": MapPanel, "ramp": RampPanel}
"""The view kinds a panel beside the main view can show; the others (``spectrum``, ``frames``, ``count-map``,
``g2``, ``trace``) are drawn by the main views (``tepl.gui.views``)."""


def panel_class(plan: Any, view: Any) -> type[ViewPanel] | None:
    """The panel class of a declared view: by kind, an ``approach`` of spectra against a measured quantity as
    fitted curves, a ``line`` of spectra as their contour; None when the kind has no panel."""
    if view.kind == "approach" and is_spectral(plan, view.dataset) and plan.has_dataset(view.axes[0]):
        return ApproachFitPanel
    if view.kind == "line" and is_spectral(plan, view.dataset):
        return SpectraLinePanel
    return PANELS.get(view.kind)


def make_panel(plan: Any, view: Any) -> ViewPanel | None:
    """The panel of a declared view, or None when its kind has no panel or the plan lacks what it names."""
    cls = panel_class(plan, view)
    if cls is None or not plan.has_dataset(view.dataset) or not plan.dataset(view.dataset).allocated:
        return None
    try:
        return cls(plan, view)
    except KeyError:  # an axis the plan does not have
        return None
