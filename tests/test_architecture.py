"""The layers of docs/architecture.md, kept true: who may import whom.

    tagtrail_cli (commands, launch, demo)      the wiring: starts stages; nothing imports it
        |               |
    tagtrail_ingest   tagtrail_processors      the stages: never import each other
        |               |      (decisions: pure, no Kafka, no stream or sink module)
    tagtrail (core)   tagtrail_schemas         events, wire, config, kafka, ... ; schemas as data

Every import of every module is read from its source (ast, including imports inside functions and
`importlib.import_module("...")` literals), so a lazy import cannot slip a stage into the core.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CORE, SCHEMAS, INGEST, PROCESSORS, WIRING = "tagtrail", "tagtrail_schemas", "tagtrail_ingest", "tagtrail_processors", \
    "tagtrail_cli"
FIRST_PARTY = {CORE, SCHEMAS, INGEST, PROCESSORS, WIRING}
MAY_IMPORT = {  # layer -> the first-party layers it may import
    CORE: {CORE, SCHEMAS},
    SCHEMAS: {SCHEMAS},
    INGEST: {CORE, SCHEMAS, INGEST},
    PROCESSORS: {CORE, SCHEMAS, PROCESSORS},
    WIRING: FIRST_PARTY,
}
DECISIONS = f"{PROCESSORS}.decisions"
NOT_IN_DECISIONS = ("confluent_kafka", f"{CORE}.kafka", f"{PROCESSORS}.stream", f"{PROCESSORS}.sink")
# inside the wiring: the demo and the commands share only launch/, which imports neither
WIRING_INSIDE = {f"{WIRING}.demo": (f"{WIRING}.demo", f"{WIRING}.launch"), f"{WIRING}.launch": (f"{WIRING}.launch",)}


def source_roots(repo: Path) -> dict[str, Path]:
    """The wheel's packages in pyproject.toml (package -> its folder): `<root>/<package>`."""
    packages = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    return {Path(folder).name: repo / folder for folder in packages["packages"]}


def modules(roots: dict[str, Path]) -> dict[str, Path]:
    found = {}
    for package, folder in roots.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts[:-1]) if parts[-1] == "__init__" else (package, *parts))
            found[name] = path
    return found


def imports(module: str, path: Path) -> set[str]:
    """Every module `module` imports, absolute; `from a import b` counts a and a.b (b may be a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names if alias.name != "*"}
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.add(node.args[0].value)
    return out


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(found: dict[str, Path]) -> list[str]:
    problems = []
    for module, path in sorted(found.items()):
        layer = module.split(".")[0]
        for imported in sorted(imports(module, path)):
            target = imported.split(".")[0]
            if target in FIRST_PARTY and target not in MAY_IMPORT[layer]:
                problems.append(f"{module} imports {imported}: {layer} may import only {sorted(MAY_IMPORT[layer])}")
            if within(module, DECISIONS) and any(within(imported, banned) for banned in NOT_IN_DECISIONS):
                problems.append(f"{module} imports {imported}: the decision core does no I/O (no Kafka, stream, sink)")
            for inside, allowed in WIRING_INSIDE.items():
                if within(module, inside) and within(imported, WIRING) and imported != WIRING \
                        and not any(within(imported, a) for a in allowed):
                    problems.append(f"{module} imports {imported}: {inside} may import from {WIRING} only {allowed}")
    return problems


def test_the_repository_keeps_its_layers() -> None:
    found = modules(source_roots(REPO))
    for package in FIRST_PARTY:
        assert sum(within(m, package) for m in found) >= 1, f"no module found for {package}"
    assert any(within(m, DECISIONS) for m in found) and any(within(m, f"{WIRING}.demo") for m in found)
    assert violations(found) == []


FAKE_VIOLATIONS = {
    "core imports a stage": ("tagtrail/history/x.py", "from tagtrail_processors.stream import processor_service\n"),
    "core imports the wiring, lazily": ("tagtrail/config/x.py", "def f():\n    import tagtrail_cli.main\n"),
    "core imports a stage by name": ("tagtrail/x.py", "import importlib\nimportlib.import_module('tagtrail_ingest.llrp')\n"),
    "ingest imports processors": ("ingest/tagtrail_ingest/llrp/x.py", "from tagtrail_processors import sink\n"),
    "processors imports ingest": ("processors/tagtrail_processors/sink/x.py", "from tagtrail_ingest.scans import app\n"),
    "a stage imports the wiring": ("ingest/tagtrail_ingest/x.py", "from tagtrail_cli.launch import supervisor\n"),
    "decisions import Kafka": ("processors/tagtrail_processors/decisions/x.py", "from confluent_kafka import Producer\n"),
    "decisions import the stream shell": ("processors/tagtrail_processors/decisions/x.py",
                                          "from ..stream.state_store import restore\n"),
    "decisions import the sink": ("processors/tagtrail_processors/decisions/x.py",
                                  "from tagtrail_processors.sink import writer\n"),
    "the demo imports a command": ("cli/tagtrail_cli/demo/x.py", "from tagtrail_cli.commands import run\n"),
    "the demo imports a cli option": ("cli/tagtrail_cli/demo/x.py", "from tagtrail_cli.site_option import load\n"),
    "launch imports the demo": ("cli/tagtrail_cli/launch/x.py", "from tagtrail_cli import demo\n"),
    "schemas import the core": ("schemas/tagtrail_schemas/x.py", "import tagtrail.events\n"),
}


def fake_tree(root: Path) -> Path:
    """A tree laid out like the repository, whose modules keep every rule."""
    (root / "pyproject.toml").write_text('[tool.hatch.build.targets.wheel]\npackages = ["tagtrail", '
                                         '"ingest/tagtrail_ingest", "processors/tagtrail_processors", '
                                         '"schemas/tagtrail_schemas", "cli/tagtrail_cli"]\n')
    lawful = {
        "tagtrail/__init__.py": "",
        "tagtrail/events/__init__.py": "from tagtrail.wire import codec\n",
        "schemas/tagtrail_schemas/__init__.py": "",
        "ingest/tagtrail_ingest/__init__.py": "from tagtrail.events import TagRead\nfrom . import llrp\n",
        "processors/tagtrail_processors/decisions/__init__.py": "from tagtrail.events import Movement\n",
        "processors/tagtrail_processors/stream/__init__.py": "from confluent_kafka import Consumer\n"
                                                             "from ..decisions import tracker\n",
        "cli/tagtrail_cli/__init__.py": "from tagtrail_ingest import llrp\nfrom tagtrail_cli.demo import runner\n",
        "cli/tagtrail_cli/demo/__init__.py": "from tagtrail_cli.launch import stage_resources\n"
                                             "from tagtrail_processors.stream import processor_service\n",
        "cli/tagtrail_cli/launch/__init__.py": "from tagtrail.kafka import connect\n",
    }
    for rel, text in lawful.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_tree_that_keeps_the_rules_passes(tmp_path: Path) -> None:
    assert violations(modules(source_roots(fake_tree(tmp_path)))) == []


@pytest.mark.parametrize("case", sorted(FAKE_VIOLATIONS))
def test_each_kind_of_violation_is_reported(tmp_path: Path, case: str) -> None:
    root = fake_tree(tmp_path)
    rel, text = FAKE_VIOLATIONS[case]
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
    problems = violations(modules(source_roots(root)))
    assert len(problems) >= 1 and all(p.split(" imports ")[0].endswith(".x") for p in problems), problems
