"""RHK R9+ shear-force Z control: the remote interface over TCP, or its protocol simulator."""

from __future__ import annotations

from typing import Any

from tepl.instruments import BuildContext, builder


@builder("rhk-r9")
def build_zcontrol(ctx: BuildContext, cfg: dict):
    from tepl.drivers.rhk_r9 import R9, R9Socket
    from tepl.drivers.rhk_r9_zcontrol import R9ZController

    if cfg["address"] == "sim":
        from tepl.sims.rhk_r9 import R9Controller, R9InProcess

        transport: Any = R9InProcess(R9Controller(ctx.need_world("address")))
    else:
        transport = R9Socket(*ctx.tcp_address(cfg["address"], 12600))
    kwargs = {k: cfg[k] for k in ("controller", "z_channel", "amplitude_channel", "phase_channel") if k in cfg}
    contact = None
    stiffness = ctx.calibration.get("contact_stiffness_nN_per_nm")
    if stiffness is not None:
        from tepl.roles import ContactModel

        area = (ctx.calibration.get("strain") or {}).get("contact_area_nm2", 10.0)
        contact = ContactModel(float(stiffness), float(area), ctx.limits.require("force_nN"),
                               ctx.limits.require("pressure_GPa"))
    return R9ZController(R9(transport, **kwargs), z_range_nm=ctx.limits.require("tip_z_nm"),
                         press_depth_nm=ctx.limits.require("press_depth_nm"), contact=contact,
                         setpoint_fraction=cfg.get("setpoint_fraction", 0.9), sleep=ctx.sleep,
                         coarse_step_nm=cfg.get("coarse_step_nm", 80.0),
                         coarse_step_spread=cfg.get("coarse_step_spread", 0.25))
