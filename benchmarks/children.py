"""What a benchmark harness starts ends when the harness does, however it ends.

A harness that died on an exception once left its `tagtrail process` child running, orphaned, for
an hour: the child was stopped only on the happy path. `Children` owns every process (and broker)
a harness starts and stops them all on each exit path:

* the `with` block ends normally or by an exception;
* SIGTERM, SIGINT or SIGHUP arrive (turned into SystemExit, so `finally` blocks run too);
* the interpreter exits some other way (atexit);
* the harness is killed outright (SIGKILL): each child is started under `setpriv --pdeathsig TERM`,
  so the kernel sends it SIGTERM when the harness goes.

Each child runs in a process group of its own, and stopping it signals the whole group (its own
children too): SIGTERM, then SIGKILL after `grace_s`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Children:
    def __init__(self, grace_s: float = 30.0) -> None:
        self.grace_s = grace_s
        self._stops: list[Callable[[], None]] = []
        self._processes: list[subprocess.Popen] = []
        self._previous: dict[int, Any] = {}
        self._pdeathsig = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []

    def __enter__(self) -> Children:
        atexit.register(self.stop_all)
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous.clear()
            atexit.unregister(self.stop_all)

    def start(self, cmd: Sequence[str], **popen: Any) -> subprocess.Popen:
        """Popen in a process group of its own, stopped with the harness."""
        process = subprocess.Popen([*self._pdeathsig, *cmd], start_new_session=True, **popen)
        self._processes.append(process)
        self._stops.append(lambda: self._stop_group(process))
        if self._pdeathsig:
            _wait_for_exec(process, self._pdeathsig[0])
        return process

    def adopt(self, stop: Callable[[], None]) -> None:
        """Something started another way (a broker daemonised by deploy/local/kafka.sh): `stop` it too."""
        self._stops.append(stop)

    def stop_all(self) -> None:
        """Last started, first stopped (the sink before the broker). Safe to call more than once."""
        errors = []
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # every other child must still be stopped
                errors.append(exc)
        if errors:
            print(f"children: {len(errors)} could not be stopped cleanly: {errors}", file=sys.stderr)

    def _stop_group(self, process: subprocess.Popen) -> None:
        _signal_group(process.pid, signal.SIGTERM)  # the group too, even if its leader already exited
        try:
            process.wait(self.grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(10)
        _signal_group(process.pid, signal.SIGKILL)  # stragglers of the group

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)


def _wait_for_exec(process: subprocess.Popen, wrapper: str, timeout_s: float = 5.0) -> None:
    """Until the wrapper has set the death signal and exec'd the command: a harness killed before
    that would leave a child that never learns its parent is gone."""
    deadline = time.monotonic() + timeout_s
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    forked_from = Path("/proc/self/cmdline").read_bytes()  # what it shows until its first exec is done
    while process.poll() is None and time.monotonic() < deadline:
        try:
            now = cmdline.read_bytes()
        except OSError:
            return
        if now and now != forked_from and not now.split(b"\0")[0].endswith(wrapper.encode()):
            return
        time.sleep(0.001)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
