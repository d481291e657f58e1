"""Keeps label values safe to publish: no secrets, bounded length.

Label values come from ids (reader, device, stage, topic) and reason codes, which should never hold a
secret; but a reason built from an exception message can quote a DSN or a SASL setting. Metrics are
scraped by systems with far wider access than the services' own config, so every label value passes
through a guard that knows the site's secret values and replaces any value containing one.
"""

from __future__ import annotations

from collections.abc import Iterable

from tagtrail.clickhouse.connect import parse_dsn
from tagtrail.config import SiteConfig
from tagtrail.config.secrets import SECRET_WORDS, resolve_value

REDACTED = "redacted"
MAX_LABEL_CHARS = 120  # long values are free text, not ids; truncating also caps series size
MIN_SECRET_CHARS = 4  # shorter "secrets" would redact ordinary words and hide real labels


class LabelGuard:
    """Turns any value into a label value that holds none of the given secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(s for s in {str(s) for s in secrets} if len(s) >= MIN_SECRET_CHARS)

    def __call__(self, value: object) -> str:
        text = "" if value is None else str(value)
        if any(secret in text for secret in self._secrets):
            return REDACTED
        return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 3] + "..."


def site_secrets(site: SiteConfig) -> frozenset[str]:
    """Every secret value a site config leads to: SASL/SSL passwords and keys, ClickHouse passwords.

    `env:`/`file:` references are resolved the way the Kafka client resolves them; one that cannot
    be resolved is skipped (the Kafka connection reports it, this only guards what is known).
    """
    found: set[str] = set()
    for key, value in site.kafka.client.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            try:
                found.add(resolve_value(f"kafka.client.{key}", value))
            except KeyError:
                pass
    if site.clickhouse.password:
        try:
            found.add(resolve_value("clickhouse.password", site.clickhouse.password))
        except KeyError:
            pass
    try:
        dsn_password = parse_dsn(site.clickhouse.dsn).password
    except ValueError:
        dsn_password = None
    if dsn_password:
        found.add(dsn_password)
    return frozenset(s for s in found if s)
