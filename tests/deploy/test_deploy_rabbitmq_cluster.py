"""The three-node RabbitMQ cluster of deploy/: the compose override and the Kubernetes StatefulSet validate
against their schemas, their nodes find each other, and every quorum queue is replicated on all three."""

import copy
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from yarl import URL

from shared.messaging.connection import urls
from tests.deploy.test_deploy import DEPLOY, KUBERNETES_VERSION, compose, load_all

CLUSTER_COMPOSE = DEPLOY / "compose.rabbitmq-cluster.yaml"
CLUSTER_CONF = DEPLOY / "rabbitmq" / "cluster.conf"
K8S_RABBITMQ = DEPLOY / "k8s" / "rabbitmq"
NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")  # compose services; the first keeps compose.yaml's name


def settings(conf: str) -> dict[str, str]:
    """A rabbitmq.conf (sysctl format) as key -> value."""
    pairs = (line.split("=", 1) for line in conf.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def merged_compose() -> dict[str, Any]:
    """compose.yaml with the cluster file applied the way `docker compose -f A -f B` merges: mappings merge
    key by key, the later file wins on scalars."""

    def merge(base: Any, override: Any) -> Any:
        if isinstance(base, dict) and isinstance(override, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in override.items()}}
        return copy.deepcopy(override)

    (override,) = load_all(CLUSTER_COMPOSE)
    return merge(compose(), {k: v for k, v in override.items() if not k.startswith("x-")})


def cluster_conf() -> dict[str, str]:
    return settings(CLUSTER_CONF.read_text(encoding="utf-8"))


def k8s_documents() -> list[dict[str, Any]]:
    (kustomization,) = load_all(K8S_RABBITMQ / "kustomization.yaml")
    return [doc for name in kustomization["resources"] for doc in load_all(K8S_RABBITMQ / name)]


def k8s_object(kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in k8s_documents() if doc["kind"] == kind]
    return found


def k8s_conf() -> dict[str, str]:
    return settings(k8s_object("ConfigMap")["data"]["rabbitmq.conf"])


# --- compose -------------------------------------------------------------------------------------------------


def test_compose_with_the_cluster_file_is_valid_against_the_compose_specification() -> None:
    schema_text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    validator = jsonschema.Draft202012Validator(json.loads(schema_text))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(merged_compose())]
    assert errors == []


def node_name(service: dict[str, Any]) -> str:
    return str(service["environment"]["RABBITMQ_NODENAME"])


def resolvable_names(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Name -> the compose services Docker's DNS answers it with: each service's name and its network aliases
    (`hostname:` is not resolvable by the other containers)."""
    names: dict[str, list[str]] = {}
    for service_name, service in spec["services"].items():
        aliases = [a for net in (service.get("networks") or {}).values() for a in ((net or {}).get("aliases") or [])]
        for name in {service_name, *aliases}:
            names.setdefault(name, []).append(service_name)
    return names


def test_compose_cluster_nodes_are_named_after_their_services_and_the_workers_list_all_three() -> None:
    services = merged_compose()["services"]
    for node in NODES:
        assert services[node]["hostname"] == node
        assert node_name(services[node]) == f"rabbit@{node}"
    for client in ("ods-importer", "amion-scraper", "coverage", "versions", "operator"):
        hosts = urls(services[client]["environment"]["SCHEDCU_AMQP_URL"])
        assert [URL(h).host for h in hosts] == list(NODES), client


def test_compose_cluster_first_node_keeps_the_single_nodes_name_and_volume() -> None:
    single = compose()["services"]["rabbitmq"]
    first = merged_compose()["services"]["rabbitmq"]
    assert node_name(first) == node_name(single)
    data = [v for v in single["volumes"] if not v.startswith("./")]
    assert data and set(data) <= set(first["volumes"])


def test_compose_cluster_nodes_share_the_cookie_and_load_the_cluster_config_and_definitions() -> None:
    spec = merged_compose()
    for node in NODES:
        service = spec["services"][node]
        assert service["image"] == "rabbitmq:3.13-management"
        assert "rabbitmq_erlang_cookie" in service["secrets"]
        mounts = dict(volume.split(":")[:2] for volume in service["volumes"] if volume.startswith("./"))
        assert mounts["./rabbitmq/cluster.conf"] == "/etc/rabbitmq/rabbitmq.conf"
        assert mounts["./rabbitmq/definitions.json"] == cluster_conf()["load_definitions"]
    volumes = [v.split(":")[0] for node in NODES for v in spec["services"][node]["volumes"]]
    assert len({v for v in volumes if not v.startswith("./")}) == 3  # a data volume of its own for each node
    assert (DEPLOY / spec["secrets"]["rabbitmq_erlang_cookie"]["file"]).read_text(encoding="utf-8").strip()


def test_cluster_config_peers_are_the_compose_nodes_by_names_docker_resolves_to_them_alone() -> None:
    conf = cluster_conf()
    assert conf["cluster_formation.peer_discovery_backend"] == "classic_config"
    peers = sorted(v for k, v in conf.items() if k.startswith("cluster_formation.classic_config.nodes."))
    spec = merged_compose()
    assert peers == sorted(node_name(spec["services"][node]) for node in NODES)
    names = resolvable_names(spec)
    for peer in peers:
        host = peer.split("@", 1)[1]
        assert names.get(host) == [host], f"{peer}: {host} must resolve to its own service only, not {names.get(host)}"


def test_cluster_config_keeps_the_single_node_listeners() -> None:
    single = settings((DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8"))
    assert single.items() <= cluster_conf().items()


@pytest.mark.parametrize("conf", [cluster_conf, k8s_conf], ids=["compose", "kubernetes"])
def test_every_quorum_queue_grows_to_a_replica_on_each_of_the_three_nodes(conf: Any) -> None:
    found = conf()
    assert found["quorum_queue.continuous_membership_reconciliation.enabled"] == "true"
    assert found["quorum_queue.continuous_membership_reconciliation.target_group_size"] == "3"
    assert found["cluster_formation.target_cluster_size_hint"] == "3"
    assert found["cluster_partition_handling"] == "pause_minority"


# --- Kubernetes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", k8s_documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_kubernetes_cluster_document_is_valid_against_the_published_schema(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_cluster_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    (kustomization,) = load_all(K8S_RABBITMQ / "kustomization.yaml")
    manifests = {p.name for p in K8S_RABBITMQ.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    assert sorted(kustomization["resources"]) == sorted(manifests)
    (cookie,) = load_all(K8S_RABBITMQ / "secrets.example.yaml")
    assert all("REPLACE_ME" in value for value in cookie["stringData"].values())


def test_kubernetes_statefulset_runs_three_nodes_one_per_machine_under_the_headless_service() -> None:
    statefulset = k8s_object("StatefulSet")
    spec = statefulset["spec"]
    assert spec["replicas"] == 3
    headless = [d for d in k8s_documents() if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
    assert [d["metadata"]["name"] for d in headless] == [spec["serviceName"]]
    assert headless[0]["spec"]["publishNotReadyAddresses"] is True
    anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert k8s_object("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_kubernetes_nodes_are_named_as_peer_discovery_finds_them() -> None:
    conf = k8s_conf()
    assert conf["cluster_formation.peer_discovery_backend"] == "k8s"
    spec = k8s_object("StatefulSet")["spec"]
    assert conf["cluster_formation.k8s.service_name"] == spec["serviceName"]
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RABBITMQ_USE_LONGNAME"] == "true"
    assert env["RABBITMQ_NODENAME"] == "rabbit@$(POD_NAME)" + conf["cluster_formation.k8s.hostname_suffix"]
    plugins = k8s_object("ConfigMap")["data"]["enabled_plugins"]
    assert {"rabbitmq_peer_discovery_k8s", "rabbitmq_management", "rabbitmq_prometheus"} <= set(
        re.findall(r"rabbitmq_\w+", plugins)
    )


def test_kubernetes_peer_discovery_may_read_the_endpoints_and_nothing_more() -> None:
    role = k8s_object("Role")
    assert {(tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"]} == {
        (("endpoints",), ("get",)),
        (("events",), ("create",)),
    }
    binding = k8s_object("RoleBinding")
    pod = k8s_object("StatefulSet")["spec"]["template"]["spec"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert [s["name"] for s in binding["subjects"]] == [pod["serviceAccountName"]]


def test_kubernetes_nodes_load_the_definitions_and_the_cookie_from_secrets_and_run_restricted() -> None:
    pod = k8s_object("StatefulSet")["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"definitions": "schedcu-rabbitmq-definitions", "erlang-cookie": "schedcu-rabbitmq-erlang-cookie"}
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert k8s_conf()["load_definitions"] == mounts["definitions"] + "/definitions.json"
    assert pod["securityContext"]["runAsNonRoot"] is True
    for each in [*pod["initContainers"], container]:
        assert each["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_kubernetes_workers_reach_the_cluster_through_its_client_service() -> None:
    client = [d for d in k8s_documents() if d["kind"] == "Service" and d["spec"].get("clusterIP") != "None"]
    assert [d["metadata"]["name"] for d in client] == ["schedcu-rabbitmq"]
    assert "5672" in str([p["port"] for p in client[0]["spec"]["ports"]])
    assert "schedcu-rabbitmq.schedcu.svc" in (K8S_RABBITMQ / "kustomization.yaml").read_text(encoding="utf-8")


def test_kubernetes_liveness_probe_tolerates_the_wait_for_peers() -> None:
    """`ping` answers while the node waits for its peers (what `status` or a port check does not); the probe
    must not restart a node in that wait."""
    (container,) = k8s_object("StatefulSet")["spec"]["template"]["spec"]["containers"]
    probe = container["livenessProbe"]
    assert probe["exec"]["command"] == ["rabbitmq-diagnostics", "-q", "ping"]
    tolerated = probe["initialDelaySeconds"] + probe["periodSeconds"] * probe.get("failureThreshold", 3)
    assert tolerated >= 5 * 60


def test_every_rabbitmq_of_deploy_is_the_one_version_the_docs_name_beside_the_local_one() -> None:
    images = set(re.findall(r"image: (rabbitmq:[\w.-]+)", "\n".join(p.read_text() for p in DEPLOY.rglob("*.yaml"))))
    assert images == {"rabbitmq:3.13-management"}
    definitions = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
    assert definitions["rabbit_version"].startswith("3.13.")
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "RabbitMQ 3.13" in operations and "3.10" in operations
