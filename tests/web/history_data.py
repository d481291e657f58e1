"""Movements stored the plain way (migrations, then an insert into `movements`), so the lookup tests
do not depend on the stream processors or the sink."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tagtrail.history.migrations import migrate

GTIN = "00614141123452"  # company prefix 0614141, item reference 012345
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Move:
    event_id: str
    serial: str
    minutes: int
    frm: str | None
    to: str | None
    step: str
    disposition: str
    read_point: str


def epc_uri(serial: str) -> str:
    return f"urn:epc:id:sgtin:0614141.012345.{serial}"


def item_key(serial: str) -> str:
    return f"01/{GTIN}/21/{serial}"


def store_moves(client: Any, moves: list[Move]) -> None:
    migrate(client)
    columns = ["event_id", "item_key", "scheme", "epc_uri", "gtin", "serial", "sscc", "movement_type", "from_location",
               "to_location", "read_point", "biz_step", "disposition", "direction", "action", "anomaly",
               "source_event_ids", "event_time", "recorded_at"]
    rows = []
    for m in moves:
        kind = "arrived" if m.frm is None else ("departed" if m.to is None else "moved")
        at = T0 + dt.timedelta(minutes=m.minutes)
        rows.append([m.event_id, item_key(m.serial), "sgtin", epc_uri(m.serial), GTIN, m.serial, None, kind, m.frm, m.to,
                     m.read_point, m.step, m.disposition, "none", "ADD" if m.frm is None else "OBSERVE", None,
                     [f"read-{m.event_id}"], at, at + dt.timedelta(seconds=1)])
    client.insert("movements", rows, column_names=columns)
