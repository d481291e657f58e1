"""The sink: committed Movement events from Kafka into ClickHouse, exactly once.

`app.run_sink` wires it; `batches` cuts per-partition batches, `checkpoint` records the batch being
written in the consumer group's offset metadata, `framing` turns Kafka messages into Avro bodies,
`container` packs them for ClickHouse, `writer` inserts with deduplication tokens, `dead_letters`
reports what cannot be stored.
"""
