"""One reader's LLRP link: sllurp's LLRPReaderClient with framing and liveness we control.

sllurp 3.0.5 reads its socket with a blocking select (a hung reader is never noticed), stops
decoding a whole chunk at the first bad frame (losing the good frames after it), and lets
struct errors from a malformed body kill its thread silently. This subclass keeps sllurp's
LLRP state machine and decoder but owns the receive loop: it splits frames by their header
length itself, hands each bad frame's raw bytes to `on_bad_frame`, probes a quiet reader and
declares the link dead only when the probe goes unanswered too (liveness), matches answers to
requests by message id (request_book), and always reports the end of the link once. Every LLRP
exchange, the polite stop included, runs on the link's own thread, so no reply can race the
registration of its callback. Tag reports in the usual layouts are decoded by report_decoder (same
message, several times cheaper); the rest is checked by report_structure and decoded by sllurp.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from socket import SHUT_RDWR

import structlog
from sllurp.llrp import LLRP_MSG_ID_MAX, LLRPMessage, LLRPReaderClient, LLRPReaderConfig, LLRPReaderState
from sllurp.llrp_errors import ReaderConfigurationError
from sllurp.llrp_proto import LLRPError, get_message_name_from_type

from tagtrail.config import Reader
from tagtrail_ingest.llrp import frames, reasons
from tagtrail_ingest.llrp.epc_data import keep_epc_bit_length
from tagtrail_ingest.llrp.liveness import Liveness, Verdict
from tagtrail_ingest.llrp.ordered_client import OrderedLLRPClient
from tagtrail_ingest.llrp.report_decoder import ReportDecoder
from tagtrail_ingest.llrp.report_structure import check_report
from tagtrail_ingest.llrp.request_book import Answer, Match, RequestBook
from tagtrail_ingest.llrp.tag_reads import UNKNOWN_PARAMETERS

log = structlog.get_logger(__name__)

BadFrameHandler = Callable[[bytes, str, str], None]  # (raw bytes, reason code, error text)

# tag report content the adapter always asks for (the field list)
TAG_CONTENT = {
    "EnableROSpecID": False,
    "EnableSpecIndex": False,
    "EnableInventoryParameterSpecID": False,
    "EnableAntennaID": True,
    "EnableChannelIndex": True,
    "EnablePeakRSSI": True,
    "EnableFirstSeenTimestamp": True,
    "EnableLastSeenTimestamp": True,
    "EnableTagSeenCount": True,
    "EnableAccessSpecID": False,
}
IMPINJ_SEARCH_MODES = {"single_target": 1, "dual_target": 2, "single_target_with_suppression": 3}
REPORT_EVERY_MS_ONLY = 65535  # LLRP's UponNTags needs an N: the largest means "on the timeout"


def reader_config(reader: Reader) -> LLRPReaderConfig:
    """sllurp settings from the site's reader entry."""
    antennas = [a.port for a in reader.antennas]
    powers = {a.port: a.tx_power_dbm if a.tx_power_dbm is not None else reader.tx_power_dbm for a in reader.antennas}
    config = {
        "antennas": antennas,
        "tx_power": 0,  # 0: the reader's maximum, unless a dBm value is set below
        "session": reader.session,
        "report_every_n_tags": reader.report_every_n_tags or REPORT_EVERY_MS_ONLY,
        "report_timeout_ms": reader.report_every_ms,
        "tag_content_selector": dict(TAG_CONTENT),
        "keepalive_interval": int(reader.keepalive_s * 1000),
        "reconnect": False,  # the supervisor reconnects, with backoff and jitter
        "start_inventory": True,
        "reset_on_connect": True,
    }
    if all(p is not None for p in powers.values()):
        config["tx_power_dbm"] = {port: float(p) for port, p in powers.items()}
    if reader.impinj_extensions:
        config["impinj_search_mode"] = IMPINJ_SEARCH_MODES[reader.search_mode]
    return LLRPReaderConfig(config)


def state_name(state: int) -> str:
    return LLRPReaderState.getStateName(state).removeprefix("STATE_").lower()


class ReaderLink(LLRPReaderClient):
    def __init__(self, reader: Reader, *, silence_s: float, on_bad_frame: BadFrameHandler,
                 connect_timeout_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 notices: set[tuple[int, int | None]] | None = None) -> None:
        keep_epc_bit_length()  # before any tag report is decoded (see epc_data)
        super().__init__(reader.host, reader.port, reader_config(reader), timeout=connect_timeout_s)
        # sllurp builds its LLRPClient in there; giving that instance the ordered stop sequence (a
        # subclass that only overrides methods) keeps one client, and its settings logged once
        self.llrp.__class__ = OrderedLLRPClient
        self.reader = reader
        self.silence_s = silence_s
        self.on_bad_frame = on_bad_frame
        self.clock = clock
        self.current_frame = b""  # the raw frame whose callbacks are running (for dead letters)
        self.end_reason = ""
        self.inventoried = False
        self.politely_stopped = False  # the reader confirmed DELETE_ROSPEC on the adapter's stop
        self.probes_answered = 0
        self.liveness = Liveness(silence_s)
        self.requests = RequestBook()
        # (request type, status) refusals already logged; the session passes one set for all its links
        self.notices = notices if notices is not None else set()
        self._buffer = bytearray()
        self._reports = ReportDecoder()  # the common tag reports without sllurp's per-field decoding
        self._framing_broken = False
        self._socket_lock = threading.Lock()
        self._close_requested = threading.Event()
        self._closing = False
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    # -- receive loop (replaces sllurp's) ---------------------------------------------------------
    def main_loop(self) -> None:
        """The link's thread: every LLRP exchange (setup, probes, the polite stop) happens here."""
        sock = self._socket
        self._wake_r, self._wake_w = socket.socketpair()
        self.liveness.heard(self.clock())
        try:
            while not self._stop_main_loop.is_set() and sock is not None:
                readable, _, _ = select.select([sock, self._wake_r], [], [], 0.25)
                if self._wake_r in readable:
                    self._wake_r.recv(64)
                if self._close_requested.is_set() and not self._closing:
                    self._stop_politely()
                if sock in readable:
                    data = sock.recv(262144)
                    if not data:
                        self.end_reason = "closed by the reader"
                        break
                    self.liveness.heard(self.clock())
                    self.raw_data_received(data)
                    self.liveness.heard(self.clock())  # time blocked on backpressure is not reader silence
                    if self._framing_broken:
                        self.end_reason = "broken framing"
                        break
                    continue
                now = self.clock()
                verdict = self.liveness.check(now)
                if verdict is Verdict.PROBE:
                    self._send_probe(now)
                elif verdict is Verdict.DEAD:
                    self.end_reason = self.liveness.dead_reason(now)
                    break
        except (OSError, ValueError) as exc:
            if not self._stop_main_loop.is_set():
                self.end_reason = f"socket error: {exc}"
        except ReaderConfigurationError as exc:
            self.end_reason = f"reader configuration error: {exc}"
        except Exception as exc:  # never let reader input kill the adapter silently
            log.exception("llrp_link_error", reader_id=self.reader.id)
            self.end_reason = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            if self._buffer and not self._stop_main_loop.is_set():
                self._leftovers(bytes(self._buffer))
            self._buffer.clear()
            if not self.end_reason:
                self.end_reason = "disconnected by the adapter"
            self.llrp.setState(LLRPReaderState.STATE_DISCONNECTED)
            self.hard_disconnect()
            for s in (self._wake_r, self._wake_w):
                s.close()
            self._socket_thread = None

    def _leftovers(self, data: bytes) -> None:
        """What the buffer still holds when the link ends: whole frames behind the message that
        ended it (reports among them are dead-lettered: their reads are in the payload), then
        possibly the start of a frame the link ended inside."""
        pos = 0
        while len(data) - pos >= frames.HEADER_LEN:
            length = frames.HEADER.unpack_from(data, pos)[1]
            if length < frames.HEADER_LEN or len(data) - pos < length:
                break
            frame = data[pos:pos + length]
            if frames.message_type(frame) == frames.RO_ACCESS_REPORT:
                self.on_bad_frame(frame, reasons.UNHANDLED_REPORT,
                                  f"RO_ACCESS_REPORT (id {frames.message_id(frame)}) arrived whole but the link ended "
                                  f"before it was handled: {self.end_reason}")
            else:
                log.warning("llrp_frame_not_handled", reader_id=self.reader.id, message_type=frames.message_type(frame),
                            reason=self.end_reason)
            pos += length
        if pos < len(data):
            self.on_bad_frame(data[pos:], reasons.TRUNCATED_FRAME,
                              f"link ended inside a frame ({len(data) - pos} bytes of it received)")

    def raw_data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        pos = 0
        try:
            while len(buf) - pos >= frames.HEADER_LEN:
                if self._stop_main_loop.is_set():
                    log.warning("llrp_unread_bytes_discarded", reader_id=self.reader.id, bytes=len(buf) - pos)
                    buf.clear()
                    return
                try:
                    _version, _type, length, _id = frames.parse_header(buf[pos:pos + frames.HEADER_LEN])
                except frames.FrameError as exc:
                    # Without a trustworthy length there is no next frame to find: resynchronise by reconnecting.
                    self.on_bad_frame(bytes(buf[pos:]), reasons.BROKEN_FRAMING, str(exc))
                    self._framing_broken = True
                    buf.clear()
                    return
                if len(buf) - pos < length:
                    break
                frame = bytes(buf[pos:pos + length])
                pos += length  # consumed even if handling it ends the link: it is not left over
                self._handle_frame(frame)
        finally:
            del buf[:pos]

    def _handle_frame(self, frame: bytes) -> None:
        match = self.requests.received(frame) if len(frame) >= frames.HEADER_LEN else Match(Answer.OTHER)
        if match.answer is Answer.PROBE:
            self.probes_answered += 1
            return
        if match.answer in (Answer.REFUSED_OPTIONAL, Answer.STRAY_ERROR):
            self._note_refusal(frame, match)
            return
        if match.answer is Answer.REFUSED_REQUEST:
            lmsg = self._refusal_as_response(frame, match.request_type)
        else:
            lmsg = self._decoded_or_dead_lettered(frame)
        if lmsg is None:
            return
        self.current_frame = frame
        body = lmsg.msgdict.get(lmsg.getName(), {})
        if lmsg.getName() == "RO_ACCESS_REPORT" and body.get(UNKNOWN_PARAMETERS):
            types = ", ".join(str(u.get("Type")) for u in body[UNKNOWN_PARAMETERS])
            self.on_bad_frame(frame, reasons.UNKNOWN_PARAMETER,
                              f"RO_ACCESS_REPORT carries parameter type(s) {types} outside any TagReportData; tags kept")
        try:
            self._on_llrp_message_received(lmsg)
            self.llrp.handleMessage(lmsg)
        except ReaderConfigurationError as exc:
            raise ReaderConfigurationError(f"{exc} (on {lmsg.getName()}, message id {frames.message_id(frame)})") from exc
        except (LLRPError, KeyError, ValueError, TypeError, IndexError) as exc:
            self.on_bad_frame(frame, reasons.UNEXPECTED_MESSAGE, f"{lmsg.getName()}: {type(exc).__name__}: {exc}")
        finally:
            self.current_frame = b""
        if self.llrp.state == LLRPReaderState.STATE_INVENTORYING:
            self.inventoried = True

    def _decoded_or_dead_lettered(self, frame: bytes) -> LLRPMessage | None:
        try:
            return self._decode(frame)
        except (LLRPError, struct.error, KeyError, ValueError, IndexError, TypeError) as exc:
            self.on_bad_frame(frame, reasons.MALFORMED_FRAME, f"cannot decode LLRP message: {type(exc).__name__}: {exc}")
            return None

    def _decode(self, frame: bytes) -> LLRPMessage | None:
        """The message, or None when nothing in it is left to decode (its problems already reported)."""
        lmsg = self._reports.decode(frame)
        if lmsg is not None:
            return lmsg
        if frames.message_type(frame) != frames.RO_ACCESS_REPORT:
            return LLRPMessage(msgbytes=frame)
        checked = check_report(frame)
        for entry in checked.broken:
            self.on_bad_frame(frame, reasons.MALFORMED_FRAME, entry.error)
        if checked.broken and not checked.entries:
            return None
        return LLRPMessage(msgbytes=checked.frame)

    # -- answers matched by message id ------------------------------------------------------------
    def _note_refusal(self, frame: bytes, match: Match) -> None:
        """An ERROR_MESSAGE that answers nothing sllurp waits for: logged (once per kind), not fatal."""
        code, text = frames.llrp_status(frame)
        key = (match.request_type or frames.ERROR_MESSAGE, code)
        if key in self.notices:
            return
        self.notices.add(key)
        if match.answer is Answer.REFUSED_OPTIONAL:
            log.warning("llrp_optional_message_refused", reader_id=self.reader.id,
                        message=message_name(match.request_type), status=code, error=text,
                        note="LLRP defines no response to it; setup goes on (logged once)")
        else:
            log.warning("llrp_error_message", reader_id=self.reader.id, message_id=frames.message_id(frame),
                        status=code, error=text, note="it names no request this link sent (logged once)")

    def _refusal_as_response(self, frame: bytes, request_type: int | None) -> LLRPMessage:
        """An ERROR_MESSAGE in place of a request's response, as that response failing, so sllurp's
        state machine fails the step it waits for (with the reader's status) instead of the next one."""
        code, text = frames.llrp_status(frame)
        log.warning("llrp_request_refused", reader_id=self.reader.id, message=message_name(request_type),
                    status=code, error=text)
        if request_type not in frames.RESPONSES:  # a custom request (Impinj's extensions): no response to fail
            raise ReaderConfigurationError(f"the reader refused {message_name(request_type)} (message id "
                                           f"{frames.message_id(frame)}) with ERROR_MESSAGE status {code}: {text}")
        name = message_name(frames.RESPONSES[request_type])
        status = {"StatusCode": f"ERROR_MESSAGE status {code}", "ErrorDescription": text}
        lmsg = LLRPMessage(msgdict={name: {"LLRPStatus": status, "Ver": frames.VERSION,
                                           "Type": frames.RESPONSES[request_type],  # type: ignore[index]
                                           "ID": frames.message_id(frame)}}, msgbytes=frame)
        lmsg.msgname = name
        return lmsg

    def _send_probe(self, now: float) -> None:
        llrp = self.llrp
        llrp.last_msg_id = llrp.last_msg_id + 1 if llrp.last_msg_id < LLRP_MSG_ID_MAX else 1
        self.requests.probe_sent(llrp.last_msg_id)
        self.liveness.probed(now)
        self.send_data(frames.get_reader_config(llrp.last_msg_id))

    # -- sending and closing ----------------------------------------------------------------------
    def send_data(self, data: bytes) -> None:
        sock = self._socket  # read once: another thread may close the link meanwhile
        if sock is None:
            raise ReaderConfigurationError("Not connected")
        self.requests.sent(data)
        sock.sendall(data)

    def hard_disconnect(self) -> None:
        """Stops the link thread and closes the socket, from any thread, any number of times.

        sllurp's version tests `self._socket` and then closes it: a second thread clearing it in
        between made SIGTERM print `AttributeError: 'NoneType' object has no attribute 'close'`."""
        self._stop_main_loop.set()
        with self._socket_lock:
            sock, self._socket = self._socket, None
        if sock is None:
            return
        try:
            sock.shutdown(SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _stop_politely(self) -> None:
        """On the link's thread: delete the AccessSpecs and ROSpecs, then end the loop."""
        self._closing = True
        self.disconnect_requested.set()

        def stopped(_state: int, is_success: bool, *_args: object) -> None:
            self.politely_stopped = bool(is_success)
            self._stop_main_loop.set()

        self.llrp.stopPolitely(onCompletion=stopped, disconnect=True)

    def close(self, timeout_s: float = 2.0) -> None:
        """Politely (the link's thread deletes the ROSpec, then closes) if the link is up; hard after the timeout."""
        if self.is_alive():
            self._close_requested.set()
            wake = self._wake_w
            if wake is not None:
                try:
                    wake.send(b"x")
                except OSError:
                    pass
            self.join(timeout_s)
        self.hard_disconnect()
        self.join(timeout_s)


def message_name(msg_type: int | None) -> str:
    try:
        return get_message_name_from_type(msg_type)
    except KeyError:
        return f"message type {msg_type}"
