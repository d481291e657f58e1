"""A small warehouse day: three items through two dock doors, storage and a pick face."""

from __future__ import annotations

import time

from tagtrail.events import Identity, Movement

GTIN = "00614141123452"
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000_000


def item_key(n: int) -> str:
    return f"01/{GTIN}/21/{n}"


def mv(n: int, item: int, at_us: int, frm: str | None, to: str | None, *, step: str, disp: str, rp: str,
       direction: str = "none", anomaly: str | None = None, epc: bool = True, action: str = "OBSERVE",
       movement_type: str | None = None) -> Movement:
    return Movement(
        event_id=f"ev-{n}",
        identity=Identity(item_key=item_key(item), scheme="sgtin", gtin=GTIN, serial=str(item),
                          epc_uri=f"urn:epc:id:sgtin:0614141.012345.{item}" if epc else None),
        movement_type=movement_type or ("arrived" if frm is None else ("departed" if to is None else "moved")),
        biz_step=step, disposition=disp, event_time=at_us, recorded_at=at_us + 1000,
        from_location=frm, to_location=to, read_point=rp, direction=direction, anomaly=anomaly, action=action,
        source_event_ids=[f"read-{n}"],
    )


def warehouse_day() -> list[Movement]:
    return [
        mv(1, 1, T0, None, "dock-door-1", step="receiving", disp="in_progress", rp="door-1-inner", direction="inbound", action="ADD"),
        mv(2, 2, T0 + HOUR // 2, None, "dock-door-1", step="receiving", disp="in_progress", rp="door-1-inner", direction="inbound", action="ADD"),
        mv(3, 3, T0 + HOUR, None, "dock-door-2", step="receiving", disp="in_progress", rp="door-2-inner", direction="inbound", action="ADD"),
        mv(4, 1, T0 + HOUR, "dock-door-1", "storage-a", step="storing", disp="sellable_not_accessible", rp="aisle-a-storage"),
        mv(5, 2, T0 + 2 * HOUR, "dock-door-1", "storage-a", step="storing", disp="sellable_not_accessible", rp="aisle-a-storage"),
        mv(6, 1, T0 + 3 * HOUR, "storage-a", "pick-face-1", step="picking", disp="sellable_accessible", rp="pick-face-1"),
        # the outbound crossing is the shipping event at the door (item 3 never left it): it leaves the site
        mv(7, 3, T0 + 4 * HOUR, "dock-door-2", "dock-door-2", step="shipping", disp="in_transit", rp="door-2-outer",
           direction="outbound", anomaly="skipped_packing", movement_type="state_changed"),
    ]


def seen_now(n: int, item: int) -> Movement:
    now = int(time.time() * 1_000_000)
    return mv(n, item, now, None, "storage-a", step="storing", disp="sellable_not_accessible", rp="aisle-a-storage", epc=False)
