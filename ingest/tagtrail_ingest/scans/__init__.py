"""The handheld scanner upload service: `POST /v1/scans` to `Scan` events on Kafka.

Pure core: `upload` (request bodies to an `Upload`), `assess` (each scan to a `Scan` event or a
rejection), `locations`, `verdict`. I/O shell: `auth` (device tokens), `ledger` (the Kafka-backed
record of answered uploads), `publisher` (transactional group commits), `api` and `app` (HTTP).
"""
