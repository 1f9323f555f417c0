"""The simulated microscope (the World) a station config's ``simulation`` section describes."""

from __future__ import annotations

import numpy as np

from tepl.config import ConfigError, StationConfig


def build_world(config: StationConfig, real_time: bool | None = None):
    """The simulated microscope a config's ``simulation`` section describes (None for a real station)."""
    if not config.simulated:
        return None
    from tepl.sims.world import World

    sim = config.data["simulation"]
    seed = int(sim.get("seed", 0))
    kind = sim.get("sample", "tepl")
    if kind == "tepl":
        from tepl.sims.tepl_sample import TeplSample

        sample = TeplSample.generate(seed=seed, n_dots=int(sim.get("n_dots", 6)))
    elif kind == "cryo":
        from tepl.sims.cryo_sample import CryoSample

        sample = CryoSample.generate(seed=seed)
    elif kind == "film":
        from tepl.sims.film_sample import FilmSample

        sample = FilmSample.generate(seed=seed)
    else:
        from tepl.sims.confocal_sample import ConfocalSample

        sample = ConfocalSample.generate(seed=seed, kind=kind)
    kwargs = {"drift_nm_per_s": tuple(sim["drift_nm_per_s"])} if "drift_nm_per_s" in sim else {}
    world = World(sample=sample, seed=seed,
                  real_time=bool(sim.get("real_time", False)) if real_time is None else real_time, **kwargs)
    if hasattr(sample, "attach"):  # a sample that follows the World's state (the film: its temperature)
        sample.attach(world)
    if "longpass_edge_nm" in sim:
        world.longpass_edge_nm = sim["longpass_edge_nm"]
    if "tip_start_um" in sim:
        world.tip_start_nm = 1000.0 * tip_start_um(sim["tip_start_um"], world)
    world.coarse_step_jitter = float(sim.get("coarse_step_jitter", 0.0))
    if kind == "tepl":
        _place_tip(world, sim, config.data["instruments"].get("picomotors"), config.source)
    elif "tip_focus_offset_nm" in sim or "tip_focus_offset_max_nm" in sim:
        raise ConfigError(f"{config.source}: simulation.tip_focus_offset_nm / tip_focus_offset_max_nm need the "
                          f"tepl sample (it has a tip), not {kind!r}")
    if "laser" in sim:
        from tepl.sims.photons import Laser

        world.laser = Laser(**sim["laser"])
    tcspc = config.data["instruments"].get("tcspc")
    if tcspc is not None:
        from tepl.sims.detection import DetectionPath, DetectorChannel

        world.detection = DetectionPath(
            [DetectorChannel(name=c["name"], band_nm=tuple(c["band_nm"]),
                             **{k: c[k] for k in ("efficiency", "dark_counts_per_s", "dead_time_ns",
                                                  "jitter_fwhm_ps") if k in c})
             for c in tcspc["channels"]],
            splitter=tcspc.get("splitter", "dichroic"))
    return world


def tip_start_um(start: float | list, world) -> float:
    """The retracted tip's height above the substrate at power-up (µm): ``start`` itself, or drawn uniformly
    from ``[low, high]`` with the World's seed."""
    if isinstance(start, (int, float)):
        return float(start)
    low, high = (float(v) for v in start)
    return float(world.rng("tip-start").uniform(low, high))
def _place_tip(world, sim: dict, picomotors: dict | None, source: str) -> None:
    """The tip apex's start offset from the laser focus centre (``tip_focus_offset_nm: [dx, dy]``, or
    ``tip_focus_offset_max_nm: r``: drawn uniformly in the disc of radius r from the seed; default 0), and the
    picomotor axes that carry the tip: the controller axes the ``picomotors`` entry names x and y."""
    if "tip_focus_offset_nm" in sim and "tip_focus_offset_max_nm" in sim:
        raise ConfigError(f"{source}: state simulation.tip_focus_offset_nm or tip_focus_offset_max_nm, not both")
    if "tip_focus_offset_nm" in sim:
        world.tip_focus_offset_nm = np.asarray(sim["tip_focus_offset_nm"], float)
    elif "tip_focus_offset_max_nm" in sim:
        rng = world.rng("tip-focus-offset")
        radius_nm = float(sim["tip_focus_offset_max_nm"]) * np.sqrt(rng.random())
        angle = rng.uniform(0.0, 2.0 * np.pi)
        world.tip_focus_offset_nm = radius_nm * np.array([np.cos(angle), np.sin(angle)])
    if picomotors is not None:
        axes = picomotors["axes"]
        world.tip_picomotor_axes = (axes.get("x"), axes.get("y"))
