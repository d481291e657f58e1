"""Everything the processor keeps about one item: its bounded event-time log and what it emitted.

This is what the changelog stores (in up to three records per item, see state_store), so it is
a msgspec Struct that encodes to compact MessagePack.
"""

from __future__ import annotations

import msgspec

from tagtrail.events import Identity
from tagtrail_processors.decisions.movement_diff import Emitted
from tagtrail_processors.decisions.smoothing import Observation
from tagtrail_processors.decisions.timeline import BaseState, ScanFact

PRESENT, MISSING, GONE = "present", "missing", "gone"


class ItemState(msgspec.Struct):
    identity: Identity
    observations: dict[str, list[Observation]] = msgspec.field(default_factory=dict)
    scans: list[ScanFact] = msgspec.field(default_factory=list)
    missing: list[int] = msgspec.field(default_factory=list)  # event times of `missing` marks
    base: BaseState = msgspec.field(default_factory=BaseState)
    emitted: dict[str, Emitted] = msgspec.field(default_factory=dict)
    last_event: int = 0  # latest event time seen for the item
    last_input_at: int = 0  # processing time of its latest input, for the missing timer
    pending_at: int | None = None  # watermark its next undecided step waits for
    settled_until: int = 0  # input before this event time may change decided movements: recompute
    quiet_at: int | None = None  # see SweepResult.quiet: recomputing may start here ...
    quiet_state: BaseState | None = None  # ... from this state, while no input lands before it
    status: str = PRESENT  # after the last recompute: present, missing, or gone (shipped)


class HotPart(msgspec.Struct, array_like=True):
    """What most reads change: the newest observation at each read point and the scalars.

    Written instead of the whole log while reads only extend open observations, so a commit costs
    a few hundred bytes per item however long its log is. Always relative to the latest full log
    record of the item (a full rewrite deletes the hot part in the same transaction).
    """

    tails: dict[str, Observation]
    last_event: int
    last_input_at: int
    pending_at: int | None
    settled_until: int
    quiet_at: int | None
    quiet_state: BaseState | None
    status: str


def hot_part(state: ItemState) -> HotPart:
    return HotPart({rp: obs[-1] for rp, obs in state.observations.items() if obs}, state.last_event,
                   state.last_input_at, state.pending_at, state.settled_until, state.quiet_at, state.quiet_state,
                   state.status)


def apply_hot(state: ItemState, hot: HotPart) -> None:
    for rp, tail in hot.tails.items():
        obs = state.observations.get(rp)
        if obs and obs[-1].first == tail.first:
            obs[-1] = tail
    state.last_event = hot.last_event
    state.last_input_at = hot.last_input_at
    state.pending_at = hot.pending_at
    state.settled_until = hot.settled_until
    state.quiet_at = hot.quiet_at
    state.quiet_state = hot.quiet_state
    state.status = hot.status


class _SlotObservation(msgspec.Struct, array_like=True):
    """An observation as changelogs written before the entry span was measured from the first read
    hold it: the peaks of two clock-aligned hold-off slots instead of the entry staircase."""

    read_point: str
    first: int
    last: int
    count: int
    peak: float
    slot: int
    e0: float
    e1: float
    source: str

    def upgrade(self) -> Observation:
        """The reads behind the slot peaks are gone: their maximum stands for the entry span's."""
        return Observation(self.read_point, self.first, self.last, self.count, self.peak,
                           [(self.first, max(self.e0, self.e1))], self.source)


class _SlotItemState(ItemState):
    observations: dict[str, list[_SlotObservation]] = msgspec.field(default_factory=dict)


class _SlotHotPart(HotPart, array_like=True):
    tails: dict[str, _SlotObservation]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ItemState)
_emitted_decoder = msgspec.msgpack.Decoder(dict[str, Emitted])
_hot_decoder = msgspec.msgpack.Decoder(HotPart)
_slot_decoder = msgspec.msgpack.Decoder(_SlotItemState)
_slot_hot_decoder = msgspec.msgpack.Decoder(_SlotHotPart)


def _fields(struct: msgspec.Struct) -> dict[str, object]:
    return {f: getattr(struct, f) for f in struct.__struct_fields__}


def encode_hot(state: ItemState) -> bytes:
    return _encoder.encode(hot_part(state))


def decode_hot(data: bytes) -> HotPart:
    try:
        return _hot_decoder.decode(data)
    except msgspec.ValidationError:
        old = _slot_hot_decoder.decode(data)  # written before the entry span: still restores
        return HotPart(**{**_fields(old), "tails": {rp: o.upgrade() for rp, o in old.tails.items()}})


def encode_state(state: ItemState) -> bytes:
    """The whole item, emitted movements included (tests, tools)."""
    return _encoder.encode(state)


def decode_state(data: bytes) -> ItemState:
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError:
        old = _slot_decoder.decode(data)  # written before the entry span: still restores
        return ItemState(**{**_fields(old), "observations": {rp: [o.upgrade() for o in obs]
                                                              for rp, obs in old.observations.items()}})


def encode_log(state: ItemState) -> bytes:
    """The item without its emitted movements: what changes with every read.

    The changelog keeps the two parts under separate keys so that a read that only extends an
    observation rewrites a few hundred bytes, not the item's whole published history.
    """
    return _encoder.encode(msgspec.structs.replace(state, emitted={}))


def encode_emitted(state: ItemState) -> bytes:
    return _encoder.encode(state.emitted)


def decode_emitted(data: bytes) -> dict[str, Emitted]:
    return _emitted_decoder.decode(data)
