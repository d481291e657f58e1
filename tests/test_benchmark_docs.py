"""The benchmark tables of docs/benchmarks.md say what the saved results say.

The table once claimed 17.6 ms for inventory per location on 10M movements while its own saved
result said 274 ms. Convention: in the tables of the page's "## Benchmarks" section, every
measured figure is followed by an HTML comment naming the saved result and the key it comes from,
invisible on the rendered page:

    107,700/s<!-- processor.json:latest.default.figures.reads_per_s -->

Keys are dotted paths into benchmarks/results/<benchmark>.json (benchmarks/harness.py: the latest
run of each configuration under `latest.<configuration>`, earlier ones under `history[i]`), list
items by index (`runs[0].delivered_per_s`). The figure must be the
saved value at the precision the page shows (107,700 for 107,651; 1.19 for 1.191). A figure in
a measured column without such a comment fails, except inside `code` (commands and options); a
sourced figure in the section's prose is checked the same way.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SECTION = "## Benchmarks"
NUMBER = r"\d[\d,]*(?:\.\d+)?"
REFERENCED = re.compile(rf"(?P<figure>{NUMBER})(?P<unit>[^<|\d]{{0,12}}?)<!--\s*(?P<file>[\w.-]+\.json):(?P<key>[\w.\[\]]+)\s*-->")
CODE = re.compile(r"`[^`]*`")
# A measured figure left without a source: a number with a separator, a decimal, or a unit.
UNSOURCED = re.compile(rf"(?<![\w.\-/]){NUMBER}(?:\s?(?:/s|µs|ms|s\b|%|x\b))|(?<![\w.\-/])\d+(?:,\d{{3}})+|(?<![\w.\-/])\d+\.\d+")
UNMEASURED_COLUMNS = {"what", "command", "target", "run"}


def benchmark_section(readme: str) -> str:
    start = readme.index(SECTION + "\n")
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start:end if end != -1 else len(readme)]


def measured_cells(section: str) -> list[str]:
    """Cells of the section's tables, minus the columns that hold no measurement."""
    cells = []
    header: list[str] = []
    for line in section.splitlines():
        if not line.startswith("|"):
            header = []
            continue
        row = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = [c.lower() for c in row]
        elif not set("".join(row)) <= set("-: "):
            cells += [c for name, c in zip(header, row, strict=False) if name not in UNMEASURED_COLUMNS]
    return cells


def saved_value(file: str, key: str) -> float:
    value = json.loads((RESULTS / file).read_text())
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    assert isinstance(value, int | float) and not isinstance(value, bool), f"{file}:{key} is not a number: {value!r}"
    return value


def shown_as(value: float, figure: str) -> bool:
    """Whether `figure` is `value` at the figure's precision: its decimals, or its trailing zeros."""
    shown = Decimal(figure.replace(",", ""))
    digits = figure.replace(",", "")
    if "." in digits:
        step = Decimal(1).scaleb(-len(digits.split(".")[1]))
    else:
        step = Decimal(1).scaleb(len(digits) - len(digits.rstrip("0"))) if digits.strip("0") else Decimal(1)
    return abs(Decimal(str(value)) - shown) <= step / 2


def test_the_readme_has_benchmark_tables_with_sourced_figures() -> None:
    cells = measured_cells(benchmark_section((REPO / "docs" / "benchmarks.md").read_text()))
    assert len(cells) >= 10 and sum(len(REFERENCED.findall(c)) for c in cells) >= 30


def test_every_figure_in_the_benchmark_tables_names_its_saved_result() -> None:
    unsourced = []
    for cell in measured_cells(benchmark_section((REPO / "docs" / "benchmarks.md").read_text())):
        rest = CODE.sub("", REFERENCED.sub("", cell))
        unsourced += [(m.group(), cell[:80]) for m in UNSOURCED.finditer(rest)]
    assert not unsourced, f"figures without <!-- result.json:key --> (figure, cell): {unsourced}"


def test_every_sourced_figure_of_the_section_is_its_saved_value() -> None:
    """Tables and prose alike: a figure that names its source must say what the source says."""
    wrong = []
    for ref in REFERENCED.finditer(CODE.sub("", benchmark_section((REPO / "docs" / "benchmarks.md").read_text()))):
        value = saved_value(ref["file"], ref["key"])
        if not shown_as(value, ref["figure"]):
            wrong.append(f"{ref['figure']}{ref['unit']} but {ref['file']}:{ref['key']} = {value}")
    assert not wrong, "docs/benchmarks.md figures that disagree with benchmarks/results/:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("value", "figure", "agrees"), [
    (274.23, "274", True), (274.23, "17.6", False), (107651, "107,700", True), (107651, "108,000", True),
    (107651, "107,000", False), (1.191, "1.19", True), (1.862, "1.9", True), (1.862, "1.8", False), (6, "6", True),
])
def test_a_figure_agrees_at_the_precision_it_is_shown(value: float, figure: str, agrees: bool) -> None:
    assert shown_as(value, figure) is agrees


def test_the_convention_catches_the_old_claim() -> None:
    """The README once said 17.6 ms against a saved 274 ms: written with a source, it is wrong; without, unsourced."""
    sourced = ("| q | `python -m benchmarks.queries` | 17.6 ms<!-- queries.json:latest.default.figures.inventory_per_location.median_ms -->"
               " | < 300 ms |")
    (ref,) = REFERENCED.finditer(measured_cells(f"{SECTION}\n\n| what | command | measured | target |\n|---|---|---|---|\n{sourced}\n")[0])
    assert not shown_as(saved_value(ref["file"], ref["key"]), ref["figure"])
    bare = measured_cells(f"{SECTION}\n\n| what | command | measured | target |\n|---|---|---|---|\n| q | c | 6.9 ms / 17.6 ms | t |\n")
    assert [m.group() for m in UNSOURCED.finditer(bare[0])] == ["6.9 ms", "17.6 ms"]
