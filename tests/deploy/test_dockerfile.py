"""The image: what the Dockerfile copies is enough to build tagtrail, and the build context admits it."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, REPO

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]  # type: ignore[misc]


def copied_sources() -> list[str]:
    sources = []
    for op, rest in instructions():
        if op == "COPY" and not rest.startswith("--from"):
            *srcs, _dest = rest.split()
            sources += srcs
    return sources


def test_runtime_image_is_python_311_slim_non_root_with_the_tagtrail_entrypoint() -> None:
    ops = instructions()
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in ops
    assert [rest for op, rest in ops if op == "ENTRYPOINT"] == ['["tagtrail"]']
    users = [rest for op, rest in ops if op == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    last_stage = max(i for i, (op, _) in enumerate(ops) if op == "FROM")
    assert any(op == "USER" for op, _ in ops[last_stage:]), "the runtime stage must drop root"


def test_copied_sources_exist_and_the_dockerignore_admits_them() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern.lstrip("!").rstrip("/")
            if pat in ("*", "**") or fnmatch.fnmatch(path, pat) or path.startswith(pat + "/"):
                keep = negate
        return keep

    for source in copied_sources():
        assert (REPO / source).exists(), source
        assert included(source), f".dockerignore excludes {source}, which the Dockerfile copies"
    for pkg in ("tagtrail", "ingest", "processors", "schemas", "cli"):
        assert pkg in copied_sources(), f"the image would lack the {pkg} package"
    assert not included("tagtrail/__pycache__/x.pyc")
    assert not included(".tagtrail")


@pytest.mark.slow
def test_the_copied_sources_build_a_wheel_with_the_cli_and_schemas(tmp_path: Path) -> None:
    """What `pip wheel .` does in the build stage, on exactly the files the Dockerfile copies."""
    context = tmp_path / "context"
    context.mkdir()
    for source in copied_sources():
        src = REPO / source
        if src.is_dir():
            shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, context / source)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "wheels"), str(context)],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp_path / "wheels").glob("tagtrail-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "tagtrail = tagtrail_cli.main:main" in entry_points
    assert "tagtrail_schemas/avro/tagtrail.events.Movement.avsc" in names
    assert any(n.startswith("tagtrail_schemas/clickhouse/") and n.endswith(".sql") for n in names)
    assert "tagtrail_ingest/__init__.py" in names and "tagtrail_processors/__init__.py" in names
    assert "tagtrail/observability/server.py" in names
