"""The signals that end a process during a run: SIGINT (Ctrl-C), SIGTERM (kill, systemd, docker) and SIGHUP
(the terminal closed) become an abort at the run's next safe point, with the signal named; nothing
interrupts the safe state."""

from __future__ import annotations

import signal
import threading
from typing import Any

SIGINT_REASON = "interrupted by Ctrl-C (SIGINT)"


class Interrupted(KeyboardInterrupt):
    """The run ended because the process received ``signum`` (SIGINT, SIGTERM or SIGHUP); raised after the
    safe state and the file's closing, so the caller exits with ``128 + signum``."""

    def __init__(self, signum: int, reason: str):
        super().__init__(reason)
        self.signum = signum
        self.exit_code = 128 + int(signum)


SIGNAL_REASONS = {signal.SIGINT: SIGINT_REASON}
SIGNAL_REASONS.update({getattr(signal, name): reason for name, reason in (
    ("SIGTERM", "terminated (SIGTERM)"), ("SIGHUP", "the terminal closed (SIGHUP)")) if hasattr(signal, name)})


def catch_signals(control: Any) -> dict:
    """In the main thread, turn SIGINT, SIGTERM and SIGHUP into an abort at the next safe point, naming the
    signal (a KeyboardInterrupt raised at an arbitrary bytecode can be swallowed by a finalizer); a second
    signal interrupts at once. Returns the handlers to restore (empty when not in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(signum, frame):
        reason = SIGNAL_REASONS[signum]
        if control.abort_requested and control.abort_reason == reason:
            raise Interrupted(signum, reason)
        control.abort(reason)

    return {signum: signal.signal(signum, on_signal) for signum in SIGNAL_REASONS}


def ignore_signals(previous: dict) -> None:
    """Nothing interrupts the safe state and the closing of the file."""
    for signum in previous:
        signal.signal(signum, signal.SIG_IGN)


def restore_signals(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
