"""Browser tests take screenshots; only an explicit request refreshes the README's committed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web import conftest
from tests.web.conftest import UPDATE_SCREENSHOTS, save_screenshot


class FakePage:
    """Stands in for a Playwright page: writes known bytes where it is told to."""

    def screenshot(self, path: str, full_page: bool) -> None:
        Path(path).write_bytes(b"new screenshot")


@pytest.fixture
def committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "deploy-screenshots"
    folder.mkdir()
    (folder / "station.png").write_bytes(b"committed screenshot")
    monkeypatch.setattr(conftest, "SCREENSHOTS", folder)
    return folder


def test_a_test_run_leaves_the_committed_screenshot_alone(committed: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UPDATE_SCREENSHOTS, raising=False)
    shot = save_screenshot(FakePage(), tmp_path, "station.png")
    assert shot.read_bytes() == b"new screenshot" and shot.parent == tmp_path
    assert (committed / "station.png").read_bytes() == b"committed screenshot"


def test_the_committed_screenshot_is_refreshed_when_asked(committed: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(UPDATE_SCREENSHOTS, "1")
    save_screenshot(FakePage(), tmp_path, "station.png")
    assert (committed / "station.png").read_bytes() == b"new screenshot"
