"""Thorlabs SC10 shutter controller in the excitation path: the serial keyword driver over VISA / TCP, or
its protocol simulator."""

from __future__ import annotations

from tepl.instruments import BuildContext, builder


@builder("thorlabs-sc10")
def build_excitation_shutter(ctx: BuildContext, cfg: dict):
    """``address: sim``: the simulated SC10 on the station's World (it starts closed and sets the World's
    excitation); ``tcp://HOST:PORT``: a serial-to-network server or ``tepl serve thorlabs-sc10``; anything
    else: a VISA resource string (``ASRL/dev/ttyUSB0::INSTR``, ``ASRL3::INSTR``). ``open_timeout_s`` (s) is
    how long opening or shutting may take before it is an error."""
    from tepl.drivers.thorlabs_sc10 import SC10, SC10Shutter

    address = cfg["address"]

    def simulated():
        from tepl.sims.thorlabs_sc10 import SC10Adapter, SC10Controller

        return SC10Adapter(SC10Controller(ctx.need_world("address")))

    adapter = ctx.visa_adapter(address, 0, simulated)
    return SC10Shutter(SC10(adapter, address=address), open_timeout_s=cfg.get("open_timeout_s", 1.0),
                       sleep=ctx.sleep)
