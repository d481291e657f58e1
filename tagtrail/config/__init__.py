"""The site configuration: one YAML file describing readers, read points, scanners and services."""

from tagtrail.config.config_errors import ConfigError
from tagtrail.config.loader import load_site, parse_site
from tagtrail.config.site import (
    Address,
    Antenna,
    ClickHouseSettings,
    Company,
    KafkaSettings,
    LlrpSettings,
    Location,
    ProcessingSettings,
    Reader,
    ReadPoint,
    Scanner,
    ScanServiceSettings,
    SinkSettings,
    SiteConfig,
)

__all__ = [
    "Address",
    "Antenna",
    "Company",
    "ClickHouseSettings",
    "ConfigError",
    "KafkaSettings",
    "LlrpSettings",
    "Location",
    "ProcessingSettings",
    "ReadPoint",
    "Reader",
    "ScanServiceSettings",
    "Scanner",
    "SinkSettings",
    "SiteConfig",
    "load_site",
    "parse_site",
]
