"""The sink: committed Movement events from Kafka into ClickHouse, exactly once.

`app.run_sink` wires it and runs the consume loop; `prepare` puts the schema in place first;
`consuming` reads Kafka; `batches` cuts per-partition batches, `checkpoint` records the batch being
written in the consumer group's offset metadata, `replay` rebuilds what a crashed sink was writing,
`framing` turns Kafka messages into Avro bodies, `container` packs them for ClickHouse, `writer`
inserts with deduplication tokens, `flusher` runs the inserts in a thread of their own, `dead_letters`
reports what cannot be stored.
"""
