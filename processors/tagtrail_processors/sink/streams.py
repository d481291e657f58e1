"""The topics the sink stores, each with its Avro event type, the ClickHouse table that decodes it and
its own consumer group.

One consumer group per topic, so each stream keeps its own offsets and checkpoint metadata (the
exactly-once protocol of `offset_checkpoint` names partitions of one topic) and a burst on one topic
never holds back another. The movements stream keeps the group name sinks always used, so an upgraded
sink resumes where the previous one committed, pending batches included.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagtrail.kafka import Topics


@dataclass(frozen=True)
class SinkStream:
    name: str  # for logs and dead-letter context
    event_type: str  # Avro record name (tagtrail.events.<event_type>)
    ingest_table: str  # Null-engine table whose materialized views store the records (migrations)
    topic_property: str  # the Topics property naming the topic
    group_suffix: str  # appended to "<prefix>.sink"

    def topic(self, topics: Topics) -> str:
        return getattr(topics, self.topic_property)

    def group_id(self, topics: Topics) -> str:
        return f"{topics.prefix}.sink{self.group_suffix}"


MOVEMENTS = SinkStream("movements", "Movement", "movements_ingest_v3", "movements", "")
TRANSACTIONS = SinkStream("transactions", "BusinessTransaction", "business_transactions_ingest", "transactions", ".transactions")
ITEM_MASTER = SinkStream("item-master", "ItemMaster", "item_master_ingest", "item_master", ".item-master")
STREAMS = (MOVEMENTS, TRANSACTIONS, ITEM_MASTER)
