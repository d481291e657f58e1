"""A stop asked for before a stage started: its own exception, so `main` can end such a command cleanly."""

from __future__ import annotations


class StoppedBeforeStart(Exception):
    """SIGTERM or SIGINT came while a stage still waited for Kafka or ClickHouse: nothing was started,
    so nothing is left to finish, and the command ends cleanly (exit 0) at once, not after the wait.
    The argument names what was awaited."""
