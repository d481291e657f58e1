"""Keeps the stages of `tagtrail run` serving: a stage that fails is restarted after a backoff while
the others go on; a stage that keeps failing ends the run, with its last error as the cause.

Each attempt of a stage gets a stop event of its own, set when the run stops and when the attempt
ends. A stage's helper threads then end with the attempt, and a stage that stops itself on a fatal
error (the LLRP adapter sets its stop) stops only itself. A stage builds its Kafka clients per
attempt (run_llrp, run_scan_service, run_processor and run_sink create their own); what the caller
owns (the ClickHouse client, the Kafka connection, the metrics servers) outlives the restarts.

The clock and the wait are injected, so the restart policy runs in tests without real time passing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from tagtrail.config import ConfigError
from tagtrail.observability import Metrics

log = structlog.get_logger(__name__)

Stage = Callable[[threading.Event], None]  # runs until the event it is given is set


@dataclass(frozen=True)
class RestartPolicy:
    """`max_failures` failures of one stage within `window_s` seconds end the run. Before that, the
    k-th failure in the window is restarted after backoff_s * 2**(k-1) seconds, at most max_backoff_s:
    a stage that fails now and then is restarted for ever, one that fails at once over and over is not."""

    max_failures: int = 5
    window_s: float = 300.0
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures}")
        if self.window_s <= 0:
            raise ValueError(f"window_s must be positive, got {self.window_s}")
        if not 0 <= self.backoff_s <= self.max_backoff_s:
            raise ValueError(f"backoff_s must be between 0 and max_backoff_s ({self.max_backoff_s}), got {self.backoff_s}")


# The first failure of any stage ends the run (the demo, where a failure is a bug to see at once).
FAIL_FAST = RestartPolicy(max_failures=1)


@dataclass
class FailureHistory:
    """The failures of one stage that still count under the policy, and what the next one means."""

    policy: RestartPolicy
    _at: deque[float] = field(default_factory=deque)

    @property
    def in_window(self) -> int:
        return len(self._at)

    def failed(self, now: float) -> float | None:
        """Records a failure at `now`: the seconds to wait before the restart, or None to give up."""
        self._at.append(now)
        while now - self._at[0] >= self.policy.window_s:
            self._at.popleft()
        if len(self._at) >= self.policy.max_failures:
            return None
        return min(self.policy.max_backoff_s, self.policy.backoff_s * 2 ** (len(self._at) - 1))


class StageFailed(RuntimeError):
    """A stage failed for good (or while stopping); `stage` names it, __cause__ is its last error."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


@dataclass
class _Supervised:
    name: str
    target: Stage
    ready: threading.Event | None
    metrics: Metrics | None
    history: FailureHistory
    attempt_stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class Supervisor:
    """Runs stages in threads of this process and restarts each one on failure under `policy`.
    `wait(seconds)` waits out a backoff and returns True if the run is stopping meanwhile."""

    def __init__(self, stop: threading.Event, policy: RestartPolicy = RestartPolicy(), *,
                 clock: Callable[[], float] = time.monotonic, wait: Callable[[float], bool] | None = None) -> None:
        self.stop = stop
        self.policy = policy
        self.clock = clock
        self.wait = wait or stop.wait
        self._stages: list[_Supervised] = []
        self._lock = threading.Lock()
        self._stopping = False
        self._failures: list[StageFailed] = []
        self._watcher = threading.Thread(target=self._stop_attempts_on_stop, name="supervisor-stop", daemon=True)
        self._watcher.start()

    def start(self, name: str, target: Stage, *, ready: threading.Event | None = None,
              metrics: Metrics | None = None) -> None:
        """Runs `target(attempt_stop)` in a thread of its own, again after each failure. `ready` (the
        stage's /readyz flag) is cleared while the stage is down; `metrics` counts its restarts."""
        stage = _Supervised(name, target, ready, metrics, FailureHistory(self.policy))
        stage.thread = threading.Thread(target=self._serve, args=(stage,), name=name, daemon=True)
        with self._lock:
            self._stages.append(stage)
        stage.thread.start()

    def join(self, timeout_s: float = 60.0) -> None:
        """Returns once the run is stopping (`stop` set: a signal, or a stage that gave up) and every
        stage has ended; raises StageFailed if a stage gave up or failed while stopping."""
        while any(s.thread.is_alive() for s in self._stages) and not self.stop.wait(0.5):
            pass
        self.stop.set()
        deadline = self.clock() + timeout_s
        for s in self._stages:
            s.thread.join(max(0.0, deadline - self.clock()))
            if s.thread.is_alive():
                log.warning("stage_not_stopped", stage=s.name, waited_s=timeout_s)
        if self._failures:
            raise self._failures[0]

    # -- one thread per stage -------------------------------------------------------------------
    def _serve(self, stage: _Supervised) -> None:
        restarts = 0
        while True:
            with self._lock:
                if self._stopping:
                    return
                stage.attempt_stop = attempt_stop = threading.Event()
            error = self._attempt(stage, attempt_stop)
            if self.stop.is_set():
                if error is not None:
                    log.error("stage_failed_while_stopping", stage=stage.name, error=_describe(error))
                    self._fail(stage, f"stage {stage.name} failed while stopping: {_describe(error)}", error)
                return
            if stage.ready is not None:
                stage.ready.clear()
            if error is None:
                error = RuntimeError("it returned without being asked to stop")
            if isinstance(error, ConfigError):  # the same config fails the same way: no restart can fix it
                log.error("stage_config_error", stage=stage.name, error=_describe(error))
                self._fail(stage, f"stage {stage.name} refused the site config: {error}", error)
                self.stop.set()
                return
            delay = stage.history.failed(self.clock())
            if delay is None:
                self._give_up(stage, error)
                return
            log.error("stage_failed", stage=stage.name, error=_describe(error), restart_in_s=delay,
                      failures_in_window=stage.history.in_window, window_s=self.policy.window_s)
            if self.wait(delay):
                return
            restarts += 1
            if stage.metrics is not None:
                stage.metrics.stage_restarted(stage.name)
            log.info("stage_restarted", stage=stage.name, restarts=restarts)

    def _attempt(self, stage: _Supervised, attempt_stop: threading.Event) -> BaseException | None:
        try:
            stage.target(attempt_stop)
            return None
        except BaseException as exc:  # noqa: BLE001 - any failure of a stage is the supervisor's to handle
            return exc
        finally:
            attempt_stop.set()  # ends the attempt's helper threads

    def _give_up(self, stage: _Supervised, error: BaseException) -> None:
        failures = stage.history.in_window
        if self.policy.max_failures == 1:
            message = f"stage {stage.name} failed: {_describe(error)}"
        else:
            message = (f"stage {stage.name} failed {failures} times within {self.policy.window_s:g} s; "
                       f"last error: {_describe(error)}")
        log.error("stage_gave_up", stage=stage.name, failures=failures, window_s=self.policy.window_s, error=_describe(error))
        self._fail(stage, message, error)
        self.stop.set()

    def _fail(self, stage: _Supervised, message: str, error: BaseException) -> None:
        failure = StageFailed(stage.name, message)
        failure.__cause__ = error
        self._failures.append(failure)

    def _stop_attempts_on_stop(self) -> None:
        self.stop.wait()
        with self._lock:
            self._stopping = True
            for s in self._stages:
                s.attempt_stop.set()


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
