"""Loads the bundled .avsc files and derives what the codec needs from each."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastavro
import fastavro.schema

from tagtrail.events import BusinessTransaction, DeadLetter, ItemMaster, Movement, Scan, TagRead

NAMESPACE = "tagtrail.events"
EVENT_TYPES: dict[str, type] = {
    "TagRead": TagRead,
    "Scan": Scan,
    "Movement": Movement,
    "DeadLetter": DeadLetter,
    "BusinessTransaction": BusinessTransaction,
    "ItemMaster": ItemMaster,
}


@dataclass(frozen=True)
class SchemaRef:
    """One writer or reader schema with its identity on the wire."""

    name: str
    schema: dict[str, Any]
    canonical: str
    fingerprint: bytes
    parsed: Any
    parsed_plain: Any

    @classmethod
    def from_schema(cls, schema: dict[str, Any] | str) -> SchemaRef:
        if isinstance(schema, str):
            schema = json.loads(schema)
        parsed = fastavro.parse_schema(copy.deepcopy(schema))
        canonical = fastavro.schema.to_parsing_canonical_form(parsed)
        # fastavro returns the CRC-64-AVRO fingerprint already in the little-endian byte order
        # that single-object encoding puts on the wire.
        fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        plain = fastavro.parse_schema(_without_timestamp_logical_types(_expanded(schema)))
        return cls(
            name=parsed["name"],
            schema=schema,
            canonical=canonical,
            fingerprint=fingerprint,
            parsed=parsed,
            parsed_plain=plain,
        )


def _without_timestamp_logical_types(node: Any) -> Any:
    """The same schema with timestamp logical types removed.

    The binary encoding is identical; reading through this copy yields integer microseconds,
    which is what the events hold, and skips building datetimes (decoding faster; see
    docs/benchmarks.md).
    """
    if isinstance(node, dict):
        out = {k: _without_timestamp_logical_types(v) for k, v in node.items()}
        if out.get("logicalType", "").startswith("timestamp-"):
            out.pop("logicalType")
        return out
    if isinstance(node, list):
        return [_without_timestamp_logical_types(v) for v in node]
    return node


@cache
def bundled_schema(name: str) -> SchemaRef:
    """The schema shipped in schemas/tagtrail_schemas/avro/ for an event type, named types expanded inline."""
    if name not in EVENT_TYPES:
        raise KeyError(f"no event schema named {name!r}; known: {', '.join(EVENT_TYPES)}")
    folder = resources.files("tagtrail_schemas") / "avro"
    with resources.as_file(folder / f"{NAMESPACE}.{name}.avsc") as path:
        loaded = fastavro.schema.load_schema(str(path), _write_hint=False)
    return SchemaRef.from_schema(_expanded(loaded))


def _expanded(schema: Any) -> Any:
    """`schema` with named types inlined, each defined once."""
    return _defined_once(fastavro.schema.expand_schema(schema), set())


def _defined_once(node: Any, defined: set[str]) -> Any:
    """The expanded schema with each named type defined at its first use and referenced by name after.

    fastavro's expand_schema inlines a named type at every use, which Avro forbids when one type is
    used twice (BusinessTransaction's sources and destinations are both PartyOrPlace).
    """
    if isinstance(node, list):
        return [_defined_once(v, defined) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") in ("record", "enum", "fixed") and "name" in node:
        if node["name"] in defined:
            return node["name"]
        defined.add(node["name"])
    return {k: _defined_once(v, defined) for k, v in node.items()}
