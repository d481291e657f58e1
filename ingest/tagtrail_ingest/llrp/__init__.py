"""LLRP dock-door adapter: reader links (sllurp), tag reads to Kafka, and a reader emulator.

Pure parts (frames, clock correction, tag-read mapping, spool) sit beside the I/O shell
(reader links, publisher, app) so they can be tested without sockets or brokers.
"""
