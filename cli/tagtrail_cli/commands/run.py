"""`tagtrail run`: every service of a site in one process (a small site, or a first try), supervised:
a service that fails is restarted while the others keep serving (see tagtrail_cli.launch.supervisor)."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

import structlog

from tagtrail.config import ConfigError
from tagtrail_cli.commands.ingest import run_llrp
from tagtrail_cli.launch.stage_resources import clickhouse_for, kafka_for, stage_metrics, stop_on_signals
from tagtrail_cli.launch.supervisor import RestartPolicy, StageFailed, Supervisor
from tagtrail_cli.site_option import add_site_option, load_site_option
from tagtrail_cli.user_errors import UserError

log = structlog.get_logger(__name__)

DEFAULT_POLICY = RestartPolicy()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run all services of a site in one process",
        description="Run the LLRP adapter (if readers are configured), the scan service (if scanners are "
        "configured), the processor and the sink in one process, until SIGTERM or Ctrl-C. A service that "
        "fails is restarted after a backoff while the others keep serving; one that keeps failing ends the "
        "run with exit status 1 and its error.",
    )
    add_site_option(p)
    p.add_argument("--restart-max-failures", type=int, default=DEFAULT_POLICY.max_failures, metavar="N",
                   help="a service failing N times within --restart-window-s ends the run "
                   f"(default: {DEFAULT_POLICY.max_failures}; 1 = no restarts)")
    p.add_argument("--restart-window-s", type=float, default=DEFAULT_POLICY.window_s, metavar="SECONDS",
                   help=f"the window in which failures count (default: {DEFAULT_POLICY.window_s:g})")
    p.add_argument("--restart-max-backoff-s", type=float, default=DEFAULT_POLICY.max_backoff_s, metavar="SECONDS",
                   help=f"the longest wait before a restart; waits double from {DEFAULT_POLICY.backoff_s:g} s "
                   f"(default: {DEFAULT_POLICY.max_backoff_s:g})")
    p.set_defaults(handler=handle)


def restart_policy(args: argparse.Namespace) -> RestartPolicy:
    try:
        return RestartPolicy(max_failures=args.restart_max_failures, window_s=args.restart_window_s,
                             backoff_s=min(DEFAULT_POLICY.backoff_s, args.restart_max_backoff_s),
                             max_backoff_s=args.restart_max_backoff_s)
    except ValueError as exc:
        raise UserError(f"restart policy (--restart-*): {exc}") from exc


def handle(args: argparse.Namespace) -> int:
    from tagtrail_ingest.scans.scan_api import run_scan_service
    from tagtrail_processors.sink.sink_service import run_sink
    from tagtrail_processors.stream.processor_service import run_processor

    policy = restart_policy(args)
    site = load_site_option(args)
    with ExitStack() as stack:
        stop = stack.enter_context(stop_on_signals())
        # Each stage serves its own metrics port (<section>.metrics_port), as it would alone; served
        # before ClickHouse is awaited, so /healthz answers meanwhile.
        llrp_m, llrp_ready = stack.enter_context(stage_metrics(site, site.llrp.metrics_port if site.readers else None))
        scans_m, scans_ready = stack.enter_context(stage_metrics(site, site.scans.metrics_port if site.scanners else None))
        process_m, process_ready = stack.enter_context(stage_metrics(site, site.processing.metrics_port))
        sink_m, sink_ready = stack.enter_context(stage_metrics(site, site.sink.metrics_port))
        client = stack.enter_context(clickhouse_for(site, stop))
        conn = stack.enter_context(kafka_for(site, stop))
        # Each stage gets the stop event of its attempt and builds its own Kafka clients on every
        # (re)start; the ClickHouse client and the Kafka connection above are shared and outlive restarts.
        stages = Supervisor(stop, policy)
        if site.readers:
            stages.start("ingest.llrp", lambda attempt_stop: run_llrp(site, conn, attempt_stop, llrp_m, llrp_ready),
                         ready=llrp_ready, metrics=llrp_m)
        if site.scanners:  # shares the sink's client: embedded chdb opens in one process only
            stages.start("ingest.scans", lambda attempt_stop: run_scan_service(
                site, conn, stop=attempt_stop, clickhouse_client=client, metrics=scans_m, ready=scans_ready),
                ready=scans_ready, metrics=scans_m)
        stages.start("process", lambda attempt_stop: run_processor(
            site, conn, stop=attempt_stop, metrics=process_m, ready=process_ready), ready=process_ready, metrics=process_m)
        stages.start("sink", lambda attempt_stop: run_sink(
            site, conn, client, stop=attempt_stop, metrics=sink_m, ready=sink_ready), ready=sink_ready, metrics=sink_m)
        log.info("running", site=site.site_id, readers=len(site.readers), scanners=len(site.scanners),
                 restart_max_failures=policy.max_failures, restart_window_s=policy.window_s)
        try:
            stages.join()
        except StageFailed as exc:
            if isinstance(exc.__cause__, ConfigError):
                raise exc.__cause__ from None  # main reports it as any config error: one line, exit 2
            print(f"tagtrail: run stopped: {exc}", file=sys.stderr)
            return 1
    return 0
