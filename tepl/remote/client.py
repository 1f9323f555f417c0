"""The station's side of a served role: a proxy with the role's interface, built for ``pyro://HOST:PORT/ROLE``.

``connect_role`` asks the server what the role offers and makes an object of a class derived from the role's
own interface (``Stage``, ``Spectrometer``...), whose methods and values are the server's: procedures, the
console and the CLI use it as they use a local role. Every call carries the station's simulated World state
and brings the server's back (``tepl.remote.wire``). Errors the server reports are raised again here
(``LimitError``, ``DeviceError``...); a lost connection is a ``DeviceError`` naming the role and its address.

One heartbeat thread per server keeps the client's session alive; when the client process dies, the beats stop
and the server makes its instruments safe after its own timeout.
"""

from __future__ import annotations

import ipaddress
import threading
import uuid
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import Pyro5.api
import Pyro5.errors
from Pyro5 import config as pyro_config

from tepl import roles
from tepl.config import ConfigError
from tepl.remote.wire import apply_world_state, decode, encode, raise_error, world_state
from tepl.roles import DeviceError, Instrument

SESSION_OBJECT = "_session"
DEFAULT_SERIALIZER = "msgpack"
"""msgpack carries bytes as binary (serpent as base64 text): spectra and photon blocks move faster."""


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class TLSRequired(ConfigError):
    """Binding an address other than loopback without certificates."""


def configure_tls(host: str, tls: Mapping[str, str] | None, server: bool) -> None:
    """Set Pyro5's SSL settings from ``tls`` (``cert``, ``key``, ``ca`` paths), or refuse to serve on a host that
    is not loopback without them (a served instrument is not left open on a network)."""
    if tls is None:
        if server and not is_loopback(host):
            raise TLSRequired(f"serve-instruments: binding {host!r} (not loopback) needs TLS: give --tls-cert, "
                              f"--tls-key and --tls-ca (Pyro5 SSL with client certificates)")
        return
    missing = [k for k in ("cert", "key", "ca") if not tls.get(k)]
    if missing:
        raise ConfigError(f"tls: missing {', '.join(missing)} (certificate, key and CA file paths)")
    for key in ("cert", "key", "ca"):
        if not Path(tls[key]).is_file():
            raise ConfigError(f"tls.{key}: {tls[key]} is not a file")
    pyro_config.SSL = True
    pyro_config.SSL_CACERTS = str(tls["ca"])
    if server:
        pyro_config.SSL_SERVERCERT, pyro_config.SSL_SERVERKEY = str(tls["cert"]), str(tls["key"])
        pyro_config.SSL_REQUIRECLIENTCERT = True
    else:
        pyro_config.SSL_CLIENTCERT, pyro_config.SSL_CLIENTKEY = str(tls["cert"]), str(tls["key"])


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_address(address: str, key: str = "address") -> tuple[str, int, str]:
    """(host, port, role) of ``pyro://HOST:PORT/ROLE``; ConfigError naming ``key`` otherwise."""
    parsed = urlparse(address)
    role = parsed.path.strip("/")
    if parsed.scheme != "pyro" or not parsed.hostname or not parsed.port or not role or "/" in role:
        raise ConfigError(f"{key}: {address!r} is not a served role (pyro://HOST:PORT/ROLE)")
    return parsed.hostname, parsed.port, role


def _uri(host: str, port: int, object_id: str) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"PYRO:{object_id}@{host}:{port}"


class Session:
    """This process's session with one server: its hello, and the thread that beats every quarter timeout."""

    _open: dict[tuple[str, int], Session] = {}
    _lock = threading.Lock()

    def __init__(self, host: str, port: int, serializer: str):
        self.host, self.port, self.serializer = host, port, serializer
        self.client = uuid.uuid4().hex
        self.users = 0
        proxy = self._proxy()
        try:
            self.info = decode(proxy.hello(self.client))
        finally:
            proxy._pyroRelease()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {host}:{port}", daemon=True)
        self._thread.start()

    @classmethod
    def get(cls, host: str, port: int, serializer: str, world: Any = None) -> Session:
        """This process's session with the server at ``host:port`` (a new one says hello). A simulated station
        joining a simulated server lets its World's clock move on by the time the served World has lived (the
        server built, made safe and started its instruments on it): both then share one clock."""
        with cls._lock:
            session = cls._open.get((host, port))
            if session is None or session._stop.is_set():
                session = cls._open[(host, port)] = Session(host, port, serializer)
                if world is not None and session.info.get("clock_s"):
                    world.clock.advance(float(session.info["clock_s"]))
            session.users += 1
            return session

    def release(self) -> None:
        with Session._lock:
            self.users -= 1
            if self.users > 0:
                return
            Session._open.pop((self.host, self.port), None)
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            proxy = self._proxy()
            proxy.goodbye(self.client)
            proxy._pyroRelease()
        except Pyro5.errors.PyroError:
            pass  # the server is gone: nothing to say goodbye to

    def _proxy(self) -> Any:
        proxy = Pyro5.api.Proxy(_uri(self.host, self.port, SESSION_OBJECT))
        proxy._pyroSerializer = self.serializer
        proxy._pyroTimeout = max(1.0, float(getattr(self, "info", {}).get("heartbeat_timeout_s", 5.0)))
        return proxy

    def _beat(self) -> None:
        interval_s = float(self.info["heartbeat_timeout_s"]) / 4
        proxy = None
        while not self._stop.wait(interval_s):
            try:
                proxy = proxy or self._proxy()
                if not proxy.beat(self.client):  # dropped (we were silent too long): a new session
                    self.info = decode(proxy.hello(self.client))
            except Pyro5.errors.PyroError:
                proxy = None  # try again at the next beat; the server's timeout decides
        if proxy is not None:
            proxy._pyroRelease()


class RemoteRole(Instrument):
    """A role served by another process. Its class is derived for each role interface (``connect_role``)."""

    _interface: dict = {}

    def __init__(self, address: str, world: Any, serializer: str = DEFAULT_SERIALIZER, timeout_s: float | None = None):
        host, port, role = parse_address(address)
        object.__setattr__(self, "_address", address)
        object.__setattr__(self, "_role", role)
        object.__setattr__(self, "_world", world)
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_session", Session.get(host, port, serializer, world))
        proxy = Pyro5.api.Proxy(_uri(host, port, role))
        proxy._pyroSerializer = serializer
        proxy._pyroTimeout = timeout_s
        object.__setattr__(self, "_proxy", proxy)
        object.__setattr__(self, "_closed", False)
        object.__setattr__(self, "_finalizer", weakref.finalize(self, self._session.release))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._role} at {self._address}: {name!r} cannot be set from here (served role)")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._address}>"

    # ---- the wire ---------------------------------------------------------------------------------
    def _request(self, name: str, *args: Any) -> Any:
        """``proxy.name(*args, world)``: the reply's value (or its error raised), the World state applied."""
        if self._closed:
            raise DeviceError(f"{self._role} at {self._address}: released")
        sync = self._world is not None
        with self._lock:
            self._proxy._pyroClaimOwnership()
            try:
                reply = getattr(self._proxy, name)(*args, world_state(self._world) if sync else None)
            except Pyro5.errors.PyroError as exc:
                raise DeviceError(f"{self._role} at {self._address}: {exc}") from exc
            if sync and "world" in reply:
                apply_world_state(self._world, reply["world"])
        if "error" in reply:
            raise_error(reply["error"], f"{self._role} at {self._address}")
        return decode(reply["value"])

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        value = self._request("call", method, encode(list(args)), encode(kwargs))
        if isinstance(value, dict) and set(value) == {"__stream__"}:
            return self._stream(value["__stream__"])
        return value

    def _stream(self, token: str):
        """The items of a result the server streams (a generator: photon blocks), one request each."""
        try:
            while True:
                item = self._request("next_item", token)
                if isinstance(item, dict) and item.get("__end__") is True:
                    return
                yield item
        except GeneratorExit:
            with self._lock:
                self._proxy._pyroClaimOwnership()
                try:
                    self._proxy.close_stream(token)
                except Pyro5.errors.PyroError:
                    pass
            raise

    # ---- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the connection (the server keeps its instruments; it made them safe at the station's
        safe state)."""
        if self._closed:
            return
        object.__setattr__(self, "_closed", True)
        with self._lock:
            self._proxy._pyroClaimOwnership()
            self._proxy._pyroRelease()
        self._finalizer()

    def start(self, wait: bool) -> None:
        """Nothing: the server started its instrument when it built it."""


def _method(name: str, doc: str | None):
    def forward(self, *args, **kwargs):
        return self._call(name, *args, **kwargs)

    forward.__name__ = name
    forward.__doc__ = doc
    return forward


def _value(name: str, doc: str | None) -> property:
    return property(lambda self: self._request("get", name), doc=doc)


def role_class(interface: dict) -> type:
    """A class with the role interface the server described: derived from the tepl.roles classes the served
    role derives from (so ``isinstance(proxy, Stage)`` holds), every method and value forwarded."""
    bases = tuple(getattr(roles, name) for name in interface["roles"]
                  if isinstance(getattr(roles, name, None), type) and getattr(roles, name) is not Instrument)
    namespace: dict[str, Any] = {"safe_group": interface["safe_group"], "_interface": interface,
                                 "__abstractmethods__": frozenset()}
    for name in interface["methods"]:
        namespace[name] = _method(name, _doc(bases, name))
    for name in interface["values"]:
        if name not in ("safe_group", "safe_rank"):
            namespace[name] = _value(name, _doc(bases, name))
    kind = bases[0].__name__ if bases else "Instrument"
    cls = type(f"Remote{kind}", (RemoteRole, *bases), namespace)
    cls.__abstractmethods__ = frozenset()
    return cls


def _doc(bases: tuple[type, ...], name: str) -> str | None:
    for base in bases:
        if name in vars(base):
            return getattr(vars(base)[name], "__doc__", None)
    return None


def connect_role(address: str, world: Any = None, key: str = "address", serializer: str = DEFAULT_SERIALIZER,
                 timeout_s: float | None = None, tls: Mapping[str, str] | None = None) -> RemoteRole:
    """The proxy of the role served at ``address`` (``pyro://HOST:PORT/ROLE``). ``world``: the station's
    simulated World, shared with the server's simulators (None on a real station); ``tls``: the client's
    ``cert``, ``key`` and the ``ca`` that signed the server's (a server off loopback requires them)."""
    host, port, role = parse_address(address, key)
    configure_tls(host, tls, server=False)
    if serializer not in ("serpent", "msgpack"):
        raise ConfigError(f"{key}: serializer {serializer!r}: use serpent or msgpack")
    proxy = Pyro5.api.Proxy(_uri(host, port, role))
    proxy._pyroSerializer = serializer
    proxy._pyroTimeout = timeout_s
    try:
        interface = decode(proxy.describe())
    except Pyro5.errors.PyroError as exc:
        raise DeviceError(f"{key}: no role server answers at {address}: {exc}") from exc
    finally:
        proxy._pyroRelease()
    cls = role_class(interface)
    inst = cls(address, world, serializer, timeout_s)
    simulated = bool(inst._session.info["simulated"])
    if world is not None and not simulated:
        inst.close()
        raise ConfigError(f"{key}: {address} serves hardware, but this station is simulated (its World cannot be "
                          f"shared); serve the simulators with the same simulation section")
    return inst


def served_ground_truth(host: str, port: int, serializer: str = DEFAULT_SERIALIZER) -> dict | None:
    """The ground truth of the World a role server's simulators act on (``state``: its stage, tip, shutters,
    laser now), None when it serves hardware. Tests and benchmarks read the twin across processes with it."""
    proxy = Pyro5.api.Proxy(_uri(host, port, SESSION_OBJECT))
    proxy._pyroSerializer = serializer
    try:
        return decode(proxy.ground_truth())
    finally:
        proxy._pyroRelease()
