"""Reading the deployment files the way Docker Compose and Kubernetes would, without either."""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagtrail_cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yml"
K8S = DEPLOY / "k8s"
ENV_REFERENCE = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")


def parse_command(argv: list[str]) -> argparse.Namespace:
    """The real CLI parser; argparse exits on an unknown command or option, which fails the test."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"tagtrail rejects the command {shlex.join(argv)!r} (exit {exc.code})") from None


def site_env_references(site_text: str) -> set[str]:
    """Names of the environment variables a site file refers to as `env:NAME`, anywhere in it."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and (m := ENV_REFERENCE.match(node)):
            names.add(m.group(1))

    walk(yaml.safe_load(site_text))
    return names


@dataclass(frozen=True)
class Compose:
    doc: dict[str, Any]
    folder: Path

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.doc["services"]

    def tagtrail_services(self) -> dict[str, dict[str, Any]]:
        """Services built from tagtrail's Dockerfile."""
        found = {}
        for name, service in self.services.items():
            build = service.get("build")
            if build and (self.folder / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "docker" / "Dockerfile":
                found[name] = service
        return found

    def bind_mounts(self, service: dict[str, Any]) -> dict[str, Path]:
        """Container path -> host path of the service's bind mounts."""
        mounts = {}
        for spec in service.get("volumes", []):
            source, target = spec.split(":")[:2]
            if source.startswith((".", "/")):
                mounts[target] = (self.folder / source).resolve()
        return mounts

    def named_volumes(self, service: dict[str, Any]) -> dict[str, str]:
        """Container path -> named volume."""
        mounts = {}
        for spec in service.get("volumes", []):
            source, target = spec.split(":")[:2]
            if not source.startswith((".", "/")):
                mounts[target] = source
        return mounts


@pytest.fixture(scope="session")
def compose() -> Compose:
    return Compose(yaml.safe_load(COMPOSE_FILE.read_text()), COMPOSE_FILE.parent)


@pytest.fixture(scope="session")
def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                doc["__file__"] = path.name
                docs.append(doc)
    return docs
