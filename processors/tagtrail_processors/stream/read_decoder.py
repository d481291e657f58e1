"""Decodes just the fields of a TagRead the processor uses, straight from the Avro bytes.

The generic codec builds a full record; a portal sends the same item dozens of times a second,
and the processor needs six fields. This walks the binary layout of the bundled TagRead schema by
hand and skips the rest, for a fraction of the cost (figures in docs/benchmarks.md). Anything
else – another writer schema, Confluent framing, corrupt bytes – goes through the generic codec,
which resolves schemas and raises a clear DecodeError.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from tagtrail.events import Identity
from tagtrail.wire import Codec

_float = struct.Struct("<f").unpack_from


class ReadFields(NamedTuple):
    event_id: str
    read_point: str
    first_seen: int
    last_seen: int
    seen_count: int
    peak_rssi: float | None
    identity_at: int  # offset of the identity record, or -1 when decoded by the generic codec
    record: dict | None  # the generic codec's record when the fast path did not apply


def _long(b: bytes, pos: int) -> tuple[int, int]:
    x = b[pos]
    pos += 1
    if x < 128:
        return (x >> 1) ^ -(x & 1), pos
    result = x & 0x7F
    shift = 7
    while True:
        x = b[pos]
        pos += 1
        result |= (x & 0x7F) << shift
        if x < 128:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


_STOPS = 0x8080808080808080
_EIGHT = 0x0080808080808080


def _skip_long(b: bytes, pos: int) -> int:
    """Skips a varint; timestamps take exactly 8 bytes, which one masked compare confirms."""
    if int.from_bytes(b[pos:pos + 8], "little") & _STOPS == _EIGHT:
        return pos + 8
    while b[pos] >= 128:
        pos += 1
    return pos + 1


def _skip_string(b: bytes, pos: int) -> int:
    x = b[pos]
    if x < 128:
        return pos + 1 + (x >> 1)
    n, pos = _long(b, pos)
    return pos + n


def _string(b: bytes, pos: int) -> tuple[str, int]:
    x = b[pos]
    if x < 128:
        end = pos + 1 + (x >> 1)
        return b[pos + 1:end].decode(), end
    n, pos = _long(b, pos)
    return b[pos:pos + n].decode(), pos + n


def _skip_identity(b: bytes, pos: int) -> int:
    pos = _skip_string(b, pos)
    pos = _skip_string(b, pos)
    for _ in range(4):
        if b[pos] == 0:
            pos += 1
        else:
            pos = _skip_string(b, pos + 1)
    return pos


class TagReadDecoder:
    """Stateful: remembers, per reader antenna and tag, the bytes between the event id and the RSSI
    (reader, antenna, read point, EPC, identity), which repeat in every read of that tag there, so
    a repeat read costs one byte comparison instead of parsing them again."""

    def __init__(self, codec: Codec | None = None, cache_size: int = 200_000) -> None:
        self.codec = codec or Codec("TagRead")
        self._header = b"\xc3\x01" + self.codec.reader.fingerprint
        self._middles: dict[bytes, tuple[bytes, str, int]] = {}
        self._cache_size = cache_size

    def decode(self, data: bytes, key: bytes | None = None) -> ReadFields:
        """Raises tagtrail.wire.DecodeError for bytes that are not a TagRead.

        `key` (the message key, i.e. the item key) makes the repeat-read cache exact per item.
        """
        if data[:10] == self._header:
            try:
                return self._fast(data, key)
            except (IndexError, UnicodeDecodeError, struct.error):
                pass  # let the generic codec name the problem
        record = self.codec.decode_record(data)
        return ReadFields(record["event_id"], record["read_point"], record["first_seen"], record["last_seen"],
                          record["seen_count"], record["peak_rssi_dbm"], -1, record)

    def _fast(self, b: bytes, key: bytes | None) -> ReadFields:
        event_id, start = _string(b, 10)
        # The repeating part starts with the reader id; the item key plus its first 24 bytes make a
        # cheap cache key, and the full comparison below makes a hit exact.
        probe = (key, b[start:start + 24])
        hit = self._middles.get(probe)
        if hit is not None and b.startswith(hit[0], start):
            middle, read_point, identity_rel = hit
            pos = start + len(middle)
            identity_at = start + identity_rel
        else:
            pos = _skip_string(b, start)  # reader_id
            _, pos = _long(b, pos)  # antenna_id
            read_point, pos = _string(b, pos)
            pos = _skip_string(b, pos)  # epc_hex
            identity_at = pos
            pos = _skip_identity(b, pos)
            if len(self._middles) >= self._cache_size:
                self._middles.clear()
            self._middles[probe] = (b[start:pos], read_point, identity_at - start)
        if b[pos] == 0:
            rssi = None
            pos += 1
        else:
            rssi = _float(b, pos + 1)[0]
            pos += 5
        if b[pos] == 0:  # channel_index
            pos += 1
        else:
            _, pos = _long(b, pos + 1)
        first, after = _long(b, pos)
        if after - pos == 8 and b[pos:after] == b[after:after + 8]:
            last, pos = first, after + 8  # a single sighting: last seen is first seen, same bytes
        else:
            last, pos = _long(b, after)
        if (len(b) == pos + 18 and b[pos + 8] < 128 and b[pos + 9] < 128
                and int.from_bytes(b[pos:pos + 8], "little") & _STOPS == _EIGHT
                and int.from_bytes(b[pos + 10:pos + 18], "little") & _STOPS == _EIGHT):
            # The usual tail: 8-byte reader time, one-byte clock offset and seen count, 8-byte receive time.
            count = b[pos + 9]
            return ReadFields(event_id, read_point, first, last, (count >> 1) ^ -(count & 1), rssi, identity_at, None)
        pos = _skip_long(b, pos)  # reader_first_seen
        pos = _skip_long(b, pos)  # clock_offset_us
        count = b[pos]
        if count < 128:
            count = (count >> 1) ^ -(count & 1)
            pos += 1
        else:
            count, pos = _long(b, pos)
        pos = _skip_long(b, pos)  # received_at
        if pos != len(b):
            raise IndexError("trailing bytes")
        return ReadFields(event_id, read_point, first, last, count, rssi, identity_at, None)

    def identity(self, data: bytes, fields: ReadFields) -> Identity:
        if fields.record is not None:
            r = fields.record["identity"]
            return Identity(**r)
        item_key, pos = _string(data, fields.identity_at)
        scheme, pos = _string(data, pos)
        rest: list[str | None] = []
        for _ in range(4):
            if data[pos] == 0:
                rest.append(None)
                pos += 1
            else:
                value, pos = _string(data, pos + 1)
                rest.append(value)
        return Identity(item_key=item_key, scheme=scheme, epc_uri=rest[0], gtin=rest[1], serial=rest[2], sscc=rest[3])
