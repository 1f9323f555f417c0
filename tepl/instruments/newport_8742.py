"""Newport / New Focus 8742 Picomotor controller: the open-loop positioner over Ethernet (telnet, port 23) or
USB, or its protocol simulator."""

from __future__ import annotations

from tepl.instruments import BuildContext, builder

DEFAULT_PORT = 23


@builder("newport-8742")
def build_picomotors(ctx: BuildContext, cfg: dict):
    """``address: sim``: the simulated 8742 on the station's World (its actuators move ``world.picomotor_nm``);
    ``tcp://HOST[:PORT]``: the controller's Ethernet port (default 23) or ``tepl serve newport-8742``, the
    telnet greeting read on connect; anything else: a VISA resource string (USB). ``axes`` maps names to
    controller axes 1-4; ``max_steps_per_move`` bounds one move (steps)."""
    from tepl.drivers.newport_8742 import Picomotor8742
    from tepl.drivers.newport_8742_positioner import Picomotor8742Positioner

    address = cfg["address"]

    def simulated():
        from tepl.sims.newport_8742 import Picomotor8742Adapter, Picomotor8742Controller

        return Picomotor8742Adapter(Picomotor8742Controller(ctx.need_world("address")))

    adapter = ctx.visa_adapter(address, DEFAULT_PORT, simulated)
    telnet = address == "sim" or address.startswith("tcp://")  # the Ethernet port (and the simulator) greets
    controller = Picomotor8742(adapter, address=address, telnet=telnet)
    return Picomotor8742Positioner(controller, {str(k): int(v) for k, v in cfg["axes"].items()},
                                   max_steps_per_move=cfg["max_steps_per_move"],
                                   stop_timeout_s=cfg.get("stop_timeout_s", 2.0), sleep=ctx.sleep)
