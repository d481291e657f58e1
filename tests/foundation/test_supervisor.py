"""`tagtrail run` supervises its stages: a failed stage is restarted with backoff while the others keep
serving, a stage that keeps failing ends the run with its cause, and a stop ends everything at once.

The policy runs on an injected clock and wait; where threads meet, events say when, never sleeps.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tagtrail.observability import Metrics
from tagtrail_cli.commands import run
from tagtrail_cli.launch.supervisor import FailureHistory, RestartPolicy, StageFailed, Supervisor
from tagtrail_cli.main import build_parser

HANG_S = 30.0  # a safety net for a broken test, never a timing the test relies on


class FakeTime:
    """A clock that moves only when the supervisor waits out a backoff (or a stage says so)."""

    def __init__(self, stop: threading.Event) -> None:
        self.now = 1000.0
        self.stop = stop
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return self.stop.is_set()


def restarts(metrics: Metrics, stage: str) -> float:
    return metrics.registry.get_sample_value("tagtrail_stage_restarts_total", {"stage": stage}) or 0.0


def serve_until_stopped(started: threading.Event | None = None, attempts: list | None = None):
    """A stage that serves until its attempt is stopped, counting its attempts."""

    def stage(attempt_stop: threading.Event) -> None:
        if attempts is not None:
            attempts.append(attempt_stop)
        if started is not None:
            started.set()
        assert attempt_stop.wait(HANG_S)

    return stage


def test_backoff_doubles_to_its_cap_and_failures_leave_the_window() -> None:
    history = FailureHistory(RestartPolicy(max_failures=4, window_s=60.0, backoff_s=1.0, max_backoff_s=3.0))
    assert [history.failed(t) for t in (0.0, 1.0, 2.0)] == [1.0, 2.0, 3.0]
    assert history.failed(3.0) is None  # the 4th failure within 60 s: give up
    history = FailureHistory(RestartPolicy(max_failures=2, window_s=60.0))
    assert [history.failed(t) for t in (0.0, 60.0, 120.0, 180.0)] == [1.0] * 4  # one failure at a time in the window


@pytest.mark.parametrize("bad", [{"max_failures": 0}, {"window_s": 0.0}, {"backoff_s": -1.0}, {"backoff_s": 5.0, "max_backoff_s": 1.0}])
def test_a_restart_policy_that_cannot_work_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        RestartPolicy(**bad)


def test_a_stage_that_keeps_failing_ends_the_run_with_its_last_error() -> None:
    stop = threading.Event()
    time = FakeTime(stop)
    metrics = Metrics(CollectorRegistry())
    supervisor = Supervisor(stop, RestartPolicy(max_failures=5, window_s=300.0), clock=time.clock, wait=time.wait)
    other: list[threading.Event] = []
    supervisor.start("process", serve_until_stopped(attempts=other), metrics=metrics)
    failures = []

    def sink(_attempt_stop: threading.Event) -> None:
        failures.append(time.now)
        raise ConnectionError(f"clickhouse refused attempt {len(failures)}")

    supervisor.start("sink", sink, metrics=metrics)
    with pytest.raises(StageFailed, match=r"stage sink failed 5 times within 300 s; last error: "
                       r"ConnectionError: clickhouse refused attempt 5") as failed:
        supervisor.join()
    assert failed.value.stage == "sink" and isinstance(failed.value.__cause__, ConnectionError)
    assert time.waits == [1.0, 2.0, 4.0, 8.0]
    assert restarts(metrics, "sink") == 4 and restarts(metrics, "process") == 0
    assert len(other) == 1 and other[0].is_set()  # never restarted, stopped when the run gave up


def test_a_stage_failing_now_and_then_is_restarted_for_ever() -> None:
    stop = threading.Event()
    time = FakeTime(stop)
    supervisor = Supervisor(stop, RestartPolicy(max_failures=3, window_s=300.0), clock=time.clock, wait=time.wait)
    attempts = []

    def processor(_attempt_stop: threading.Event) -> None:
        attempts.append(time.now)
        if len(attempts) == 10:
            stop.set()  # enough: stop the run as SIGTERM would
            return
        time.now += 301.0  # serves a while, then fails
        raise RuntimeError("broker went away")

    supervisor.start("process", processor)
    supervisor.join()  # no StageFailed: it never failed 3 times within 300 s
    assert len(attempts) == 10 and time.waits == [1.0] * 9


def test_a_stage_raising_once_is_restarted_while_another_keeps_serving() -> None:
    stop = threading.Event()
    metrics = Metrics(CollectorRegistry())
    supervisor = Supervisor(stop, RestartPolicy(backoff_s=0.0))
    process_attempts: list[threading.Event] = []
    process_serving = threading.Event()
    supervisor.start("process", serve_until_stopped(process_serving, process_attempts), metrics=metrics)
    assert process_serving.wait(HANG_S)
    sink_ready = threading.Event()
    sink_restarted = threading.Event()
    sink_attempts: list[threading.Event] = []

    def sink(attempt_stop: threading.Event) -> None:
        sink_attempts.append(attempt_stop)
        sink_ready.set()
        if len(sink_attempts) == 1:
            raise RuntimeError("a batch set is still in flight; collect it first")
        sink_restarted.set()
        assert attempt_stop.wait(HANG_S)

    supervisor.start("sink", sink, ready=sink_ready, metrics=metrics)
    assert sink_restarted.wait(HANG_S)
    assert sink_attempts[0].is_set() and not sink_attempts[1].is_set()  # the failed attempt's helpers are told to end
    assert len(process_attempts) == 1 and not process_attempts[0].is_set()  # the processor served on, untouched
    assert restarts(metrics, "sink") == 1 and restarts(metrics, "process") == 0
    stop.set()
    supervisor.join()
    assert sink_attempts[1].is_set() and process_attempts[0].is_set()


def test_a_stop_during_a_backoff_ends_the_run_at_once() -> None:
    stop = threading.Event()
    in_backoff = threading.Event()

    def wait(seconds: float) -> bool:
        in_backoff.set()
        return stop.wait(seconds)

    supervisor = Supervisor(stop, RestartPolicy(backoff_s=3600.0, max_backoff_s=3600.0), wait=wait)
    attempts: list[threading.Event] = []
    supervisor.start("process", serve_until_stopped(attempts=attempts))

    def fails(_attempt_stop: threading.Event) -> None:
        raise RuntimeError("down")

    supervisor.start("sink", fails)
    assert in_backoff.wait(HANG_S)
    stop.set()
    joined = threading.Thread(target=supervisor.join)
    joined.start()
    joined.join(HANG_S)  # an hour's backoff would hold it far past this
    assert not joined.is_alive() and attempts[0].is_set()


# -- `tagtrail run` itself, its services replaced by fakes --------------------------------------

@pytest.fixture
def run_site(tmp_path: Path, monkeypatch) -> Path:
    """A site without readers or scanners (run starts the processor and the sink), with Kafka and
    ClickHouse left out: the services are fakes here."""

    @contextmanager
    def nothing(*_args, **_kwargs):
        yield None

    monkeypatch.setattr(run, "kafka_for", nothing)
    monkeypatch.setattr(run, "clickhouse_for", nothing)
    site = tmp_path / "site.yaml"
    site.write_text("site_id: supervised\n")
    return site


def run_args(site: Path, *options: str):
    return build_parser().parse_args(["run", "--site", str(site), "--restart-max-backoff-s", "0", *options])


def test_tagtrail_run_restarts_a_failed_service_and_stops_on_sigterm(run_site: Path, monkeypatch) -> None:
    from tagtrail_processors.sink import sink_service as sink_app
    from tagtrail_processors.stream import processor_service as processor_app

    sink_stops: list[threading.Event] = []
    processor_stops: list[threading.Event] = []
    sink_serving = threading.Event()

    def run_sink(site, conn, client, *, stop, metrics, ready):
        sink_stops.append(stop)
        sink_serving.set()
        assert stop.wait(HANG_S)

    def run_processor(site, conn, *, stop, metrics, ready):
        processor_stops.append(stop)
        if len(processor_stops) == 1:
            assert sink_serving.wait(HANG_S)
            raise RuntimeError("NOT_COORDINATOR")
        signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)  # the operator stops the run
        assert stop.wait(HANG_S)

    monkeypatch.setattr(sink_app, "run_sink", run_sink)
    monkeypatch.setattr(processor_app, "run_processor", run_processor)
    args = run_args(run_site)
    assert args.handler(args) == 0
    assert len(processor_stops) == 2 and len(sink_stops) == 1  # the sink served on while the processor restarted
    assert all(s.is_set() for s in sink_stops + processor_stops)


def test_tagtrail_run_exits_1_with_the_cause_when_a_service_keeps_failing(run_site: Path, monkeypatch, capsys) -> None:
    from tagtrail_processors.sink import sink_service as sink_app
    from tagtrail_processors.stream import processor_service as processor_app

    processor_stops: list[threading.Event] = []

    def run_sink(site, conn, client, *, stop, metrics, ready):
        raise ConnectionError("clickhouse at http://ch:8123 refused the connection")

    def run_processor(site, conn, *, stop, metrics, ready):
        processor_stops.append(stop)
        assert stop.wait(HANG_S)

    monkeypatch.setattr(sink_app, "run_sink", run_sink)
    monkeypatch.setattr(processor_app, "run_processor", run_processor)
    args = run_args(run_site, "--restart-max-failures", "3")
    assert args.handler(args) == 1
    assert ("tagtrail: run stopped: stage sink failed 3 times within 300 s; last error: ConnectionError: "
            "clickhouse at http://ch:8123 refused the connection") in capsys.readouterr().err
    assert len(processor_stops) == 1 and processor_stops[0].is_set()


def test_tagtrail_run_gives_up_at_once_on_a_config_error_and_exits_2_naming_the_key(run_site: Path, monkeypatch) -> None:
    """The sink refuses batch settings that break its exactly-once batches; the same config would fail
    the same way on every restart, so the run ends at once (no backoff), as any config error does."""
    from tagtrail.config import ConfigError
    from tagtrail_processors.sink import sink_service as sink_app
    from tagtrail_processors.stream import processor_service as processor_app

    real_run_sink = sink_app.run_sink
    sink_attempts: list[threading.Event] = []
    processor_stops: list[threading.Event] = []

    def run_sink(site, conn, client, *, stop, metrics, ready):
        sink_attempts.append(stop)
        real_run_sink(site, conn, client, stop=stop, metrics=metrics, ready=ready)  # refuses before any I/O

    def run_processor(site, conn, *, stop, metrics, ready):
        processor_stops.append(stop)
        assert stop.wait(HANG_S)

    monkeypatch.setattr(sink_app, "run_sink", run_sink)
    monkeypatch.setattr(processor_app, "run_processor", run_processor)
    run_site.write_text("site_id: supervised\nsink:\n  batch_rows: 2000000\n")
    # the handler, not main(): main configures the process's logging, which would outlive this test.
    # main turns a ConfigError into one line and exit 2, as for check-config (tests/foundation/test_cli.py).
    args = build_parser().parse_args(["run", "--site", str(run_site), "--restart-max-failures", "5"])
    with pytest.raises(ConfigError, match=r"sink\.batch_rows: must be between 1 and .*got 2000000"):
        args.handler(args)
    assert len(sink_attempts) == 1
    assert len(processor_stops) == 1 and processor_stops[0].is_set()
