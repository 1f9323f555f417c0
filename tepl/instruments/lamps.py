"""Calibration lamps: the twin's Ar-Hg lamp, or a lamp the operator places by hand."""

from __future__ import annotations

from tepl.instruments import BuildContext, builder


@builder("sim-lamp")
def build_sim_lamp(ctx: BuildContext, cfg: dict):
    from tepl.sims.lamp import SimLamp

    return SimLamp(ctx.need_world("driver"))


@builder("manual")
def build_manual_lamp(ctx: BuildContext, cfg: dict):
    from tepl.drivers.manual_lamp import ManualLamp

    return ManualLamp()
