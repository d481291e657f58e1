"""What a site config holds. Defaults are what a first run on one machine needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

READ_POINT_KINDS = ("dock_door_inner", "dock_door_outer", "storage", "pick_face", "pack_station", "staging")
SEARCH_MODES = ("single_target", "dual_target", "single_target_with_suppression")


@dataclass(frozen=True)
class KafkaSettings:
    """Where events flow. No bootstrap servers means the embedded, non-durable mock cluster."""

    bootstrap_servers: str | None = None
    topic_prefix: str = "tagtrail"
    partitions: int = 12
    replication_factor: int = 1
    schema_registry_url: str | None = None
    # Extra librdkafka settings (security.protocol, sasl.*, ssl.*); values may be "env:NAME" or "file:PATH".
    client: dict[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return not self.bootstrap_servers


@dataclass(frozen=True)
class ClickHouseSettings:
    """`chdb:///DIR` runs ClickHouse in process; `http(s)://host:8123` talks to a server."""

    dsn: str = "chdb://.tagtrail/chdb"
    database: str = "tagtrail"
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class ReadPoint:
    """A place where an item can be observed: an antenna's field, a scanning station."""

    id: str
    location: str
    kind: str
    zone: str | None = None
    portal: str | None = None  # dock door id pairing inner and outer read points for direction
    smoothing_window_s: float | None = None
    # GS1 identity (docs/site-config.md): SGLN = gln (default company.gln) + sgln_extension
    gln: str | None = None
    sgln_extension: str | None = None


@dataclass(frozen=True)
class Address:
    """A postal address as CBV 2.0 location master data names its parts."""

    street_address: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country_code: str | None = None  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Location:
    """A business location's master data; its id is what read points name in `location`."""

    id: str
    name: str | None = None
    gln: str | None = None  # default company.gln
    sgln_extension: str | None = None  # none: the location is the GLN itself
    address: Address | None = None


@dataclass(frozen=True)
class Company:
    """The party running the site. company_prefix splits GLNs into SGLN EPC URIs (else GS1's prefix table)."""

    name: str
    gln: str
    company_prefix: str | None = None


@dataclass(frozen=True)
class Antenna:
    port: int
    read_point: str
    tx_power_dbm: float | None = None


@dataclass(frozen=True)
class Reader:
    """One LLRP reader and what each of its antennas watches."""

    id: str
    host: str
    antennas: tuple[Antenna, ...]
    port: int = 5084
    session: int = 1
    search_mode: str = "dual_target"
    report_every_n_tags: int | None = None
    report_every_ms: int = 200
    keepalive_s: float = 3.0
    tx_power_dbm: float | None = None
    rssi_scale: float = 1.0  # 0.01 for readers that report dBm x 100
    # Impinj readers only: enable their LLRP extensions so search_mode is sent (plain LLRP 1.0.1 has none)
    impinj_extensions: bool = False
    # The read point of tag reports without AntennaID (readers that never send one); they get antenna_id 0.
    # Without it such reports go to the only antenna's read point, or are dead-lettered (unknown_antenna).
    default_read_point: str | None = None


@dataclass(frozen=True)
class Scanner:
    """A handheld device allowed to upload scans; the token is stored only as its SHA-256."""

    id: str
    token_sha256: str
    location: str | None = None


@dataclass(frozen=True)
class LlrpSettings:
    spool_dir: str = ".tagtrail/spool"
    spool_max_bytes: int = 256 * 1024 * 1024
    dead_reader_after_s: float = 10.0
    reconnect_max_backoff_s: float = 30.0
    reconnect_initial_backoff_s: float = 0.5
    clock_tolerance_s: float = 2.0  # reader clocks further off than this are corrected by the measured offset
    max_in_flight: int = 50_000  # records handed to the Kafka producer at once; the rest waits in the spool
    delivery_stall_s: float = 120.0  # no delivery report this long while Kafka answers: replace the producer
    metrics_port: int | None = None  # serve /metrics, /healthz, /readyz here (0 = any free port)


@dataclass(frozen=True)
class ScanServiceSettings:
    """The handheld upload API (tagtrail ingest scans); see docs/ingest-scans.md."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 8 * 1024 * 1024
    allow_internal_barcodes: bool = True
    gs_substitute: str | None = None  # a character keyboard-wedge scanners send in place of GS
    require_serial: bool = True  # a GTIN without serial names a product, not an item: reject as no_serial
    max_scans_per_upload: int = 5000  # keeps one upload's verdict within one Kafka record
    max_clock_skew_s: float = 300.0  # scanned_at further than this past the upload time is rejected
    publish_timeout_s: float = 10.0  # how long an upload waits for Kafka before answering 503
    retry_after_s: int = 5  # the Retry-After of a 503
    parse_cache_size: int = 65536  # parsed barcodes kept by raw data (repeat scans skip biip)
    metrics_port: int | None = None  # serve /metrics, /healthz, /readyz here (0 = any free port)


@dataclass(frozen=True)
class ProcessingSettings:
    smoothing_window_s: float = 5.0
    location_hold_off_s: float = 0.5
    rssi_margin_db: float = 6.0
    missing_after_s: float = 24 * 3600.0
    lateness_bound_s: float = 24 * 3600.0
    commit_every_s: float = 0.5
    # Live mode: at the first read of a portal observation, publish where the item is being read as a
    # provisional movement, before the crossing is decided (only after the item left the portal plus the
    # smoothing window). The decided movement replaces it (same event_id) or it is retracted. Off: only
    # decided movements are published.
    provisional_movements: bool = False
    # read point kind (or "<kind>:<direction>") -> "biz_step/disposition"
    steps: dict[str, str] = field(default_factory=dict)
    # Events stamped further ahead of the processor's clock than this are dead-lettered
    # (reason from_the_future) instead of dragging the event-time watermark forward.
    future_tolerance_s: float = 3600.0
    consume_batch: int = 5000  # messages per consume() call on the hot path
    transaction_timeout_s: float = 20.0  # bounds how long a dead instance's open transaction blocks others
    session_timeout_s: float = 10.0  # consumer group session: how soon a dead instance's partitions move
    # A partition without input for this long (processing time) lets pending decisions assume
    # nothing older than now minus this is still coming (0: wait for event time only).
    idle_advance_s: float = 30.0
    metrics_port: int | None = None  # serve /metrics, /healthz, /readyz here (0 = any free port)


@dataclass(frozen=True)
class SinkSettings:
    batch_rows: int = 50_000
    batch_seconds: float = 1.0
    # While a partition is behind by a batch or more (after an outage, a burst), its batches grow up to this
    # many rows: ClickHouse's cost per insert is largely fixed, so fewer, larger inserts drain a backlog sooner.
    catch_up_batch_rows: int = 200_000
    reads_ttl_days: int = 30
    retry_max_backoff_s: float = 5.0  # cap of the wait between retries while ClickHouse or Kafka is unreachable
    # A stable id per sink process (e.g. "sink-0") turns on Kafka static group membership: a restarted sink
    # gets its partitions back at once instead of after the session timeout. Unique per running sink.
    instance_id: str | None = None
    metrics_port: int | None = None  # serve /metrics, /healthz, /readyz here (0 = any free port)


@dataclass(frozen=True)
class SiteConfig:
    site_id: str = "site"
    company: Company | None = None  # no company: exports name locations urn:tagtrail:... (check-config warns)
    time_zone: str = "UTC"  # IANA name: eventTimeZoneOffset of exports, per event (DST-correct)
    locations: tuple[Location, ...] = ()
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = field(default_factory=ClickHouseSettings)
    read_points: tuple[ReadPoint, ...] = ()
    readers: tuple[Reader, ...] = ()
    scanners: tuple[Scanner, ...] = ()
    llrp: LlrpSettings = field(default_factory=LlrpSettings)
    scans: ScanServiceSettings = field(default_factory=ScanServiceSettings)
    processing: ProcessingSettings = field(default_factory=ProcessingSettings)
    sink: SinkSettings = field(default_factory=SinkSettings)
    path: Path | None = None  # where it was loaded from; relative paths resolve against its folder

    def read_point(self, read_point_id: str) -> ReadPoint | None:
        return next((rp for rp in self.read_points if rp.id == read_point_id), None)

    def location(self, location_id: str) -> Location | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)

    def reader(self, reader_id: str) -> Reader | None:
        return next((r for r in self.readers if r.id == reader_id), None)

    def resolve_path(self, value: str) -> Path:
        p = Path(value)
        if p.is_absolute() or self.path is None:
            return p
        return self.path.parent / p
