"""Instrument builders: from one ``instruments.<role>`` entry of a station config to a role object.

Each instrument family has a module here with a builder function registered under the config's ``driver``
names (``@builder("pi-e727")``). The modules are found by walking this package, so a new family (a laser, a
picomotor controller) is one new module here, its role, its driver, its simulator and its schema entry; the
station's logic does not change. A builder is the one place that chooses the simulator (``address: sim``,
``library: sim``) or the real transport for its family.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from tepl.config import ConfigError
from tepl.limits import StationLimits
from tepl.roles import Instrument


@dataclass
class BuildContext:
    """What a builder gets besides its config entry: the role name (``stage``), the simulated World (None on
    a real station), the station's limits, its wait function, the instruments built before this one and the
    config's calibration section."""

    role: str
    world: Any
    limits: StationLimits
    sleep: Callable[[float], None]
    built: Mapping[str, Instrument] = field(default_factory=dict)
    calibration: Mapping[str, Any] = field(default_factory=dict)  # the config's calibration section
    block_excitation: Callable[[], Any] | None = None  # the station's: a guard that must darken the sample

    @property
    def key(self) -> str:
        return f"instruments.{self.role}"

    def need_world(self, setting: str) -> Any:
        """The World, or ConfigError when a simulated instrument sits on a station with no simulation."""
        if self.world is None:
            raise ConfigError(f"{self.key}.{setting}: a simulated instrument needs a 'simulation' section")
        return self.world

    def visa_adapter(self, address: str, default_port: int, simulated: Callable[[], Any]) -> Any:
        """What a pymeasure driver connects through: ``simulated()`` for ``sim``, a VISA socket resource for
        ``tcp://HOST:PORT`` (``default_port`` when none is given; 0: the port must be given), else the VISA
        resource string as it is (serial, USB)."""
        if address == "sim":
            return simulated()
        if address.startswith("tcp://"):
            host, port = self.tcp_address(address, default_port)
            if not port:
                raise ConfigError(f"{self.key}.address: {address!r} names no port (tcp://HOST:PORT)")
            return f"TCPIP::{host}::{port}::SOCKET"
        return address

    def tcp_address(self, address: str, default_port: int) -> tuple[str, int]:
        """(host, port) of a ``tcp://HOST:PORT`` address."""
        parsed = urlparse(address)
        if parsed.scheme != "tcp" or not parsed.hostname:
            raise ConfigError(f"{self.key}.address: {address!r} is not 'sim' or 'tcp://HOST:PORT'")
        return parsed.hostname, parsed.port or default_port


Builder = Callable[[BuildContext, dict], Instrument]
BUILDERS: dict[str, Builder] = {}


def builder(*drivers: str) -> Callable[[Builder], Builder]:
    """Register a builder function under the config ``driver`` names it serves."""

    def register(function: Builder) -> Builder:
        for name in drivers:
            if name in BUILDERS:
                raise RuntimeError(f"two builders for driver {name!r}")
            BUILDERS[name] = function
        return function

    return register


def _load_families() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def build_instrument(ctx: BuildContext, cfg: dict) -> Instrument:
    """The role object for one config entry (its ``driver`` picks the builder; an ``address: pyro://HOST:PORT/
    ROLE`` names a role another PC serves, whatever its driver: the same role interface, from there)."""
    if str(cfg.get("address", "")).startswith("pyro://"):
        from tepl.remote.client import connect_role

        return connect_role(cfg["address"], ctx.world, f"{ctx.key}.address", cfg.get("serializer", "msgpack"),
                            cfg.get("timeout_s"), cfg.get("tls"))
    if not BUILDERS:
        _load_families()
    try:
        make = BUILDERS[cfg["driver"]]
    except KeyError:
        raise ConfigError(f"{ctx.key}.driver: no builder for {cfg['driver']!r}; known: "
                          f"{', '.join(sorted(BUILDERS))}") from None
    return make(ctx, cfg)
