"""The benchmark harnesses survive a fresh broker and never leave a process behind.

benchmarks/processor.py died on a fresh broker with NOT_COORDINATOR while reading the group's
committed offsets, and its `tagtrail process` child then ran on, orphaned, for an hour.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
SHARED = {"__init__.py", "children.py", "harness.py"}  # what the harnesses import, not harnesses
HARNESSES = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name not in SHARED)

processor = importlib.import_module("benchmarks.processor")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Committed:
    """What Consumer.committed answers per partition (TopicPartition's error cannot be set)."""

    offset: int
    error: KafkaError | None = None


class Coordinator:
    """A consumer whose OffsetFetch fails with `errors` (raised, or set on a partition) first."""

    def __init__(self, errors: list[KafkaError | tuple[str, KafkaError]]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def committed(self, tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.calls += 1
        if self.errors:
            error = self.errors.pop(0)
            if isinstance(error, tuple):  # answered, with an error on one partition
                return [Committed(-1001, error[1]), *(Committed(-1001) for _ in tps[1:])]
            raise KafkaException(error)
        return [Committed(100 * (tp.partition + 1)) for tp in tps]


def test_a_fresh_broker_not_yet_coordinating_is_waited_for() -> None:
    clock = FakeClock()
    consumer = Coordinator([KafkaError(KafkaError.NOT_COORDINATOR), KafkaError(KafkaError.NOT_COORDINATOR),
                            ("partition", KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS))])
    total = processor.committed_total(consumer, "reads", 3, clock=clock, sleep=clock.sleep)
    assert (total, consumer.calls) == (600, 4)


def test_a_coordinator_that_never_comes_gives_up_at_the_deadline_naming_the_error() -> None:
    clock = FakeClock()
    consumer = Coordinator([KafkaError(KafkaError.NOT_COORDINATOR)] * 1000)
    with pytest.raises(RuntimeError, match="committed offsets of reads: still NOT_COORDINATOR after 30 s"):
        processor.committed_offsets(consumer, "reads", 3, deadline_s=30, clock=clock, sleep=clock.sleep)
    assert 30 <= clock.now < 33


def test_an_error_that_retrying_cannot_fix_is_raised_at_once() -> None:
    clock = FakeClock()
    consumer = Coordinator([KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED)])
    with pytest.raises(KafkaException, match="GROUP_AUTHORIZATION_FAILED"):
        processor.committed_offsets(consumer, "reads", 3, clock=clock, sleep=clock.sleep)
    assert consumer.calls == 1


HARNESS = textwrap.dedent("""
    import sys, time
    from benchmarks.harness import Children

    with Children(grace_s=5) as children:
        child = children.start([sys.executable, "-c", "import time; time.sleep(300)"])
        print(child.pid, flush=True)
        sys.stdin.readline()  # the test has seen the child alive
        if sys.argv[1] == "crash":
            raise RuntimeError("NOT_COORDINATOR")
        while True:  # until signalled; short sleeps, as the harnesses poll (a signal that lands just
            time.sleep(0.1)  # before a long sleep's syscall is only acted on when it ends)
""")


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("ending", ["crash", signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_harness_stops_its_children_however_it_ends(ending: str | signal.Signals, tmp_path: Path) -> None:
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    harness = subprocess.Popen([sys.executable, str(script), "crash" if ending == "crash" else "wait"], cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = int(harness.stdout.readline())
    try:
        assert alive(child)
        harness.stdin.write("go\n")
        harness.stdin.flush()
        if ending != "crash":
            harness.send_signal(ending)
        harness.wait(30)
        assert wait_gone(child), f"the harness ended ({ending}) and left its child {child} running"
        if ending == "crash":
            assert harness.returncode == 1 and "NOT_COORDINATOR" in harness.stderr.read()
    finally:
        harness.kill()
        if alive(child):
            subprocess.run(["kill", "-9", str(child)], check=False)


@pytest.mark.parametrize("harness", HARNESSES)
def test_every_harness_starts_processes_through_children(harness: str) -> None:
    """A bare Popen is a process nobody stops when the harness crashes."""
    source = (BENCHMARKS / harness).read_text()
    assert "subprocess.Popen(" not in source, f"benchmarks/{harness}: start processes with Children.start"


run_all = importlib.import_module("benchmarks.run_all")


def test_run_all_names_each_harness_it_runs_and_refuses_an_unknown_one(capsys: pytest.CaptureFixture) -> None:
    assert {h.name for h in run_all.HARNESSES} == {p.removesuffix(".py") for p in HARNESSES} - {
        "run_all", "portal_traffic", "quix_smoothing_app"}, "a harness make bench does not know (or a stale one)"
    with pytest.raises(SystemExit):
        run_all.parse_args(["--only", "processor,nope"])
    assert "unknown harness(es): nope" in capsys.readouterr().err
    args = run_all.parse_args(["--only", "processor,sink", "--skip", "sink"])
    assert [h.name for h in args.harnesses] == ["processor"] and args.out_dir == BENCHMARKS / "results" / "quick"
    assert run_all.parse_args(["--full"]).out_dir == BENCHMARKS / "results"


@pytest.mark.parametrize("harness", [h.name for h in run_all.HARNESSES])
def test_each_harness_takes_the_options_run_all_gives_it(harness: str, tmp_path: Path) -> None:
    spec = run_all.BY_NAME[harness]
    cmd = run_all.command(spec, False, tmp_path, "127.0.0.1:9")
    assert cmd[1:3] == ["-m", f"benchmarks.{harness}"]
    shown = subprocess.run([*cmd[:3], "--help"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert shown.returncode == 0, shown.stderr[-2000:]
    options = [a for a in cmd[3:] if a.startswith("--")]
    assert options and all(o in shown.stdout for o in options), (options, shown.stdout[-1500:])


harness = importlib.import_module("benchmarks.harness")


@pytest.mark.parametrize("script", HARNESSES + sorted(SHARED))
def test_benchmarks_import_as_a_package_not_through_sys_path_or_the_tests(script: str) -> None:
    """Run as `python -m benchmarks.<name>`: no sys.path edits, and nothing borrowed from tests/."""
    source = (BENCHMARKS / script).read_text()
    assert "sys.path" not in source, f"benchmarks/{script} edits sys.path"
    assert not any(line.lstrip().startswith(("from tests", "import tests")) for line in source.splitlines()), (
        f"benchmarks/{script} imports the tests' helpers")


def run_args(out: Path, configuration: str = "default", **arguments: object):
    import argparse

    return argparse.Namespace(out=out, configuration=configuration, **arguments)


def test_a_rerun_keeps_the_run_it_replaces_in_the_history(tmp_path: Path) -> None:
    out = tmp_path / "sink.json"
    harness.record("sink", {"rows_per_s": 1}, run_args(out, rows=10))
    harness.record("sink", {"rows_per_s": 2}, run_args(out, "batch200k", rows=10, out_dir=tmp_path))
    harness.record("sink", {"rows_per_s": 3}, run_args(out, rows=20))
    saved = json.loads(out.read_text())
    assert saved["benchmark"] == "sink"
    assert {name: run["figures"]["rows_per_s"] for name, run in saved["latest"].items()} == {"default": 3, "batch200k": 2}
    assert [(run["configuration"], run["figures"], run["arguments"]) for run in saved["history"]] == [
        ("default", {"rows_per_s": 1}, {"rows": 10})]
    latest = saved["latest"]["batch200k"]
    assert latest["arguments"] == {"rows": 10, "out_dir": str(tmp_path)} and latest["at"].endswith("Z")
    assert latest["command"].startswith("python -m benchmarks.sink")


def test_a_results_file_of_another_benchmark_or_format_is_refused_by_name(tmp_path: Path) -> None:
    out = tmp_path / "sink.json"
    out.write_text(json.dumps({"rows_per_s_steady": 300000}))  # a one-off result of the old layout
    with pytest.raises(ValueError, match=f"{out}: not a results file of benchmark 'sink'"):
        harness.record("sink", {}, run_args(out))
    assert json.loads(out.read_text()) == {"rows_per_s_steady": 300000}


@pytest.mark.parametrize("result", sorted(p.name for p in (BENCHMARKS / "results").glob("*.json")))
def test_each_saved_result_is_named_by_its_benchmark_and_keeps_its_history(result: str) -> None:
    saved = json.loads((BENCHMARKS / "results" / result).read_text())
    assert f"{saved.get('benchmark')}.json" == result and f"{saved['benchmark']}.py" in HARNESSES, (
        f"benchmarks/results/{result}: one file per benchmark, named by it")
    assert saved["latest"] and isinstance(saved["history"], list)
    for run in [*saved["latest"].values(), *saved["history"]]:
        assert {"configuration", "at", "commit", "command", "arguments", "figures"} <= set(run), run.keys()
    assert all(name == run["configuration"] for name, run in saved["latest"].items())


def test_run_all_passes_a_harness_only_when_it_recorded_a_new_run(tmp_path: Path) -> None:
    result = tmp_path / "limits.json"
    result.write_text("{}\n")  # left by an earlier run
    spec = run_all.BY_NAME["limits"]
    with harness.Children(grace_s=5) as children:
        silent = run_all.run_one(children, spec, [sys.executable, "-c", "pass"], dict(os.environ), tmp_path)
        writes = f"import pathlib; pathlib.Path({str(result)!r}).write_text('{{}}')"
        recorded = run_all.run_one(children, spec, [sys.executable, "-c", writes], dict(os.environ), tmp_path)
    assert (silent.status, recorded.status) == ("no result", "passed")


pipeline = importlib.import_module("benchmarks.pipeline")


class Watermarks:
    """The end-offsets consumer of a topic the stages have just created: no leader at first."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = list(errors)

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float, cached: bool) -> tuple[int, int]:
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 0, 10


def test_the_pipeline_samples_again_while_the_new_topic_has_no_leader() -> None:
    """Quick `make bench` died with NOT_LEADER_FOR_PARTITION on its first sample of a fresh topic."""
    offsets = object.__new__(pipeline.Offsets)
    offsets.parts = [TopicPartition("bench.reads", p) for p in range(2)]
    offsets.ends = Watermarks([KafkaError.NOT_LEADER_FOR_PARTITION])
    offsets.group = Coordinator([])
    assert offsets.sample() is None
    assert offsets.sample() == (20, 300)
    offsets.ends = Watermarks([KafkaError.TOPIC_AUTHORIZATION_FAILED])
    with pytest.raises(KafkaException, match="TOPIC_AUTHORIZATION_FAILED"):
        offsets.sample()
