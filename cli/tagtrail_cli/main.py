"""Entry point of the `tagtrail` command. Each subcommand lives in its own module with a
`register(subparsers)` function; this file only wires them and turns errors into messages."""

from __future__ import annotations

import argparse
import importlib
import sys

import structlog

from tagtrail import __version__
from tagtrail.config import ConfigError
from tagtrail.structured_logs import configure_logging
from tagtrail_cli.launch.stopping import StoppedBeforeStart
from tagtrail_cli.user_errors import UserError

COMMANDS = [
    "tagtrail_cli.commands.demo",
    "tagtrail_cli.commands.run",
    "tagtrail_cli.commands.ingest",
    "tagtrail_cli.commands.process",
    "tagtrail_cli.commands.sink",
    "tagtrail_cli.commands.sql",
    "tagtrail_cli.commands.items",
    "tagtrail_cli.commands.lots",
    "tagtrail_cli.commands.migrate",
    "tagtrail_cli.commands.decode",
    "tagtrail_cli.commands.check_config",
    "tagtrail_cli.commands.hash_token",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagtrail",
        description="RFID reads and barcode scans to a time-ordered movement history per item, in ClickHouse.",
    )
    parser.add_argument("--version", action="version", version=f"tagtrail {__version__}")
    parser.add_argument("--log-level", help="debug, info, warning or error (default: info; warning for demo)")
    parser.add_argument("--log-json", action="store_true", default=None, help="JSON log lines even on a terminal")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(level=args.log_level or getattr(args, "default_log_level", "info"), json=args.log_json)
    except ValueError as exc:
        parser.error(str(exc))
    log = structlog.get_logger("tagtrail")
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        _report_failure(args, log, "tagtrail: ", str(exc))
        return 2
    except UserError as exc:
        _report_failure(args, log, "tagtrail: error: ", str(exc))
        return exc.exit_code
    except StoppedBeforeStart as exc:
        log.info("stopped_before_start", command=args.command, waiting_for=str(exc),
                 message="stopped while waiting; nothing had started, nothing is lost")
        return 0
    except KeyboardInterrupt:
        _report_failure(args, log, "tagtrail: ", "interrupted")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        log.error("unexpected_error", command=args.command, error=f"{type(exc).__name__}: {exc}")
        if not args.log_json:
            print(f"tagtrail: unexpected error: {type(exc).__name__}: {exc} (run with --debug for a traceback)", file=sys.stderr)
        return 1


def _report_failure(args: argparse.Namespace, log, prefix: str, message: str) -> None:
    """A failed command's last word: one plain line, or under --log-json a log event, so that every
    line on stderr parses as JSON (log pipelines read it)."""
    if args.log_json:
        log.error("command_failed", command=args.command, error=message)
    else:
        print(f"{prefix}{message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
