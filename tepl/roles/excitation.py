"""The excitation shutter role: the shutter (or switch) that blocks the laser before it reaches the sample."""

from __future__ import annotations

from tepl.roles.shutter import Shutter


class ExcitationShutter(Shutter):
    """A shutter in the excitation path: open lets the laser reach the sample. It is the first thing the
    station's safe state does (``safe_group`` "excitation"): the sample is dark before the tip withdraws."""

    safe_group = "excitation"
