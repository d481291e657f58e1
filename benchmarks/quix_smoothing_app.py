"""The smoothing job written as a Quix Streams application, for benchmarks/quix_comparison.py.

Runs in its own venv (quixstreams 3.28 pins confluent-kafka < 2.13, the project uses 2.16), so
it imports neither tagtrail nor anything from the project: the driver passes the TagRead Avro
schema (named types expanded) as a JSON file, and this script decodes the single-object framing
itself with fastavro.

Two variants of the same job, both exactly-once (Kafka transactions) with state in Quix's
RocksDB store and a changelog topic:
  stateful  reads of one item at one read point within `--window-s` of each other become one
            observation; it is emitted when a later read of that item falls outside the window
            (the same rule as tagtrail's smoothing, closed per item by event time);
  session   Quix's built-in session window per item key (inactivity gap = the window) with
            min/max/sum/max aggregations, emitted by `.final()`; it ignores the read point,
            which this benchmark's input allows (an item is at one read point at a time).
Observations go to `--output` as JSON. Stops cleanly on SIGTERM (Quix commits on the way out).
"""

from __future__ import annotations

import argparse
import io
import json
import sys

import fastavro
from quixstreams import Application, State
from quixstreams.dataframe.windows import aggregations as agg
from quixstreams.models.serializers import Deserializer, SerializationContext

SINGLE_OBJECT_HEADER = 10  # C3 01 + 8-byte schema fingerprint


class TagReadDeserializer(Deserializer):
    """Avro single-object TagRead -> dict (every field, as a Quix user would decode it)."""

    def __init__(self, schema: dict, fingerprint: bytes) -> None:
        super().__init__()
        self.schema = fastavro.parse_schema(_without_timestamp_types(schema))
        self.fingerprint = fingerprint

    def __call__(self, value: bytes, ctx: SerializationContext) -> dict:
        if value[:2] != b"\xc3\x01" or value[2:10] != self.fingerprint:
            raise ValueError("not a TagRead in Avro single-object encoding")
        return fastavro.schemaless_reader(io.BytesIO(value[SINGLE_OBJECT_HEADER:]), self.schema, None)


def _without_timestamp_types(node):
    """Timestamps read as integer microseconds (as tagtrail reads them), not datetimes: same bytes, less work."""
    if isinstance(node, dict):
        out = {k: _without_timestamp_types(v) for k, v in node.items()}
        if str(out.get("logicalType", "")).startswith("timestamp-"):
            out.pop("logicalType")
        return out
    if isinstance(node, list):
        return [_without_timestamp_types(v) for v in node]
    return node


def smoothing(window_us: int):
    """Per item (the message key): open observations by read point, in one state entry."""

    def observe(read: dict, state: State) -> list[dict]:
        first, last, rp = read["first_seen"], read["last_seen"], read["read_point"]
        rssi = read["peak_rssi_dbm"]
        rssi = -999.0 if rssi is None else rssi
        count = read["seen_count"]
        open_obs: dict = state.get("open") or {}
        closed = []
        for other in [p for p, o in open_obs.items() if p != rp and o[1] + window_us < first]:
            closed.append(_observation(read, other, open_obs.pop(other)))
        obs = open_obs.get(rp)
        if obs is not None and first <= obs[1] + window_us:
            # Plain ifs rather than min()/max(): the hot path, kept as cheap as Python allows.
            if first < obs[0]:  # noqa: PLR1730
                obs[0] = first
            if last > obs[1]:  # noqa: PLR1730
                obs[1] = last
            obs[2] += count
            if rssi > obs[3]:  # noqa: PLR1730
                obs[3] = rssi
        else:
            if obs is not None:
                closed.append(_observation(read, rp, obs))
            open_obs[rp] = [first, last, count, rssi]
        state.set("open", open_obs)
        return closed

    return observe


def _observation(read: dict, read_point: str, obs: list) -> dict:
    return {"item_key": read["identity"]["item_key"], "read_point": read_point, "first": obs[0], "last": obs[1],
            "count": obs[2], "peak_rssi_dbm": obs[3]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True, help="topic of Avro TagReads keyed by item key")
    ap.add_argument("--output", required=True, help="topic for the observations (JSON)")
    ap.add_argument("--group", required=True, help="consumer group (also names Quix's changelog topics)")
    ap.add_argument("--schema", required=True, help="JSON file: {schema: <expanded TagRead schema>, fingerprint: hex}")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--variant", choices=["stateful", "session"], default="stateful")
    ap.add_argument("--window-s", type=float, default=5.0)
    ap.add_argument("--commit-interval", type=float, default=1.0)
    args = ap.parse_args()

    with open(args.schema) as f:
        spec = json.load(f)
    app = Application(broker_address=args.bootstrap, consumer_group=args.group, auto_offset_reset="earliest",
                      processing_guarantee="exactly-once", commit_interval=args.commit_interval,
                      state_dir=args.state_dir, loglevel="WARNING")
    window_us = int(args.window_s * 1_000_000)
    reads = app.topic(args.input, key_deserializer="str",
                      value_deserializer=TagReadDeserializer(spec["schema"], bytes.fromhex(spec["fingerprint"])),
                      timestamp_extractor=lambda value, headers, ts, ts_type: value["first_seen"] // 1000)
    observations = app.topic(args.output, key_serializer="str", value_serializer="json")
    sdf = app.dataframe(reads)
    if args.variant == "stateful":
        sdf = sdf.apply(smoothing(window_us), stateful=True, expand=True)
    else:
        sdf = sdf.session_window(inactivity_gap_ms=window_us // 1000).agg(
            first=agg.Min("first_seen"), last=agg.Max("last_seen"), count=agg.Sum("seen_count"),
            peak_rssi_dbm=agg.Max("peak_rssi_dbm")).final()
    sdf.to_topic(observations)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
