"""One reader's LLRP link: sllurp's LLRPReaderClient with framing and liveness we control.

sllurp 3.0.5 reads its socket with a blocking select (a hung reader is never noticed), stops
decoding a whole chunk at the first bad frame (losing the good frames after it), and lets
struct errors from a malformed body kill its thread silently. This subclass keeps sllurp's
LLRP state machine and decoder but owns the receive loop: it splits frames by their header
length itself, hands each bad frame's raw bytes to `on_bad_frame`, declares the link dead
after `silence_s` without a byte, and always reports the end of the link once. Tag reports in
the usual layouts are decoded by report_decoder (same message, ~6x cheaper); sllurp decodes the rest.
"""

from __future__ import annotations

import select
import struct
import time
from collections.abc import Callable

import structlog
from sllurp.llrp import LLRPMessage, LLRPReaderClient, LLRPReaderConfig, LLRPReaderState
from sllurp.llrp_errors import ReaderConfigurationError
from sllurp.llrp_proto import LLRPError
from tagtrail.ingest.llrp import frames
from tagtrail.ingest.llrp.epc_data import keep_epc_bit_length
from tagtrail.ingest.llrp.report_decoder import ReportDecoder
from tagtrail.ingest.llrp.tag_reads import UNKNOWN_PARAMETERS

from tagtrail.config import Reader

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
                 connect_timeout_s: float = 5.0) -> None:
        keep_epc_bit_length()  # before any tag report is decoded (see epc_data)
        super().__init__(reader.host, reader.port, reader_config(reader), timeout=connect_timeout_s)
        self.reader = reader
        self.silence_s = silence_s
        self.on_bad_frame = on_bad_frame
        self.current_frame = b""  # the raw frame whose callbacks are running (for dead letters)
        self.end_reason = ""
        self.inventoried = False
        self._buffer = bytearray()
        self._reports = ReportDecoder()  # the common tag reports without sllurp's per-field decoding
        self._framing_broken = False
        self._last_rx = time.monotonic()

    # -- receive loop (replaces sllurp's) ---------------------------------------------------------
    def main_loop(self) -> None:
        sock = self._socket
        self._last_rx = time.monotonic()
        try:
            while not self._stop_main_loop.is_set() and sock is not None:
                readable, _, _ = select.select([sock], [], [], 0.25)
                if not readable:
                    silent = time.monotonic() - self._last_rx
                    if silent > self.silence_s:
                        self.end_reason = f"silent for {silent:.1f} s (no keepalive or report)"
                        break
                    continue
                data = sock.recv(262144)
                if not data:
                    self.end_reason = "closed by the reader"
                    break
                self._last_rx = time.monotonic()
                self.raw_data_received(data)
                self._last_rx = time.monotonic()  # time blocked on backpressure is not reader silence
                if self._framing_broken:
                    self.end_reason = "broken framing"
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
                self.on_bad_frame(bytes(self._buffer), "truncated_frame",
                                  f"link ended inside a frame ({len(self._buffer)} bytes of it received)")
            self._buffer.clear()
            if not self.end_reason:
                self.end_reason = "disconnected by the adapter"
            self.llrp.setState(LLRPReaderState.STATE_DISCONNECTED)
            self.hard_disconnect()
            self._socket_thread = None

    def raw_data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        pos = 0
        while len(buf) - pos >= frames.HEADER_LEN:
            if self._stop_main_loop.is_set():
                log.warning("llrp_unread_bytes_discarded", reader_id=self.reader.id, bytes=len(buf) - pos)
                buf.clear()
                return
            try:
                _version, _type, length, _id = frames.parse_header(buf[pos:pos + frames.HEADER_LEN])
            except frames.FrameError as exc:
                # Without a trustworthy length there is no next frame to find: resynchronise by reconnecting.
                self.on_bad_frame(bytes(buf[pos:]), "broken_framing", str(exc))
                self._framing_broken = True
                buf.clear()
                return
            if len(buf) - pos < length:
                break
            self._handle_frame(bytes(buf[pos:pos + length]))
            pos += length
        del buf[:pos]

    def _handle_frame(self, frame: bytes) -> None:
        try:
            lmsg = self._reports.decode(frame)
            if lmsg is None:  # not a tag report in a layout the fast decoder knows: sllurp decodes it
                lmsg = LLRPMessage(msgbytes=frame)
        except (LLRPError, struct.error, KeyError, ValueError, IndexError, TypeError) as exc:
            self.on_bad_frame(frame, "malformed_frame", f"cannot decode LLRP message: {type(exc).__name__}: {exc}")
            return
        self.current_frame = frame
        body = lmsg.msgdict.get(lmsg.getName(), {})
        if lmsg.getName() == "RO_ACCESS_REPORT" and body.get(UNKNOWN_PARAMETERS):
            types = ", ".join(str(u.get("Type")) for u in body[UNKNOWN_PARAMETERS])
            self.on_bad_frame(frame, "unknown_parameter",
                              f"RO_ACCESS_REPORT carries parameter type(s) {types} outside any TagReportData; tags kept")
        try:
            self._on_llrp_message_received(lmsg)
            self.llrp.handleMessage(lmsg)
        except ReaderConfigurationError:
            raise
        except (LLRPError, KeyError, ValueError, TypeError, IndexError) as exc:
            self.on_bad_frame(frame, "unexpected_message", f"{lmsg.getName()}: {type(exc).__name__}: {exc}")
        finally:
            self.current_frame = b""
        if self.llrp.state == LLRPReaderState.STATE_INVENTORYING:
            self.inventoried = True

    def close(self, timeout_s: float = 2.0) -> None:
        """Politely (delete the ROSpec, then close) if the link is up; hard after the timeout."""
        if self._socket_thread is not None and self._socket is not None:
            try:
                self.disconnect(timeout=timeout_s)
            except (OSError, ReaderConfigurationError):
                pass
        self.hard_disconnect()
        self.join(timeout_s)
