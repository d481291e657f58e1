"""What an open request becomes, without Kafka: parties and places as URIs, types, the topic layout."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from tagtrail.config import Company, Location, ReadPoint, SiteConfig
from tagtrail.kafka import KafkaConnection
from tagtrail_ingest.scans.transaction_request import (
    RequestError,
    SiteParties,
    TransactionIn,
    build_transaction,
    decode_request,
    party_uri,
    place_uri,
)

COMPANY = Company(name="Example", gln="0614141000005", company_prefix="0614141")


def test_party_and_place_uris_follow_the_contract() -> None:
    assert party_uri("4012345000009") == "https://id.gs1.org/417/4012345000009"
    assert party_uri("urn:epc:id:pgln:4012345.00000") == "urn:epc:id:pgln:4012345.00000"
    assert place_uri("9501101530003", None) == "https://id.gs1.org/414/9501101530003"
    assert place_uri("9501101530003", "A/1") == "https://id.gs1.org/414/9501101530003/254/A%2F1"
    assert place_uri("urn:epc:id:sgln:9501101.53000.7", None) == "urn:epc:id:sgln:9501101.53000.7"
    with pytest.raises(RequestError, match="pgln") as refused:
        party_uri("urn:epc:id:pgln:4012345.0000")  # 11 digits
    assert refused.value.field == "partner_gln"


def test_a_cbv_type_urn_is_stored_by_its_short_name() -> None:
    site = SiteConfig(company=COMPANY, locations=(Location(id="dock-door-2"),))
    record = build_transaction(
        TransactionIn(direction="inbound", location="dock-door-2", type="urn:epcglobal:cbv:btt:recadv",
                      id="urn:epcglobal:cbv:bt:4012345000009:R-1"),
        SiteParties(site), event_id="api/x", now=1)
    assert (record.type, record.transaction_id) == ("recadv", "recadv:urn:epcglobal:cbv:bt:4012345000009:R-1")
    # A location without its own SGLN is the company's GLN as a place.
    assert record.destinations[1].id == "https://id.gs1.org/414/0614141000005"


@pytest.mark.kafka
def test_the_new_topics_are_created_and_item_master_is_compacted(kafka: KafkaConnection) -> None:
    admin = AdminClient(kafka.base())
    topics = admin.list_topics(timeout=10).topics
    assert len(topics[kafka.topics.transactions].partitions) == 3
    policies = {}
    for name in (kafka.topics.transactions, kafka.topics.item_master):
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        policies[name] = admin.describe_configs([resource])[resource].result()["cleanup.policy"].value
    assert policies == {kafka.topics.transactions: "delete", kafka.topics.item_master: "compact"}


def test_a_station_location_may_be_a_read_point_or_the_doors_gs1_barcode() -> None:
    site = SiteConfig(company=COMPANY, locations=(Location(id="dock-door-2", sgln_extension="door-2"),),
                      read_points=(ReadPoint(id="door-2-outer", location="dock-door-2", kind="dock_door_outer"),))
    parties = SiteParties(site)
    assert parties.location_id("door-2-outer") == "dock-door-2"
    assert parties.location_id("(414)0614141000005(254)door-2") == "dock-door-2"
    assert parties.location_id("https://id.gs1.org/414/0614141000005/254/door-2") == "dock-door-2"
    with pytest.raises(RequestError, match="not a location") as refused:
        parties.location_id("(414)0614141000005(254)door-9")
    assert refused.value.field == "location"


@pytest.mark.parametrize(("body", "field", "error"), [
    (b'{"location": "dock-door-2"}', "direction", "invalid_transaction"),
    (b'{"direction": "outbound", "location": 2}', "location", "invalid_transaction"),
    (b'{"direction": "outbound", "location": "x", "partner": "4012345000009"}', "partner", "invalid_transaction"),
    (b'{"direction": "outbound", "location": "x", "ssccs": [1]}', "ssccs[0]", "invalid_transaction"),
    (b'{"direction": ', "body", "malformed_json"),
])
def test_a_body_of_the_wrong_shape_names_the_field(body: bytes, field: str, error: str) -> None:
    with pytest.raises(RequestError) as refused:
        decode_request(body)
    assert (refused.value.field, refused.value.error) == (field, error)
