"""A bounded write-ahead log on disk between the reader links and Kafka.

Every record (a TagRead or DeadLetter, already encoded, with its topic and key) is appended
here first and removed only after Kafka confirmed it, so a Kafka outage just makes the spool
grow, and an adapter restart re-sends what was not confirmed (same event ids, so a re-sent
read is recognisable). When the spool reaches its size limit `append` blocks: the reader
links stop reading their sockets, TCP pushes back to the readers, and nothing is discarded.

Layout: numbered segment files of length-prefixed, CRC-checked records. A segment is deleted
once it is sealed, read to the end and every record read from it is confirmed.

The records of the latest appends are also kept in memory (up to `memory_tail_bytes`): while the
publisher keeps up, `read` hands those out instead of reading back and re-checking what this
process has just written (a share of the adapter's CPU worth saving; see docs/benchmarks.md). The
file is written exactly the same either way; a publisher that falls behind the memory tail reads
from the file.
"""

from __future__ import annotations

import fcntl
import struct
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

RECORD = struct.Struct("!IIBH")  # length of key+value, crc32 of topic byte+key+value, topic code, key length
SUFFIX = ".spool"
CHUNK_BYTES = 1024 * 1024


class SpoolLockedError(RuntimeError):
    """Another adapter process owns this spool directory."""


class SpoolClosedError(RuntimeError):
    """Appending after close: only happens if a reader thread outlived the adapter's shutdown."""


Entry = tuple[int, int, bytes, bytes]  # (segment, topic code, key, value): a tuple, as this is the hot path


@dataclass
class _Segment:
    seq: int
    path: Path
    size: int
    sealed: bool
    created: float
    read_offset: int = 0
    outstanding: int = 0


class Spool:
    def __init__(self, directory: Path, max_bytes: int, *, segment_bytes: int = 4 * 1024 * 1024,
                 roll_after_s: float = 1.0, memory_tail_bytes: int = 8 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = max(4096, min(segment_bytes, max_bytes // 8))
        self.roll_after_s = roll_after_s
        self._lock_file = open(self.directory / ".lock", "w")  # noqa: SIM115 - held for the spool's life
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock_file.close()
            raise SpoolLockedError(f"spool directory {self.directory} is in use by another adapter process") from exc
        self._cond = threading.Condition()
        self._segments: list[_Segment] = []
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            self._segments.append(_Segment(int(path.stem), path, path.stat().st_size, True, time.monotonic()))
        recovered = sum(s.size for s in self._segments)
        if recovered:
            log.info("spool_recovered", directory=str(self.directory), segments=len(self._segments), bytes=recovered)
        self._next_seq = (self._segments[-1].seq + 1) if self._segments else 1
        self._writer = None
        self._open_active()
        self._readers: dict[int, object] = {}
        self.memory_tail_bytes = memory_tail_bytes
        self._tail: deque[tuple[int, int, int, list[Entry]]] = deque()  # (segment, start, end, entries)
        self._tail_bytes = 0
        self.blocked_since: float | None = None
        self.appended = 0

    # -- writing ----------------------------------------------------------------------------------
    def _open_active(self) -> None:
        seq = self._next_seq
        self._next_seq += 1
        path = self.directory / f"{seq:012d}{SUFFIX}"
        self._writer = open(path, "ab")  # noqa: SIM115
        self._segments.append(_Segment(seq, path, 0, False, time.monotonic()))

    def _seal_active(self) -> None:
        self._writer.close()
        self._segments[-1].sealed = True
        self._open_active()

    @property
    def bytes_used(self) -> int:
        return sum(s.size for s in self._segments)

    def append(self, records: list[tuple[int, bytes, bytes]], *, stop: threading.Event | None = None,
               force: bool = False) -> None:
        """Appends (topic code, key, value) records; blocks while the spool is full unless forced or stopping."""
        if not records:
            return
        chunks = []
        for topic, key, value in records:
            body = key + value
            chunks.append(RECORD.pack(len(body), zlib.crc32(value, zlib.crc32(key, topic)), topic, len(key)))
            chunks.append(body)
        data = b"".join(chunks)
        with self._cond:
            if self._writer.closed:
                raise SpoolClosedError(f"spool {self.directory} is closed; {len(records)} records not appended")
            while not force and self.bytes_used + len(data) > self.max_bytes and self.bytes_used > 0:
                if stop is not None and stop.is_set():
                    break  # shutting down: keep these few over the limit rather than lose them
                if self.blocked_since is None:
                    self.blocked_since = time.monotonic()
                    log.warning("spool_full_backpressure", directory=str(self.directory), bytes=self.bytes_used,
                                max_bytes=self.max_bytes)
                self._cond.wait(0.25)
            if self.blocked_since is not None:
                log.info("spool_backpressure_released", waited_s=round(time.monotonic() - self.blocked_since, 3))
                self.blocked_since = None
            self._writer.write(data)
            self._writer.flush()
            active = self._segments[-1]
            self._remember(active, len(data), records)
            active.size += len(data)
            self.appended += len(records)
            if active.size >= self.segment_bytes:
                self._seal_active()
            self._cond.notify_all()

    def _remember(self, active: _Segment, size: int, records: list[tuple[int, bytes, bytes]]) -> None:
        """Keeps just-appended records in memory for `read`, dropping the oldest beyond the limit."""
        if size > self.memory_tail_bytes:
            return
        seq = active.seq
        self._tail.append((seq, active.size, active.size + size, [(seq, t, k, v) for t, k, v in records]))
        self._tail_bytes += size
        while self._tail_bytes > self.memory_tail_bytes:
            _seq, start, end, _entries = self._tail.popleft()
            self._tail_bytes -= end - start

    def _read_tail(self, seg: _Segment, limit: int) -> list[Entry] | None:
        """The records at seg's read offset from memory, whole appends only; None: read the file."""
        tail = self._tail
        while tail and (tail[0][0] < seg.seq or (tail[0][0] == seg.seq and tail[0][1] < seg.read_offset)):
            _seq, start, end, _entries = tail.popleft()  # already read from the file
            self._tail_bytes -= end - start
        out: list[Entry] = []
        while tail and tail[0][0] == seg.seq and tail[0][1] == seg.read_offset and len(out) + len(tail[0][3]) <= limit:
            _seq, start, end, entries = tail.popleft()
            self._tail_bytes -= end - start
            out.extend(entries)
            seg.read_offset = end
        return out or None

    # -- reading and confirming -------------------------------------------------------------------------
    def read(self, max_records: int) -> list[Entry]:
        """Up to max_records records not yet handed out, oldest first."""
        out: list[Entry] = []
        with self._cond:
            self._roll_idle_active()
            for seg in list(self._segments):
                if len(out) >= max_records:
                    break
                if seg.read_offset >= seg.size:
                    continue
                got = self._read_segment(seg, max_records - len(out))
                out.extend(got)
                seg.outstanding += len(got)
                self._maybe_delete(seg)
                if seg.read_offset < seg.size:
                    break  # the rest of this segment goes out before any later one
        return out

    def _read_segment(self, seg: _Segment, limit: int) -> list[Entry]:
        remembered = self._read_tail(seg, limit)
        if remembered is not None:
            return remembered
        handle = self._readers.get(seg.seq)
        if handle is None:
            handle = self._readers[seg.seq] = open(seg.path, "rb")  # noqa: SIM115
        remaining = seg.size - seg.read_offset
        handle.seek(seg.read_offset)
        data = handle.read(min(remaining, CHUNK_BYTES))
        pos, out = 0, []
        while len(out) < limit:
            if pos + RECORD.size > len(data):
                if pos < len(data) and len(data) == remaining:
                    self._skip_corrupt(seg, pos, "truncated record header")
                    return out
                break
            length, crc, topic, key_len = RECORD.unpack_from(data, pos)
            start = pos + RECORD.size
            end = start + length
            if end > len(data):
                if seg.read_offset + end > seg.size:
                    self._skip_corrupt(seg, pos, "truncated record")
                    return out
                if pos == 0:  # one record larger than a chunk: read it whole
                    handle.seek(seg.read_offset)
                    data = handle.read(end)
                    continue
                break
            key, value = data[start:start + key_len], data[start + key_len:end]
            if zlib.crc32(value, zlib.crc32(key, topic)) != crc:
                self._skip_corrupt(seg, pos, "checksum mismatch")
                return out
            out.append((seg.seq, topic, key, value))
            pos = end
        seg.read_offset += pos
        return out

    def _skip_corrupt(self, seg: _Segment, pos: int, why: str) -> None:
        """Only a crash mid-write leaves this (at a segment's end): log loudly, skip the rest of it."""
        log.error("spool_corrupt_tail", segment=str(seg.path), offset=seg.read_offset + pos, reason=why,
                  skipped_bytes=seg.size - seg.read_offset - pos)
        seg.read_offset = seg.size

    def confirm(self, segment: int, count: int = 1) -> None:
        with self._cond:
            for seg in self._segments:
                if seg.seq == segment:
                    seg.outstanding -= count
                    self._maybe_delete(seg)
                    break

    def _maybe_delete(self, seg: _Segment) -> None:
        if seg.sealed and seg.outstanding <= 0 and seg.read_offset >= seg.size:
            handle = self._readers.pop(seg.seq, None)
            if handle is not None:
                handle.close()
            seg.path.unlink(missing_ok=True)
            self._segments.remove(seg)
            self._cond.notify_all()

    def _roll_idle_active(self) -> None:
        """Seal a fully delivered active segment after a while, so a restart re-sends little."""
        active = self._segments[-1]
        if active.size and active.outstanding == 0 and active.read_offset >= active.size \
                and time.monotonic() - active.created > self.roll_after_s:
            self._seal_active()
            self._maybe_delete(active)

    def unread_bytes(self) -> int:
        with self._cond:
            return sum(s.size - s.read_offset for s in self._segments)

    def close(self) -> None:
        with self._cond:
            self._writer.close()
            for handle in self._readers.values():
                handle.close()
            self._readers.clear()
            self._tail.clear()
            self._tail_bytes = 0
            active = self._segments[-1]
            if active.size == 0:
                active.path.unlink(missing_ok=True)
        self._lock_file.close()
