"""What every role shares: device errors, the safe-state order and the instrument lifecycle."""

from __future__ import annotations

from typing import Any, ClassVar


class DeviceError(RuntimeError):
    """A device (or its simulator) reported an error or replied something we cannot accept."""


SAFE_ORDER = {"excitation": 0, "tip": 10, "shutter": 20, "counting": 30, "camera": 40, "motion": 50}
"""The order in which a station makes its instruments safe (lowest first): excitation blocked, tip
withdrawn, shutters closed, counting stopped, camera idle, stages stopped."""


# --------------------------------------------------------------------------------------------------
class Instrument:
    """What every role shares: its safe state, its status, its settings and its release.

    The station calls ``make_safe`` on every instrument in ``SAFE_ORDER`` of their ``safe_group`` without
    knowing their types, then ``close`` once when it closes."""

    safe_group: ClassVar[str] = "motion"

    @property
    def safe_rank(self) -> int:
        """Position in the station's safe-state order (``SAFE_ORDER``)."""
        return SAFE_ORDER[self.safe_group]

    def make_safe(self) -> str:
        """Put the instrument in its safe state from any state, repeatedly; return what holds afterwards in a
        word or two ("retracted", "closed", "stopped"). Raise DeviceError when it cannot."""
        return "nothing to make safe"

    def status(self, name: str) -> dict[str, Any]:
        """What the operator watches, read without moving anything; keys are prefixed by the role's duty
        (``stage_um``, ``tip_z_nm``...) and ``name`` is the role's name in the station."""
        return {}

    def status_keys(self, name: str) -> tuple[str, ...]:
        """The keys ``status`` fills (so a failed read can be shown under them)."""
        return ()

    def settings(self) -> dict:
        """The instrument's settings for the run file."""
        return {}

    def start(self, wait: bool) -> None:
        """Bring the instrument to its working condition once the station is built (a CCD cooled to its
        target); ``wait`` blocks until it is there. Default: nothing to do."""

    def close(self) -> None:
        """Release what the driver holds (socket, serial port, library handle); the instrument is not used
        after this. The station calls it once, after the safe state."""
        self.disconnect()

    def disconnect(self) -> None:
        """Driver hook of ``close``. Default: nothing is held."""
