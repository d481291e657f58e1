"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and the scan service in a
thread that can be stopped and started again on the same port (a handheld losing its network)."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tagtrail.config import ClickHouseSettings, SiteConfig
from tagtrail.kafka import KafkaConnection
from tests.scans.conftest import TOKENS, make_site
from tests.services import free_port

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DEVICE = "handheld-01"
TOKEN = TOKENS[DEVICE]
GS_SUBSTITUTE = "~"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "deploy" / "screenshots"
UPDATE_SCREENSHOTS = "TAGTRAIL_UPDATE_SCREENSHOTS"  # =1: refresh the README's committed screenshots


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.skip("playwright is not installed (pip install playwright; the browser is the system's chromium)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); playwright's own browsers are not used")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 412, "height": 860}, device_scale_factor=1)  # a handheld's screen
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class StationService:
    """run_scan_service in a thread, stoppable and restartable on one port."""

    site: SiteConfig
    conn: KafkaConnection
    port: int = field(default_factory=free_port)
    clickhouse_client: Any = None  # handed in as `tagtrail run` hands in the sink's client
    _stop: threading.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        from tagtrail_ingest.scans.scan_api import run_scan_service

        self._stop = threading.Event()
        errors: list[BaseException] = []

        def body(stop: threading.Event = self._stop) -> None:
            try:
                run_scan_service(self.site, self.conn, stop=stop, host="127.0.0.1", port=self.port,
                                 clickhouse_client=self.clickhouse_client)
            except BaseException as exc:  # noqa: BLE001 - surfaced by start() below
                errors.append(exc)

        self._thread = threading.Thread(target=body, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if errors:
                raise errors[0]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the scan service did not become ready")

    def stop(self) -> None:
        assert self._stop is not None and self._thread is not None
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the scan service did not stop"


@pytest.fixture
def clickhouse_settings(clickhouse_server) -> ClickHouseSettings:
    """A database of the test's own on the shared ClickHouse HTTP server (the service and the test both reach it)."""
    return ClickHouseSettings(dsn=clickhouse_server.url, database=f"web{uuid.uuid4().hex[:10]}")


@pytest.fixture
def station_site(kafka: KafkaConnection, clickhouse_settings: ClickHouseSettings) -> SiteConfig:
    return replace(make_site(kafka, gs_substitute=GS_SUBSTITUTE), clickhouse=clickhouse_settings)


@pytest.fixture
def station(station_site: SiteConfig, kafka: KafkaConnection) -> Iterator[StationService]:
    service = StationService(station_site, kafka)
    service.start()
    try:
        yield service
    finally:
        if service._thread is not None and service._thread.is_alive():
            service.stop()


def sign_in(page: Page) -> None:
    """The once-per-device setup every page shows first."""
    page.fill("#device-id", DEVICE)
    page.fill("#device-token", TOKEN)
    page.click("#setup button[type=submit]")


def save_screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """Into the test's tmp dir. The README's copy in deploy/screenshots/ is replaced only when
    TAGTRAIL_UPDATE_SCREENSHOTS=1 asks for it: a test run leaves the working tree as it found it."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=False)
    if os.environ.get(UPDATE_SCREENSHOTS) == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / name)
    return shot
