"""The changelog layouts processors wrote before lots were kept: arrays without the lot and expiry
fields, so restore tests can feed a new build the records an old one left."""

from __future__ import annotations

import msgspec

from tagtrail_processors.decisions.item_state import ItemState, encode_hot


class _ScanFactV1(msgspec.Struct, array_like=True):
    time: int
    event_id: str
    action: str
    location: str | None
    read_point: str | None


class _BaseStateV1(msgspec.Struct, array_like=True):
    location: str | None = None
    read_point: str | None = None
    step: str | None = None
    disposition: str | None = None


class _EmittedV1(msgspec.Struct, array_like=True):
    movement_type: str
    event_time: int
    from_location: str | None
    to_location: str | None
    read_point: str | None
    biz_step: str
    disposition: str
    direction: str
    anomaly: str | None
    sources: list[str]
    provisional: bool = False


def records_before_lots(state: ItemState) -> tuple[bytes, bytes, bytes]:
    """The item's log, hot part and emitted records re-encoded in the layout without lot fields."""
    enc = msgspec.msgpack.Encoder()
    fields = {f: getattr(state, f) for f in state.__struct_fields__}

    def base(b):
        return None if b is None else _BaseStateV1(b.location, b.read_point, b.step, b.disposition)

    log = {**fields, "emitted": {}, "base": base(state.base), "quiet_state": base(state.quiet_state),
           "scans": [_ScanFactV1(sc.time, sc.event_id, sc.action, sc.location, sc.read_point) for sc in state.scans]}
    hot = msgspec.msgpack.decode(encode_hot(state))
    hot[6] = msgspec.to_builtins(base(state.quiet_state))
    emitted = {k: _EmittedV1(e.movement_type, e.event_time, e.from_location, e.to_location, e.read_point, e.biz_step,
                             e.disposition, e.direction, e.anomaly, e.sources, e.provisional)
               for k, e in state.emitted.items()}
    return enc.encode(log), enc.encode(hot), enc.encode(emitted)
