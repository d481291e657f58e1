"""The whole pipeline as an operator runs it: one OS process per service, each killable with SIGKILL."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tagtrail.config import SiteConfig
from tests.services import REPO

SERVICES = {
    "ingest.llrp": ["ingest", "llrp"],
    "ingest.scans": ["ingest", "scans"],
    "process": ["process"],
    "sink": ["sink"],
}


def write_site(site: SiteConfig, path: Path) -> Path:
    """The site as YAML (what `--site FILE` reads), from the dataclasses so no field is misspelt."""
    data = json.loads(json.dumps(dataclasses.asdict(site), default=str))
    data.pop("path", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Pipeline:
    """Starts, kills (-9) and restarts the four services; their logs go to files in `logdir`."""

    def __init__(self, site_file: Path, logdir: Path) -> None:
        self.site_file = site_file
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.starts: dict[str, int] = {name: 0 for name in SERVICES}
        self.crashes: list[str] = []  # services found already dead when the test came to kill them

    def start(self, name: str) -> None:
        self.starts[name] += 1
        with open(self.logdir / f"{name}.{self.starts[name]}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "tagtrail_cli.main", *SERVICES[name], "--site", str(self.site_file)],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def start_all(self) -> None:
        for name in SERVICES:
            self.start(name)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:  # a restart must not hide that it died by itself
            self.crashes.append(f"{name} (start {self.starts[name]}) had exited with {proc.returncode}:\n"
                                f"{self.log_tail(name, 1500)}")
            return
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def crashed(self) -> dict[str, int]:
        """Services that exited on their own (a service must survive every fault here)."""
        return {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}

    def stop_all(self, timeout_s: float = 30.0) -> dict[str, int | None]:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        codes: dict[str, int | None] = {}
        for name, p in self.procs.items():
            try:
                codes[name] = p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
                codes[name] = None
        return codes

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logdir / f"{name}.{self.starts[name]}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""
