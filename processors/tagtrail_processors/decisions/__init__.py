"""The pure decision core: reads and scans in, movements out, no I/O.

Smoothing, location, direction, disposition and item state decide here, from values only, so
every rule is testable without Kafka; nothing here imports Kafka or the stream shell
(tests/test_architecture.py keeps it so)."""
