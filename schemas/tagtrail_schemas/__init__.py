"""Schemas as data: Avro event schemas (avro/*.avsc) and ClickHouse migrations (clickhouse/*.sql)."""
