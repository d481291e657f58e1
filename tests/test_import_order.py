"""Import order is ruff's (isort rules), so first-party imports group by the source roots in pyproject.toml.

Each top-level code folder is a source root (docs/architecture.md); if a folder stopped being one, or a
module imported a stage as if it were third-party, the groups would drift and this test would say where.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_imports_are_sorted_as_ruff_sorts_them() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip(f"ruff is not installed beside {sys.executable} (it is in the dev extra: pip install -e '.[dev]')")
    checked = subprocess.run([str(ruff), "check", "--no-cache", "--select", "I", "--output-format", "concise", "."],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, f"imports out of order (fix with: ruff check --select I --fix .):\n{checked.stdout}"
