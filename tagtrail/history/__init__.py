"""The read side of the movement history in ClickHouse: migrations, named queries, EPCIS export.

Used by the sink (which applies migrations at start), the CLI and the lookup page; it knows the
ClickHouse tables but nothing about Kafka.
"""
