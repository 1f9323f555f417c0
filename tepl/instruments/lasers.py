"""Excitation lasers: the twin's laser, or a laser on its own supply that the station cannot switch."""

from __future__ import annotations

from tepl.config import ConfigError
from tepl.instruments import BuildContext, builder


@builder("sim-laser")
def build_sim_laser(ctx: BuildContext, cfg: dict):
    """The World's laser; on a photon-counting twin (``simulation.laser``) its line and repetition rate must be
    the ones the simulated sample is excited with."""
    from tepl.sims.laser import SimLaser

    world = ctx.need_world("driver")
    rate = float(cfg.get("repetition_rate_hz", 0.0))
    if world.laser is not None:
        twin = world.laser.describe()
        if abs(twin["wavelength_nm"] - cfg["wavelength_nm"]) > 1e-9 or abs(twin["repetition_rate_hz"] - rate) > 1e-9:
            raise ConfigError(f"{ctx.key}: {cfg['wavelength_nm']:g} nm at {rate:g} Hz differs from "
                              f"simulation.laser ({twin['wavelength_nm']:g} nm at {twin['repetition_rate_hz']:g} Hz)")
    return SimLaser(world, cfg["wavelength_nm"], rate, cfg["power_mW"], ctx.limits.laser_power_mW)


@builder("fixed")
def build_fixed_laser(ctx: BuildContext, cfg: dict):
    """A laser the station only describes (a HeNe on its own supply): the excitation shutter blocks it."""
    from tepl.roles import FixedLaser

    return FixedLaser(cfg["wavelength_nm"], cfg.get("repetition_rate_hz", 0.0), cfg["power_mW"],
                      ctx.limits.laser_power_mW)
