"""`tagtrail demo`, the README's first command: a whole simulated warehouse on embedded defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_the_real_pipeline_and_matches_its_ground_truth(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tagtrail.cli.main", "demo", "--items", "16", "--doors", "2", "--minutes", "0.5",
         "--workdir", str(tmp_path / "demo"), "--report", str(tmp_path / "report.html")],
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    out = result.stdout
    # Every simulated item ends where the simulation put it, read back from ClickHouse.
    assert "Ground truth check: 16/16 items are where the simulation put them." in out
    tracked = int(re.search(r"movements of (\d+) items", out).group(1))
    assert tracked == 16
    assert "Inventory per location now:" in out and "storage-a" in out
    assert "NOT durable" in result.stderr  # the embedded Kafka says what it is
    assert "Traceback" not in result.stderr
    # Live progress was shown while it ran.
    assert len(re.findall(r"^\s+reads\s+[\d,]+", result.stderr, re.M)) >= 5
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 1 and "Flows per dock door" in html and "Inventory per location now" in html
