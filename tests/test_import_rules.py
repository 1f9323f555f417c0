"""The house's shape (``.importlinter``): layers and forbidden imports, checked with import-linter.

``tepl.drivers`` and ``tepl.sims`` live in ``drivers/`` and ``sims/`` at the top of the repository and are
mapped into the package at install time, which import-linter's graph builder cannot see; the check runs on a
copy of the source laid out as the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _installed_layout(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tepl", tmp_path / "tepl", ignore=ignore)
    shutil.copytree(ROOT / "drivers", tmp_path / "tepl" / "drivers", ignore=ignore)
    shutil.copytree(ROOT / "sims", tmp_path / "tepl" / "sims", ignore=ignore)
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), str(tree / ".importlinter"), "--no-cache"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=240)


def test_the_import_rules_hold(tmp_path):
    result = _lint(_installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_a_driver_importing_a_simulator_is_caught(tmp_path):
    tree = _installed_layout(tmp_path)
    (tree / "tepl" / "drivers" / "cheat.py").write_text("from tepl.sims import world  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "tepl.drivers.cheat -> tepl.sims.world" in result.stdout
