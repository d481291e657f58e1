"""The compose file, checked by reading it: no Docker engine is needed (or available) to run these."""

from __future__ import annotations

import re

import pytest
import yaml

from tagtrail.config import load_site
from tests.deploy.conftest import COMPOSE_FILE, DEPLOY, Compose, parse_command, site_env_references

SITE_IN_CONTAINER = "/etc/tagtrail/site.yaml"
EXPECTED_SERVICES = {"ingest-llrp": ("ingest", "llrp"), "ingest-scans": ("ingest", "scans"), "process": ("process", None),
                     "sink": ("sink", None), "migrate": ("migrate", None)}
PORT_IN_HEALTHCHECK = re.compile(r"http://127\.0\.0\.1:(\d+)/readyz")


def site_of(compose: Compose, name: str):
    args = parse_command(compose.services[name]["command"])
    host_file = compose.bind_mounts(compose.services[name])[args.site]
    return load_site(host_file)


def test_infrastructure_uses_the_official_images(compose: Compose) -> None:
    assert compose.services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert compose.services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    kafka_env = compose.services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{kafka_env['KAFKA_NODE_ID']}@kafka:9093"


def test_every_tagtrail_service_command_parses_with_the_real_cli(compose: Compose) -> None:
    services = compose.tagtrail_services()
    assert set(services) == set(EXPECTED_SERVICES)
    for name, service in services.items():
        args = parse_command(service["command"])
        assert (args.command, getattr(args, "adapter", None)) == EXPECTED_SERVICES[name], name
        assert args.site == SITE_IN_CONTAINER, name


def test_each_service_mounts_a_site_file_that_loads(compose: Compose) -> None:
    for name in compose.tagtrail_services():
        site = site_of(compose, name)
        assert site.kafka.bootstrap_servers == "kafka:9092", name
        assert site.clickhouse.dsn == "http://clickhouse:8123", name


def test_site_points_at_the_compose_services(compose: Compose) -> None:
    site = site_of(compose, "sink")
    kafka_env = compose.services["kafka"]["environment"]
    assert f"PLAINTEXT://{site.kafka.bootstrap_servers}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert site.kafka.replication_factor <= 1  # one broker
    ch_env = compose.services["clickhouse"]["environment"]
    assert (site.clickhouse.username, site.clickhouse.password, site.clickhouse.database) == (
        ch_env["CLICKHOUSE_USER"], ch_env["CLICKHOUSE_PASSWORD"], ch_env["CLICKHOUSE_DB"])


def test_env_references_in_site_files_are_set_for_the_service(compose: Compose) -> None:
    for name, service in compose.tagtrail_services().items():
        args = parse_command(service["command"])
        text = compose.bind_mounts(service)[args.site].read_text()
        missing = site_env_references(text) - set(service.get("environment", {}))
        assert not missing, f"{name}: site refers to env vars the service does not set: {missing}"


def test_compose_variables_have_defaults_or_a_clear_error() -> None:
    for match in re.finditer(r"\$\{([^}]*)\}", COMPOSE_FILE.read_text()):
        body = match.group(1)
        assert ":-" in body or ":?" in body, f"${{{body}}} has neither a default nor an error message"


def test_grafana_provisioning_variables_are_set_in_its_environment(compose: Compose) -> None:
    grafana = compose.services["grafana"]
    mounts = compose.bind_mounts(grafana)
    provisioning = mounts["/etc/grafana/provisioning"]
    used = set()
    for path in provisioning.rglob("*.yaml"):
        used |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text()))
    assert used, "expected the ClickHouse password to come from the environment"
    assert used <= set(grafana["environment"])
    assert grafana["environment"]["TAGTRAIL_CLICKHOUSE_PASSWORD"] == compose.services["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"]


def test_dashboard_provider_reads_the_folder_the_dashboard_is_mounted_in(compose: Compose) -> None:
    grafana = compose.services["grafana"]
    mounts = compose.bind_mounts(grafana)
    provider = yaml.safe_load((mounts["/etc/grafana/provisioning"] / "dashboards" / "tagtrail.yaml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    dashboards = [target for target, host in mounts.items() if host == DEPLOY / "grafana" / "tagtrail-dashboard.json"]
    assert dashboards and dashboards[0].rsplit("/", 1)[0] == folder


def test_every_service_has_a_health_check(compose: Compose) -> None:
    for name, service in compose.services.items():
        if name == "migrate":
            assert service["restart"] == "no"  # one-shot job: nothing to probe
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"


def test_scan_service_health_check_probes_the_port_it_listens_on(compose: Compose) -> None:
    service = compose.services["ingest-scans"]
    args = parse_command(service["command"])
    probed = int(PORT_IN_HEALTHCHECK.search(" ".join(service["healthcheck"]["test"])).group(1))
    assert probed == args.port
    assert any(p.endswith(f":{args.port}") for p in service["ports"])


def scraped_ports() -> dict[str, int]:
    prometheus = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for group in job["static_configs"] for t in group["targets"]]
    return {t.split(":")[0]: int(t.split(":")[1]) for t in targets}


def test_prometheus_scrapes_every_service_on_the_port_its_health_check_probes(compose: Compose) -> None:
    scraped = scraped_ports()
    assert set(scraped) == {"ingest-llrp", "ingest-scans", "process", "sink"}
    for name in ("ingest-llrp", "process", "sink"):  # the scan service is probed on its API port (its own /readyz)
        probed = int(PORT_IN_HEALTHCHECK.search(" ".join(compose.services[name]["healthcheck"]["test"])).group(1))
        assert probed == scraped[name], name
    assert len(set(scraped.values())) == len(scraped)  # distinct, so `tagtrail run` can serve them all at once


@pytest.mark.parametrize("name, section", [("ingest-llrp", "llrp"), ("process", "processing"), ("sink", "sink"), ("ingest-scans", "scans")])
def test_site_metrics_port_is_the_scraped_one(compose: Compose, name: str, section: str) -> None:
    settings = getattr(site_of(compose, name), section)
    if not hasattr(settings, "metrics_port"):
        pytest.skip(f"{section}.metrics_port is not a site setting yet (see deploy/README.md, Metrics)")
    assert settings.metrics_port == scraped_ports()[name], f"uncomment {section}.metrics_port in deploy/compose/site.yaml"


def test_named_volumes_are_declared_and_the_spool_is_on_one(compose: Compose) -> None:
    declared = set(compose.doc["volumes"])
    for name, service in compose.services.items():
        assert set(compose.named_volumes(service).values()) <= declared, name
    site = site_of(compose, "ingest-llrp")
    assert site.llrp.spool_dir in compose.named_volumes(compose.services["ingest-llrp"])
    assert "/var/lib/kafka/data" in compose.named_volumes(compose.services["kafka"])
    assert compose.services["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "/var/lib/clickhouse" in compose.named_volumes(compose.services["clickhouse"])


def test_dependencies_exist_and_the_sink_waits_for_migrations(compose: Compose) -> None:
    for name, service in compose.services.items():
        assert set(service.get("depends_on", {})) <= set(compose.services), name
    assert compose.services["sink"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
