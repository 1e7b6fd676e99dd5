"""The layout's boundaries hold (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_import_boundaries_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    done = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broken" in done.stdout and " 0 broken" in done.stdout


def test_every_module_says_its_role() -> None:
    missing = []
    for path in ROOT.glob("*/**/*.py"):
        if path.parts[len(ROOT.parts)] in (".venv", "build") or "migrations/versions" in str(path):
            continue
        first = path.read_text(encoding="utf-8").lstrip()
        if not first.startswith(('"""', "'''", "#!")) and path.stat().st_size > 0:
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []
