"""The installed package carries its data files, and installing it says nothing alarming.

setup.py maps the top-level folders onto `tagtrail.*`; the Avro schemas, the ClickHouse migrations
and the scan station's web files live in plain folders beside the code. If those folders are not
declared as packages, setuptools prints a "Package would be ignored" warning per folder and build;
if pyproject.toml names data that does not exist, nobody notices until a file is missing at run time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
ROOTS = {"tagtrail": "tagtrail", "tagtrail.ingest": "ingest", "tagtrail.processors": "processors",
         "tagtrail.schemas": "schemas"}  # as setup.py maps them
SOURCES = ["setup.py", "pyproject.toml", "README.md", "LICENSE", *ROOTS.values()]
DATA_FOLDERS = {"schemas/avro": "tagtrail/schemas/avro", "schemas/clickhouse": "tagtrail/schemas/clickhouse",
                "ingest/scans/web": "tagtrail/ingest/scans/web"}


def package_folder(package: str) -> Path:
    root = max((name for name in ROOTS if package == name or package.startswith(name + ".")), key=len)
    rest = package[len(root):].lstrip(".")
    return REPO / ROOTS[root] / rest.replace(".", "/")


def test_every_package_data_pattern_names_files_that_exist() -> None:
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    empty = [f"{package}: {pattern}" for package, patterns in package_data.items() for pattern in patterns
             if not any(p.is_file() for p in package_folder(package).glob(pattern))]
    assert not empty, f"pyproject.toml ships package data that does not exist: {empty}"


def test_the_wheel_carries_every_data_file_and_the_build_warns_of_no_ignored_package(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy, so the build leaves no build/ or egg-info in the working tree
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=300)
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    assert "would be ignored" not in output and "is absent from the `packages` configuration" not in output, \
        "\n".join(line for line in output.splitlines() if "absent" in line)
    (wheel,) = (tmp_path / "dist").glob("tagtrail-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{installed}/{f.name}" for folder, installed in DATA_FOLDERS.items()
                for f in (REPO / folder).iterdir() if f.is_file()}
    assert expected and expected <= inside, f"missing from the wheel: {sorted(expected - inside)}"
    assert not any(name.startswith("tagtrail/data/") for name in inside)
