"""What the history of each planned item must be, derived from its fate by rule (not recorded output).

A lifecycle maps to movements as follows (each step: movement_type, to_location, biz_step,
disposition, direction); `from_location` of each is the previous step's `to_location`:

* every item: arrived at its inbound door (receiving, in_progress, inbound), then moved to
  storage (storing, sellable_not_accessible);
* picked items: moved to the pick face (picking), then to the pack station (packing). The pick
  and pack scans confirm what the reads said (same location, read point, step, disposition): an
  event that changes nothing is not an event, so they add none;
* shipped items: moved to their outbound door (shipping, in_transit, outbound). That crossing is the
  one shipping event of the exit (CBV 2.0: no `departing` after `shipping`), nothing follows it.

Event times are deliberately not compared: they follow the planned reads, whose absolute
times depend on when the run started. The order of the steps is compared exactly.
"""

from __future__ import annotations

from tagtrail_cli.demo.flow import DemoItem
from tagtrail_cli.demo.warehouse import PACK, PICK, STORAGE, DemoWarehouse

Step = tuple[str, str | None, str, str, str]


def expected_steps(item: DemoItem) -> list[Step]:
    door_in = DemoWarehouse.door_location(item.door_in)
    steps: list[Step] = [
        ("arrived", door_in, "receiving", "in_progress", "inbound"),
        ("moved", STORAGE, "storing", "sellable_not_accessible", "none"),
    ]
    if item.fate in ("packed", "shipped"):
        steps += [
            ("moved", PICK, "picking", "in_progress", "none"),
            ("moved", PACK, "packing", "in_progress", "none"),
        ]
    if item.fate == "shipped":
        door_out = DemoWarehouse.door_location(item.door_out or 1)
        steps += [
            ("moved", door_out, "shipping", "in_transit", "outbound"),
        ]
    return steps


def observed_steps(rows: list[dict]) -> list[Step]:
    return [(r["movement_type"], r["to_location"], r["biz_step"], r["disposition"], r["direction"]) for r in rows]


def broken_location_chain(rows: list[dict]) -> list[str]:
    """Each movement must start where the previous one ended (the first from nowhere)."""
    problems, previous = [], None
    for r in rows:
        if r["from_location"] != previous:
            problems.append(f"{r['movement_type']} from {r['from_location']!r}, expected from {previous!r}")
        previous = r["to_location"]
    return problems


def mismatches(plan_items, histories: dict[str, list[dict]]) -> list[str]:
    out = []
    for item in plan_items:
        rows = histories.get(item.item_key, [])
        want, got = expected_steps(item), observed_steps(rows)
        if want != got:
            out.append(f"{item.item_key} ({item.fate}, in door {item.door_in}, out door {item.door_out}):\n"
                       f"  expected {want}\n  found    {got}")
        chain = broken_location_chain(rows)
        if chain:
            out.append(f"{item.item_key}: location chain broken: {chain}")
    return out
