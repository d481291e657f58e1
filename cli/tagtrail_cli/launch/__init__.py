"""Running stages inside one process: signals, Kafka, metrics, ClickHouse and supervised threads.

Shared by the commands (`tagtrail run`, `ingest`, `process`, `sink`) and the demo; it imports
neither, so the demo needs no command module."""
