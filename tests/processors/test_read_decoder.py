"""The TagRead fast path decodes exactly what the generic codec does, and falls back cleanly."""

import msgspec
import pytest

from tagtrail.wire import Codec, DecodeError
from tagtrail_processors.stream.read_decoder import TagReadDecoder
from tests.processors.scenarios import Script, identity


def _reads():
    s = Script().dwell(identity(70), "storage-a", 0, 1, 0.5).dwell(identity(71), "door-1-inner", 0, 0)
    r = s.reads[0]
    variants = [
        msgspec.structs.replace(r, peak_rssi_dbm=None, channel_index=7, seen_count=4000, clock_offset_us=-123456),
        msgspec.structs.replace(r, first_seen=r.first_seen - 300_000),
        msgspec.structs.replace(r, first_seen=5, last_seen=5, reader_first_seen=5, received_at=2**40),
        msgspec.structs.replace(r, event_id="x" * 300, identity=msgspec.structs.replace(r.identity, epc_uri=None, sscc="0" * 18)),
    ]
    return s.reads + variants


@pytest.mark.parametrize("read", _reads())
def test_fast_path_agrees_with_the_codec(read):
    codec = Codec("TagRead")
    decoder = TagReadDecoder(codec)
    data = codec.encode(read)
    for _ in range(2):  # second time through the per-antenna cache
        f = decoder.decode(data, read.identity.item_key.encode())
        assert f.record is None
        assert (f.event_id, f.read_point, f.first_seen, f.last_seen, f.seen_count) == (
            read.event_id, read.read_point, read.first_seen, read.last_seen, read.seen_count)
        assert f.peak_rssi == (None if read.peak_rssi_dbm is None else pytest.approx(read.peak_rssi_dbm))
        assert decoder.identity(data, f) == read.identity


def test_garbage_raises_a_clear_decode_error():
    decoder = TagReadDecoder()
    good = Codec("TagRead").encode(_reads()[0])
    with pytest.raises(DecodeError):
        decoder.decode(good[:-3])
    with pytest.raises(DecodeError):
        decoder.decode(b"not avro at all")
