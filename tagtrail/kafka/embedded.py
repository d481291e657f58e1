"""librdkafka's mock cluster, hosted in process, for `tagtrail demo` and first runs.

It speaks the real Kafka protocol on 127.0.0.1 (transactions included), so the same exactly-once
code runs on it as in production. It is NOT durable: everything is gone when the process exits,
and each partition keeps only about 5 MiB, silently dropping older data. Its `CapacityGuard` stops
producers before that limit so nothing is lost unnoticed (`producer.GuardedProducer` charges it).

Hosted through the C API (ctypes) rather than `test.mock.num.brokers`, because only the C API can
create topics up front with as many partitions as needed (the Admin API is unsupported there).
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading

import confluent_kafka

from tagtrail.kafka.client_log import LibrdkafkaLog

# librdkafka's mock partition keeps 5 MiB (rdkafka_mock.c); leave room for batch overheads.
PARTITION_CAPACITY_BYTES = 5 * 1024 * 1024
SAFE_FRACTION = 0.8
RECORD_OVERHEAD_BYTES = 70  # what the mock partition keeps per record besides its key and value


class EmbeddedCapacityError(RuntimeError):
    """Raised before a produce would push a mock partition past what it keeps."""


# syslog levels, as librdkafka gives them, to Python's (confluent-kafka's own mapping)
_SYSLOG_TO_LOGGING = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.ERROR,
                      4: logging.WARNING, 5: logging.INFO, 6: logging.INFO, 7: logging.DEBUG}
# void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
_LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p)


def _librdkafka() -> ctypes.CDLL:
    folder = os.path.join(os.path.dirname(confluent_kafka.__file__), os.pardir, "confluent_kafka.libs")
    candidates = sorted(glob.glob(os.path.join(folder, "librdkafka*.so*")))
    if not candidates:
        raise RuntimeError(
            "the embedded Kafka needs the librdkafka bundled in the confluent-kafka wheel; "
            "set kafka.bootstrap_servers to use a real broker instead"
        )
    lib = ctypes.CDLL(candidates[0])
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_conf_set.restype = ctypes.c_int
    lib.rd_kafka_conf_set_log_cb.argtypes = [ctypes.c_void_p, _LOG_CB]
    lib.rd_kafka_conf_set_log_cb.restype = None
    lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
    lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_cluster_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
    return lib


class EmbeddedKafka:
    """One mock broker owned by this process; other clients reach it at `bootstrap_servers`."""

    def __init__(self, *, log_level: int = 3) -> None:
        """`log_level` 3 (errors) silences this handle's "no bootstrap.servers" notice: it only hosts the
        cluster. Its lines become structured `librdkafka` events, as every other client's do, not output
        of librdkafka's own stderr printer (which would break --log-json)."""
        self._lib = _librdkafka()
        errstr = ctypes.create_string_buffer(512)
        conf = self._lib.rd_kafka_conf_new()
        self._lib.rd_kafka_conf_set(conf, b"log_level", str(log_level).encode(), errstr, len(errstr))
        client_log = LibrdkafkaLog()

        def log_line(_rk: int, level: int, facility: bytes | None, line: bytes | None) -> None:
            # on the cluster's own threads: nothing may escape into C
            try:
                client_log.log(_SYSLOG_TO_LOGGING.get(level, logging.ERROR), "%s [%s] %s", (facility or b"").decode(errors="replace"), "embedded-cluster",
                               (line or b"").decode(errors="replace"))
            except Exception:  # noqa: BLE001, S110 - a log line that cannot be logged is dropped, never raised into C
                pass

        self._log_cb = _LOG_CB(log_line)  # kept: librdkafka holds only the C pointer
        self._lib.rd_kafka_conf_set_log_cb(conf, self._log_cb)
        self._rk = self._lib.rd_kafka_new(0, conf, errstr, len(errstr))
        if not self._rk:
            raise RuntimeError(f"could not start the embedded Kafka: {errstr.value.decode()}")
        self._cluster = self._lib.rd_kafka_mock_cluster_new(self._rk, 1)
        self.bootstrap_servers: str = self._lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()
        self.partitions: dict[str, int] = {}
        self.guard = CapacityGuard()

    def create_topic(self, name: str, partitions: int) -> None:
        if name in self.partitions:
            return
        code = self._lib.rd_kafka_mock_topic_create(self._cluster, name.encode(), partitions, 1)
        if code != 0:
            raise RuntimeError(f"embedded Kafka could not create topic {name!r} (error {code})")
        self.partitions[name] = partitions

    def close(self) -> None:
        if self._cluster:
            self._lib.rd_kafka_mock_cluster_destroy(self._cluster)
            self._cluster = None
        if self._rk:
            self._lib.rd_kafka_destroy(self._rk)
            self._rk = None


class CapacityGuard:
    """Counts bytes produced per partition to the embedded cluster and refuses the one that would
    cross the safe limit. A refusal stops the demo loudly instead of letting the mock cluster
    trim data nobody has read yet."""

    def __init__(self, capacity_bytes: int = int(PARTITION_CAPACITY_BYTES * SAFE_FRACTION)) -> None:
        self.capacity_bytes = capacity_bytes
        self._used: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def charge(self, topic: str, partition: int, nbytes: int) -> None:
        """Counts a record of `nbytes` (key and value) or raises EmbeddedCapacityError, counting nothing."""
        with self._lock:
            used = self._used.get((topic, partition), 0) + nbytes + RECORD_OVERHEAD_BYTES
            if used > self.capacity_bytes:
                raise EmbeddedCapacityError(
                    f"embedded Kafka: partition {topic}[{partition}] would exceed {self.capacity_bytes // 1024} KiB, "
                    "beyond which the mock cluster silently drops data; run a smaller demo or use a real broker "
                    "(kafka.bootstrap_servers)"
                )
            self._used[(topic, partition)] = used

    def refund(self, topic: str, partition: int, nbytes: int) -> None:
        """Takes back a charge whose record the producer did not take after all."""
        with self._lock:
            self._used[(topic, partition)] -= nbytes + RECORD_OVERHEAD_BYTES

    def used_fraction(self) -> float:
        with self._lock:
            return max(self._used.values(), default=0) / self.capacity_bytes
