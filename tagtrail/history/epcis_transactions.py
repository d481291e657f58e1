"""What an EPCIS event says about business transactions and parties: bizTransactionList, sourceList and
destinationList, from the transactions migration 0008's `event_transactions` puts the event in.

That view is the one matching rule (an event at the transaction's door, in its window, going its way;
see the migration). Here the export only reads it, a batch of events at a time, per event VERSION
(event_id, recorded_at): an original and its correction each carry the context of their own time and place.

The lists: every transaction the event belongs to gives a bizTransaction (its CBV type short name and its
id, as recorded); its sources and destinations are listed as recorded (URIs), one entry per distinct
(type, id). The site's own company is the other side where the transaction does not name one: an
outbound shipment's source owning_party, an inbound receipt's destination owning_party, named by the
company GLN of the site file (`urn:epc:id:pgln:...`, or `https://id.gs1.org/417/<gln>` with
--digital-link); without a company in the site file nothing is added. The site's own places and party,
recorded by the scan service as Digital Links, are named the way the rest of the export names them
(EpcisPlaces.own), so a partner finds them in the header's master data.

The lists take part in the event hash (a partner hashes what it receives): an event's eventID changes if
a transaction it belongs to is opened, moved or edited later. Once a transaction is closed and its
record final, its events' IDs are stable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from tagtrail.history.epcis_places import EpcisPlaces
from tagtrail.history.queries import ANY_TRANSACTIONS, EVENT_TRANSACTIONS, run

OWNING_PARTY = "owning_party"
BATCH = 1_000  # events whose context one query reads


def any_transactions(client: Any) -> bool:
    """Whether any transaction is recorded: a site that records none pays no context query per batch."""
    return bool(run(client, ANY_TRANSACTIONS)[1][0][0])


def transactions_by_version(client: Any, versions: list[dict]) -> dict[tuple[str, Any], list[dict]]:
    """(event_id, recorded_at) -> the transactions that version belongs to, for a batch of event versions."""
    if not versions:
        return {}
    names, rows = run(client, EVENT_TRANSACTIONS, item_keys=sorted({v["item_key"] for v in versions}),
                      event_ids=sorted({v["event_id"] for v in versions}))
    found: dict[tuple[str, Any], list[dict]] = defaultdict(list)
    for row in rows:
        transaction = dict(zip(names, row))
        found[(transaction["event_id"], transaction["recorded_at"])].append(transaction)
    return found


def attach_transactions(client: Any, versions: list[dict], *, known: bool | None = None) -> list[dict]:
    """Sets each version's `transactions` (a list, empty when none) and returns the versions. `known`:
    whether any transaction exists at all (any_transactions), when the caller already asked."""
    if known is False or (known is None and not any_transactions(client)):
        found: dict[tuple[str, Any], list[dict]] = {}
    else:
        found = transactions_by_version(client, versions)
    for version in versions:
        version["transactions"] = found.get((version["event_id"], version["recorded_at"]), [])
    return versions


def groups_with_transactions(client: Any, groups: Iterable[tuple[list[dict], Any]], *,
                             batch: int = BATCH) -> Iterator[tuple[list[dict], Any]]:
    """Passes (versions of one event, extra) pairs through, each version given its `transactions`, reading
    the context for `batch` events at a time (the stream stays bounded: one batch is held)."""
    known = any_transactions(client)
    source = iter(groups)
    while chunk := list(islice(source, batch)):
        attach_transactions(client, [v for versions, _ in chunk for v in versions], known=known)
        yield from chunk


def business_lists(transactions: list[dict], places: EpcisPlaces) -> dict[str, list[dict]]:
    """The event's bizTransactionList, sourceList and destinationList (only those not empty)."""
    biz: list[dict] = []
    sources: list[dict] = []
    destinations: list[dict] = []
    company = places.company_party()
    for transaction in transactions:
        entry = {"type": transaction["type"], "bizTransaction": transaction["id"]}
        if entry not in biz:
            biz.append(entry)
        own_side = sources if transaction["direction"] == "outbound" else destinations
        for listed, key, parties in ((sources, "source", transaction["sources"]),
                                     (destinations, "destination", transaction["destinations"])):
            for party in parties:
                kind, value = _type_and_id(party)
                _add(listed, key, kind, places.own(value))
        if company is not None and not any(e["type"] == OWNING_PARTY for e in own_side):
            _add(own_side, "source" if own_side is sources else "destination", OWNING_PARTY, company)
    lists = {"bizTransactionList": biz, "sourceList": sources, "destinationList": destinations}
    return {name: entries for name, entries in lists.items() if entries}


def _type_and_id(party: Any) -> tuple[str, str]:
    """A (type, id) named tuple as either backend returns it: a dict (chdb) or a tuple (HTTP)."""
    if isinstance(party, dict):
        return party["type"], party["id"]
    return party[0], party[1]


def _add(listed: list[dict], key: str, kind: str, value: str) -> None:
    entry = {"type": kind, key: value}
    if entry not in listed:
        listed.append(entry)
