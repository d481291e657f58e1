"""`tagtrail demo`: a simulated warehouse driven through the real adapters, processor and sink.

LLRP reader emulators play the dock doors and the storage zone over TCP, simulated handhelds upload
scans over HTTP, and everything runs on embedded defaults (mock Kafka, chdb), so a new user sees the
whole pipeline work in about a minute without installing anything else.
"""
