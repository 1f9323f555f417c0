"""Where the console keeps what it remembers per user: the dock layout, the parameter presets and the run
queue, as JSON files in ``$TEPL_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/tepl``, else ``~/.config/tepl``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def config_dir() -> Path:
    """The folder of the console's per-user files (not created here)."""
    if os.environ.get("TEPL_CONFIG_DIR"):
        return Path(os.environ["TEPL_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tepl"


def load_json(path: Path, default: Any) -> Any:
    """The JSON in ``path``, or ``default`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def save_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON atomically (a temporary file renamed over ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, default=_plain))
    os.replace(tmp, path)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
