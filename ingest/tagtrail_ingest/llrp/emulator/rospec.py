"""What the emulated reader takes from a client's ADD_ROSPEC and SET_READER_CONFIG."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tagtrail_ingest.llrp import frames


@dataclass
class InventorySpec:
    """The parts of a ROSpec that change what the reader sends: which fields, how many tags per report."""

    rospec_id: int = 1
    antennas: tuple[int, ...] = ()
    tags_per_report: int = 100
    report_timeout_ms: int = 0
    content: dict[str, bool] = field(default_factory=lambda: {name: True for name in frames.CONTENT_FLAGS})


def parse_add_rospec(body: bytes) -> InventorySpec:
    rospec = frames.find(frames.walk(body), frames.P_ROSPEC)
    if rospec is None:
        raise frames.FrameError("ADD_ROSPEC without a ROSpec parameter")
    (rospec_id,) = struct.unpack_from("!I", rospec.body)
    spec = InventorySpec(rospec_id=rospec_id)
    for param in frames.walk(rospec.body, 6):
        if param.type == frames.P_AISPEC:
            (count,) = struct.unpack_from("!H", param.body)
            spec.antennas = struct.unpack_from(f"!{count}H", param.body, 2)
            for sub in frames.walk(param.body, 2 + 2 * count):
                if sub.type == frames.P_AISPEC_STOP_TRIGGER:
                    trigger = frames.find(frames.walk(sub.body, 5), frames.P_TAG_OBSERVATION_TRIGGER)
                    if trigger is not None:
                        _kind, _r, n_tags, _attempts, _t, timeout = struct.unpack("!BBHHHI", trigger.body[:12])
                        spec.tags_per_report = n_tags or spec.tags_per_report
                        spec.report_timeout_ms = timeout
        elif param.type == frames.P_ROREPORT_SPEC:
            _trigger, n = struct.unpack_from("!BH", param.body)
            if n:
                spec.tags_per_report = n
            selector = frames.find(frames.walk(param.body, 3), frames.P_TAG_REPORT_CONTENT_SELECTOR)
            if selector is not None:
                (flags,) = struct.unpack_from("!H", selector.body)
                spec.content = {name: bool(flags & (1 << (15 - i))) for i, name in enumerate(frames.CONTENT_FLAGS)}
    return spec


def keepalive_interval_ms(set_reader_config_body: bytes) -> int | None:
    """The KeepaliveSpec period a client asked for, if any (0 or absent: no keepalives)."""
    spec = frames.find(frames.walk(set_reader_config_body, 1), frames.P_KEEPALIVE_SPEC)
    if spec is None:
        return None
    trigger, interval = struct.unpack_from("!BI", spec.body)
    return interval if trigger == 1 else 0
