"""Event schemas: every field documented, events round-trip, and schema evolution works both ways."""

from __future__ import annotations

import copy
import datetime as dt
import json
from importlib import resources

import pytest

from tagtrail.events import BusinessTransaction, DeadLetter, Identity, ItemMaster, Movement, PartyOrPlace, Scan, TagRead
from tagtrail.wire import Codec, DecodeError
from tagtrail.wire.codec import SINGLE_OBJECT_MARKER, codec_for
from tagtrail.wire.schema_store import KafkaSchemaStore, LocalSchemaStore
from tagtrail.wire.schemas import EVENT_TYPES, SchemaRef, bundled_schema

SGTIN = Identity(
    item_key="01/80614141123458/21/6789",
    scheme="sgtin",
    epc_uri="urn:epc:id:sgtin:0614141.812345.6789",
    gtin="80614141123458",
    serial="6789",
)
T0 = 1_764_000_000_000_000

EXAMPLES = {
    "TagRead": TagRead(
        event_id="door-1/2/3074257BF7194E4000001A85/1764000000000000", reader_id="door-1", antenna_id=2,
        read_point="door-1-inner", epc_hex="3074257BF7194E4000001A85", identity=SGTIN, first_seen=T0,
        last_seen=T0 + 250_000, reader_first_seen=T0 - 7, clock_offset_us=7, received_at=T0 + 300_000,
        peak_rssi_dbm=-61.5, channel_index=7, seen_count=12,
    ),
    "Scan": Scan(
        event_id="hh-1/u-1/0", device_id="hh-1", upload_id="u-1", raw_data="]d2018061414112345821ABC\x1d10L1",
        symbology="]d2", identity=SGTIN, action="receive", scanned_at=T0, uploaded_at=T0 + 6 * 3600 * 10**6,
        gtin="80614141123458", serial="ABC", lot="L1", expiry=dt.date(2027, 1, 31), location="dock-door-1",
    ),
    "Movement": Movement(
        event_id="m-1", identity=SGTIN, movement_type="arrived", biz_step="receiving", disposition="in_progress",
        event_time=T0, recorded_at=T0 + 1, from_location=None, to_location="dock-door-1",
        read_point="door-1-inner", direction="inbound", source_event_ids=["a", "b"],
    ),
    "DeadLetter": DeadLetter(
        source="door-1", stage="ingest.llrp", reason="malformed_frame", error="truncated TLV at byte 14",
        payload=b"\x04\x3d\x00\x00\xff", occurred_at=T0, context={"read_point": "door-1-inner"},
    ),
    "BusinessTransaction": BusinessTransaction(
        event_id="api/5f0c", transaction_id="desadv:urn:epcglobal:cbv:bt:0614141000005:DA-1001", type="desadv",
        id="urn:epcglobal:cbv:bt:0614141000005:DA-1001", direction="outbound", location="dock-door-2",
        status="closed", opened_at=T0, closed_at=T0 + 60, recorded_at=T0 + 61,
        sources=[PartyOrPlace(type="owning_party", id="https://id.gs1.org/417/0614141000005")],
        destinations=[PartyOrPlace(type="location", id="https://id.gs1.org/414/0614141000012/254/7")],
        ssccs=["106141412345678908"],
    ),
    "ItemMaster": ItemMaster(
        event_id="import/0123456789abcdef/2", item_key="01/80614141123458/21/6789", lot="L1",
        expiry=dt.date(2027, 1, 31), source="import", recorded_at=T0,
    ),
}


def _avsc(name: str) -> dict:
    return json.loads((resources.files("tagtrail_schemas") / "avro" / f"tagtrail.events.{name}.avsc").read_text())


@pytest.mark.parametrize("name", [*EVENT_TYPES, "Identity"])
def test_every_field_is_documented_and_timestamps_are_micros(name: str) -> None:
    schema = _avsc(name)
    assert schema["namespace"] == "tagtrail.events" and schema.get("doc")
    for field in schema["fields"]:
        assert field.get("doc"), f"{name}.{field['name']} has no doc"
        if field["name"].endswith(("_at", "_seen", "_time")) and field["name"] != "seen_count":
            micros = {"type": "long", "logicalType": "timestamp-micros"}
            assert field["type"] in (micros, ["null", micros]), f"{name}.{field['name']}"


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_round_trip_keeps_every_field(name: str) -> None:
    codec = Codec(name)
    event = EXAMPLES[name]
    data = codec.encode(event)
    assert data[:2] == SINGLE_OBJECT_MARKER
    assert data[2:10] == bundled_schema(name).fingerprint
    assert codec.decode(data) == event


def test_decoding_rejects_garbage_with_a_reason() -> None:
    codec = Codec("TagRead")
    with pytest.raises(DecodeError, match="too short"):
        codec.decode(b"\x01")
    with pytest.raises(DecodeError, match="neither Avro single-object nor Confluent"):
        codec.decode(b"\x7f" * 40)
    with pytest.raises(DecodeError, match="unknown writer schema fingerprint"):
        codec.decode(SINGLE_OBJECT_MARKER + b"\x00" * 8 + b"\x02")
    good = codec.encode(EXAMPLES["TagRead"])
    with pytest.raises(DecodeError, match="corrupt Avro body"):
        codec.decode(good[:20])
    with pytest.raises(DecodeError, match="written as tagtrail.events.Movement"):
        codec.decode(Codec("Movement").encode(EXAMPLES["Movement"]))


def _newer_tag_read_schema() -> dict:
    """TagRead v2 as a future release might write it: one more field, with a default."""
    schema = copy.deepcopy(bundled_schema("TagRead").schema)
    schema["fields"].append(
        {"name": "phase_angle", "type": ["null", "float"], "default": None, "doc": "RF phase angle, radians."}
    )
    return schema


def test_new_reader_reads_old_writer_events() -> None:
    old_schema = copy.deepcopy(bundled_schema("TagRead").schema)
    old_schema["fields"] = [f for f in old_schema["fields"] if f["name"] != "channel_index"]
    old = SchemaRef.from_schema(old_schema)
    record = Codec("TagRead").to_record(EXAMPLES["TagRead"])
    del record["channel_index"]
    data = Codec("TagRead", writer=old).encode_record(record)
    store = LocalSchemaStore()
    store.register(old)
    decoded = Codec("TagRead", store=store).decode(data)
    assert decoded.channel_index is None  # the field's default fills what the old writer lacked
    assert decoded.epc_hex == EXAMPLES["TagRead"].epc_hex


def test_old_reader_without_the_schema_cannot_guess() -> None:
    newer = SchemaRef.from_schema(_newer_tag_read_schema())
    record = {**Codec("TagRead").to_record(EXAMPLES["TagRead"]), "phase_angle": 1.25}
    data = Codec("TagRead", writer=newer).encode_record(record)
    with pytest.raises(DecodeError, match="unknown writer schema fingerprint"):
        Codec("TagRead").decode(data)


@pytest.mark.kafka
def test_old_reader_reads_newer_writer_via_the_schemas_topic(kafka) -> None:
    """A writer on a newer release publishes its schema; an old reader fetches it from Kafka."""
    newer = SchemaRef.from_schema(_newer_tag_read_schema())
    writer_store = KafkaSchemaStore(kafka.base(), kafka.topics.schemas)
    writer_store.publish(newer)
    record = {**Codec("TagRead").to_record(EXAMPLES["TagRead"]), "phase_angle": 1.25}
    data = Codec("TagRead", writer=newer, store=writer_store).encode_record(record)

    reader_store = KafkaSchemaStore(kafka.base(), kafka.topics.schemas)
    decoded = Codec("TagRead", store=reader_store).decode(data)
    assert decoded == EXAMPLES["TagRead"]  # unknown field skipped, everything else intact


def test_confluent_wire_format_round_trip_and_cross_decoding() -> None:
    confluent = codec_for("Movement", schema_registry_url="mock://tagtrail-test")
    data = confluent.encode(EXAMPLES["Movement"])
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") > 0
    assert confluent.decode(data) == EXAMPLES["Movement"]
    # A registry-configured reader still reads single-object events written without a registry.
    assert confluent.decode(Codec("Movement").encode(EXAMPLES["Movement"])) == EXAMPLES["Movement"]
    # A reader without a registry says why it cannot read a Confluent-framed event.
    with pytest.raises(DecodeError, match="no schema registry is configured"):
        Codec("Movement").decode(data)


def test_antenna_id_doc_names_the_id_of_reads_placed_by_a_default_read_point() -> None:
    """Consumers read antenna_id by its doc: the reads a reader's default read point places carry NO_ANTENNA,
    which "1-based" alone rules out. Docs are not part of the wire: the fingerprint ignores them."""
    from tagtrail_ingest.llrp.tag_reads import NO_ANTENNA

    shipped = bundled_schema("TagRead")
    doc = next(f["doc"] for f in shipped.schema["fields"] if f["name"] == "antenna_id")
    assert f"{NO_ANTENNA} for a report without AntennaID" in doc and "default read point" in doc
    undocumented = json.loads(json.dumps(shipped.schema).replace(json.dumps(doc), json.dumps("LLRP AntennaID.")))
    assert SchemaRef.from_schema(undocumented).fingerprint == shipped.fingerprint
