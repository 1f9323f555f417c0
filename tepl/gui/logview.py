"""The console's log: every message with its time and level (info, warning, error), shown from a chosen level
up and filtered by words, so a refusal or a failure stands out of a run's chatter."""

from __future__ import annotations

from datetime import datetime

from PyQt5 import QtWidgets as qw

LEVELS = ("info", "warning", "error")
_COLOURS = {"info": "", "warning": "#e0a000", "error": "#ff4040"}


class LogView(qw.QWidget):
    """Messages with levels; ``pane`` shows those at or above ``level_box`` that contain ``filter_edit``'s
    words (case-insensitive)."""

    def __init__(self, max_entries: int = 5000, parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.entries: list[tuple[str, str, str]] = []  # (time, level, message)
        self.max_entries = max_entries
        layout = qw.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = qw.QHBoxLayout()
        self.level_box = qw.QComboBox(toolTip="show messages from this level up")
        self.level_box.addItems(list(LEVELS))
        self.filter_edit = qw.QLineEdit(placeholderText="filter: words the message contains")
        row.addWidget(qw.QLabel("level"))
        row.addWidget(self.level_box)
        row.addWidget(self.filter_edit, 1)
        layout.addLayout(row)
        self.pane = qw.QPlainTextEdit(readOnly=True, maximumBlockCount=max_entries)
        layout.addWidget(self.pane, 1)
        self.following = True  # the newest message kept in view, until the operator scrolls up to read
        bar = self.pane.verticalScrollBar()
        bar.actionTriggered.connect(lambda _action: self._scrolled(bar.sliderPosition()))  # wheel, keys, clicks
        bar.sliderMoved.connect(self._scrolled)  # dragged
        self.level_box.currentIndexChanged.connect(self._refill)
        self.filter_edit.textChanged.connect(self._refill)

    def add(self, message: str, level: str = "info") -> None:
        if level not in LEVELS:
            raise ValueError(f"log level {level!r}: one of {', '.join(LEVELS)}")
        entry = (f"{datetime.now():%H:%M:%S}", level, message)
        self.entries.append(entry)
        if len(self.entries) > self.max_entries:
            del self.entries[: len(self.entries) - self.max_entries]
        if self._shown(entry):
            self.pane.appendPlainText(self._line(entry))
            if self.following:  # also when a re-layout of the window left the pane scrolled off the end
                self._to_end()

    def _scrolled(self, position: int) -> None:
        """The operator moved the bar: follow new messages again only once back at the end."""
        self.following = position >= self.pane.verticalScrollBar().maximum()

    def _to_end(self) -> None:
        bar = self.pane.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _shown(self, entry: tuple[str, str, str]) -> bool:
        words = self.filter_edit.text().strip().lower()
        return (LEVELS.index(entry[1]) >= self.level_box.currentIndex()
                and (not words or words in entry[2].lower()))

    @staticmethod
    def _line(entry: tuple[str, str, str]) -> str:
        t, level, message = entry
        return f"{t}  {message}" if level == "info" else f"{t}  {level.upper()}: {message}"

    def _refill(self, *_: object) -> None:
        self.pane.setPlainText("\n".join(self._line(e) for e in self.entries if self._shown(e)))
        self.following = True
        self._to_end()

    def shown_text(self) -> str:
        return self.pane.toPlainText()
