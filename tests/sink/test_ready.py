"""/readyz of the sink: ready once every stream's consumer has its partitions, not when the first has."""

from __future__ import annotations

import threading

from tagtrail_processors.sink.sink_service import ReadyWhenAll


def test_ready_only_once_every_stream_is_assigned():
    ready = threading.Event()
    whole = ReadyWhenAll(ready, 3)
    movements, transactions, item_master = whole.part(), whole.part(), whole.part()
    movements.set()
    movements.set()  # a rebalance assigns again: still one stream of three
    transactions.set()
    assert not ready.is_set()
    item_master.set()
    assert ready.is_set()
