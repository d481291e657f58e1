"""Kafka stream processors (raw reads and scans to movements) and the ClickHouse sink.

Stages meet only through topics and schemas: nothing here imports the ingest adapters.
"""
