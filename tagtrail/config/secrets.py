"""Resolves `env:NAME` and `file:PATH` setting values (Kafka client settings, the ClickHouse password),
so secrets stay out of site files, and redacts them from anything logged."""

from __future__ import annotations

import os
from pathlib import Path

SECRET_WORDS = ("password", "secret", "token", "key")


def resolve_value(key: str, value: str) -> str:
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise KeyError(f"setting {key!r} refers to environment variable {name}, which is not set")
        return os.environ[name]
    if value.startswith("file:"):
        path = Path(value[5:])
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise KeyError(f"setting {key!r} refers to file {path}, which cannot be read: {exc.strerror}") from exc
    return value


def redact(config: dict[str, str]) -> dict[str, str]:
    """A copy safe to log."""
    return {k: ("***" if any(w in k.lower() for w in SECRET_WORDS) else v) for k, v in config.items()}
