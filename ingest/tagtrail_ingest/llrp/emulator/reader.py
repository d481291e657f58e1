"""An LLRP reader played over real TCP: answers a client's setup, keeps alive, reports tags.

One listening socket, one client session at a time (a new connection replaces the old one).
Sightings queued while no client is inventorying stay queued, as a reader's report buffer
would keep them. Faults are injected between frames so the test knows exactly what was sent.
Quirks make one emulator bend the protocol the legal ways other vendors' readers do, and the
emulator keeps what a reader keeps across connections (its ROSpecs), so a test can check that a
client leaves it clean.
"""

from __future__ import annotations

import collections
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Self

import structlog

from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.emulator import encoders
from tagtrail_ingest.llrp.emulator.rospec import (
    InventorySpec,
    keepalive_interval_ms,
    parse_add_rospec,
)

log = structlog.get_logger(__name__)

UNSET_CLOCK_BASE_US = 946_684_800_000_000  # 2000-01-01: where readers whose clock was never set start


def wall_clock_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class Quirks:
    """Protocol bends seen in readers tagtrail did not write (legal, or at least shipped)."""

    # answer ENABLE_EVENTS_AND_REPORTS (no response defined) with ERROR_MESSAGE, as EdgeX's simulator does
    refuse_enable_events: bool = False
    refusal_status: int = 112
    keepalives: bool = True  # False: ignore the client's KeepaliveSpec and stay silent between reports
    antenna_ids: bool = True  # False: never send AntennaID, even when the ROSpec asks for it (golemu)


@dataclass(frozen=True)
class Sighting:
    """A tag seen by one antenna, in true (receive-side) time; the reader stamps it with its own clock."""

    epc_hex: str
    antenna: int
    peak_rssi: int = -55
    channel_index: int = 1
    seen_count: int = 1
    first_seen_us: int | None = None  # None: the reader's clock when it is reported
    last_seen_us: int | None = None
    epc_bits: int | None = None  # EPCData bit count (inject wrong lengths)
    extra: bytes = b""  # raw parameters appended to TagReportData (inject unknown ones)


@dataclass(frozen=True)
class SentTag:
    """What went out on the wire: the sighting and the reader timestamps it carried."""

    sighting: Sighting
    reader_first_seen_us: int
    reader_last_seen_us: int
    connection: int


class ReaderEmulator:
    """Plays one LLRP reader on 127.0.0.1:port. Thread-safe API; all socket work on its own threads."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", antennas: int = 4,
                 clock: Callable[[], int] = wall_clock_us, clock_offset_us: int = 0, name: str = "emulator",
                 quirks: Quirks = Quirks()) -> None:
        self.host, self.port, self.antennas, self.name = host, port, antennas, name
        self.quirks = quirks
        self.clock = clock
        self.rospecs: set[int] = set()  # ROSpec ids added and not deleted: a reader keeps them across connections
        self.received: collections.Counter[int] = collections.Counter()  # client messages by type
        self.clock_offset_us = clock_offset_us  # reader clock minus true time
        self.sent: list[SentTag] = []
        self.connections = 0
        self.keepalive_acks = 0
        self.inventorying = threading.Event()
        self._queue: collections.deque[Sighting] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._session: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._down_until = 0.0
        self._faults: collections.deque[tuple[str, object]] = collections.deque()
        self._silent = False
        self._flood: Iterator[tuple[bytes, int]] | None = None
        self.flood_tags_sent = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> int:
        self._listen()
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True)
        self._accept_thread.start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._close_listener()
        self._close_session()
        if self._accept_thread:
            self._accept_thread.join(5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the reader sees -----------------------------------------------------------------
    def queue(self, sightings: Iterable[Sighting]) -> None:
        with self._lock:
            self._queue.extend(sightings)
        self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def flood(self, reports: Iterator[tuple[bytes, int]]) -> None:
        """Send these RO_ACCESS_REPORT bodies (with their tag counts) back to back while inventorying (benchmarks): the client sets the pace."""
        self._flood = reports
        self._wake.set()

    def reader_time(self, true_us: int) -> int:
        return true_us + self.clock_offset_us

    # -- faults -------------------------------------------------------------------------------
    def drop_connection(self) -> None:
        """The link dies (cable pulled, reader crash): the socket closes between two frames."""
        self._inject("drop", None)

    def restart(self, down_s: float) -> None:
        """The reader reboots: the link drops and connections are refused for down_s seconds."""
        self._inject("restart", down_s)

    def go_silent(self) -> None:
        """The reader hangs: the TCP link stays open but nothing comes any more: no keepalive, no
        report, no answer to a request (so a liveness probe goes unanswered too)."""
        self._inject("silent", None)

    def send_raw(self, data: bytes) -> None:
        """Send these bytes as they are (malformed or truncated frames), then carry on."""
        self._inject("raw", data)

    def send_truncated_and_close(self, data: bytes) -> None:
        self._inject("truncate", data)

    def unset_clock(self) -> None:
        """From now on the reader's clock counts from 2000-01-01, as an unset reader clock does."""
        self.clock_offset_us = UNSET_CLOCK_BASE_US - self.clock()

    def _inject(self, kind: str, arg: object) -> None:
        with self._lock:
            self._faults.append((kind, arg))
        self._wake.set()

    # -- sockets ------------------------------------------------------------------------------
    def _listen(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(4)
        s.settimeout(0.2)
        self.port = s.getsockname()[1]
        self._listener = s

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None

    def _close_session(self) -> None:
        s, self._session = self._session, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            if self._listener is None:
                if time.monotonic() < self._down_until:
                    self._stop.wait(0.05)
                    continue
                self._listen()
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._close_session()
            self._session = conn
            self.connections += 1
            try:
                _Session(self, conn, self.connections).run()
            except (OSError, frames.FrameError) as exc:  # the client went away or sent a broken frame
                log.info("emulator_session_ended", reader=self.name, error=str(exc))
            finally:
                self.inventorying.clear()
                if self._session is conn:
                    self._close_session()


class _Session:
    """One client connection: the LLRP conversation and the report loop."""

    def __init__(self, reader: ReaderEmulator, sock: socket.socket, number: int) -> None:
        self.r, self.sock, self.number = reader, sock, number
        self.spec = InventorySpec(antennas=tuple(range(1, reader.antennas + 1)))
        self.keepalive_s: float | None = None
        self.next_keepalive = 0.0
        self.msg_id = 1000
        self.buffer = b""
        reader._silent = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_id(self) -> int:
        self.msg_id += 1
        return self.msg_id

    def run(self) -> None:
        r = self.r
        self.send(encoders.connection_attempt_event(r.reader_time(r.clock()), self.next_id()))
        while not r._stop.is_set():
            if self._apply_faults():
                return
            flooding = r._flood is not None and r.inventorying.is_set() and not r._silent
            timeout = 0 if flooding else 0.02
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if readable:
                data = self.sock.recv(65536)
                if not data:
                    return
                if self._receive(data):
                    return
            if r._silent:
                continue
            now = time.monotonic()
            if self.keepalive_s and now >= self.next_keepalive:
                self.send(encoders.keepalive(self.next_id()))
                self.next_keepalive = now + self.keepalive_s
            if r.inventorying.is_set():
                if flooding:
                    self._flood_once()
                else:
                    self._report_queued()
            r._wake.clear()

    def _apply_faults(self) -> bool:
        r = self.r
        while True:
            with r._lock:
                if not r._faults:
                    return False
                kind, arg = r._faults.popleft()
            if kind == "drop":
                return True
            if kind == "restart":
                r._down_until = time.monotonic() + float(arg)  # type: ignore[arg-type]
                r._close_listener()
                return True
            if kind == "silent":
                r._silent = True
            elif kind == "raw":
                self.send(arg)  # type: ignore[arg-type]
            elif kind == "truncate":
                self.send(arg)  # type: ignore[arg-type]
                return True

    def _receive(self, data: bytes) -> bool:
        """Handles whole client frames; True when the client closed the connection."""
        if self.r._silent:
            return False  # a hung reader answers nothing
        self.buffer += data
        while len(self.buffer) >= frames.HEADER_LEN:
            _v, msg_type, length, msg_id = frames.parse_header(self.buffer)
            if len(self.buffer) < length:
                return False
            body, self.buffer = self.buffer[frames.HEADER_LEN:length], self.buffer[length:]
            if self._handle(msg_type, msg_id, body):
                return True
        return False

    def _handle(self, msg_type: int, msg_id: int, body: bytes) -> bool:
        r = self.r
        with r._lock:
            r.received[msg_type] += 1
        if msg_type == frames.KEEPALIVE_ACK:
            r.keepalive_acks += 1
            return False
        if msg_type == frames.ENABLE_EVENTS_AND_REPORTS:
            if r.quirks.refuse_enable_events:
                self.send(encoders.response(frames.ERROR_MESSAGE, msg_id, r.quirks.refusal_status,
                                            "ENABLE_EVENTS_AND_REPORTS is not supported"))
            return False
        if msg_type == frames.GET_READER_CAPABILITIES:
            self.send(encoders.capabilities_response(msg_id, antennas=r.antennas))
            return False
        if msg_type == frames.SET_READER_CONFIG:
            interval = keepalive_interval_ms(body)
            if interval is not None and r.quirks.keepalives:
                self.keepalive_s = interval / 1000 if interval else None
                self.next_keepalive = time.monotonic() + (self.keepalive_s or 0)
        elif msg_type == frames.ADD_ROSPEC:
            self.spec = parse_add_rospec(body)
            r.rospecs.add(self.spec.rospec_id)
        elif msg_type in (frames.ENABLE_ROSPEC, frames.START_ROSPEC):
            self.send(encoders.response(frames.RESPONSES[msg_type], msg_id))
            r.inventorying.set()  # sllurp's ROSpecs start immediately once enabled
            return False
        elif msg_type in (frames.STOP_ROSPEC, frames.DISABLE_ROSPEC, frames.DELETE_ROSPEC):
            r.inventorying.clear()
            if msg_type == frames.DELETE_ROSPEC:
                (rospec_id,) = struct.unpack_from("!I", body)
                if rospec_id == 0:  # 0: all of them
                    r.rospecs.clear()
                else:
                    r.rospecs.discard(rospec_id)
        elif msg_type == frames.CLOSE_CONNECTION:
            self.send(encoders.response(frames.CLOSE_CONNECTION_RESPONSE, msg_id))
            return True
        response = frames.RESPONSES.get(msg_type)
        if response is None:
            self.send(encoders.response(frames.ERROR_MESSAGE, msg_id, frames.STATUS_UNSUPPORTED_MESSAGE,
                                        f"message type {msg_type} not supported by the emulator"))
        else:
            self.send(encoders.response(response, msg_id))
        return False

    def _report_queued(self) -> None:
        r = self.r
        now = r.clock()
        limit = max(1, self.spec.tags_per_report)
        batch: list[Sighting] = []
        with r._lock:
            while r._queue and len(batch) < limit and _due(r._queue[0]) <= now:
                batch.append(r._queue.popleft())
        if not batch:
            return
        sent, reports = [], []
        for s in batch:
            first = r.reader_time(s.first_seen_us if s.first_seen_us is not None else now)
            last = r.reader_time(s.last_seen_us if s.last_seen_us is not None else now)
            reports.append(self._tag(s, first, last))
            sent.append(SentTag(s, first, last, self.number))
        try:
            self.send(encoders.ro_access_report(reports, self.next_id()))
        except OSError:
            with r._lock:
                r._queue.extendleft(reversed(batch))  # the reader keeps what it could not deliver
            raise
        with r._lock:
            r.sent.extend(sent)

    def _tag(self, s: Sighting, first: int, last: int) -> encoders.TagReport:
        c = self.spec.content
        return encoders.TagReport(
            epc=bytes.fromhex(s.epc_hex),
            epc_bits=s.epc_bits,
            rospec_id=self.spec.rospec_id if c.get("ROSpecID") else None,
            antenna_id=s.antenna if c.get("AntennaID") and self.r.quirks.antenna_ids else None,
            peak_rssi=s.peak_rssi if c.get("PeakRSSI") else None,
            channel_index=s.channel_index if c.get("ChannelIndex") else None,
            first_seen_us=first if c.get("FirstSeenTimestamp") else None,
            last_seen_us=last if c.get("LastSeenTimestamp") else None,
            seen_count=s.seen_count if c.get("TagSeenCount") else None,
            extra=s.extra,
        )

    def _flood_once(self) -> None:
        r = self.r
        try:
            body, count = next(r._flood)  # type: ignore[arg-type]
        except StopIteration:
            r._flood = None
            return
        self.send(frames.message(frames.RO_ACCESS_REPORT, body, self.next_id()))
        r.flood_tags_sent += count


def _due(s: Sighting) -> int:
    """A sighting is reported once its last read has happened (in the emulator's clock)."""
    return s.last_seen_us if s.last_seen_us is not None else (s.first_seen_us or 0)


def pack_epc(value: int) -> bytes:
    return struct.pack("!IQ", value >> 64, value & 0xFFFFFFFFFFFFFFFF)


class _Outbox:
    """Stands in for the session's socket: what the reader sends is collected, not written."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.frames.append(data)


class InstantReplies:
    """The emulated reader's answers handed back inside the client's own send, without sockets.

    That is the tightest timing a reader can give: the reply exists before the client's next
    statement runs, so a client that registers a reply's callback after sending misses it every
    time instead of now and then."""

    def __init__(self, reader: ReaderEmulator) -> None:
        self._outbox = _Outbox()
        self._session = _Session(reader, self._outbox, 0)  # type: ignore[arg-type]

    def answer(self, data: bytes) -> list[bytes]:
        """The frames the reader sends back for the client's bytes, in order."""
        self._session._receive(data)
        out, self._outbox.frames = self._outbox.frames, []
        return out
