"""Parameter presets and the run queue, both kept on disk so they survive closing the console.

A preset is a procedure with its form's values, saved under a name (``presets.json``); the queue is a list of
such runs started one after the other (``queue.json``, rewritten at every change). The console fills its form
from an entry and starts it, so a queued run is checked exactly as one started by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5 import QtWidgets as qw

from tepl.gui.settings import load_json, save_json


class Presets:
    """Named ``{"procedure": name, "values": {parameter: value}}`` in a JSON file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.items: dict[str, dict[str, Any]] = load_json(self.path, {})

    def save(self, name: str, procedure: str, values: dict[str, Any]) -> None:
        if not name.strip():
            raise ValueError("a preset needs a name")
        self.items[name] = {"procedure": procedure, "values": dict(values)}
        save_json(self.path, self.items)

    def get(self, name: str) -> dict[str, Any]:
        if name not in self.items:
            raise KeyError(f"no preset {name!r}; saved: {', '.join(self.items) or 'none'}")
        return self.items[name]

    def names(self) -> list[str]:
        return list(self.items)


class RunQueue(qw.QWidget):
    """The queue's list and its buttons; ``entries`` is what runs next, first first."""

    def __init__(self, path: Path, presets: Presets, parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.path = Path(path)
        self.presets = presets
        self.entries: list[dict[str, Any]] = load_json(self.path, [])
        layout = qw.QVBoxLayout(self)
        row = qw.QHBoxLayout()
        self.preset_box = qw.QComboBox(toolTip="saved presets")
        self.preset_name = qw.QLineEdit(placeholderText="preset name")
        self.save_preset_button = qw.QPushButton("save form as preset")
        self.load_preset_button = qw.QPushButton("load preset into form")
        row.addWidget(self.preset_box, 1)
        row.addWidget(self.load_preset_button)
        layout.addLayout(row)
        row = qw.QHBoxLayout()
        row.addWidget(self.preset_name, 1)
        row.addWidget(self.save_preset_button)
        layout.addLayout(row)
        self.list = qw.QListWidget()
        layout.addWidget(self.list, 1)
        row = qw.QHBoxLayout()
        self.add_button = qw.QPushButton("queue the form")
        self.add_preset_button = qw.QPushButton("queue the preset")
        self.remove_button = qw.QPushButton("remove")
        self.run_button = qw.QPushButton("run the queue")
        for button in (self.add_button, self.add_preset_button, self.remove_button, self.run_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.remove_button.clicked.connect(self.remove_selected)
        self.refresh()

    def refresh(self) -> None:
        self.preset_box.clear()
        self.preset_box.addItems(self.presets.names())
        self.list.clear()
        for entry in self.entries:
            values = ", ".join(f"{k}={v}" for k, v in entry["values"].items())
            self.list.addItem(f"{entry.get('label') or entry['procedure']}: {values}")

    def add(self, procedure: str, values: dict[str, Any], label: str = "") -> None:
        self.entries.append({"procedure": procedure, "values": dict(values), "label": label})
        self._changed()

    def add_preset(self, name: str) -> None:
        preset = self.presets.get(name)
        self.add(preset["procedure"], preset["values"], label=name)

    def pop(self) -> dict[str, Any] | None:
        """The next run, taken off the queue (None when empty)."""
        if not self.entries:
            return None
        entry = self.entries.pop(0)
        self._changed()
        return entry

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.entries):
            del self.entries[row]
            self._changed()

    def _changed(self) -> None:
        save_json(self.path, self.entries)
        self.refresh()
