"""The manual's links lead somewhere: README.md is the front page, docs/*.md the rest of the manual.

Every relative link and image (Markdown `[text](target)`, HTML `href`/`src`) in README.md and
docs/**/*.md must name a file or folder that exists, and a `#anchor` must name a heading of the
Markdown file it points into (GitHub's heading ids: lower case, punctuation dropped, spaces to
hyphens, `-1`, `-2` for repeats). Every docs page must be reachable from README.md by following
links, so no page of the manual is left where a reader cannot find it. Links inside code (fenced
blocks and `inline code`) are examples, not links, and are not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


@dataclass(frozen=True)
class BrokenLink:
    page: Path
    target: str
    why: str


def prose(text: str) -> str:
    """The text without code, where bracketed text is an example, not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def heading_ids(text: str) -> set[str]:
    """The ids GitHub gives a Markdown file's headings."""
    ids: set[str] = set()
    seen: dict[str, int] = {}
    for title in HEADING.findall(FENCE.sub("", text)):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link in a heading: its text
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        ids.add(slug if count == 0 else f"{slug}-{count}")
    return ids


def links(text: str) -> list[str]:
    body = prose(text)
    return MARKDOWN_LINK.findall(body) + HTML_LINK.findall(body)


def manual_pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def broken_links(root: Path) -> list[BrokenLink]:
    broken = []
    for page in manual_pages(root):
        for target in links(page.read_text()):
            if EXTERNAL.match(target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(BrokenLink(page, target, f"no file {file}"))
            elif anchor:
                if file.suffix != ".md":
                    broken.append(BrokenLink(page, target, "an anchor into a file that is not Markdown"))
                elif anchor not in heading_ids(file.read_text()):
                    broken.append(BrokenLink(page, target, f"no heading #{anchor} in {file.name}"))
    return broken


def unreachable_pages(root: Path) -> list[Path]:
    """Docs pages no chain of links from README.md leads to."""
    readme = (root / "README.md").resolve()
    reached, todo = {readme}, [readme]
    while todo:
        page = todo.pop()
        for target in links(page.read_text()):
            path = target.partition("#")[0]
            if EXTERNAL.match(target) or not path:
                continue
            file = (page.parent / path).resolve()
            if file.suffix == ".md" and file.is_file() and file not in reached:
                reached.add(file)
                todo.append(file)
    return [page for page in manual_pages(root)[1:] if page.resolve() not in reached]


def test_every_relative_link_and_anchor_of_the_manual_resolves() -> None:
    broken = broken_links(REPO)
    assert not broken, "broken links in the manual:\n" + "\n".join(f"{b.page.relative_to(REPO)}: {b.target} ({b.why})"
                                                                   for b in broken)


def test_every_docs_page_is_linked_from_the_readme_or_a_page_it_leads_to() -> None:
    pages = manual_pages(REPO)
    assert len(pages) > 5, "the manual is README.md plus its pages under docs/"
    orphans = unreachable_pages(REPO)
    assert not orphans, f"docs pages no link from README.md leads to: {[str(p.relative_to(REPO)) for p in orphans]}"


@pytest.fixture
def manual(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "LICENSE").write_text("GPL\n")
    (tmp_path / "README.md").write_text("# tagtrail\n\n## Documentation\n\n[Sink](docs/sink.md) · [License](LICENSE)\n")
    (tmp_path / "docs" / "sink.md").write_text(
        "# Sink\n\n[manual](../README.md#documentation)\n\n## ClickHouse sink (`tagtrail sink`)\n\n"
        "## Notes\n\n## Notes\n\n[self](#clickhouse-sink-tagtrail-sink) [second](#notes-1) "
        "[web](https://example.com/x.md#nowhere)\n\n```\n[in code](nowhere.md)\n```\n`[inline](nowhere.md)`\n")
    return tmp_path


def test_a_sound_manual_passes(manual: Path) -> None:
    assert broken_links(manual) == [] and unreachable_pages(manual) == []


@pytest.mark.parametrize(("link", "why"), [
    ("[gone](docs/operations.md)", "no file"),
    ("[typo](docs/sink.md#clickhouse-sink)", "no heading #clickhouse-sink"),
    ('<img src="deploy/screenshots/station.png">', "no file"),
    ("[license](LICENSE#section)", "not Markdown"),
])
def test_a_broken_link_fails_naming_the_page_and_the_target(manual: Path, link: str, why: str) -> None:
    readme = manual / "README.md"
    readme.write_text(readme.read_text() + f"\n{link}\n")
    (broken,) = broken_links(manual)
    assert broken.page == readme and broken.target in link and why in broken.why


def test_a_page_nothing_links_to_fails(manual: Path) -> None:
    (manual / "docs" / "orphan.md").write_text("# Orphan\n\n[back](../README.md)\n")
    assert unreachable_pages(manual) == [manual / "docs" / "orphan.md"]
