"""The start of a simulated TEPL day for ``tepl demo``: where the tip is before anything is done, and the
output folder the session writes into.

A scientist's day begins with the tip tens of µm above the sample and its apex off the laser focus: the demo's
twin starts the retracted apex ``TIP_START_UM`` above the substrate and ``TIP_FOCUS_OFFSET_NM`` from the focus
centre (``simulation.tip_start_um`` and ``simulation.tip_focus_offset_nm`` of the station config), unless the
config states them itself. The approach and the alignment bring it to where the TEPL runs need it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tepl.config import StationConfig, load_config, parse_config

TIP_START_UM = 20.0  # retracted apex height above the substrate at power-up, µm
TIP_FOCUS_OFFSET_NM = (800.0, -600.0)  # apex from the laser focus centre before any picomotor travel (1 µm), nm
ALIGN_SPOT_UM = (60.0, 50.0)  # bare Au away from the dot field: where the day's approach and alignment happen


def day_config(config: str | Path | StationConfig | None = None) -> StationConfig:
    """The station config for the demo's TEPL session: ``config`` (default: the embedded sim.yaml) with, on a
    simulated TEPL station with picomotors, the tip starting ``TIP_START_UM`` up and ``TIP_FOCUS_OFFSET_NM``
    off the focus where the config does not say where it starts. A real station is returned unchanged."""
    cfg = config if isinstance(config, StationConfig) else load_config(config)
    sim = cfg.data.get("simulation")
    if sim is None or sim.get("sample", "tepl") != "tepl" or "picomotors" not in cfg.data["instruments"]:
        return cfg
    added: dict[str, Any] = {}
    if "tip_start_um" not in sim:
        added["tip_start_um"] = TIP_START_UM
    if sim.get("tip_focus_offset_nm", [0, 0]) == [0, 0] and "tip_focus_offset_max_nm" not in sim:
        added["tip_focus_offset_nm"] = list(TIP_FOCUS_OFFSET_NM)
    if not added:
        return cfg
    data = {**cfg.data, "simulation": {**sim, **added}}
    said = ", ".join(f"{key}: {value}" for key, value in added.items())
    text = (f"# {cfg.source} as tepl demo starts its day: simulation {said}\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return parse_config(text, f"{cfg.source} (demo day: {said})")


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that already holds files unless ``overwrite``: FileExistsError naming it and
    how many entries it holds, before anything runs. A path that is a file is refused too."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"output folder {out}: a file of that name exists; choose another --out")
    if overwrite or not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if entries:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise FileExistsError(f"output folder {out.resolve()} is not empty ({len(entries)} entries: {shown}); "
                              f"choose an empty or new folder with --out, or pass --overwrite to replace its runs")


def group_attrs(path: Path, group: str = "/entry") -> dict[str, Any]:
    """The attributes of ``group`` in a run file."""
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        return dict(f[group].attrs)


def start_day(station: Any, step: Callable[..., Path], say: Callable[[str], None],
              number: Callable[[], int] = lambda: 0) -> None:
    """The day's first two runs on a TEPL station with picomotors: the coarse approach on bare Au at
    ``ALIGN_SPOT_UM`` (the Z reference set at contact), then the tip-laser alignment there. ``step(name,
    procedure, **params)`` runs one procedure and returns its file; ``say`` prints; ``number()`` is the next
    step's number."""
    x_au, y_au = ALIGN_SPOT_UM
    say(f"{number()}. coarse approach on bare Au at ({x_au:g}, {y_au:g}) µm: tip {_tip_height_text(station)}, "
        "fine Z retracted and checked before every coarse step")
    station.stage.move_and_wait_um(x=x_au, y=y_au)
    approach = group_attrs(step("approach", "approach"))
    say(f"   contact after {approach['coarse_steps']} coarse steps ({approach['coarse_travel_um']:.2f} µm "
        f"nominal); Z reference set at contact: gap {station.zcontrol.z_nm():.2f} nm")
    say(f"{number()}. tip-laser alignment: picomotor search for the tip's gap-plasmon signal on bare Au")
    a = group_attrs(step("align-tip", "align-tip", x_um=x_au, y_um=y_au), "/entry/data")
    say(f"   apex moved {a['optimum_x_nm']:+.0f} nm in x, {a['optimum_y_nm']:+.0f} nm in y (picomotor estimate); "
        f"tip signal {a['final_signal']:.0f} counts at the optimum")


def _tip_height_text(station: Any) -> str:
    """Where the tip starts, as the operator knows it: a twin says its start height (what one would read off
    the camera); a real rig does not know it."""
    start_nm = getattr(station.world, "tip_start_nm", None) if station.world is not None else None
    return f"about {start_nm / 1000.0:.0f} µm above the sample" if start_nm else "above the sample"
