"""The Kubernetes manifests, checked by reading them: commands, site files, secrets, probes, sharding."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import yaml

from tagtrail.config import parse_site
from tests.deploy.conftest import K8S, REPO, Compose, parse_command, site_env_references

WORKLOADS = ("Deployment", "StatefulSet", "Job")


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in docs if d["kind"] in WORKLOADS}


def site_configmap(docs: list[dict[str, Any]]) -> dict[str, str]:
    return by_kind(docs, "ConfigMap")["tagtrail-site"]["data"]


def mounted_site_key(pod: dict[str, Any], container: dict[str, Any], path: str) -> str:
    """The ConfigMap key mounted at `path`, following the volume to the tagtrail-site ConfigMap."""
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == path)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "tagtrail-site"
    return mount["subPath"]


def test_every_manifest_parses_and_is_in_the_kustomization(k8s_docs: list[dict[str, Any]]) -> None:
    for doc in k8s_docs:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc["__file__"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "tagtrail", doc["metadata"]["name"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files - {"secret.example.yaml"}  # secrets are created out of band


def test_images_are_the_one_the_dockerfile_builds(k8s_docs: list[dict[str, Any]], compose: Compose) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    built = {s["image"].replace("${TAGTRAIL_VERSION:-", "").rstrip("}") for s in compose.tagtrail_services().values()}
    assert built == {f"tagtrail:{version}"}
    for name, pod in pod_specs(k8s_docs).items():
        for container in pod["containers"]:
            assert container["image"] == f"tagtrail:{version}", name
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert {(i["name"], i["newTag"]) for i in kustomization["images"]} == {("tagtrail", version)}


def test_commands_parse_and_their_site_files_load(k8s_docs: list[dict[str, Any]]) -> None:
    data = site_configmap(k8s_docs)
    for name, pod in pod_specs(k8s_docs).items():
        for container in pod["containers"]:
            args = parse_command(container["args"])
            site = parse_site(data[mounted_site_key(pod, container, args.site)], source=f"{name}:{args.site}")
            assert site.kafka.bootstrap_servers and not site.kafka.embedded, name
            assert site.clickhouse.dsn.startswith("https://"), name


def test_site_secrets_come_from_the_secret_not_the_configmap(k8s_docs: list[dict[str, Any]]) -> None:
    data = site_configmap(k8s_docs)
    secrets = by_kind(k8s_docs, "Secret")
    for name, pod in pod_specs(k8s_docs).items():
        for container in pod["containers"]:
            args = parse_command(container["args"])
            needed = site_env_references(data[mounted_site_key(pod, container, args.site)])
            env = {e["name"]: e for e in container.get("env", [])}
            assert needed <= set(env), f"{name}: site refers to env vars the container does not set: {needed - set(env)}"
            for var in needed:
                ref = env[var]["valueFrom"]["secretKeyRef"]
                assert ref["key"] in secrets[ref["name"]]["stringData"], f"{name}: {ref} is not in secret.example.yaml"
    for key, text in data.items():
        site = parse_site(text)
        assert site.kafka.client["sasl.password"].startswith("env:"), key
        assert site.clickhouse.password is None or site.clickhouse.password.startswith("env:"), key


def test_files_the_site_refers_to_are_mounted(k8s_docs: list[dict[str, Any]]) -> None:
    data = site_configmap(k8s_docs)
    for name, pod in pod_specs(k8s_docs).items():
        for container in pod["containers"]:
            args = parse_command(container["args"])
            site = parse_site(data[mounted_site_key(pod, container, args.site)])
            if args.command == "migrate":
                continue  # talks to ClickHouse only
            ca = site.kafka.client.get("ssl.ca.location")
            assert ca and any(ca.startswith(m["mountPath"] + "/") for m in container["volumeMounts"]), name


def test_long_running_pods_have_probes_and_sized_resources(k8s_docs: list[dict[str, Any]]) -> None:
    for doc in k8s_docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            for probe in ("livenessProbe", "readinessProbe"):
                assert container[probe]["httpGet"]["port"] in ports, f"{doc['metadata']['name']}: probe on an undeclared port"
            resources = container["resources"]
            for kind in ("cpu", "memory"):
                assert resources["requests"][kind] and resources["limits"][kind], doc["metadata"]["name"]
            assert cpu(resources["requests"]["cpu"]) <= cpu(resources["limits"]["cpu"])
            assert mem(resources["requests"]["memory"]) <= mem(resources["limits"]["memory"])
            annotations = doc["spec"]["template"]["metadata"]["annotations"]
            assert int(annotations["prometheus.io/port"]) == ports["metrics"]


def cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if str(value).endswith("m") else float(value)


def mem(value: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(value[:-2]) * units[value[-2:]]


def test_one_single_replica_deployment_per_llrp_shard_with_its_own_spool(k8s_docs: list[dict[str, Any]]) -> None:
    data = site_configmap(k8s_docs)
    shard_keys = {k for k in data if k.startswith("llrp-shard-")}
    claims = by_kind(k8s_docs, "PersistentVolumeClaim")
    seen = set()
    for name, deployment in by_kind(k8s_docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        args = parse_command(container["args"])
        if getattr(args, "adapter", None) != "llrp":
            continue
        key = mounted_site_key(pod, container, args.site)
        seen.add(key)
        assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate", name
        spool = parse_site(data[key]).llrp.spool_dir
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == spool)
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["persistentVolumeClaim"]["claimName"] in claims, name
    assert seen == shard_keys and len(seen) >= 2


def test_shards_split_the_readers_and_agree_on_everything_else(k8s_docs: list[dict[str, Any]]) -> None:
    data = site_configmap(k8s_docs)
    whole = yaml.safe_load(data["site.yaml"])
    owner: dict[str, str] = {}
    for key in sorted(k for k in data if k.startswith("llrp-shard-")):
        shard = yaml.safe_load(data[key])
        assert {k: v for k, v in shard.items() if k != "readers"} == {k: v for k, v in whole.items() if k != "readers"}, (
            f"{key} differs from site.yaml outside `readers` (a different kafka section would lose its reads)")
        for reader in shard["readers"]:
            assert reader["id"] not in owner, f"reader {reader['id']} is in {owner.get(reader['id'])} and {key}"
            owner[reader["id"]] = key
            assert reader in whole["readers"], f"{key}: reader {reader['id']} differs from site.yaml"
    assert set(owner) == {r["id"] for r in whole["readers"]}, "every reader must be in exactly one shard"


def test_scan_service_is_reachable_through_its_service(k8s_docs: list[dict[str, Any]]) -> None:
    service = by_kind(k8s_docs, "Service")["tagtrail-scans"]
    deployment = by_kind(k8s_docs, "Deployment")["tagtrail-scans"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    args = parse_command(container["args"])
    (port,) = service["spec"]["ports"]
    assert ports[port["targetPort"]] == args.port
    assert container["readinessProbe"]["httpGet"]["port"] == port["targetPort"]  # the API's own /readyz


def test_processor_instance_ids_are_stable_pod_names(k8s_docs: list[dict[str, Any]]) -> None:
    statefulset = by_kind(k8s_docs, "StatefulSet")["tagtrail-process"]
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    args = parse_command(container["args"])
    assert args.command == "process" and args.instance_id == "$(POD_NAME)"
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert statefulset["spec"]["serviceName"] in by_kind(k8s_docs, "Service")


def test_workloads_for_every_stage(k8s_docs: list[dict[str, Any]]) -> None:
    commands = set()
    for pod in pod_specs(k8s_docs).values():
        args = parse_command(pod["containers"][0]["args"])
        commands.add((args.command, getattr(args, "adapter", None)))
    assert commands == {("ingest", "llrp"), ("ingest", "scans"), ("process", None), ("sink", None), ("migrate", None)}


def test_containers_run_as_the_images_unprivileged_user(k8s_docs: list[dict[str, Any]]) -> None:
    for name, pod in pod_specs(k8s_docs).items():
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001, name
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


SECTIONS = {("ingest", "llrp"): "llrp", ("ingest", "scans"): "scans", ("process", None): "processing", ("sink", None): "sink"}


def test_site_metrics_port_is_the_probed_and_scraped_one(k8s_docs: list[dict[str, Any]]) -> None:
    data = site_configmap(k8s_docs)
    checked = 0
    for name, pod in pod_specs(k8s_docs).items():
        container = pod["containers"][0]
        args = parse_command(container["args"])
        section = SECTIONS.get((args.command, getattr(args, "adapter", None)))
        if section is None:
            continue
        settings = getattr(parse_site(data[mounted_site_key(pod, container, args.site)]), section)
        if not hasattr(settings, "metrics_port"):
            continue
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert settings.metrics_port == ports["metrics"], f"{name}: set {section}.metrics_port in site-configmap.yaml"
        checked += 1
    if not checked:
        pytest.skip("metrics_port is not a site setting yet (see deploy/README.md, Metrics)")
