"""A real station checked without connecting to it: can each instrument be reached, and the run's plan made on
simulated stand-ins of the same instruments.

``tepl run NAME --config my-lab.yaml --dry-run`` uses this on a station whose instruments are not all
simulated: nothing is opened, no command is sent. A network instrument gets a TCP connect probe (the socket is
closed at once), a serial port is looked for, a vendor library file is looked for.
"""

from __future__ import annotations

import copy
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

import yaml

from tepl.config import StationConfig, has_real_link, instrument_name, load_config, parse_config, shipped_stations

PROBE_TIMEOUT_S = 1.0
"""How long a TCP connect probe waits for the instrument to accept (s)."""

DEFAULT_TCP_PORTS = {"pi-e727": 50000, "rhk-r9": 12600, "newport-8742": 23, "lakeshore-336": 7777,
                     "lakeshore-335": 7777}
"""The port a ``tcp://HOST`` address without one means, per driver (as the builders read it)."""

NO_LINK = "nothing to connect (no link of its own)"

_STAND_IN_DRIVERS = {"fixed": "sim-laser", "manual": "sim-lamp"}


@dataclass(frozen=True)
class Reach:
    """Whether one instrument could be reached: ``reachable`` True, False, or None (not checkable without
    opening it), and what was found, in words."""

    role: str
    name: str  # ``stage (pi-e727 at tcp://192.168.0.27:50000)``
    reachable: bool | None
    found: str

    def line(self) -> str:
        if self.found == NO_LINK:
            return f"{self.name}: {NO_LINK}"
        verdict = {True: "reachable", False: "NOT REACHABLE", None: "not checked"}[self.reachable]
        return f"{self.name}: {verdict}: {self.found}"


def _tcp(host: str, port: int, timeout_s: float) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True, f"{host}:{port} accepted a TCP connection (closed at once; nothing was asked)"
    except TimeoutError:
        return False, f"no answer from {host}:{port} within {timeout_s:g} s"
    except OSError as exc:
        return False, f"{host}:{port}: {exc}"


def _address_reach(driver: str, address: str, timeout_s: float) -> tuple[bool | None, str]:
    if address.startswith("tcp://"):
        parsed = urlparse(address)
        port = parsed.port or DEFAULT_TCP_PORTS.get(driver)
        if not parsed.hostname or not port:
            return False, f"{address!r} names no host and port (tcp://HOST:PORT)"
        return _tcp(parsed.hostname, port, timeout_s)
    parts = address.split("::")
    if parts[0].upper().startswith("TCPIP") and len(parts) >= 4 and parts[-1].upper() == "SOCKET":
        return _tcp(parts[1], int(parts[2]), timeout_s)
    if parts[0].upper().startswith("ASRL"):
        port = parts[0][4:]
        if port.startswith("/"):
            return (True, f"serial port {port} is present") if os.path.exists(port) else (
                False, f"no serial port {port} on this machine")
        from serial.tools import list_ports

        names = {p.device for p in list_ports.comports()}
        com = f"COM{port}"
        return (True, f"serial port {com} is present") if com in names else (
            False, f"no serial port {com} on this machine (present: {', '.join(sorted(names)) or 'none'})")
    return None, f"VISA resource {address!r} is opened only by a run"


def probe(role: str, cfg: dict, timeout_s: float = PROBE_TIMEOUT_S) -> Reach:
    """Whether the instrument of one ``instruments.<role>`` entry can be reached, without talking to it."""
    name = instrument_name(role, cfg)
    if not has_real_link(cfg):
        simulated = "address" in cfg or "library" in cfg or str(cfg.get("driver")).startswith("sim-")
        return Reach(role, name, True, "simulated" if simulated else NO_LINK)
    if "address" in cfg:
        return Reach(role, name, *_address_reach(str(cfg.get("driver")), str(cfg["address"]), timeout_s))
    library = cfg.get("library")
    if library is not None:
        paths = list(library.values()) if isinstance(library, dict) else [library]
        missing = [str(p) for p in paths if not os.path.isfile(str(p))]
        if missing:
            return Reach(role, name, False, f"library not found: {', '.join(missing)}")
        return Reach(role, name, True, "library present (not loaded)")
    return Reach(role, name, None, "not checked")


def probe_station(config: StationConfig, timeout_s: float = PROBE_TIMEOUT_S) -> list[Reach]:
    """``probe`` for every instrument the station names, in config order."""
    return [probe(role, cfg, timeout_s) for role, cfg in config.data["instruments"].items()]


def fully_simulated(config: StationConfig) -> bool:
    """True when every instrument of the station is simulated in-process (nothing to reach)."""
    return config.simulated and not any(has_real_link(cfg) for cfg in config.data["instruments"].values())


def _twin_for(config: StationConfig) -> StationConfig:
    """The shipped simulated station most like ``config`` (the most roles with the same driver, then the
    fewest roles it lacks): its simulation section stands in for the real sample."""
    wanted = {role: _STAND_IN_DRIVERS.get(cfg["driver"], cfg["driver"])
              for role, cfg in config.data["instruments"].items()}
    best, best_key = None, None
    for path in shipped_stations().values():
        candidate = load_config(path)
        if not candidate.simulated:
            continue
        theirs = {role: cfg["driver"] for role, cfg in candidate.data["instruments"].items()}
        key = (sum(theirs.get(r) == d for r, d in wanted.items()), -len(set(wanted) - set(theirs)))
        if best_key is None or key > best_key:
            best, best_key = candidate, key
    if best is None:
        raise LookupError("no shipped simulated station to borrow a simulation section from")
    return best


def stand_in_config(config: StationConfig) -> StationConfig:
    """The same station with every instrument replaced by its simulator (same limits, settings, channels);
    a station without a ``simulation`` section borrows the one of the most similar shipped simulated station.
    Its source says so: ``config/lab-tepl.yaml with simulated stand-ins (the simulation section of tepl-sim)``."""
    data = copy.deepcopy(config.data)
    for cfg in data["instruments"].values():
        cfg["driver"] = _STAND_IN_DRIVERS.get(cfg["driver"], cfg["driver"])
        for key in ("address", "library"):
            if key in cfg:
                cfg[key] = "sim"
    sample = "its own simulation section"
    if "simulation" not in data:
        twin = _twin_for(config)
        data["simulation"] = copy.deepcopy(twin.data["simulation"])
        sample = f"the simulation section of {twin.data['station']['name']}"
    return parse_config(yaml.safe_dump(data, sort_keys=False), f"{config.source} with simulated stand-ins ({sample})")
