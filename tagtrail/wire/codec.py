"""Encode events to Avro binary and decode them back, in either framing."""

from __future__ import annotations

import datetime as dt
import io
import struct
from typing import Any, Generic, TypeVar

import fastavro
import msgspec

from tagtrail.wire.schema_store import LocalSchemaStore, SchemaStore
from tagtrail.wire.schemas import EVENT_TYPES, SchemaRef, bundled_schema
from tagtrail.wire.tag_read_encoder import (
    TAG_READ_LAYOUT,
    TagReadEncoder,
    schema_layout,
)

SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONFLUENT_MAGIC = 0

E = TypeVar("E")


class DecodeError(ValueError):
    """Bytes that are not an event of the expected type; the message says which part is wrong."""


class Codec(Generic[E]):
    """Avro codec for one event type.

    `writer` is the schema this process writes (normally the bundled one); the reader schema is
    always the bundled one, so events written under older or newer compatible schemas are
    resolved to the shape this build understands.
    """

    def __init__(
        self,
        name: str,
        *,
        store: SchemaStore | None = None,
        writer: SchemaRef | None = None,
        registry: Any | None = None,
        registry_subject: str | None = None,
    ) -> None:
        if name not in EVENT_TYPES:
            raise KeyError(f"no event type {name!r}; known: {', '.join(EVENT_TYPES)}")
        self.name = name
        self.event_type: type[E] = EVENT_TYPES[name]
        self.reader = bundled_schema(name)
        self.writer = writer or self.reader
        self.store: SchemaStore = store or LocalSchemaStore()
        self.store.register(self.writer)
        self._registry = registry
        self._registry_subject = registry_subject
        self._registry_id: int | None = None
        self._registry_schemas: dict[int, SchemaRef] = {}
        self._header = SINGLE_OBJECT_MARKER + self.writer.fingerprint
        # The LLRP adapter's hot path: TagReads without a registry get a specialised encoder
        # (same bytes as fastavro; see tag_read_encoder). Anything else goes through fastavro.
        self._fast: TagReadEncoder | None = None
        if name == "TagRead" and registry is None and self.writer.fingerprint == self.reader.fingerprint \
                and schema_layout(self.writer.schema) == TAG_READ_LAYOUT:
            self._fast = TagReadEncoder(self._header, self.encode_generic)

    # -- encoding -------------------------------------------------------------------------
    def to_record(self, event: E) -> dict[str, Any]:
        return msgspec.to_builtins(event, builtin_types=(bytes, dt.date))

    def encode(self, event: E) -> bytes:
        if self._fast is not None:
            return self._fast.encode(event)
        return self.encode_record(self.to_record(event))

    def encode_generic(self, event: E) -> bytes:
        """fastavro's encoding, whichever encoder `encode` uses (the reference the fast one must match)."""
        return self.encode_record(self.to_record(event))

    def encode_record(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        if self._registry is not None:
            buf.write(struct.pack(">bI", CONFLUENT_MAGIC, self._schema_id()))
        else:
            buf.write(self._header)
        fastavro.schemaless_writer(buf, self.writer.parsed, record)
        return buf.getvalue()

    def _schema_id(self) -> int:
        if self._registry_id is None:
            from confluent_kafka.schema_registry import Schema

            subject = self._registry_subject or f"tagtrail.events.{self.name}"
            self._registry_id = self._registry.register_schema(subject, Schema(self.writer.canonical, "AVRO"))
            self._registry_schemas[self._registry_id] = self.writer
        return self._registry_id

    # -- decoding -------------------------------------------------------------------------
    def decode_record(self, data: bytes) -> dict[str, Any]:
        if data is None or len(data) < 5:
            raise DecodeError(f"{self.name}: {0 if data is None else len(data)} bytes is too short for an Avro event")
        if data[:2] == SINGLE_OBJECT_MARKER:
            if len(data) < 10:
                raise DecodeError(f"{self.name}: single-object header truncated ({len(data)} bytes)")
            fingerprint = bytes(data[2:10])
            writer = self.store.lookup(fingerprint)
            if writer is None:
                raise DecodeError(f"{self.name}: unknown writer schema fingerprint {fingerprint.hex()}")
            body = data[10:]
        elif data[0] == CONFLUENT_MAGIC:
            (schema_id,) = struct.unpack(">I", data[1:5])
            writer = self._registry_schema(schema_id)
            body = data[5:]
        else:
            raise DecodeError(f"{self.name}: neither Avro single-object nor Confluent framing (first byte {data[0]:#04x})")
        if writer.name != self.reader.name:
            raise DecodeError(f"{self.name}: message was written as {writer.name}")
        try:
            return fastavro.schemaless_reader(io.BytesIO(body), writer.parsed_plain, self._reader_for(writer))
        except Exception as exc:  # fastavro raises a zoo of types on corrupt input
            raise DecodeError(f"{self.name}: corrupt Avro body: {type(exc).__name__}: {exc}") from exc

    def decode(self, data: bytes) -> E:
        record = self.decode_record(data)
        try:
            return msgspec.convert(record, self.event_type)
        except msgspec.ValidationError as exc:
            raise DecodeError(f"{self.name}: {exc}") from exc

    def _reader_for(self, writer: SchemaRef) -> Any:
        # Same schema: no resolution needed, which is also fastavro's fast path.
        return None if writer.fingerprint == self.reader.fingerprint else self.reader.parsed_plain

    def _registry_schema(self, schema_id: int) -> SchemaRef:
        found = self._registry_schemas.get(schema_id)
        if found is None:
            if self._registry is None:
                raise DecodeError(f"{self.name}: Confluent-framed message (schema id {schema_id}) but no schema registry is configured")
            found = SchemaRef.from_schema(self._registry.get_schema(schema_id).schema_str)
            self._registry_schemas[schema_id] = found
        return found


def registry_client(url: str) -> Any:
    """A Confluent schema registry client; `mock://name` gives the library's in-process registry."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient.new_client({"url": url})


def codec_for(name: str, *, schema_registry_url: str | None = None, store: SchemaStore | None = None) -> Codec:
    """The codec a stage should use under the site's settings."""
    registry = registry_client(schema_registry_url) if schema_registry_url else None
    return Codec(name, store=store, registry=registry)
