"""Kafka message value -> the Avro body of a Movement in the bundled schema, or the reason it is not one.

Messages written with the bundled writer schema (the normal case) only need their single-object header
checked and cut off. Anything else (an older or newer compatible writer schema, Confluent framing) is
decoded and re-encoded with the bundled schema in Python, which is slower but rare.
"""

from __future__ import annotations

import io

import fastavro

from tagtrail.wire import Codec, DecodeError
from tagtrail.wire.codec import SINGLE_OBJECT_MARKER

HEADER_LEN = 10


class MovementFraming:
    def __init__(self, codec: Codec | None = None) -> None:
        self.codec = codec or Codec("Movement")
        self.header = SINGLE_OBJECT_MARKER + self.codec.reader.fingerprint

    def body(self, value: bytes | None) -> bytes:
        """The Avro body ClickHouse can decode; raises DecodeError for a message that is no Movement."""
        if value is not None and value.startswith(self.header) and len(value) > HEADER_LEN:
            return value[HEADER_LEN:]
        return self._reencode(self.codec.decode(value) if value is not None else self._none())

    def check(self, value: bytes | None) -> None:
        """Full decode in Python: used only to tell why ClickHouse refused a single record."""
        if value is None:
            self._none()
        self.codec.decode(value)

    def _reencode(self, event) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.codec.reader.parsed, self.codec.to_record(event))
        return buf.getvalue()

    @staticmethod
    def _none():
        raise DecodeError("Movement: message has no value (tombstone)")
