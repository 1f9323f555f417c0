"""What every import of a vendor file into a run file shares: the source's name and checksum as parameters,
no overwrite unless asked, and no half-written output: a failed import removes its file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tepl import __version__
from tepl.data.checksum import sha256_hex
from tepl.data.recorder import Recorder


def source_parameters(source: Path) -> dict[str, dict[str, Any]]:
    """The parameters naming the imported file: its absolute path and SHA-256."""
    return {"source_file": {"value": str(Path(source).resolve()), "unit": ""},
            "source_sha256": {"value": sha256_hex(source), "unit": ""}}


def refuse_existing(h5_path: Path, overwrite: bool) -> None:
    """FileExistsError when ``h5_path`` exists and ``overwrite`` is false."""
    if Path(h5_path).exists() and not overwrite:
        raise FileExistsError(f"{h5_path} already exists; pass overwrite=True to replace it")


@contextmanager
def import_recorder(h5_path: Path, procedure: str, parameters: dict, instruments: dict,
                    overwrite: bool) -> Iterator[Recorder]:
    """A Recorder for an import: closed ``complete`` when the block ends, or ``failed`` and deleted when
    anything in it raises (the exception goes on)."""
    recorder = Recorder(h5_path, procedure, parameters, config_text="", instruments=instruments,
                        software_version=f"tepl {__version__}", overwrite=overwrite)
    try:
        yield recorder
    except BaseException:
        recorder.close("failed")
        Path(h5_path).unlink(missing_ok=True)
        raise
    recorder.close("complete")
