"""One ClickHouse client API (clickhouse-connect) over either backend: chdb in process or a server."""

from tagtrail.clickhouse.connect import ClickHouseTarget, connect_clickhouse, parse_dsn

__all__ = ["ClickHouseTarget", "connect_clickhouse", "parse_dsn"]
