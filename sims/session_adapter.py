"""A pymeasure adapter wired straight to a simulator's session: the driver runs in-process, no port.

A session turns the bytes a client writes into the bytes the device answers (``feed``); the adapter keeps
what is answered until the driver reads it. Writes append ``write_termination``; ``read`` returns one reply
up to ``read_termination`` (everything pending when it is empty), ``read_bytes(n)`` exactly n bytes. Reading
what has not arrived raises TimeoutError, as a real link would time out.
"""

from __future__ import annotations

from typing import Any

from pymeasure.adapters import Adapter


class SessionAdapter(Adapter):
    """The in-process link to ``session`` of the simulated ``device`` (its name in messages)."""

    def __init__(self, session: Any, device: str, encoding: str, write_termination: str = "",
                 read_termination: str = "", **kwargs):
        super().__init__(**kwargs)
        self.connection = session
        self.device, self.encoding = device, encoding
        self.write_termination, self.read_termination = write_termination, read_termination
        self._pending = bytearray()
        self.closed = False

    def close(self) -> None:
        super().close()
        closing = getattr(self.connection, "close", None)
        if closing is not None:
            closing()
        self.closed = True

    def _write(self, command: str, **kwargs) -> None:
        self._write_bytes((command + self.write_termination).encode(self.encoding))

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        self._check_open()
        self._pending += self.connection.feed(content)

    def _read(self, **kwargs) -> str:
        if not self.read_termination:
            return self._take(len(self._pending)).decode(self.encoding)
        term = self.read_termination.encode(self.encoding)
        end = self._pending.find(term)
        if end < 0:
            raise TimeoutError(f"no complete reply from the simulated {self.device} (have {bytes(self._pending)!r})")
        return self._take(end + len(term))[: -len(term)].decode(self.encoding)

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        if count < 0:
            count = len(self._pending)
            if break_on_termchar and self.read_termination:
                end = self._pending.find(self.read_termination.encode(self.encoding))
                count = count if end < 0 else end + len(self.read_termination)
        return self._take(count)

    def _take(self, count: int) -> bytes:
        self._check_open()
        if count > len(self._pending):
            raise TimeoutError(f"expected {count} bytes from the simulated {self.device}, have {len(self._pending)}")
        chunk = bytes(self._pending[:count])
        del self._pending[:count]
        return chunk

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionError(f"the link to the simulated {self.device} is closed")

    def flush_read_buffer(self) -> None:
        self._pending.clear()
