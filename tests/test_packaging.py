"""The installed package carries its data files, and installing it says nothing alarming.

Each top-level code folder is a source root with one package inside (setup.py's SOURCE_ROOTS); the
Avro schemas, the ClickHouse migrations and the scan station's web files live in plain folders beside
the code. If those folders are not declared as packages, setuptools prints a "Package would be
ignored" warning per folder and build; if pyproject.toml names data that does not exist, nobody
notices until a file is missing at run time.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def source_roots() -> dict[str, str]:
    """setup.py's SOURCE_ROOTS, read without running setup()."""
    tree = ast.parse((REPO / "setup.py").read_text())
    (value,) = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "SOURCE_ROOTS" for t in node.targets)]
    return ast.literal_eval(value)


ROOTS = source_roots()
SOURCES = ["setup.py", "pyproject.toml", "README.md", "LICENSE",
           *sorted({name if root == "." else root for name, root in ROOTS.items()})]
DATA_FOLDERS = {"schemas/tagtrail_schemas/avro": "tagtrail_schemas/avro",
                "schemas/tagtrail_schemas/clickhouse": "tagtrail_schemas/clickhouse",
                "ingest/tagtrail_ingest/scans/web": "tagtrail_ingest/scans/web"}


def package_folder(package: str) -> Path:
    return REPO / ROOTS[package.split(".")[0]] / package.replace(".", "/")


def test_every_package_sits_in_a_folder_of_its_own_name() -> None:
    """No remapping: the import path is the folder path below a source root, which ruff knows too."""
    for name, root in ROOTS.items():
        assert (REPO / root / name / "__init__.py").is_file(), f"{name} is not at {root}/{name}/"
    ruff_src = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]["src"]
    assert set(ruff_src) == set(ROOTS.values()), "ruff's src roots differ from setup.py's SOURCE_ROOTS"


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
    assert {f"{name}/__init__.py" for name in ROOTS} <= inside
    assert not any(name.startswith(("tagtrail/data/", "ingest/", "processors/", "schemas/", "cli/"))
                   for name in inside), "a source root folder was installed as a package"
