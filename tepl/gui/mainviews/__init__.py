"""The console's main and curve views of a run, as its plan declares them (``plan.views``): which main view
shows the plan's first view other than ``spectrum`` (``main_view``); the views themselves are in the modules of
this package, drawing on the widgets of ``tepl.gui.mainviews.widgets``.

By the main view's kind:

- ``count-map``: the count image of the scan in progress on the plan's µm axes, summed over the channels or one
  channel (``channel_box``); the curve view: the last line (``CountMapView``);
- ``g2`` / ``trace``: the curve view shows the dataset against the plan's lag or time axis; no map
  (``CurveView``);
- ``frames``: the latest spectrum, and the map one row per frame (``FramesView``);
- ``approach``: the dataset (a spectrum as its integrated counts) against the dataset its axis names, as the run
  measures both (the gap, the coarse travel); ``line`` of values per point (not spectra): the dataset against
  the plan's axis; without a ``spectrum`` view the curve view is hidden (``SeriesView``);
- ``map`` / ``line`` of spectra: the latest spectrum, and its integrated counts on the map against the plan's
  axes; any other (``ramp``, none), or a view whose own panel replaces the main view (a ramp, a fitted approach
  curve): integrated counts against the step (``SpectraView``).
"""

from __future__ import annotations

from typing import Any

from tepl.gui.labels import is_spectral
from tepl.gui.mainviews.base import MainView
from tepl.gui.mainviews.counts import CountMapView
from tepl.gui.mainviews.curves import CurveView, SeriesView
from tepl.gui.mainviews.frames import FramesView
from tepl.gui.mainviews.spectra import SpectraView
from tepl.gui.mainviews.widgets import MainWidgets

MAIN_VIEWS: dict[str, type[MainView]] = {"g2": CurveView, "trace": CurveView, "frames": FramesView}
"""The main view of a kind drawn by its own class; ``count-map`` also needs the counter's channels, a series or
a spectral view depends on the dataset (``main_view``)."""


def main_view(widgets: MainWidgets, plan: Any, view: Any, spectrum: Any, own_panel: bool,
              channel_labels: list[str], **kwargs: Any) -> MainView:
    """The main view of ``view`` (the plan's first view other than ``spectrum``, or None); ``spectrum`` is the
    plan's ``spectrum`` view or None; ``own_panel``: the view's panel draws it (the main view only feeds the
    curve view the latest spectrum)."""
    kind = view.kind if view is not None else "spectrum"
    if kind == "count-map":
        return CountMapView(widgets, plan, view, channel_labels, **kwargs)
    if kind in MAIN_VIEWS:
        return MAIN_VIEWS[kind](widgets, plan, view, **kwargs)
    if own_panel:
        return SpectraView(widgets, plan, None, **kwargs)  # only the latest spectrum, for the curve view
    if kind == "approach" or (kind == "line" and not is_spectral(plan, view.dataset)):
        return SeriesView(widgets, plan, view, spectrum, **kwargs)
    return SpectraView(widgets, plan, view, **kwargs)
