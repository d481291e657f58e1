"""Serves ClickHouse's HTTP (and native TCP) protocol from the chdb engine, for tests and development.

No ClickHouse server package new enough is installable on the build machines, but chdb-core embeds
the full ClickHouse engine, which can listen like a server. The process runs until it is killed.

    python deploy/local/clickhouse_server.py --data DIR --http-port 18123 --tcp-port 19000

It writes `config.xml` into DIR (the engine reads ports from its working directory), changes into
DIR, and keeps one long-running query alive so the listeners stay up. Stop it with SIGTERM/SIGKILL;
data in DIR persists across restarts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CONFIG = """<clickhouse>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
</clickhouse>
"""

# A query that runs until the process is killed: one row per second from an endless table.
KEEP_ALIVE = (
    "SELECT sleepEachRow(1) FROM system.numbers FORMAT Null "
    "SETTINGS function_sleep_max_microseconds_per_block=0, max_block_size=1, max_execution_time=0"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="data directory (created if missing)")
    parser.add_argument("--http-port", type=int, default=8123)
    parser.add_argument("--tcp-port", type=int, default=9000)
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    (args.data / "config.xml").write_text(CONFIG.format(http=args.http_port, tcp=args.tcp_port))
    os.chdir(args.data)
    from chdb import _chdb

    print(f"ClickHouse (chdb engine) serving http://127.0.0.1:{args.http_port} tcp {args.tcp_port}", file=sys.stderr, flush=True)
    _chdb.query(
        f"SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; {KEEP_ALIVE}",
        "TabSeparated",
        path=str(args.data / "store"),
        udf_path="",
        params={},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
