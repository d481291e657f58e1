"""The reader link against readers that bend LLRP the legal ways other vendors' readers do.

Each test plays one quirk on the emulator (Quirks) and drives a ReaderLink over real TCP, no
Kafka: setup that a refused optional message must not break, a reader without keepalives, a hung
one, stops that must leave the reader clean, and shutdown from two threads at once. Liveness
runs on an injected clock the test advances; waits poll for a condition with a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import structlog
from sllurp.llrp import LLRPMessage, LLRPReaderState
from sllurp.llrp_errors import ReaderConfigurationError

from tagtrail.config import Antenna, Reader
from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.emulator import InstantReplies, Quirks, ReaderEmulator, Sighting, encoders, sgtin96
from tagtrail_ingest.llrp.ordered_client import OrderedLLRPClient
from tagtrail_ingest.llrp.reader_link import ReaderLink, reader_config

EPC = sgtin96("0614141", "812345", 4711)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


def two_antenna_reader(port: int, **overrides) -> Reader:
    settings = {"report_every_ms": 100, "keepalive_s": 1.0, **overrides}
    return Reader(id="door9", host="127.0.0.1", port=port,
                  antennas=(Antenna(1, "door9-outer"), Antenna(2, "door9-inner")), **settings)


class Harness:
    """An emulator with quirks and ReaderLinks to it, each recording tags and dead letters."""

    def __init__(self, quirks: Quirks) -> None:
        self.emulator = ReaderEmulator(antennas=2, quirks=quirks)
        self.emulator.start()
        self.links: list[ReaderLink] = []
        self.tags: list[dict] = []
        self.letters: list[tuple[str, str]] = []
        self.notices: set = set()

    def link(self, *, clock: Callable[[], float] = time.monotonic, silence_s: float = 30.0, **reader) -> ReaderLink:
        link = ReaderLink(two_antenna_reader(self.emulator.port, **reader), silence_s=silence_s, clock=clock,
                          on_bad_frame=lambda _raw, reason, error: self.letters.append((reason, error)),
                          notices=self.notices)
        link.add_tag_report_callback(lambda _link, tags: self.tags.extend(tags))
        link.connect()
        self.links.append(link)
        return link

    def inventorying(self, link: ReaderLink) -> None:
        wait_for(lambda: link.llrp.state == LLRPReaderState.STATE_INVENTORYING or not link.is_alive(),
                 "the link to start inventory")
        assert link.llrp.state == LLRPReaderState.STATE_INVENTORYING, f"setup failed: {link.end_reason}"

    def close(self) -> None:
        for link in self.links:
            link.close()
        self.emulator.stop()


@pytest.fixture
def harness() -> Iterator[Callable[[Quirks], Harness]]:
    made: list[Harness] = []

    def make(quirks: Quirks = Quirks()) -> Harness:
        made.append(Harness(quirks))
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_a_reader_that_answers_enable_events_and_reports_with_an_error_still_inventories(harness) -> None:
    h = harness(Quirks(refuse_enable_events=True))
    with structlog.testing.capture_logs() as logs:
        for _ in range(2):  # a reconnect refuses again: logged once all the same
            link = h.link()
            h.inventorying(link)
            h.emulator.queue([Sighting(epc_hex=EPC, antenna=2)])
            wait_for(lambda: h.emulator.pending() == 0 and h.tags, "the tag report")
            link.close()
            assert link.politely_stopped
    assert h.emulator.received[frames.ENABLE_EVENTS_AND_REPORTS] == 2  # it was refused both times
    assert [t["EPC-96"].decode().upper() for t in h.tags] == [EPC, EPC]
    assert h.letters == []
    refused = [e for e in logs if e["event"] == "llrp_optional_message_refused"]
    assert len(refused) == 1
    assert (refused[0]["message"], refused[0]["status"]) == ("ENABLE_EVENTS_AND_REPORTS", 112)


def test_a_refused_request_fails_the_step_it_answers_not_the_next_one() -> None:
    """An ERROR_MESSAGE in place of a response is matched by id: sllurp fails that request, with the
    reader's status, instead of reading it as an unexpected answer to whatever it waits for."""
    link = ReaderLink(two_antenna_reader(1), silence_s=5.0, on_bad_frame=lambda *_: None)
    link.llrp.state = LLRPReaderState.STATE_SENT_GET_CAPABILITIES
    link.requests.sent(frames.message(frames.GET_READER_CAPABILITIES, b"", 900))
    with pytest.raises(ReaderConfigurationError) as failure:
        link._handle_frame(encoders.response(frames.ERROR_MESSAGE, 900, 109, "no capabilities today"))
    assert str(failure.value) == "Error getting capabilities (on GET_READER_CAPABILITIES_RESPONSE, message id 900)"


def test_a_reader_without_keepalives_is_probed_and_kept(harness) -> None:
    h = harness(Quirks(keepalives=False))
    clock = FakeClock()
    link = h.link(clock=clock, silence_s=3.0)
    h.inventorying(link)
    assert h.emulator.received[frames.GET_READER_CONFIG] == 1  # sllurp's own, during setup
    for answered in range(1, 4):
        clock.advance(2.5)  # past two thirds of the silence limit (3 s): time to ask
        wait_for(lambda n=answered: link.probes_answered == n, f"probe {answered} to be answered")
    assert link.is_alive() and h.emulator.connections == 1
    assert h.emulator.received[frames.GET_READER_CONFIG] == 4
    assert link.llrp.state == LLRPReaderState.STATE_INVENTORYING  # the probe answers never reached sllurp


def test_a_hung_reader_that_does_not_answer_the_probe_is_dropped(harness) -> None:
    h = harness()
    clock = FakeClock()
    link = h.link(clock=clock, silence_s=3.0)
    h.inventorying(link)
    h.emulator.go_silent()
    wait_for(lambda: h.emulator._silent, "the reader to hang")
    clock.advance(2.5)
    wait_for(lambda: link.liveness.probes == 1, "the probe")
    assert link.is_alive()  # asked, not yet dropped
    clock.advance(1.5)  # the probe had a third of the limit to be answered
    wait_for(lambda: not link.is_alive(), "the link to be dropped")
    assert link.end_reason.startswith("silent for 4.0 s")
    assert "no answer to a GET_READER_CONFIG probe" in link.end_reason


def test_the_stop_sequence_survives_replies_that_come_back_inside_the_send() -> None:
    """A reader that replies before the client's next statement: DELETE_ROSPEC still goes out."""
    emulator = ReaderEmulator(antennas=2)
    reader = InstantReplies(emulator)
    emulator.rospecs.add(1)
    client: OrderedLLRPClient

    def send(data: bytes) -> None:
        for reply in reader.answer(data):
            client.handleMessage(LLRPMessage(msgbytes=reply))

    client = OrderedLLRPClient(reader_config(two_antenna_reader(1)), transport_tx_write=send)
    client.setState(LLRPReaderState.STATE_INVENTORYING)
    done: list[bool] = []
    client.stopPolitely(onCompletion=lambda _state, ok, *_: done.append(ok), disconnect=True)
    assert done == [True]
    assert emulator.received[frames.DELETE_ACCESSSPEC] == 1 and emulator.received[frames.DELETE_ROSPEC] == 1
    assert emulator.rospecs == set()


def test_a_stop_during_setup_leaves_the_reader_clean_and_not_inventorying() -> None:
    """The stop comes while ADD_ROSPEC's reply is still on its way: the ROSpec is deleted, not enabled."""
    emulator = ReaderEmulator(antennas=2)
    reader = InstantReplies(emulator)
    in_flight: list[bytes] = []
    client = OrderedLLRPClient(reader_config(two_antenna_reader(1)),
                               transport_tx_write=lambda data: in_flight.extend(reader.answer(data)))
    client.setState(LLRPReaderState.STATE_CONNECTED)
    client.startInventory()  # ADD_ROSPEC sent, its reply not yet handled
    done: list[bool] = []
    client.stopPolitely(onCompletion=lambda _state, ok, *_: done.append(ok), disconnect=True)
    while in_flight:
        client.handleMessage(LLRPMessage(msgbytes=in_flight.pop(0)))
    assert done == [True] and emulator.rospecs == set()
    assert emulator.received[frames.ENABLE_ROSPEC] == 0
    assert client.state != LLRPReaderState.STATE_INVENTORYING


def test_ten_polite_stops_each_leave_the_reader_clean(harness) -> None:
    h = harness()
    for i in range(10):
        link = h.link()
        h.inventorying(link)
        assert h.emulator.rospecs == {1}
        started = time.monotonic()
        link.close(timeout_s=2.0)
        assert link.politely_stopped, f"stop {i + 1}: {link.end_reason}"
        assert time.monotonic() - started < 2.0  # confirmed, not cut off at the timeout
        assert h.emulator.rospecs == set(), f"stop {i + 1} left ROSpec(s) {h.emulator.rospecs} on the reader"
    assert h.emulator.received[frames.DELETE_ROSPEC] == 20  # one on each connect (reset), one on each stop


def test_a_reader_that_refuses_delete_accessspec_still_gets_its_rospec_deleted() -> None:
    emulator = ReaderEmulator(antennas=2)
    reader = InstantReplies(emulator)
    emulator.rospecs.add(1)
    client: OrderedLLRPClient

    def send(data: bytes) -> None:
        for reply in reader.answer(data):
            if frames.message_type(reply) == frames.DELETE_ACCESSSPEC_RESPONSE:  # no AccessSpec support
                reply = encoders.response(frames.DELETE_ACCESSSPEC_RESPONSE, frames.message_id(reply), 109, "no")
            client.handleMessage(LLRPMessage(msgbytes=reply))

    client = OrderedLLRPClient(reader_config(two_antenna_reader(1)), transport_tx_write=send)
    client.setState(LLRPReaderState.STATE_INVENTORYING)
    done: list[bool] = []
    client.stopPolitely(onCompletion=lambda _state, ok, *_: done.append(ok), disconnect=True)
    assert done == [True] and emulator.rospecs == set()


def test_closing_a_link_from_two_threads_at_once_raises_nothing() -> None:
    """What SIGTERM does: the session closes the link while the link's own thread ends and closes it."""
    link = ReaderLink(two_antenna_reader(1), silence_s=5.0, on_bad_frame=lambda *_: None)

    class SocketClosedMeanwhile:
        """shutdown() lets the other thread's hard_disconnect run in between, as a thread switch would."""

        closed = 0

        def shutdown(self, _how: int) -> None:
            link.hard_disconnect()

        def close(self) -> None:
            self.closed += 1

    sock = SocketClosedMeanwhile()
    link._socket = sock  # type: ignore[assignment]
    link.hard_disconnect()  # sllurp's own: AttributeError: 'NoneType' object has no attribute 'close'
    assert sock.closed == 1 and link._socket is None
    threads = [threading.Thread(target=link.close) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)


def test_a_refused_custom_request_ends_setup_with_the_readers_status() -> None:
    """impinj_extensions on a reader without them: the refusal of the custom message is the link's end reason."""
    link = ReaderLink(two_antenna_reader(1, impinj_extensions=True), silence_s=5.0, on_bad_frame=lambda *_: None)
    link.llrp.state = LLRPReaderState.STATE_SENT_ENABLE_IMPINJ_EXTENSIONS
    link.requests.sent(frames.message(1023, b"\x00\x00\x61\x9a\x15", 3))  # Impinj's ENABLE_EXTENSIONS, custom
    with pytest.raises(ReaderConfigurationError, match="refused CUSTOM_MESSAGE .message id 3. with ERROR_MESSAGE "
                                                       "status 109: unsupported"):
        link._handle_frame(encoders.response(frames.ERROR_MESSAGE, 3, 109, "unsupported"))
