"""PicoQuant HydraHarp 400 / TimeHarp 260 TCSPC units through the vendor library, or its simulator."""

from __future__ import annotations

from typing import Any

from tepl.instruments import BuildContext, builder


@builder("hydraharp", "timeharp260")
def build_tcspc(ctx: BuildContext, cfg: dict):
    from tepl.drivers.picoquant_counter import TcspcCounter
    from tepl.drivers.picoquant_models import HydraHarp, TimeHarp260

    n_channels = len(cfg["channels"])
    hydraharp = cfg["driver"] == "hydraharp"
    if cfg["library"] == "sim":
        from tepl.sims.picoquant import SimHHLib, SimTH260Lib

        world = ctx.need_world("library")
        lib: Any = (SimHHLib(world, n_channels=n_channels) if hydraharp
                    else SimTH260Lib(world, model=cfg.get("model", "TimeHarp 260 P"), n_channels=n_channels))
    else:
        from tepl.drivers.picoquant_lib import load_hhlib, load_th260lib

        lib = load_hhlib(cfg["library"]) if hydraharp else load_th260lib(cfg["library"])
    device = (HydraHarp if hydraharp else TimeHarp260)(lib, device_index=cfg.get("device_index", 0))
    options = {k: cfg[k] for k in ("sync_divider", "sync_level_mV", "binning", "offset_ns", "channel_offsets_ps",
                                   "timeout_margin_s") if k in cfg}
    if "input_level_mV" in cfg:
        options["input_levels_mV"] = [cfg["input_level_mV"]] * n_channels
    counter = TcspcCounter(device, sleep=ctx.sleep, acquisition_s=ctx.limits.require("acquisition_s"),
                           max_count_rate_per_s=ctx.limits.require("count_rate_per_s").high, **options)
    counter.on_over_limit = ctx.block_excitation  # a detector over its limit: the sample goes dark first
    return counter
