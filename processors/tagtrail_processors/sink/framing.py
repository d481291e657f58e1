"""Kafka message value -> an event (Movement, BusinessTransaction, ItemMaster) in the bundled schema's
single-object encoding, or the reason it is not one.

Messages written with the bundled writer schema (the normal case) go to ClickHouse as they are: the
container (see `container`) declares the 10-byte single-object header as a leading fixed field, so
nothing is cut or copied per message. Anything else (an earlier writer schema, see `writer_schemas`;
Confluent framing) is decoded and re-encoded with the bundled schema in Python, which is slower but rare:
the fields the earlier writer did not have get their defaults.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import repeat

import fastavro

from tagtrail.wire import Codec, DecodeError
from tagtrail.wire.codec import SINGLE_OBJECT_MARKER
from tagtrail_processors.sink.writer_schemas import sink_codec

HEADER_LEN = 10


class EventFraming:
    def __init__(self, event_type: str = "Movement", codec: Codec | None = None) -> None:
        self.codec = codec or sink_codec(event_type)
        self.header = SINGLE_OBJECT_MARKER + self.codec.reader.fingerprint

    def all_bundled(self, values: Sequence[bytes | None]) -> bool:
        """True when every value is a bundled-schema message with a body: the whole batch can go as it is.
        Column-wise `map`, not a loop: it runs for every record the sink writes."""
        if not values:
            return True
        try:
            return min(map(len, values)) > HEADER_LEN and all(map(bytes.startswith, values, repeat(self.header)))
        except TypeError:  # a tombstone (None) or a non-bytes value
            return False

    def message(self, value: bytes | None) -> bytes:
        """The message in the bundled schema's single-object encoding; raises DecodeError for a message
        that is no such event."""
        if value is not None and value.startswith(self.header) and len(value) > HEADER_LEN:
            return value
        return self.header + self.body(value)

    def body(self, value: bytes | None) -> bytes:
        """The Avro body in the bundled schema; raises DecodeError for a message that is no such event."""
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

    def _none(self):
        raise DecodeError(f"{self.codec.name}: message has no value (tombstone)")
