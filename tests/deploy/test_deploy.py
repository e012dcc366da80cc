"""deploy/: every file parses, compose and Kubernetes documents validate against their published schemas,
every worker is deployed, and the settings they are given are settings schedcu has."""

import copy
import json
import os
import re
import subprocess
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from schedcu.runtime.registries import WORKERS
from schedcu.testing.fake_amion import load_truth
from shared.db import roles
from shared.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30"
SECRET_TEMPLATE = "secrets.example.yaml"
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The Dockerfile's entrypoint turns SCHEDCU_<NAME>_FILE=/path into SCHEDCU_<NAME>=<the file's content>.
FILE_SUFFIX = "_FILE"

YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


@cache
def parsed(path: Path) -> tuple[Any, ...]:
    return tuple(doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), SafeLoader) if doc is not None)


def load_all(path: Path) -> list[Any]:
    """The file's documents, a fresh copy for each caller (tests may change them)."""
    return copy.deepcopy(list(parsed(path)))


def compose() -> dict[str, Any]:
    (spec,) = load_all(DEPLOY / "compose.yaml")
    return spec


def kubernetes_documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
        for doc in load_all(path)
    ]  # fmt: skip


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in kubernetes_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def config_map() -> dict[str, str]:
    return k8s_object("ConfigMap", "schedcu-settings")["data"]


def secret_template(name: str) -> dict[str, str]:
    return k8s_object("Secret", name)["stringData"]


def dev_secret(name: str) -> str:
    return (DEPLOY / compose()["secrets"][name]["file"]).read_text(encoding="utf-8").strip()


def only_container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec["containers"]
    return container


# --- every file parses ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    assert load_all(path), f"{path} holds no document"


def test_the_deploy_folder_has_what_the_issue_asks_for() -> None:
    assert {"compose.yaml", "Dockerfile", "otel-collector.yaml"} <= {p.name for p in DEPLOY.iterdir()}
    assert (DEPLOY / "prometheus" / "alerts.yml").is_file()
    assert json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))["vhosts"]


# --- compose -------------------------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema_text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    validator = jsonschema.Draft202012Validator(json.loads(schema_text))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_compose_schema_check_catches_a_misspelt_key() -> None:
    schema_text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    broken = compose()
    broken["services"]["versions"]["helthcheck"] = broken["services"]["versions"].pop("healthcheck")
    assert not jsonschema.Draft202012Validator(json.loads(schema_text)).is_valid(broken)


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_compose_runs_every_worker_with_settable_replicas_and_a_health_check(worker: str) -> None:
    service = compose()["services"][worker]
    assert service["command"] == ["schedcu", "worker", worker]
    assert service["deploy"]["replicas"] == f"${{{WORKERS[worker].upper()}_REPLICAS:-1}}"
    assert "/health" in " ".join(service["healthcheck"]["test"])
    assert service["depends_on"]["db-roles"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert service["environment"]["SCHEDCU_HTTP_HOST"] == "0.0.0.0"
    assert service["environment"]["SCHEDCU_OTEL_EXPORTER"] == "otlp"
    assert urlsplit(service["environment"]["SCHEDCU_OTEL_ENDPOINT"]).hostname == "otel-collector"


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_compose_stops_a_worker_only_after_its_graceful_timeout(worker: str) -> None:
    service = compose()["services"][worker]
    grace = re.fullmatch(r"(\d+)s", service["stop_grace_period"])
    assert grace is not None
    assert int(grace.group(1)) > float(service["environment"]["SCHEDCU_GRACEFUL_TIMEOUT_S"])


def test_compose_migrates_once_the_database_is_healthy_and_workers_wait_for_it() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["schedcu", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:15")
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_compose_grants_the_database_roles_once_the_migration_is_done() -> None:
    grants = compose()["services"]["db-roles"]
    assert grants["command"] == ["schedcu", "db", "roles"]
    assert grants["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert grants["restart"] == "no"


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_compose_runs_each_worker_on_its_own_database_role(worker: str) -> None:
    """The one login of the database URL, and at connection (libpq's PGOPTIONS) the worker's role."""
    environment = compose()["services"][worker]["environment"]
    assert environment["SCHEDCU_DATABASE_URL_FILE"] == "/run/secrets/database_url"
    assert environment["PGOPTIONS"] == f"-c role={roles.SERVICE_ROLES[WORKERS[worker]]}"


def test_compose_broker_loads_the_definitions_with_management_and_prometheus_plugins() -> None:
    rabbitmq = compose()["services"]["rabbitmq"]
    assert rabbitmq["image"] == "rabbitmq:3.13-management"
    mounts = dict(volume.split(":")[:2] for volume in rabbitmq["volumes"] if volume.startswith("./"))
    assert mounts["./rabbitmq/rabbitmq.conf"] == "/etc/rabbitmq/rabbitmq.conf"
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    loaded = re.search(r"^load_definitions\s*=\s*(\S+)", conf, re.MULTILINE)
    assert loaded is not None and mounts["./rabbitmq/definitions.json"] == loaded.group(1)
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert mounts["./rabbitmq/enabled_plugins"] == "/etc/rabbitmq/enabled_plugins"
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= set(re.findall(r"rabbitmq_\w+", plugins))


def test_compose_bind_mounts_and_secret_files_exist() -> None:
    spec = compose()
    sources = [
        volume.split(":")[0] for service in spec["services"].values() for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]  # fmt: skip
    sources += [secret["file"] for secret in spec["secrets"].values()]
    assert [s for s in sources if not (DEPLOY / s).exists()] == []


def test_compose_amion_password_is_a_secret_file_only_the_scraper_gets() -> None:
    services = compose()["services"]
    holders = [name for name, service in services.items() if "amion_password" in service.get("secrets", [])]
    assert holders == ["amion-scraper"]
    environment = services["amion-scraper"]["environment"]
    accounts = Settings(amion_accounts=json.loads(environment["SCHEDCU_AMION_ACCOUNTS"])).amion_accounts
    assert {str(account.password_file) for account in accounts.values()} == {"/run/secrets/amion_password"}
    assert not any("password_env" in json.dumps(s.get("environment", {})) for s in services.values())


def test_compose_demo_amion_knows_the_password_and_the_month_the_demo_submits() -> None:
    fake = compose()["services"]["fake-amion"]
    truth_path = fake["command"][fake["command"].index("--truth") + 1]
    truth = load_truth(DEPLOY / "demo" / Path(truth_path).name)
    assert truth.password == dev_secret("amion_password")
    script = (DEPLOY / "demo" / "run-demo.sh").read_text(encoding="utf-8")
    start = re.search(r"--start (\d{4}-\d{2})-\d{2}", script)
    assert start is not None
    assert any(row.schedule_date.isoformat().startswith(start.group(1)) for row in truth.assignments)


def test_compose_database_url_secret_matches_the_postgres_password_secret() -> None:
    url = urlsplit(dev_secret("database_url"))
    postgres = compose()["services"]["postgres"]["environment"]
    assert url.password == dev_secret("postgres_password")
    assert (url.username, url.hostname, url.path) == (
        postgres["POSTGRES_USER"],
        "postgres",
        f"/{postgres['POSTGRES_DB']}",
    )


# --- Kubernetes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", kubernetes_documents(), ids=lambda d: f"{d[1]['kind']}/{d[1]['metadata']['name']}")
def test_kubernetes_document_is_valid_against_the_published_schema(document: tuple[str, dict[str, Any]]) -> None:
    kubernetes_validate.validate(document[1], KUBERNETES_VERSION, strict=True)


def test_kubernetes_schema_check_catches_a_misspelt_field() -> None:
    deployment = k8s_object("Deployment", "schedcu-versions")
    container = only_container(deployment["spec"]["template"]["spec"])
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    (kustomization,) = load_all(K8S / "kustomization.yaml")
    listed = kustomization["resources"]
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", SECRET_TEMPLATE}
    assert sorted(listed) == sorted(manifests)


def test_kubernetes_secret_templates_hold_only_placeholders() -> None:
    secrets = [d for name, d in kubernetes_documents() if d["kind"] == "Secret"]
    assert {name for name, d in kubernetes_documents() if d["kind"] == "Secret"} == {SECRET_TEMPLATE}
    assert [
        f"{s['metadata']['name']}.{k}" for s in secrets for k, v in s["stringData"].items() if "REPLACE_ME" not in v
    ] == []


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_kubernetes_runs_every_worker_with_probes_limits_and_a_locked_down_container(worker: str) -> None:
    pod = k8s_object("Deployment", f"schedcu-{worker}")["spec"]["template"]["spec"]
    container = only_container(pod)
    assert container["args"] == ["schedcu", "worker", worker]
    (port,) = container["ports"]
    assert port["containerPort"] == int(config_map()["SCHEDCU_HTTP_PORT"]) == 8080
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": port["name"]}
    assert pod["terminationGracePeriodSeconds"] > float(config_map()["SCHEDCU_GRACEFUL_TIMEOUT_S"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"requests", "limits"} <= container["resources"].keys()
    assert {"name": "schedcu-settings"} in [source["configMapRef"] for source in container["envFrom"]]


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_kubernetes_worker_takes_its_own_broker_user_and_the_database_from_secrets(worker: str) -> None:
    container = only_container(k8s_object("Deployment", f"schedcu-{worker}")["spec"]["template"]["spec"])
    from_secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    amqp, database = from_secrets["SCHEDCU_AMQP_URL"], from_secrets["SCHEDCU_DATABASE_URL"]
    assert urlsplit(secret_template(amqp["name"])[amqp["key"]]).username == f"schedcu-{worker}"
    assert database["key"] in secret_template(database["name"])


def test_kubernetes_amion_password_is_a_file_mounted_only_into_the_scraper() -> None:
    accounts = Settings(amion_accounts=json.loads(config_map()["SCHEDCU_AMION_ACCOUNTS"])).amion_accounts
    assert accounts
    pods = {w: k8s_object("Deployment", f"schedcu-{w}")["spec"]["template"]["spec"] for w in WORKERS}
    holders = [w for w, pod in pods.items() if any(v.get("secret", {}).get("secretName") == "schedcu-amion"
                                                    for v in pod["volumes"])]  # fmt: skip
    assert holders == ["amion-scraper"]
    scraper = pods["amion-scraper"]
    (volume,) = [v for v in scraper["volumes"] if "secret" in v]
    (mount,) = [m for m in only_container(scraper)["volumeMounts"] if m["name"] == volume["name"]]
    assert "subPath" not in mount, "a subPath mount is never updated when the Secret changes"
    for account in accounts.values():
        assert account.password_file is not None
        assert str(account.password_file.parent) == mount["mountPath"]
        assert account.password_file.name in secret_template("schedcu-amion")


def test_kubernetes_migration_job_upgrades_the_database_from_the_secret() -> None:
    job = k8s_object("Job", "schedcu-migrate")["spec"]["template"]["spec"]
    container = only_container(job)
    assert container["args"] == ["schedcu", "db", "upgrade"]
    (url,) = [e for e in container["env"] if e["name"] == "SCHEDCU_DATABASE_URL"]
    assert url["valueFrom"]["secretKeyRef"]["name"] == "schedcu-database"
    assert job["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_workers_only_check_the_topology_the_broker_definitions_declare() -> None:
    assert Settings(declare_topology=config_map()["SCHEDCU_DECLARE_TOPOLOGY"]).declare_topology is False


def test_image_user_is_the_one_kubernetes_runs_as() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    user = re.findall(r"^USER (\d+)", dockerfile, re.MULTILINE)
    assert user and user[-1] != "0"
    pods = [d["spec"]["template"]["spec"] for _, d in kubernetes_documents() if d["kind"] in ("Deployment", "Job")]
    assert {pod["securityContext"]["runAsUser"] for pod in pods} == {int(user[-1])}


def test_every_stage_of_the_image_starts_from_the_base_pinned_by_digest() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    base = re.findall(r"^ARG BASE=(\S+)$", dockerfile, re.MULTILINE)
    assert len(base) == 1 and re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base[0]), base
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert stages == ["${BASE}", "${BASE}"]


# --- settings ------------------------------------------------------------------------------------------------


def setting_names_in_deploy_files() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DEPLOY.rglob("*") if p.is_file())
    return set(re.findall(r"\bSCHEDCU_[A-Z0-9_]*[A-Z0-9]", text))


def test_every_schedcu_variable_in_deploy_files_is_a_setting() -> None:
    fields = {f"SCHEDCU_{name.upper()}" for name in Settings.model_fields}
    named = {n.removesuffix(FILE_SUFFIX) for n in setting_names_in_deploy_files()}
    assert named - fields == set()


def test_settings_given_to_compose_and_kubernetes_workers_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    environments = [config_map(), *(compose()["services"][w]["environment"] for w in WORKERS)]
    for environment in environments:
        for name in [n for n in os.environ if n.startswith("SCHEDCU_")]:
            monkeypatch.delenv(name)
        for name, value in environment.items():
            monkeypatch.setenv(name, str(value))
        settings = Settings()
        assert settings.http_host == "0.0.0.0"
        assert settings.http_port == 8080
        assert settings.declare_topology is False


# --- the image's entrypoint ----------------------------------------------------------------------------------


def run_entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(DEPLOY / "docker-entrypoint.sh"), *command],
        env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_entrypoint_reads_a_setting_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("postgresql+psycopg://schedcu:pa ss@db:5432/schedcu\n", encoding="utf-8")
    result = run_entrypoint({"SCHEDCU_DATABASE_URL_FILE": str(secret), "SCHEDCU_TIME_ZONE": "UTC"}, "env")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert env["SCHEDCU_DATABASE_URL"] == "postgresql+psycopg://schedcu:pa ss@db:5432/schedcu"
    assert env["SCHEDCU_TIME_ZONE"] == "UTC"
    assert "SCHEDCU_DATABASE_URL_FILE" not in env


def test_entrypoint_refuses_to_start_when_a_secret_file_is_missing(tmp_path: Path) -> None:
    result = run_entrypoint({"SCHEDCU_DATABASE_URL_FILE": str(tmp_path / "absent")}, "echo", "started")
    assert result.returncode != 0
    assert "started" not in result.stdout
