"""Avro binary for TagRead written straight from the event, for the LLRP adapter's hot path.

Why hand-written: the adapter encodes one TagRead per tag sighting, and fastavro's generic
writer (msgspec.to_builtins to a dict, then schemaless_writer walking the schema) was the
largest single cost of the adapter in its profile (benchmarks/llrp_adapter.py; the figures are in
docs/benchmarks.md). This encoder writes the same bytes several times faster: the fields are laid
out once for the bundled schema, and what repeats is cached in bounded dicts (the identity per
EPC, reader_id/antenna/read_point per antenna, the high bytes of timestamps, which only change
every 16 ms).

It is only ever used for the bundled TagRead schema in single-object framing (Codec decides),
and it refuses rather than guesses: any value of an unexpected type or range, and any error at
all, hands the event to the fallback (fastavro), so odd input gets exactly fastavro's bytes or
fastavro's exception. tests/foundation/test_tag_read_encoder.py checks the bytes are identical
to fastavro's over generated events.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from tagtrail.events import Identity, TagRead

# (name, Avro type) of every field, in schema order: the layout this encoder writes.
TAG_READ_LAYOUT = (
    ("event_id", "string"), ("reader_id", "string"), ("antenna_id", "int"), ("read_point", "string"),
    ("epc_hex", "string"), ("identity", "Identity"), ("peak_rssi_dbm", "float?"), ("channel_index", "int?"),
    ("first_seen", "long"), ("last_seen", "long"), ("reader_first_seen", "long"), ("clock_offset_us", "long"),
    ("seen_count", "int"), ("received_at", "long"),
)
IDENTITY_LAYOUT = (("item_key", "string"), ("scheme", "string"), ("epc_uri", "string?"), ("gtin", "string?"),
                   ("serial", "string?"), ("sscc", "string?"))

_SMALL = 1 << 14  # varints below this are looked up; above it, the two low bytes are


def _varint(z: int) -> bytes:
    """Avro's variable-length encoding of an already zig-zagged, non-negative int."""
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_VARINT_SMALL = tuple(_varint(z) for z in range(_SMALL))
_LOW_TWO = tuple(bytes(((z & 0x7F) | 0x80, (z >> 7) | 0x80)) for z in range(_SMALL))
_FLOAT = struct.Struct("<f").pack
_NULL = b"\x00"
_BRANCH = b"\x02"  # union branch 1 (the non-null type), zig-zagged


class _Unsupported(Exception):
    """A value the fast path does not write; the fallback does."""


def long_encoder(max_cached: int = 4096) -> Callable[[Any], bytes]:
    """Avro long (zig-zag varint) of an int in int64 range, else _Unsupported.

    A closure, not a method: called six times per TagRead, the bound-method overhead counted.
    Timestamps share their high bytes for 2**14 us, which are cached (bounded)."""
    high_cache: dict[int, bytes] = {}
    small, low_two = _VARINT_SMALL, _LOW_TWO

    def encode_long(n: Any) -> bytes:
        if type(n) is not int:
            raise _Unsupported
        z = (n << 1) ^ (n >> 63)  # never negative
        if z < _SMALL:
            return small[z]
        if z >> 64:
            raise _Unsupported  # outside int64: fastavro raises OverflowError
        high = high_cache.get(z >> 14)
        if high is None:
            if len(high_cache) >= max_cached:
                high_cache.clear()
            high = high_cache[z >> 14] = _varint(z >> 14)
        return low_two[z & 0x3FFF] + high

    return encode_long


class TagReadEncoder:
    """Writes `header` + the Avro body of a TagRead; `fallback(event)` for anything unusual.

    Thread-safe: the caches are dicts that are only read, set and cleared (atomic under the GIL),
    and a lost cache entry only costs its recomputation.
    """

    def __init__(self, header: bytes, fallback: Callable[[TagRead], bytes], *, cache_size: int = 65_536) -> None:
        self.header = header
        self.fallback = fallback
        self.cache_size = cache_size
        self._identities: dict[str, tuple[Identity, bytes]] = {}  # epc_hex -> (identity, epc_hex + identity bytes)
        self._sources: dict[tuple[str, int, str], bytes] = {}  # (reader_id, antenna, read_point) -> their bytes
        self._long = self._int = long_encoder()  # fastavro writes an Avro int as a long, no 32-bit check
        self._last_tail: tuple[tuple, bytes] = ((), b"")  # (clock offset, seen count, received at) -> bytes

    def encode(self, read: TagRead) -> bytes:
        try:
            return self._encode(read)
        except Exception:  # noqa: BLE001 - the fallback raises its own, well-known error for bad values
            return self.fallback(read)

    # -- the fast path --------------------------------------------------------------------------
    def _encode(self, r: TagRead) -> bytes:
        if type(r) is not TagRead:
            raise _Unsupported
        long_ = self._long
        event_id = r.event_id.encode()
        source = self._sources.get((r.reader_id, r.antenna_id, r.read_point))
        if source is None or type(r.antenna_id) is not int:
            source = self._source(r.reader_id, r.antenna_id, r.read_point)
        epc = r.epc_hex
        identity = r.identity
        cached = self._identities.get(epc)
        if cached is None or cached[0] is not identity:
            cached = self._identity(epc, identity)
        rssi = r.peak_rssi_dbm
        if rssi is None:
            rssi_bytes = _NULL
        elif type(rssi) is float:
            rssi_bytes = _BRANCH + _FLOAT(rssi)  # OverflowError beyond float32: fastavro writes inf
        else:
            raise _Unsupported
        channel = r.channel_index
        if channel is None:
            channel_bytes = _NULL
        elif type(channel) is int and -0x8000_0000 <= channel <= 0x7FFF_FFFF:
            channel_bytes = _BRANCH + self._int(channel)
        else:
            raise _Unsupported  # fastavro picks a union branch by value: no int branch beyond 32 bits
        first, reader_first = r.first_seen, r.reader_first_seen
        first_bytes = long_(first)
        # uncorrected clock (the usual case): the reader's first-seen is the first-seen
        reader_first_bytes = first_bytes if reader_first == first and type(reader_first) is int else long_(reader_first)
        # clock offset, seen count and receive time are shared by a report's reads: reuse the last bytes
        tail_key = (r.clock_offset_us, r.seen_count, r.received_at)
        last_key, tail = self._last_tail
        if tail_key != last_key or type(tail_key[0]) is not int or type(tail_key[1]) is not int \
                or type(tail_key[2]) is not int:
            tail = long_(tail_key[0]) + long_(tail_key[1]) + long_(tail_key[2])
            self._last_tail = (tail_key, tail)
        return b"".join((self.header, _VARINT_SMALL[len(event_id) << 1] if len(event_id) < 8192 else self._bytes_len(event_id),
                         event_id, source, cached[1], rssi_bytes, channel_bytes,
                         first_bytes, long_(r.last_seen), reader_first_bytes, tail))

    @staticmethod
    def _bytes_len(data: bytes) -> bytes:
        return _varint(len(data) << 1)

    def _string(self, text: Any) -> bytes:
        if type(text) is not str:
            raise _Unsupported
        data = text.encode()
        return self._bytes_len(data) + data

    def _optional_string(self, text: Any) -> bytes:
        return _NULL if text is None else _BRANCH + self._string(text)

    def _source(self, reader_id: Any, antenna: Any, read_point: Any) -> bytes:
        if type(antenna) is not int:
            raise _Unsupported  # also keeps 1.0 or True from sharing the entry of antenna 1
        data = self._string(reader_id) + self._int(antenna) + self._string(read_point)
        if len(self._sources) >= self.cache_size:
            self._sources.clear()
        self._sources[(reader_id, antenna, read_point)] = data
        return data

    def _identity(self, epc: Any, identity: Any) -> tuple[Identity, bytes]:
        if type(identity) is not Identity:
            raise _Unsupported
        data = b"".join((self._string(epc), self._string(identity.item_key), self._string(identity.scheme),
                         self._optional_string(identity.epc_uri), self._optional_string(identity.gtin),
                         self._optional_string(identity.serial), self._optional_string(identity.sscc)))
        entry = (identity, data)
        if len(self._identities) >= self.cache_size:
            self._identities.clear()
        self._identities[epc] = entry
        return entry


def schema_layout(schema: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(name, type) of a TagRead schema's fields in TAG_READ_LAYOUT's notation, so the codec can
    tell whether this encoder writes that schema (an edited .avsc silently falls back to fastavro)."""
    def kind(t: Any) -> str:
        if isinstance(t, list) and len(t) == 2 and t[0] == "null":
            return kind(t[1]) + "?"
        if isinstance(t, dict):
            if t.get("type") == "record":
                fields = tuple((f["name"], kind(f["type"])) for f in t["fields"])
                return "Identity" if fields == IDENTITY_LAYOUT else f"record {t['name']}"
            if t.get("type") in ("long", "int", "string", "float") and t.get("logicalType") in (None, "timestamp-micros"):
                return t["type"]
            return repr(t)
        return str(t)
    return tuple((f["name"], kind(f["type"])) for f in schema["fields"])
