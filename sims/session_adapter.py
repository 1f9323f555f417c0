"""A pymeasure adapter wired straight to a simulator's session: the driver runs in-process, no port.

A session turns the bytes a client writes into the bytes the device answers (``feed``); the adapter keeps
what is answered until the driver reads it. Writes append ``write_termination``; ``read`` returns one reply
up to ``read_termination`` (everything pending when it is empty), ``read_bytes(n)`` exactly n bytes. Reading
what has not arrived raises TimeoutError, as a real link would time out.

``faults`` (``tepl.sims.faults.Faults``, all off by default) makes the link misbehave for tests: ``stall``
drops the replies, ``delay_s`` holds each one back until ``delay_s`` s of wall time have passed (0: never) or
the next write (then it arrives ahead of that command's reply), ``garble`` / ``nan_reply`` corrupt them,
``disconnect`` raises ConnectionError on the write, ``interrupt`` raises KeyboardInterrupt. A fault names
its command by the text written (``only={"POS?"}``).
"""

from __future__ import annotations

import math
import time
from typing import Any

from pymeasure.adapters import Adapter

from tepl.sims.faults import Faults

_ASCII_TEXT = "".join(map(chr, range(128)))
_ASCII_BYTES = bytes(range(128))


class SessionAdapter(Adapter):
    """The in-process link to ``session`` of the simulated ``device`` (its name in messages)."""

    def __init__(self, session: Any, device: str, encoding: str, write_termination: str = "",
                 read_termination: str = "", **kwargs):
        super().__init__(**kwargs)
        self.connection = session
        self._read_termination = read_termination
        self.device, self.encoding = device, encoding
        self.write_termination, self.read_termination = write_termination, read_termination
        self._pending = bytearray()
        self._late: list[tuple[float, bytes]] = []  # (wall time it arrives, reply) held back by delay_s
        self.closed = False
        self.faults = Faults()

    @property
    def encoding(self) -> str:
        """The text encoding of the link."""
        return self._encoding

    @encoding.setter
    def encoding(self, name: str) -> None:
        # ASCII text is the same bytes in every encoding a device here speaks (cp1252, latin-1, UTF-8): it is
        # encoded and decoded with the C codec, the rest with ``encoding`` (cp1252's codec is Python code)
        self._encoding = name
        self._ascii_compatible = _ASCII_TEXT.encode(name) == _ASCII_BYTES
        self._read_term = self._read_termination.encode(name)

    @property
    def read_termination(self) -> str:
        """What ends a reply (``read`` returns the text before it); empty: everything pending."""
        return self._read_termination

    @read_termination.setter
    def read_termination(self, text: str) -> None:
        self._read_termination, self._read_term = text, text.encode(self._encoding)

    def _encode(self, text: str) -> bytes:
        return text.encode("ascii") if self._ascii_compatible and text.isascii() else text.encode(self._encoding)

    def _decode(self, data: bytes) -> str:
        return data.decode("ascii") if self._ascii_compatible and data.isascii() else data.decode(self._encoding)

    def close(self) -> None:
        super().close()
        closing = getattr(self.connection, "close", None)
        if closing is not None:
            closing()
        self.closed = True

    def _write(self, command: str, **kwargs) -> None:
        content = self._encode(command + self.write_termination)
        if self.faults.any or self._late or self.closed:
            self._write_bytes(content)
        else:  # the usual case: the session answers at once
            self._pending += self.connection.feed(content)

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        self._check_open()
        fault = self.faults.hit(content.decode(self.encoding, errors="replace")) if self.faults.any else None
        if fault is None:
            if self._late:
                self._release_late(all_of_them=True)
            self._pending += self.connection.feed(content)
            return
        fault.interrupt_now()
        if fault.disconnect:
            raise ConnectionError(f"the link to the simulated {self.device} dropped (fault injected)")
        self._release_late(all_of_them=True)
        reply = fault.corrupt(self.connection.feed(content))
        if fault.stall:
            return  # the device never answers
        if fault.delay_s is not None:
            arrives = time.monotonic() + fault.delay_s if fault.delay_s > 0 else math.inf  # 0: with the next write
            self._late.append((arrives, reply))
            return
        self._pending += reply

    def _release_late(self, all_of_them: bool = False) -> None:
        """Late replies arrive: those whose time has come, or all (the next command is being sent)."""
        now = time.monotonic()
        while self._late and (all_of_them or self._late[0][0] <= now):
            self._pending += self._late.pop(0)[1]

    def _read(self, **kwargs) -> str:
        if self._late:
            self._release_late()
        if not self.read_termination:
            return self._decode(self._take(len(self._pending)))
        term = self._read_term
        end = self._pending.find(term)
        if end < 0:
            raise TimeoutError(f"no complete reply from the simulated {self.device} (have {bytes(self._pending)!r})")
        if self.closed:
            self._check_open()
        reply = bytes(self._pending[:end])
        del self._pending[:end + len(term)]
        return self._decode(reply)

    def read_continued_lines(self, marker: str, max_lines: int) -> list[str]:
        """One reply of several lines in one read: lines up to ``read_termination`` are taken while they end in
        ``marker`` (GCS: a space), at most ``max_lines``, and returned as ``read`` returns them (``marker``
        kept), each logged as ``read`` logs it. A real link reads them one by one; here the whole reply has
        arrived with the command. A reply not complete yet raises TimeoutError, as ``read`` does."""
        if self._late:
            self._release_late()
        term, mark = self._read_term, self._encode(marker)
        if not term or not mark:
            return [self.read()]
        pending, start = self._pending, 0
        for _ in range(max_lines):
            end = pending.find(term, start)
            if end < 0:
                raise TimeoutError(f"no complete reply from the simulated {self.device} (have {bytes(pending)!r})")
            goes_on = end - start >= len(mark) and pending[end - len(mark):end] == mark
            start = end + len(term)
            if not goes_on:
                break
        self._check_open()
        text = self._decode(bytes(pending[:start - len(term)]))
        del pending[:start]
        lines = text.split(self._read_termination)
        for line in lines:
            self.log.debug("READ:%s", line)
        return lines

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        self._release_late()
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
        """Discard what has arrived (a reply still held back arrives later)."""
        self._release_late()
        self._pending.clear()
