"""What the drivers of small ASCII-command controllers share (Thorlabs SC10, Lake Shore 335/336, New Focus
8742): the driver frames its own commands and replies, remembers its address and last command for every
error message, and checks the reply of a command that returns no value."""

from __future__ import annotations

from pymeasure.instruments import Instrument

from tepl.roles import DeviceError


class LineInstrument(Instrument):
    """A pymeasure instrument that writes its own terminators and reads its own reply frames.

    ``address`` names the instrument in errors (the adapter's resource string by default); ``asrl`` holds
    the serial line settings for a serial adapter; ``last_command`` is what the next error names."""

    def __init__(self, adapter, name: str, address: str | None = None, asrl: dict | None = None, **kwargs):
        kwargs.setdefault("write_termination", "")  # the driver writes its terminator itself
        kwargs.setdefault("read_termination", "")  # and frames its replies itself
        kwargs.setdefault("timeout", 2000)
        if asrl is not None:
            kwargs.setdefault("asrl", asrl)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.address = address if address is not None else (adapter if isinstance(adapter, str)
                                                             else type(adapter).__name__)
        self.last_command = ""

    def read_until(self, end: bytes, max_bytes: int, hint: str = "") -> bytes:
        """The bytes of one reply up to and including ``end``, read one at a time (a reply longer than
        ``max_bytes``, a timeout or a closed link raises DeviceError naming the command; ``hint`` says what a
        missing reply usually means on this controller)."""
        raw = bytearray()
        while not raw.endswith(end):
            if len(raw) >= max_bytes:
                raise self._error(f"no {end!r} after {len(raw)} bytes in reply to {self.last_command!r}: "
                                  f"{bytes(raw)!r}")
            try:
                chunk = self.read_bytes(1)
            except Exception as exc:  # a VISA or socket timeout: say which command went unanswered
                raise self._error(f"no complete reply to {self.last_command!r} (read {bytes(raw)!r}"
                                  f"{'; ' + hint if hint else ''}): {exc}") from exc
            if not chunk:
                raise self._error(f"the link closed in the reply to {self.last_command!r} (read {bytes(raw)!r})")
            raw += chunk
        return bytes(raw)

    def write_bytes(self, content: bytes, **kwargs) -> None:
        """Send ``content``; a link that is gone (closed socket, unplugged port) raises DeviceError naming the
        command."""
        try:
            super().write_bytes(content, **kwargs)
        except Exception as exc:  # a VISA, socket or serial failure: say which command could not be sent
            raise self._error(f"could not send {self.last_command!r}: {exc}") from exc

    def _error(self, what: str) -> DeviceError:
        return DeviceError(f"{self.name} at {self.address}: {what}")

    def command(self, command: str) -> None:
        """A command without a value: sent, then its reply (or the error queue) checked."""
        self.write(command)
        self.check_set_errors()
