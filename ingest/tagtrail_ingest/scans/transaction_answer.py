"""What the transactions API answers: the record as stored, times as RFC 3339 UTC."""

from __future__ import annotations

import datetime as dt

import msgspec

from tagtrail.events import BusinessTransaction, PartyOrPlace

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class TransactionOut(msgspec.Struct, frozen=True):
    """One transaction as its latest record says; `replayed` when a retried request got its first answer."""

    transaction_id: str
    type: str
    id: str
    direction: str
    location: str
    status: str
    opened_at: str
    closed_at: str | None
    sources: list[PartyOrPlace]
    destinations: list[PartyOrPlace]
    ssccs: list[str]
    recorded_at: str
    event_id: str
    replayed: bool = False


class TransactionList(msgspec.Struct, frozen=True):
    transactions: list[TransactionOut]


def rfc3339(micros: int) -> str:
    return (_EPOCH + dt.timedelta(microseconds=micros)).isoformat().replace("+00:00", "Z")


def transaction_out(record: BusinessTransaction, *, replayed: bool = False) -> TransactionOut:
    return TransactionOut(
        transaction_id=record.transaction_id, type=record.type, id=record.id, direction=record.direction,
        location=record.location, status=record.status, opened_at=rfc3339(record.opened_at),
        closed_at=None if record.closed_at is None else rfc3339(record.closed_at), sources=record.sources,
        destinations=record.destinations, ssccs=record.ssccs, recorded_at=rfc3339(record.recorded_at),
        event_id=record.event_id, replayed=replayed,
    )


def encode_answer(record: BusinessTransaction, *, replayed: bool = False) -> bytes:
    return msgspec.json.encode(transaction_out(record, replayed=replayed))


def encode_list(records: list[BusinessTransaction]) -> bytes:
    return msgspec.json.encode(TransactionList([transaction_out(r) for r in records]))
