"""The sink: committed Movement, BusinessTransaction and ItemMaster events from Kafka into ClickHouse,
exactly once.

`streams` names each topic with its table and consumer group; `sink_service.run_sink` runs one consume
loop per stream; `prepare` puts the schema in place first; `writer_schemas` knows earlier writer schemas;
`consuming` reads Kafka; `batches` cuts per-partition batches, `checkpoint` records the batch being
written in the consumer group's offset metadata, `replay` rebuilds what a crashed sink was writing,
`framing` turns Kafka messages into Avro bodies, `container` packs them for ClickHouse, `writer`
inserts with deduplication tokens, `flusher` runs the inserts in a thread of their own, `dead_letters`
reports what cannot be stored.
"""
