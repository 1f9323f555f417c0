"""Lake Shore 335 / 336 temperature controller on the cryostat: the ASCII driver over TCP (port 7777) or the
USB serial port, or its protocol simulator."""

from __future__ import annotations

from tepl.config import ConfigError
from tepl.instruments import BuildContext, builder
from tepl.limits import Range


@builder("lakeshore-336")
def build_cryostat(ctx: BuildContext, cfg: dict):
    """``address: sim``: the simulated 336 on the station's World (the stage starts at base, heaters off);
    ``tcp://HOST[:PORT]``: a 336's Ethernet port (default 7777) or ``tepl serve lakeshore-336``; anything
    else: a VISA resource string (``ASRL/dev/ttyUSB0::INSTR``, 57600 baud 7O1). ``input`` (A-D) and ``output``
    (1-2) name the control loop, ``setpoint_range_k`` the setpoints it accepts and ``safe_heater`` (``off``,
    ``keep``) what the safe state does with the heaters."""
    from tepl.drivers.lakeshore_336 import DEFAULT_TCP_PORT, LakeShore336
    from tepl.drivers.lakeshore_336_controller import LakeShore336Controller

    address = cfg["address"]

    def simulated():
        from tepl.sims.lakeshore_336 import LakeShore336Adapter
        from tepl.sims.lakeshore_336 import LakeShore336Controller as Simulated

        return LakeShore336Adapter(Simulated(ctx.need_world("address")))

    adapter = ctx.visa_adapter(address, DEFAULT_TCP_PORT, simulated)
    low, high = cfg["setpoint_range_k"]
    if not 0 <= low < high:
        raise ConfigError(f"{ctx.key}.setpoint_range_k: [{low}, {high}] is not an interval of kelvin (0 <= low < high)")
    return LakeShore336Controller(LakeShore336(adapter, address=address),
                                  Range(float(low), float(high), "K", f"{ctx.key}.setpoint_range_k"),
                                  input=cfg.get("input", "A"), output=cfg.get("output", 1),
                                  safe_heater=cfg.get("safe_heater", "off"), sleep=ctx.sleep,
                                  poll_interval_s=cfg.get("poll_interval_s", 1.0))
