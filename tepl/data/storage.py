"""Writing a run file safely: HDF5 write failures as one clear error, and who writes the file."""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Mapping


class StorageError(OSError):
    """The run file could not be written (the disk is full, the file grew past a limit, the medium failed);
    what was flushed before stays in the file."""


class RecorderClosedError(RuntimeError):
    """A write to a recorder after its ``close``."""


def guard_storage(method):
    """Turn HDF5's write failures inside ``method`` into one StorageError naming the file and the cause."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (StorageError, RecorderClosedError):
            raise
        except (OSError, RuntimeError, ValueError) as exc:
            if isinstance(exc, ValueError) and "write failed" not in str(exc):
                raise  # a request we refuse (a wrong shape or name), not a failed write
            number = getattr(exc, "errno", None)
            cause = os.strerror(number) if number else str(exc).split("(", 1)[0].strip() or type(exc).__name__
            raise StorageError(f"{self._path}: writing the run file failed ({cause}); what was flushed before "
                               f"is kept") from exc

    return guarded


def writer_attrs() -> dict:
    """Who writes the file: process id and host, so a file left "running" by a dead process is known."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def writer_alive(attrs: Mapping) -> bool:
    """True when the process that wrote ``attrs`` (``writer_attrs``) still runs; a file from another host is
    taken as alive (it cannot be checked from here)."""
    if "pid" not in attrs or str(attrs.get("host", "")) != socket.gethostname():
        return "pid" in attrs
    try:
        os.kill(int(attrs["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
