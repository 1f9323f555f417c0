"""RHK R9+ shear-force Z control: the remote interface over TCP, or its protocol simulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from tepl.config import ConfigError
from tepl.instruments import BuildContext, builder

DIRECT_WORDS = ("controller", "z_channel", "amplitude_channel", "phase_channel")  # older spelling of vocabulary


def r9_words(cfg: dict) -> dict[str, str]:
    """The vocabulary overrides of a ``zcontrol`` config: ``vocabulary`` plus the older direct keys."""
    return {**(cfg.get("vocabulary") or {}), **{k: cfg[k] for k in DIRECT_WORDS if k in cfg}}


def r9_command_layer(transport: Any, cfg: dict, key: str = "instruments.zcontrol") -> Any:
    """``R9`` over ``transport`` with the config's words; a word the driver cannot use is a ConfigError."""
    from tepl.drivers.rhk_r9 import R9
    from tepl.drivers.rhk_r9_vocabulary import VocabularyError

    try:
        return R9(transport, vocabulary=r9_words(cfg))
    except VocabularyError as exc:
        raise ConfigError(f"{key}.vocabulary: {exc}") from None


def connect_r9(cfg: dict, key: str = "instruments.zcontrol", timeout_s: float = 5.0) -> Any:
    """An ``R9`` on the real remote interface a ``zcontrol`` config names (``tcp://HOST:PORT``); nothing is
    sent until the first command."""
    from tepl.drivers.rhk_r9_socket import DEFAULT_PORT, R9Socket

    address = cfg.get("address", "")
    parsed = urlparse(address)
    if parsed.scheme != "tcp" or not parsed.hostname:
        raise ConfigError(f"{key}.address: {address!r} is not a remote R9 (tcp://HOST:PORT); serve the simulator "
                          f"with 'tepl serve rhk-r9 --port PORT' to check against the twin")
    return r9_command_layer(R9Socket(parsed.hostname, parsed.port or DEFAULT_PORT, timeout_s=timeout_s), cfg, key)


@builder("rhk-r9")
def build_zcontrol(ctx: BuildContext, cfg: dict):
    from tepl.drivers.rhk_r9_socket import R9Socket
    from tepl.drivers.rhk_r9_zcontrol import R9ZController

    if cfg["address"] == "sim":
        from tepl.sims.rhk_r9 import R9Controller, R9InProcess

        transport: Any = R9InProcess(R9Controller(ctx.need_world("address")))
    else:
        transport = R9Socket(*ctx.tcp_address(cfg["address"], 12600))
        transport.connect()  # here, so a refusal names the role and its address (station building)
    r9 = r9_command_layer(transport, cfg, ctx.key)
    contact = None
    stiffness = ctx.calibration.get("contact_stiffness_nN_per_nm")
    if stiffness is not None:
        from tepl.roles import ContactModel

        area = (ctx.calibration.get("strain") or {}).get("contact_area_nm2", 10.0)
        contact = ContactModel(float(stiffness), float(area), ctx.limits.require("force_nN"),
                               ctx.limits.require("pressure_GPa"))
    return R9ZController(r9, z_range_nm=ctx.limits.require("tip_z_nm"),
                         press_depth_nm=ctx.limits.require("press_depth_nm"), contact=contact,
                         setpoint_fraction=cfg.get("setpoint_fraction", 0.9), sleep=ctx.sleep,
                         coarse_step_nm=cfg.get("coarse_step_nm", 80.0),
                         coarse_step_spread=cfg.get("coarse_step_spread", 0.25),
                         contact_gap_nm=cfg.get("contact_gap_nm"))
