"""The writer schemas the sink reads: the bundled one of each event type and those of earlier releases.

Producers not upgraded yet (a rolling upgrade) and records already on a topic when the sink is upgraded
carry an earlier writer schema's fingerprint; without it the codec cannot decode them and they would
go to dead letters. Each release that added fields at the end of Movement (with defaults) wrote the
schema without them, and a schema's fingerprint covers its parsing canonical form only (no docs, no
defaults), so an earlier writer schema is the bundled one minus those fields: the same fingerprint as
the file that release shipped (tests/sink/test_writer_schemas.py holds the released fingerprints).
"""

from __future__ import annotations

from tagtrail.wire import Codec
from tagtrail.wire.schema_store import LocalSchemaStore
from tagtrail.wire.schemas import SchemaRef, bundled_schema

# Fields appended to a bundled schema, one tuple per release, oldest first.
APPENDED_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Movement": (("provisional",), ("lot", "expiry")),
}


def earlier_writer_schemas(event_type: str) -> list[SchemaRef]:
    """The schemas earlier releases wrote `event_type` with, newest first."""
    releases = APPENDED_FIELDS.get(event_type, ())
    schema = bundled_schema(event_type).schema
    earlier: list[SchemaRef] = []
    dropped: set[str] = set()
    for fields in reversed(releases):
        dropped |= set(fields)
        earlier.append(SchemaRef.from_schema({**schema, "fields": [f for f in schema["fields"] if f["name"] not in dropped]}))
    return earlier


def sink_codec(event_type: str) -> Codec:
    """A codec for `event_type` that also decodes records of the earlier writer schemas (resolved to the
    bundled one: the appended fields take their defaults)."""
    store = LocalSchemaStore()
    for ref in earlier_writer_schemas(event_type):
        store.register(ref)
    return Codec(event_type, store=store)
