"""What the console tests share: a station fixture per simulated config, a console on a station, and a run
started from the console's own controls."""

from __future__ import annotations

import pytest
from PyQt5.QtCore import Qt

from tepl.config import CONFIG_DIR
from tepl.gui.console import Console
from tepl.station import build_station


def station_fixture(config: str):
    """A module-scoped fixture: the station of ``config/<config>.yaml``, closed after the module."""
    @pytest.fixture(scope="module")
    def station():
        st = build_station(CONFIG_DIR / f"{config}.yaml")
        yield st
        st.close()
    return station


def console_on(qtbot, station, tmp_path, **kwargs) -> Console:
    """A console on ``station`` writing runs and settings under ``tmp_path``, without the status poll."""
    window = Console(station, tmp_path / "runs", status_interval_s=None, settings_dir=tmp_path / "settings",
                     **kwargs)
    qtbot.addWidget(window)
    return window


def start(qtbot, console: Console, name: str, **values) -> None:
    """Start procedure ``name`` with ``values`` by the Start button; returns once its plan is up (or it ended)."""
    console.select_procedure(name)
    console.set_values(name, values)
    qtbot.mouseClick(console.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: console.plan is not None or not console.is_running(), timeout=10_000)
