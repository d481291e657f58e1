"""The installed package carries its data files, and installing it says nothing alarming.

Each top-level code folder is a source root with one package inside (the wheel's `packages` in
pyproject.toml); the Avro schemas, the ClickHouse migrations and the scan station's web files live in
plain folders inside those packages. hatchling ships every file of a package folder, so nothing has
to declare them; these tests make sure they do reach the wheel, that an editable install puts the
source roots (not remapped names) on sys.path, and that neither build prints a warning.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def source_roots() -> dict[str, str]:
    """The wheel's packages in pyproject.toml as package -> the source root that holds it."""
    wheel = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    return {Path(folder).name: str(Path(folder).parent) for folder in wheel["packages"]}


ROOTS = source_roots()
SOURCES = ["pyproject.toml", "README.md", "LICENSE",
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
    assert set(ruff_src) == set(ROOTS.values()), "ruff's src roots differ from the wheel's package roots"


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines()
            if any(word in line.lower() for word in ("warning", "would be ignored", "is absent from", "be careful"))]


def copy_sources(target: Path) -> Path:
    """A copy of what a build reads, so building leaves nothing in the working tree."""
    target.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, target / name)
    return target


def test_an_editable_install_puts_the_source_roots_on_the_path_and_says_nothing_alarming(tmp_path: Path) -> None:
    source = copy_sources(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-e", str(source)],
                               capture_output=True, text=True, timeout=300)
    output = installed.stdout + installed.stderr
    assert installed.returncode == 0, output[-3000:]
    assert not warnings_in(output), "\n".join(warnings_in(output))
    found = subprocess.run([str(python), "-c", "import importlib, json, sys; print(json.dumps({n: "
                            "importlib.import_module(n).__file__ for n in sys.argv[1:]}))", *ROOTS],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    files = json.loads(found.stdout)
    for name, root in ROOTS.items():
        assert Path(files[name]) == source / root / name / "__init__.py", f"{name} imports from {files[name]}"


def test_the_wheel_carries_every_data_file_and_the_build_warns_of_no_ignored_package(tmp_path: Path) -> None:
    source = copy_sources(tmp_path / "src")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=300)
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    assert not warnings_in(output), "\n".join(warnings_in(output))
    (wheel,) = (tmp_path / "dist").glob("tagtrail-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{installed}/{f.name}" for folder, installed in DATA_FOLDERS.items()
                for f in (REPO / folder).iterdir() if f.is_file()}
    assert expected and expected <= inside, f"missing from the wheel: {sorted(expected - inside)}"
    assert {f"{name}/__init__.py" for name in ROOTS} <= inside
    assert not any(name.startswith(("tagtrail/data/", "ingest/", "processors/", "schemas/", "cli/"))
                   for name in inside), "a source root folder was installed as a package"
