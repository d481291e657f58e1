"""The topic layout: what flows where, keyed how. docs/events-and-topics.md's topic table mirrors this."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    carries: str
    compacted: bool = False
    partitions: int | None = None  # None: the site's kafka.partitions


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix, so several sites or test runs can share a cluster."""

    prefix: str = "tagtrail"

    @property
    def reads(self) -> str:
        return f"{self.prefix}.reads"

    @property
    def scans(self) -> str:
        return f"{self.prefix}.scans"

    @property
    def movements(self) -> str:
        return f"{self.prefix}.movements"

    @property
    def transactions(self) -> str:
        return f"{self.prefix}.transactions"

    @property
    def item_master(self) -> str:
        return f"{self.prefix}.item-master"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.deadletters"

    @property
    def schemas(self) -> str:
        return f"{self.prefix}.schemas"

    @property
    def processor_state(self) -> str:
        return f"{self.prefix}.processor-state"

    def specs(self) -> list[TopicSpec]:
        return [
            TopicSpec(self.reads, "item key", "TagRead: raw LLRP tag reads"),
            TopicSpec(self.scans, "item key", "Scan: accepted handheld scans"),
            TopicSpec(self.movements, "item key", "Movement: smoothed, located movements with EPCIS step/disposition"),
            TopicSpec(self.transactions, "transaction id", "BusinessTransaction: shipments and receipts, every open/close"),
            TopicSpec(self.item_master, "item key", "ItemMaster: lot and expiry per item", compacted=True),
            TopicSpec(self.dead_letters, "source id", "DeadLetter: rejected input with the reason", partitions=1),
            TopicSpec(self.schemas, "schema fingerprint", "Avro writer schemas (single-object encoding)", compacted=True, partitions=1),
            TopicSpec(self.processor_state, "item key", "processor state changelog", compacted=True),
        ]
