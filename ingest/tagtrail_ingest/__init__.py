"""Reader adapters: LLRP RFID portals (llrp/) and handheld scanner uploads (scans/).

Each turns what a device reports into typed events on Kafka and acknowledges nothing it has not
stored. Adapters share only the core library (tagtrail.events, tagtrail.wire, tagtrail.identity).
"""
