"""Business steps, dispositions and the transition graph, pure."""

import pytest

from tagtrail_processors.decisions.disposition import StepTable, anomaly, scan_step


def test_defaults_follow_the_cbv():
    steps = StepTable.from_settings({})
    assert steps.for_location("dock_door", "inbound") == ("receiving", "in_progress")
    assert steps.for_location("dock_door", "outbound") == ("shipping", "in_transit")
    assert steps.for_location("storage", "none") == ("storing", "sellable_not_accessible")
    assert steps.for_location("pick_face", "none") == ("picking", "in_progress")
    assert steps.for_location("pack_station", "none") == ("packing", "in_progress")


def test_site_overrides_by_kind_and_by_kind_and_direction():
    steps = StepTable.from_settings({"storage": "storing/sellable_accessible", "dock_door:inbound": "arriving/in_progress"})
    assert steps.for_location("storage", "none") == ("storing", "sellable_accessible")
    assert steps.for_location("dock_door", "inbound") == ("arriving", "in_progress")
    assert steps.for_location("dock_door", "outbound") == ("shipping", "in_transit")


def test_a_malformed_override_is_a_clear_error():
    with pytest.raises(ValueError, match="processing.steps.storage"):
        StepTable.from_settings({"storage": "storing"})


def test_scan_actions_set_the_step():
    assert [scan_step(a, "x")[0] for a in ("receive", "putaway", "pick", "pack", "ship", "count")] == [
        "receiving", "storing", "picking", "packing", "shipping", "cycle_counting"]
    assert scan_step("count", "sellable_accessible") == ("cycle_counting", "sellable_accessible")


def test_storage_after_shipping_without_receiving_is_flagged():
    assert anomaly("shipping", "storing") == "storing after shipping without receiving"
    assert anomaly("departing", "picking") is not None
    assert anomaly("shipping", "receiving") is None
    assert anomaly("storing", "picking") is None
    assert anomaly(None, "storing") is None


def test_cbv_shipping_excludes_departing_and_staging_outbound_for_one_exit():
    assert anomaly("shipping", "departing") == "departing after shipping without receiving"
    assert anomaly("shipping", "staging_outbound") == "staging_outbound after shipping without receiving"
    assert anomaly("shipping", "shipping") is None  # the same exit read again
    assert anomaly("shipping", "arriving") is None  # back at a door, direction not known yet
    assert "departed" not in StepTable.from_settings({}).table  # no second event for the same exit
