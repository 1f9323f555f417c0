"""``tepl list | stations | samples``: what ships with tepl (procedures with their parameters and bounds, the
stations, the sample files)."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_list(args: argparse.Namespace) -> int:
    from tepl.config import load_config
    from tepl.limits import StationLimits
    from tepl.procedures import PROCEDURES

    config = load_config(args.config)
    limits = StationLimits.from_config(config.data["limits"])
    names = args.procedure or list(PROCEDURES)
    unknown = [n for n in names if n not in PROCEDURES]
    if unknown:
        raise ValueError(f"no procedure {', '.join(unknown)}; known: {', '.join(PROCEDURES)}")
    print(f"{'procedures' if len(names) > 1 else 'procedure'}, with the bounds of station "
          f"{config.data['station']['name']} ({config.source}):")
    for name in names:
        cls = PROCEDURES[name]
        print(f"{name}: {cls.summary}")
        print(f"  roles: {', '.join(cls.roles)}")
        for p in cls.parameters:
            print(f"  {p.on_station(limits).describe()}")
    return 0


def cmd_stations(args: argparse.Namespace) -> int:
    from tepl.config import CONFIG_DIR, load_config, shipped_stations
    from tepl.reachability import fully_simulated

    stations = shipped_stations()
    width = max(len(name) for name in stations)
    print(f"stations shipped with tepl ({CONFIG_DIR}); use one with --config NAME, or copy its file and edit it:")
    for name, path in stations.items():
        station = load_config(path).data["station"]
        kind = "simulated" if fully_simulated(load_config(path)) else "real rig"
        print(f"{name:<{width}}  {kind:<9}  {station.get('description', station['name'])}")
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    import shutil

    from tepl.samples import SAMPLE_FILES, SAMPLES_DIR

    out = Path(args.out)
    targets = {name: out / name for name in SAMPLE_FILES}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist{'s' * (len(existing) == 1)}; "
                              f"pass --overwrite to replace")
    out.mkdir(parents=True, exist_ok=True)
    for name, target in targets.items():
        shutil.copyfile(SAMPLES_DIR / name, target)
        print(f"{target}: {SAMPLE_FILES[name]}")
    return 0
