"""Packs Avro single-object messages into one Avro object container file for ClickHouse.

ClickHouse decodes Avro in C++ far faster than Python can, so the sink never decodes a Movement on the
hot path: it strips the 10-byte single-object header and hands ClickHouse the bodies. Each record gets
its own container block (count 1, byte size, sync marker), so a corrupt record fails on its own
(EOF or bad sync) instead of shifting the record boundaries of the ones after it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence

from fastavro.io.binary_encoder import BinaryEncoder

from tagtrail.wire.schemas import bundled_schema


class ContainerWriter:
    def __init__(self, event_type: str = "Movement") -> None:
        schema = json.dumps(bundled_schema(event_type).schema).encode()
        buf = io.BytesIO()
        enc = BinaryEncoder(buf)
        buf.write(b"Obj\x01")
        enc.write_long(2)
        enc.write_utf8("avro.schema")
        enc.write_bytes(schema)
        enc.write_utf8("avro.codec")
        enc.write_bytes(b"null")
        enc.write_long(0)
        self._header_meta = buf.getvalue()
        self._prefixes: dict[int, bytes] = {}

    def build(self, bodies: Sequence[bytes], seed: str) -> bytes:
        """Deterministic for the same bodies and seed: a retried batch is byte for byte the same."""
        sync = hashlib.blake2b(seed.encode(), digest_size=16).digest()
        prefixes = self._prefixes
        parts = [self._header_meta, sync]
        for body in bodies:
            size = len(body)
            prefix = prefixes.get(size)
            if prefix is None:
                prefix = prefixes[size] = b"\x02" + _zigzag_varint(size)  # block of 1 object, then its size
            parts += (prefix, body, sync)
        return b"".join(parts)


def _zigzag_varint(value: int) -> bytes:
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
