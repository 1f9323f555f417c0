"""What a role server and its clients agree on: values on the wire, errors, and the twin's World state.

Values are reduced to what serpent and msgpack carry (None, bool, int, float, str, bytes, list, dict with str
keys); nothing is pickled. A numpy array travels as its raw bytes with dtype and shape (``{"__nd__": ...}``), so
spectra and photon blocks move as binary buffers, not lists. Tuples, dicts with other keys, integers beyond 64
bits and the role package's dataclasses (``T2Block``, ``Range``...) have their own tagged forms; a class is
rebuilt only from the names in ``DATACLASSES`` (never from a name the peer sends).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import numpy as np

from tepl.config import ConfigError
from tepl.limits import LimitError, Range
from tepl.roles import ContactModel, DeviceError, SurfaceOutOfReach, T2Block, T3Block

DATACLASSES: dict[str, type] = {cls.__name__: cls for cls in (Range, T2Block, T3Block, ContactModel)}
"""The classes a value may be rebuilt as on arrival."""

ERRORS: dict[str, type[BaseException]] = {cls.__name__: cls for cls in (
    DeviceError, LimitError, ConfigError, SurfaceOutOfReach, ValueError, TypeError, KeyError, LookupError,
    IndexError, RuntimeError, TimeoutError, AttributeError, NotImplementedError)}
"""Exceptions raised again as themselves on the client; any other arrives as a DeviceError naming its class."""

_INT64 = 2**63


class WireError(TypeError):
    """A value that cannot travel between a role server and its client."""


def encode(value: Any) -> Any:
    """``value`` in the tagged plain form both serializers carry."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else {"__int__": str(value)}
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.hasobject:
            raise WireError(f"an array of Python objects cannot travel ({array.dtype})")
        return {"__nd__": array.dtype.str, "shape": list(array.shape), "data": array.tobytes()}
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"__map__": [[encode(k), encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and DATACLASSES.get(type(value).__name__) is type(value):
        return {"__dc__": type(value).__name__,
                "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    raise WireError(f"a {type(value).__name__} cannot travel between a role server and its client")


def _bytes(data: Any) -> bytes:
    if isinstance(data, dict) and data.get("encoding") == "base64":  # serpent's form of bytes
        return base64.b64decode(data["data"])
    return bytes(data)


def decode(value: Any) -> Any:
    """The value ``encode`` was given (arrays are writable copies)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__nd__" in value:
        return np.frombuffer(_bytes(value["data"]), dtype=np.dtype(value["__nd__"])).reshape(value["shape"]).copy()
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__int__" in value:
        return int(value["__int__"])
    if "__map__" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["__map__"]}
    if "__dc__" in value:
        cls = DATACLASSES.get(value["__dc__"])
        if cls is None:
            raise WireError(f"unknown class {value['__dc__']!r} on the wire")
        return cls(**{k: decode(v) for k, v in value["fields"].items()})
    if value.get("encoding") == "base64" and set(value) == {"data", "encoding"}:
        return _bytes(value)
    return {k: decode(v) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def encode_error(exc: BaseException) -> dict:
    """An exception as ``{"type", "message"}``."""
    return {"type": type(exc).__name__, "message": str(exc)}


def raise_error(error: dict, where: str) -> None:
    """Raise the exception a server reported, as its own class when it is one of ``ERRORS``."""
    cls = ERRORS.get(error["type"])
    if cls is None:
        raise DeviceError(f"{where}: {error['type']}: {error['message']}")
    if cls is KeyError:
        raise KeyError(error["message"])
    raise cls(error["message"])


# ------------------------------------------------------------------------------------------ the twin's World
def world_state(world: Any) -> dict:
    """What changes in a simulated World as instruments act on it: its public plain attributes (stage position,
    tip height, shutters, laser, picomotor travel, sample temperature, crash flag), its simulated clock and its
    photon random stream. The sample's own state is a function of the seed and time; the hidden truth each
    simulator records stays in the World of the process that runs it (read it from there)."""
    state = {name: value for name, value in vars(world).items() if not name.startswith("_") and _plain(value)}
    state["~clock_s"] = world.clock.now()
    rng = vars(world).get("_photon_rng")
    state["~photon_rng"] = None if rng is None else rng.bit_generator.state
    return encode(state)


def apply_world_state(world: Any, encoded: Any) -> None:
    """Make ``world`` the World ``world_state`` described (the clock set, not advanced, when not real time)."""
    state = decode(encoded)
    clock_s = state.pop("~clock_s")
    rng_state = state.pop("~photon_rng")
    for name, value in state.items():
        setattr(world, name, value)
    clock = world.clock
    if not clock.real_time:
        with clock._lock:
            clock._t_s = float(clock_s)
    if rng_state is not None:
        if vars(world).get("_photon_rng") is None:
            world._photon_rng = np.random.default_rng()
        world._photon_rng.bit_generator.state = rng_state


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic)):
        return not (isinstance(value, np.ndarray) and value.dtype.hasobject)
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False
