"""The role server: the instruments attached to one PC, served over Pyro5 (``tepl serve-instruments``).

Each role of the PC's config is a Pyro object named after the role (``PYRO:stage@HOST:PORT``, which a station
config writes ``pyro://HOST:PORT/stage``). The server builds its instruments from its own config, so every
limit is its own and every call goes through the role's checks here; a client calls public role methods and
reads public values, it never sets anything or reaches a ``_do_*`` hook or a driver.

Safety: a client says ``hello`` and then beats; when a client stops beating for ``heartbeat_timeout_s`` (it
crashed, was killed, lost the network) the server puts every instrument in its safe state (the station's order:
excitation blocked, tip withdrawn, shutters closed...). SIGTERM does the same, then releases the instruments.

The twin: on a simulated PC the server owns a World built from the same ``simulation`` section as the
station's. Every call carries the station's World state in and the server's back (``tepl.remote.wire``), so
the simulators on both sides act on one World, call by call; the station reads ground truth from its own.
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import Pyro5.api
import Pyro5.callcontext
import Pyro5.errors
from Pyro5 import config as pyro_config

from tepl.config import ConfigError
from tepl.remote.client import SESSION_OBJECT, TLSRequired, configure_tls  # noqa: F401 (TLSRequired: raised here)
from tepl.remote.wire import apply_world_state, decode, encode, encode_error, world_state
from tepl.roles import Instrument

log = logging.getLogger(__name__)

ACCEPTED_SERIALIZERS = {1: "serpent", 4: "msgpack"}
"""Pyro5 serializer ids the server answers (Pyro5 has no pickle; marshal and json are refused too)."""
HIDDEN = frozenset({"close", "disconnect", "start"})
"""Lifecycle methods the server keeps to itself: it builds, starts and releases its instruments."""
def _check_serializer() -> None:
    serializer_id = Pyro5.callcontext.current_context.serializer_id
    if serializer_id not in ACCEPTED_SERIALIZERS:
        raise Pyro5.errors.SecurityError(f"serializer id {serializer_id} refused; use serpent or msgpack")


def role_interface(inst: Instrument) -> dict[str, Any]:
    """What a client may use of a role: its methods (public functions of its class, lifecycle hooks apart), its
    values (public properties and attributes, read on each access) and constants the station sorts by."""
    from tepl import roles

    methods, values = [], []
    for name in dir(inst):
        if name.startswith("_") or name in HIDDEN:
            continue
        static = inspect.getattr_static(inst, name)
        if isinstance(static, (staticmethod, classmethod)) or inspect.isfunction(static):
            methods.append(name)
        elif isinstance(static, property) or not callable(static):
            values.append(name)
    bases = [cls.__name__ for cls in type(inst).__mro__ if getattr(roles, cls.__name__, None) is cls
             and isinstance(cls, type) and issubclass(cls, Instrument)]
    return {"class": type(inst).__name__, "roles": bases, "methods": sorted(methods), "values": sorted(values),
            "safe_group": inst.safe_group}


@Pyro5.api.expose
class RoleServant:
    """One served role: ``describe``, ``call`` a method, ``get`` a value, ``next_item`` of a streamed result."""

    def __init__(self, name: str, inst: Instrument, server: InstrumentServer):
        self.name, self.inst, self.server = name, inst, server
        self.interface = role_interface(inst)
        self._iterators: dict[str, Any] = {}

    def describe(self) -> dict:
        _check_serializer()
        return self.interface

    def call(self, method: str, args: list, kwargs: dict, world: Any = None) -> dict:
        """Run ``method(*args, **kwargs)``; returns ``{"value"}`` or ``{"error"}``, and ``{"world"}``."""
        _check_serializer()

        def action():
            if method not in self.interface["methods"]:
                raise AttributeError(f"{self.name}: {method!r} is not a method this server offers")
            return self._result(getattr(self.inst, method)(*decode(args), **decode(kwargs)))

        return self.server.run(action, world)

    def get(self, name: str, world: Any = None) -> dict:
        _check_serializer()

        def action():
            if name not in self.interface["values"]:
                raise AttributeError(f"{self.name}: {name!r} is not a value this server offers")
            return getattr(self.inst, name)

        return self.server.run(action, world)

    def next_item(self, token: str, world: Any = None) -> dict:
        """The next item of a streamed result (``{"done": True}`` at its end)."""
        _check_serializer()

        def step():
            iterator = self._iterators.get(token)
            if iterator is None:
                raise LookupError(f"{self.name}: no stream {token!r}")
            try:
                return next(iterator)
            except StopIteration:
                del self._iterators[token]
                return {"__end__": True}

        return self.server.run(step, world)

    def close_stream(self, token: str) -> None:
        _check_serializer()
        with self.server.lock:
            iterator = self._iterators.pop(token, None)
            if iterator is not None and hasattr(iterator, "close"):
                iterator.close()

    def _result(self, value: Any) -> Any:
        if inspect.isgenerator(value) or (hasattr(value, "__next__") and hasattr(value, "__iter__")):
            token = uuid.uuid4().hex
            self._iterators[token] = value
            return {"__stream__": token}
        return value


@Pyro5.api.expose
class SessionServant:
    """Clients say hello, beat, and say goodbye; a client that stops beating gets the instruments made safe."""

    def __init__(self, server: InstrumentServer):
        self.server = server

    def hello(self, client: str) -> dict:
        _check_serializer()
        return self.server.hello(client)

    def beat(self, client: str) -> bool:
        _check_serializer()
        return self.server.beat(client)

    def goodbye(self, client: str) -> None:
        _check_serializer()
        self.server.goodbye(client)

    def ground_truth(self) -> Any:
        """The server's simulated World's ground truth (None for hardware): what its simulators recorded."""
        _check_serializer()
        with self.server.lock:
            world = self.server.world
            return None if world is None else encode({**world.ground_truth(), "state": decode(world_state(world))})


class InstrumentServer:
    """Serve ``instruments`` (role name -> role) on a Pyro5 daemon.

    ``make_safe`` puts all of them in their safe state (the station's ``safe_state``); ``world`` is the
    simulated World they act on (None for hardware); ``heartbeat_timeout_s`` how long a client may stay silent.
    Loopback by default; any other ``host`` needs ``tls`` (``{"cert", "key", "ca"}`` file paths): the server
    presents its certificate and requires clients to present one signed by ``ca``."""

    def __init__(self, instruments: Mapping[str, Instrument], make_safe: Callable[[], Any],
                 world: Any = None, host: str = "127.0.0.1", port: int = 0, heartbeat_timeout_s: float = 2.0,
                 tls: Mapping[str, str] | None = None, release: Callable[[], Any] | None = None,
                 first_safe_state_s: float = 0.0):
        if heartbeat_timeout_s <= 0:
            raise ConfigError(f"heartbeat timeout = {heartbeat_timeout_s!r} s must be positive")
        configure_tls(host, tls, server=True)
        self.instruments = dict(instruments)
        self.world = world
        self.first_safe_state_s = float(first_safe_state_s)
        self.heartbeat_timeout_s = float(heartbeat_timeout_s)
        self.lock = threading.RLock()
        self._make_safe, self._release = make_safe, release
        self._clients: dict[str, float] = {}
        self._stopping = threading.Event()
        self.safe_reports: list[dict] = []
        self.daemon = Pyro5.api.Daemon(host=host, port=port)
        self.servants = {name: RoleServant(name, inst, self) for name, inst in self.instruments.items()}
        for name, servant in self.servants.items():
            self.daemon.register(servant, objectId=name)
        self.daemon.register(SessionServant(self), objectId=SESSION_OBJECT)
        self._watchdog = threading.Thread(target=self._watch, name="heartbeat-watchdog", daemon=True)

    @property
    def address(self) -> str:
        """``HOST:PORT`` the daemon listens on."""
        host, port = self.daemon.locationStr.rsplit(":", 1)
        return f"{host}:{port}"

    def uri(self, role: str) -> str:
        """The station-config address of ``role``: ``pyro://HOST:PORT/ROLE``."""
        return f"pyro://{self.address}/{role}"

    # ---- calls ------------------------------------------------------------------------------------
    def run(self, action: Callable[[], Any], world: Any) -> dict:
        """``action()`` under the server lock with the client's World state applied first."""
        with self.lock:
            if world is not None and self.world is not None:
                apply_world_state(self.world, world)
            try:
                value, error = action(), None
            except Exception as exc:  # reported to the client, raised there
                value, error = None, exc
            return self.reply(value, world, error)

    def reply(self, value: Any, world: Any, error: BaseException | None = None) -> dict:
        out: dict[str, Any] = {"error": encode_error(error)} if error is not None else {"value": encode(value)}
        if world is not None and self.world is not None:
            out["world"] = world_state(self.world)
        return out

    # ---- sessions ---------------------------------------------------------------------------------
    def hello(self, client: str) -> dict:
        with self.lock:
            self._clients[client] = time.monotonic()
        log.info("client %s connected", client)
        return {"heartbeat_timeout_s": self.heartbeat_timeout_s, "simulated": self.world is not None,
                "roles": sorted(self.instruments),
                "clock_s": None if self.world is None else self.world.clock.now() - self.first_safe_state_s}

    def beat(self, client: str) -> bool:
        """True while the client is known (False: it was dropped and must say hello again)."""
        with self.lock:
            if client not in self._clients:
                return False
            self._clients[client] = time.monotonic()
            return True

    def goodbye(self, client: str) -> None:
        with self.lock:
            self._clients.pop(client, None)

    def _watch(self) -> None:
        period_s = min(0.05, self.heartbeat_timeout_s / 10)
        while not self._stopping.wait(period_s):
            now = time.monotonic()
            with self.lock:
                lost = [c for c, seen in self._clients.items() if now - seen > self.heartbeat_timeout_s]
                if not lost:
                    continue
                for client in lost:
                    del self._clients[client]
                log.warning("client %s silent for more than %.3g s: making the instruments safe",
                            ", ".join(lost), self.heartbeat_timeout_s)
                self.make_safe(f"client {', '.join(lost)} lost")

    def make_safe(self, why: str) -> dict:
        with self.lock:
            report = dict(self._make_safe() or {})
        self.safe_reports.append({"why": why, "report": report})
        log.info("safe state (%s): %s", why, report)
        return report

    # ---- lifecycle --------------------------------------------------------------------------------
    def serve(self, on_ready: Callable[[InstrumentServer], None] | None = None) -> None:
        """Serve until ``shutdown`` (or SIGTERM / SIGINT when run in the main thread)."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._stopping.set())
        pyro_config.POLLTIMEOUT = min(pyro_config.POLLTIMEOUT, 0.2)  # a stop request is seen within 0.2 s
        self._watchdog.start()
        if on_ready is not None:
            on_ready(self)
        self.daemon.requestLoop(loopCondition=lambda: not self._stopping.is_set())
        self._finish()

    def shutdown(self) -> None:
        self._stopping.set()

    def _finish(self) -> None:
        self.make_safe("server stopping")
        if self._release is not None:
            with self.lock:
                self._release()
        self.daemon.close()


def serve_station(config: Any, host: str = "127.0.0.1", port: int = 0, heartbeat_timeout_s: float = 2.0,
                  tls: Mapping[str, str] | None = None) -> InstrumentServer:
    """An ``InstrumentServer`` for every role of a PC's station config (built, made safe and started here)."""
    from tepl.station import build_station

    configure_tls(host, tls, server=True)  # refused before anything is built
    station = build_station(config, cool=False, safe=False)
    try:
        before_s = station.now_s()
        station.safe_state()
        first_safe_state_s = station.now_s() - before_s  # the joining station's safe state repeats it
        for inst in station.instruments.values():
            inst.start(wait=station.config.simulated)
        return InstrumentServer(station.instruments, station.safe_state, station.world, host, port,
                                heartbeat_timeout_s, tls, release=lambda: station.close(make_safe=False),
                                first_safe_state_s=first_safe_state_s if station.world is not None else 0.0)
    except BaseException:
        station.close()
        raise
