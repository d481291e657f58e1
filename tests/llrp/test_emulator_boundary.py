"""The LLRP adapter reads frames; building the frames a reader sends is the emulator's job. No adapter
module imports the emulator, so the adapter ships without the test rig's encoders."""

from __future__ import annotations

import ast
from pathlib import Path

import tagtrail_ingest.llrp as llrp

ADAPTER = Path(llrp.__file__).parent
EMULATOR = "tagtrail_ingest.llrp.emulator"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_adapter_module_imports_the_emulator():
    modules = sorted(ADAPTER.glob("*.py"))
    assert any(p.name == "frames.py" for p in modules)
    offenders = {p.name: sorted(m for m in imported_modules(p) if m.startswith(EMULATOR))
                 for p in modules}
    assert {name: found for name, found in offenders.items() if found} == {}
