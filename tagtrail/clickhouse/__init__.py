"""One ClickHouse client API (clickhouse-connect) over either backend: chdb in process or a server."""

from tagtrail.clickhouse.connect import ClickHouseTarget, connect_clickhouse, parse_dsn
from tagtrail.clickhouse.connect_errors import ClickHouseUnreachable, NoTagtrailDatabase

__all__ = ["ClickHouseTarget", "ClickHouseUnreachable", "NoTagtrailDatabase", "connect_clickhouse", "parse_dsn"]
