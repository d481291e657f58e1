"""Keeps one reader connected: connect, watch, reconnect with exponential backoff and jitter.

Each reader has its own supervisor thread and its own sllurp client thread, so a reader that
hangs, refuses or sends garbage only ever delays itself. Tag reports become TagReads and dead
letters on the link's thread and go to the spool (which may block: backpressure).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import structlog
from sllurp.llrp import LLRPReaderState

from tagtrail.config import LlrpSettings, Reader
from tagtrail.events import DeadLetter
from tagtrail.identity import EpcDecoder
from tagtrail.wire import Codec
from tagtrail_ingest.llrp.adapter_metrics import ReaderMetrics
from tagtrail_ingest.llrp.clock import ClockCorrector
from tagtrail_ingest.llrp.read_publisher import TOPIC_DEAD_LETTERS, TOPIC_READS
from tagtrail_ingest.llrp.reader_link import ReaderLink, state_name
from tagtrail_ingest.llrp.spool import Spool, SpoolClosedError
from tagtrail_ingest.llrp.tag_reads import Problem, TagReadMapper

log = structlog.get_logger(__name__)
STAGE = "ingest.llrp"


def backoff_s(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, so a dock of readers
    restarted together does not reconnect in lockstep."""
    ceiling = min(max_s, initial_s * (2 ** attempt))
    return ceiling / 2 + rng.random() * ceiling / 2


def silence_limit_s(reader: Reader, settings: LlrpSettings) -> float:
    """How long without a byte, and without an answer to the probe sent after two thirds of it (see
    liveness), before the link counts as dead: three keepalive periods, but always early enough
    that detection (the probe and the verdict each wait for a 0.25 s check) lands within
    dead_reader_after_s."""
    return max(reader.keepalive_s + 0.5, min(3 * reader.keepalive_s, settings.dead_reader_after_s - 1.0))


class ReaderSession(threading.Thread):
    def __init__(self, reader: Reader, settings: LlrpSettings, spool: Spool, metrics: ReaderMetrics, *,
                 stop: threading.Event, decoder: EpcDecoder, read_codec: Codec, dead_letter_codec: Codec,
                 clock_us: Callable[[], int], publish: Callable[[int], int] | None = None,
                 rng: random.Random | None = None,
                 on_fatal: Callable[[BaseException], None] | None = None) -> None:
        super().__init__(name=f"llrp-{reader.id}", daemon=True)
        self.reader = reader
        self.settings = settings
        self.spool = spool
        self.metrics = metrics
        self.stop = stop
        self.read_codec = read_codec
        self.dead_letter_codec = dead_letter_codec
        self.clock_us = clock_us
        self.rng = rng or random.Random()
        self.on_fatal = on_fatal
        self.publish = publish
        self.clock = ClockCorrector(tolerance_us=int(settings.clock_tolerance_s * 1_000_000))
        self.mapper = TagReadMapper(reader, decoder, self.clock)
        self.link: ReaderLink | None = None
        self.log = log.bind(reader_id=reader.id, host=reader.host, port=reader.port)
        self._was_correcting = False
        self._notices: set[tuple[int, int | None]] = set()  # ERROR_MESSAGE refusals already logged, across this reader's links

    # -- connection lifecycle -------------------------------------------------------------------
    def run(self) -> None:
        attempt = 0
        while not self.stop.is_set():
            link = self._new_link()
            self._set_state("connecting")
            try:
                link.connect()
            except OSError as exc:
                self.metrics.connect_failures += 1
                wait = backoff_s(attempt, self.settings.reconnect_initial_backoff_s,
                                 self.settings.reconnect_max_backoff_s, self.rng)
                self.log.warning("reader_connect_failed", error=str(exc), retry_in_s=round(wait, 2), attempt=attempt + 1)
                self._set_state("disconnected")
                attempt += 1
                self.stop.wait(wait)
                continue
            self.link = link
            self.metrics.connects += 1
            self.log.info("reader_connected")
            probes_before = self.metrics.liveness_probes
            while link.is_alive() and not self.stop.wait(0.1):
                self.metrics.liveness_probes = probes_before + link.liveness.probes
            self.metrics.liveness_probes = probes_before + link.liveness.probes
            if self.stop.is_set():
                link.close()
                link.join(5.0)
                self._set_state("disconnected")
                break
            self.metrics.disconnects += 1
            if link.end_reason.startswith("silent"):
                self.metrics.silent_disconnects += 1
            attempt = 0 if link.inventoried else attempt + 1
            wait = backoff_s(attempt, self.settings.reconnect_initial_backoff_s,
                             self.settings.reconnect_max_backoff_s, self.rng)
            self.log.warning("reader_link_lost", reason=link.end_reason, reconnect_in_s=round(wait, 2))
            self._set_state("disconnected")
            self.clock.reset()
            self.stop.wait(wait)

    def _new_link(self) -> ReaderLink:
        link = ReaderLink(self.reader, silence_s=silence_limit_s(self.reader, self.settings),
                          on_bad_frame=self._bad_frame, notices=self._notices)
        link.add_tag_report_callback(self._on_tags)
        link.add_event_callback(self._on_event)
        for _name, state in LLRPReaderState.getStates():
            link.add_state_callback(state, self._on_state)
        return link

    def _on_state(self, _link: ReaderLink, state: int) -> None:
        self._set_state(state_name(state))

    def _set_state(self, state: str) -> None:
        if state != self.metrics.state:
            self.log.info("reader_state", state=state, previous=self.metrics.state)
            self.metrics.set_state(state)

    # -- reports ----------------------------------------------------------------------------------
    def _on_event(self, _link: ReaderLink, event: dict) -> None:
        """A reader event's UTCTimestamp is the reader's clock read just now (no report buffering
        delay), the best single measurement of its offset; sent first thing on every connect."""
        stamp = event.get("UTCTimestamp")
        if isinstance(stamp, dict) and "Microseconds" in stamp:
            self.mapper.last_verdict = self.clock.observe(stamp["Microseconds"], self.clock_us())
            self._note_clock()

    def _on_tags(self, link: ReaderLink, tags: list[dict]) -> None:
        """On the link's thread; sllurp would swallow an exception here, so none may escape."""
        try:
            received = self.clock_us()
            reads, problems = self.mapper.map_report(tags, received)
            self._note_clock()
            records = [(TOPIC_READS, r.identity.item_key.encode(), self.read_codec.encode(r)) for r in reads]
            for p in problems:
                records.append(self._dead_letter_record(link.current_frame, p))
            self.spool.append(records, stop=self.stop)
            self.metrics.reports += 1
            self.metrics.reads += len(reads)
            if self.publish is not None:
                self.publish(2 * len(records) + 100)  # this thread sends its share (and some backlog)
        except SpoolClosedError:
            self.log.warning("tag_report_after_shutdown", tags=len(tags))
        except Exception as exc:
            self.log.exception("tag_report_failed")
            if self.on_fatal is not None:
                self.on_fatal(exc)

    def _note_clock(self) -> None:
        verdict = self.mapper.last_verdict
        if verdict is None:
            return
        self.metrics.clock_offset_us = verdict.offset_us
        self.metrics.clock_unset = verdict.unset
        if verdict.correcting != self._was_correcting:
            self._was_correcting = verdict.correcting
            if verdict.correcting:
                self.log.warning("reader_clock_corrected", offset_us=verdict.offset_us, unset=verdict.unset)
            else:
                self.log.info("reader_clock_trusted_again")

    def _dead_letter_record(self, payload: bytes, problem: Problem) -> tuple[int, bytes, bytes]:
        self.metrics.dead_letter(problem.reason)
        self.log.warning("llrp_dead_letter", reason=problem.reason, error=problem.error)
        letter = DeadLetter(source=self.reader.id, stage=STAGE, reason=problem.reason, error=problem.error,
                            payload=payload, occurred_at=self.clock_us(),
                            context={"reader_id": self.reader.id, "host": self.reader.host, **problem.context})
        return TOPIC_DEAD_LETTERS, self.reader.id.encode(), self.dead_letter_codec.encode(letter)

    def _bad_frame(self, raw: bytes, reason: str, error: str) -> None:
        try:
            record = self._dead_letter_record(raw, Problem(reason, f"reader {self.reader.id}: {error}",
                                                           {"frame_bytes": str(len(raw))}))
            self.spool.append([record], stop=self.stop)
        except SpoolClosedError:
            self.log.warning("dead_letter_after_shutdown", reason=reason, error=error)
        except Exception as exc:
            self.log.exception("dead_letter_failed")
            if self.on_fatal is not None:
                self.on_fatal(exc)

