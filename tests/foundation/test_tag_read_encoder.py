"""The specialised TagRead encoder writes exactly fastavro's bytes, or lets fastavro decide."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagtrail.events import Identity, TagRead
from tagtrail.identity import EpcDecoder
from tagtrail.wire import Codec, SchemaRef, bundled_schema
from tagtrail.wire.codec import registry_client
from tagtrail.wire.tag_read_encoder import TagReadEncoder

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TIMESTAMPS = st.integers(min_value=0, max_value=4_102_444_800_000_000)  # up to 2100
ANY_INT = st.one_of(INT64, st.integers(min_value=-(2**70), max_value=2**70), st.integers(-200, 20_000))
TEXT = st.text(max_size=40)  # any unicode, surrogates included (utf-8 cannot encode those)
OPTIONAL_TEXT = st.none() | TEXT
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.0, -0.0, 3.4028235677973366e38, 3.4028234663852886e38, 1e39, -1e39, 1e-46, 1.4e-45, -61.5, float("nan")])

identities = st.builds(Identity, item_key=TEXT, scheme=TEXT, epc_uri=OPTIONAL_TEXT, gtin=OPTIONAL_TEXT,
                       serial=OPTIONAL_TEXT, sscc=OPTIONAL_TEXT)
tag_reads = st.builds(
    TagRead, event_id=TEXT | st.text(max_size=9000, min_size=8000), reader_id=TEXT, antenna_id=ANY_INT,
    read_point=TEXT, epc_hex=TEXT, identity=identities,
    first_seen=TIMESTAMPS | ANY_INT, last_seen=TIMESTAMPS | ANY_INT, reader_first_seen=TIMESTAMPS | ANY_INT,
    received_at=TIMESTAMPS | ANY_INT, peak_rssi_dbm=st.none() | FLOATS, channel_index=st.none() | ANY_INT,
    clock_offset_us=ANY_INT, seen_count=ANY_INT,
)


def outcome(encode, read: TagRead) -> tuple[str, object]:
    try:
        return "bytes", encode(read)
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return "error", type(exc)


@pytest.fixture(scope="module")
def codec() -> Codec:
    c = Codec("TagRead")
    assert c._fast is not None, "the bundled TagRead schema must get the specialised encoder"
    return c


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(read=tag_reads)
def test_bytes_or_error_are_fastavros_for_any_tag_read(codec: Codec, read: TagRead) -> None:
    fast, generic = outcome(codec.encode, read), outcome(codec.encode_generic, read)
    assert fast == generic
    if fast[0] == "bytes":
        back = codec.decode(fast[1])
        rssi, back_rssi = read.peak_rssi_dbm, back.peak_rssi_dbm
        if rssi is not None:  # Avro float is 32-bit: compare as fastavro rounds it
            try:
                (expected,) = struct.unpack("<f", struct.pack("<f", rssi))
            except OverflowError:  # beyond float32: fastavro writes infinity
                expected = math.copysign(math.inf, rssi)
            assert back_rssi == expected or (math.isnan(back_rssi) and math.isnan(expected))
        assert back == TagRead(**{**{f: getattr(read, f) for f in read.__struct_fields__}, "peak_rssi_dbm": back_rssi})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reads=st.lists(tag_reads, min_size=2, max_size=6))
def test_cached_parts_never_leak_into_another_read(codec: Codec, reads: list[TagRead]) -> None:
    """The same EPC with another identity, or the same reader with another antenna, after a cached one."""
    first = reads[0]
    fields = {f: getattr(first, f) for f in first.__struct_fields__}
    variants = [*reads, TagRead(**{**fields, "identity": reads[1].identity, "antenna_id": reads[1].antenna_id}),
                first, TagRead(**{**fields, "clock_offset_us": float(first.clock_offset_us)}),  # equal, not an int
                TagRead(**{**fields, "seen_count": bool(first.seen_count)}), reads[1]]
    for read in variants + variants:
        assert outcome(codec.encode, read) == outcome(codec.encode_generic, read)


def test_reads_the_adapter_makes_take_the_fast_path_and_decode_back(codec: Codec) -> None:
    decoder = EpcDecoder()
    calls: list[TagRead] = []

    def fallback(read: TagRead) -> bytes:
        calls.append(read)
        return codec.encode_generic(read)

    encoder = TagReadEncoder(codec._header, fallback)
    for serial in range(50):
        epc = f"30340242201D8840{serial:08X}"
        read = TagRead(event_id=f"{serial:032x}", reader_id="door7", antenna_id=1 + serial % 4, read_point="door7-outer",
                       epc_hex=epc, identity=decoder.decode(epc), first_seen=1_764_000_000_000_000 + serial,
                       last_seen=1_764_000_000_100_000, reader_first_seen=1_764_000_000_000_000 + serial,
                       received_at=1_764_000_000_200_000, peak_rssi_dbm=-61.5, channel_index=serial or None,
                       clock_offset_us=-serial, seen_count=3)
        data = encoder.encode(read)
        assert data == codec.encode_generic(read)
        assert codec.decode(data) == read
    assert calls == []


def test_another_writer_schema_or_a_registry_uses_fastavro() -> None:
    schema = bundled_schema("TagRead").schema
    extended = {**schema, "fields": [*schema["fields"], {"name": "note", "type": ["null", "string"], "default": None}]}
    assert Codec("TagRead", writer=SchemaRef.from_schema(extended))._fast is None
    assert Codec("Scan")._fast is None
    registered = Codec("TagRead", registry=registry_client("mock://tag-read-encoder"))
    assert registered._fast is None
    read = TagRead(event_id="e", reader_id="r", antenna_id=1, read_point="p", epc_hex="E2", identity=Identity(
        item_key="epc/E2", scheme="unknown"), first_seen=1, last_seen=2, reader_first_seen=1, received_at=3)
    assert registered.encode(read)[:1] == b"\x00"  # Confluent framing, written by fastavro
    assert registered.decode(registered.encode(read)) == read
