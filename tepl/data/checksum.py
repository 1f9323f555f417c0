"""Checksums of source files recorded in run files (imports keep the sha256 of what they read)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_hex(path: str | Path) -> str:
    """SHA-256 of the file at ``path`` as hex, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
