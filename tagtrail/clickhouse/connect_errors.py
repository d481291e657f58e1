"""What can stand between a command and the site's ClickHouse database, each said in the user's terms."""

from __future__ import annotations


class ClickHouseUnreachable(ConnectionError):
    """Nothing answers at an http(s) DSN (refused, unknown host, timed out)."""


class NoTagtrailDatabase(LookupError):
    """A read found no tagtrail database at the DSN. Reads never create one: a mistyped path must not
    turn into a fresh empty database that answers every question with "nothing recorded"."""

    def __init__(self, message: str, *, chdb_path=None) -> None:
        super().__init__(message)
        self.chdb_path = chdb_path  # the chdb folder asked for, when the DSN named one
