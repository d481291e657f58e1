"""Reads a site YAML into SiteConfig, reporting every problem with its file, line and key.

Validation is driven by the dataclasses in site.py, so a new setting is one field there, and an
unknown or misspelt key is an error rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import zoneinfo
from pathlib import Path
from typing import Any

import yaml

from tagtrail.config.config_errors import ConfigError
from tagtrail.config.gs1_locations import gs1_locations
from tagtrail.config.site import READ_POINT_KINDS, SEARCH_MODES, SiteConfig


def load_site(path: str | Path) -> SiteConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror or exc}"]) from exc
    return parse_site(text, source=str(p), path=p)


def parse_site(text: str, *, source: str = "<site config>", path: Path | None = None) -> SiteConfig:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    builder = _Builder(source)
    if node is None:
        config = SiteConfig()
    else:
        config = builder.build(SiteConfig, node, "")
    if builder.problems:
        raise ConfigError(builder.problems)
    config = dataclasses.replace(config, path=path)
    problems = _cross_check(config, builder)
    if problems:
        raise ConfigError(problems)
    return config


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.lines: dict[str, int] = {}

    def fail(self, node: yaml.Node, key: str, message: str) -> None:
        self.problems.append(f"{self.source}:{node.start_mark.line + 1}: {key or '(top level)'}: {message}")

    def build(self, tp: Any, node: yaml.Node, key: str) -> Any:
        self.lines[key] = node.start_mark.line + 1
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                return None
            return self.build(args[0], node, key)
        if dataclasses.is_dataclass(tp):
            return self._dataclass(tp, node, key)
        if origin is tuple:
            (item_tp, _ellipsis) = typing.get_args(tp)
            if not isinstance(node, yaml.SequenceNode):
                self.fail(node, key, "expected a list")
                return ()
            return tuple(self.build(item_tp, item, f"{key}[{i}]") for i, item in enumerate(node.value))
        if origin is dict:
            if not isinstance(node, yaml.MappingNode):
                self.fail(node, key, "expected a mapping")
                return {}
            return {k.value: self._scalar(str, v, f"{key}.{k.value}") for k, v in node.value}
        return self._scalar(tp, node, key)

    def _dataclass(self, tp: Any, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, f"expected a mapping of {', '.join(f.name for f in _fields(tp))}")
            return None
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in _fields(tp)}
        values: dict[str, Any] = {}
        for k_node, v_node in node.value:
            name = k_node.value
            sub = f"{key}.{name}" if key else name
            if name not in fields:
                self.fail(k_node, sub, f"unknown key (allowed: {', '.join(fields)})")
                continue
            values[name] = self.build(hints[name], v_node, sub)
        for name, f in fields.items():
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and name not in values:
                self.fail(node, f"{key}.{name}" if key else name, "required key is missing")
        try:
            return tp(**values)
        except TypeError:
            return None

    def _scalar(self, tp: Any, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, key, f"expected a {tp.__name__}, got a {'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}")
            return None
        value = yaml.safe_load(yaml.serialize(node))
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # ids like `1` or `0614141` are names, not numbers
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            self.fail(node, key, f"expected {_article(tp.__name__)} {tp.__name__}, got {value!r}")
            return None
        return value


def _fields(tp: Any) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(tp) if f.name != "path"]


def _cross_check(config: SiteConfig, builder: _Builder) -> list[str]:
    problems: list[str] = []

    def at(key: str, message: str) -> None:
        line = builder.lines.get(key)
        problems.append(f"{builder.source}:{line}: {key}: {message}" if line else f"{builder.source}: {key}: {message}")

    seen: set[str] = set()
    zones: dict[str, tuple[str, str]] = {}  # location -> (zone, read point that declared it): one zone per location
    for i, rp in enumerate(config.read_points):
        if rp.id in seen:
            at(f"read_points[{i}].id", f"duplicate read point id {rp.id!r}")
        seen.add(rp.id)
        if rp.kind not in READ_POINT_KINDS:
            at(f"read_points[{i}].kind", f"unknown kind {rp.kind!r} (one of {', '.join(READ_POINT_KINDS)})")
        if rp.smoothing_window_s is not None and rp.smoothing_window_s <= 0:
            at(f"read_points[{i}].smoothing_window_s", "must be positive")
        if rp.zone and zones.setdefault(rp.location, (rp.zone, rp.id))[0] != rp.zone:
            other_zone, other = zones[rp.location]
            at(f"read_points[{i}].zone", f"location {rp.location!r} is in zone {other_zone!r} (read point {other!r}), not {rp.zone!r}")
    reader_ids: set[str] = set()
    for i, reader in enumerate(config.readers):
        if reader.id in reader_ids:
            at(f"readers[{i}].id", f"duplicate reader id {reader.id!r}")
        reader_ids.add(reader.id)
        if not 0 < reader.port < 65536:
            at(f"readers[{i}].port", f"port {reader.port} is out of range")
        if reader.search_mode not in SEARCH_MODES:
            at(f"readers[{i}].search_mode", f"unknown search mode {reader.search_mode!r} (one of {', '.join(SEARCH_MODES)})")
        if not reader.antennas:
            at(f"readers[{i}].antennas", "a reader needs at least one antenna")
        if reader.default_read_point is not None and reader.default_read_point not in seen:
            at(f"readers[{i}].default_read_point", f"unknown read point {reader.default_read_point!r}")
        ports: set[int] = set()
        for j, antenna in enumerate(reader.antennas):
            if antenna.read_point not in seen:
                at(f"readers[{i}].antennas[{j}].read_point", f"unknown read point {antenna.read_point!r}")
            if antenna.port in ports:
                at(f"readers[{i}].antennas[{j}].port", f"antenna {antenna.port} listed twice")
            ports.add(antenna.port)
    for i, scanner in enumerate(config.scanners):
        token = scanner.token_sha256
        if len(token) != 64 or any(c not in "0123456789abcdef" for c in token.lower()):
            at(f"scanners[{i}].token_sha256", "must be the 64-hex-digit SHA-256 of the device token (tagtrail hash-token prints it)")
    for section in ("llrp", "scans", "processing", "sink"):
        port = getattr(getattr(config, section), "metrics_port", None)
        if port is not None and not 0 <= port < 65536:
            at(f"{section}.metrics_port", f"port {port} is out of range")
    if config.kafka.partitions < 1:
        at("kafka.partitions", "must be at least 1")
    try:
        zoneinfo.ZoneInfo(config.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        at("time_zone", f"unknown IANA time zone {config.time_zone!r} (e.g. Europe/Berlin, America/New_York, UTC)")
    location_ids: set[str] = set()
    for i, loc in enumerate(config.locations):
        if loc.id in location_ids:
            at(f"locations[{i}].id", f"duplicate location id {loc.id!r}")
        location_ids.add(loc.id)
    if config.locations:
        for i, rp in enumerate(config.read_points):
            if rp.location not in location_ids:
                at(f"read_points[{i}].location", f"location {rp.location!r} is not in locations")
    for key, message in gs1_locations(config).problems:
        at(key, message)
    if not config.clickhouse.dsn.startswith(("chdb://", "http://", "https://")):
        at("clickhouse.dsn", f"unsupported DSN {config.clickhouse.dsn!r}: use chdb:///DIR or http(s)://HOST:PORT")
    return problems


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
