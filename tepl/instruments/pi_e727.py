"""PI E-727 piezo stage: the GCS 2.0 driver over VISA / TCP, or its protocol simulator."""

from __future__ import annotations

from tepl.instruments import BuildContext, builder


@builder("pi-e727")
def build_stage(ctx: BuildContext, cfg: dict):
    from tepl.drivers.pi_e727 import E727
    from tepl.drivers.pi_e727_stage import E727Stage

    def simulated():
        from tepl.sims.pi_e727 import GCSAdapter
        from tepl.sims.pi_e727_controller import GCSController

        return GCSAdapter(GCSController(ctx.need_world("address")))

    adapter = ctx.visa_adapter(cfg["address"], 50000, simulated)
    return E727Stage(E727(adapter), axis_map=cfg.get("axes", {"x": "1", "y": "2", "z": "3"}),
                     travel_um=ctx.limits.travel_um, sleep=ctx.sleep,
                     settle_timeout_s=cfg.get("settle_timeout_s", 10.0), **{
                         key: cfg[key] for key in ("settle_s", "poll_interval_s") if key in cfg})
