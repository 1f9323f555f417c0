"""PI E-727 piezo stage: the GCS 2.0 driver over VISA / TCP, or its protocol simulator."""

from __future__ import annotations

from typing import Any

from tepl.instruments import BuildContext, builder


@builder("pi-e727")
def build_stage(ctx: BuildContext, cfg: dict):
    from tepl.drivers.pi_e727 import E727
    from tepl.drivers.pi_e727_stage import E727Stage

    if cfg["address"] == "sim":
        from tepl.sims.pi_e727 import GCSAdapter
        from tepl.sims.pi_e727_controller import GCSController

        adapter: Any = GCSAdapter(GCSController(ctx.need_world("address")))
    elif cfg["address"].startswith("tcp://"):
        host, port = ctx.tcp_address(cfg["address"], 50000)
        adapter = f"TCPIP::{host}::{port}::SOCKET"
    else:
        adapter = cfg["address"]
    return E727Stage(E727(adapter), axis_map=cfg.get("axes", {"x": "1", "y": "2", "z": "3"}),
                     travel_um=ctx.limits.travel_um, sleep=ctx.sleep,
                     settle_timeout_s=cfg.get("settle_timeout_s", 10.0))
