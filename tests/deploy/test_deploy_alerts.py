"""deploy/prometheus: the alert rules parse as PromQL and use only metrics that exist, and Prometheus (compose)
loads them and scrapes every worker."""

from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from faststream.prometheus.container import MetricsContainer
from prometheus_client import CollectorRegistry

from schedcu.runtime.registries import WORKERS
from shared.metrics import REGISTRY

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"

SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "info": ("_info",),
}
# The RabbitMQ Prometheus plugin's per-queue metrics (/metrics/detailed, families queue_coarse_metrics and
# queue_consumer_count), and the series Prometheus itself writes for every target.
RABBITMQ_AND_PROMETHEUS = {
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_messages",
    "rabbitmq_detailed_queue_consumers",
    "up",
}
REQUIRED_ALERTS = {
    "SchedcuOutboxStalled",
    "SchedcuDeadLetters",
    "SchedcuWorkflowsStuck",
    "SchedcuWorkerDown",
    "SchedcuPhaseSlow",
    "SchedcuQueueDepthHigh",
}


def sample_names(registry: CollectorRegistry) -> set[str]:
    return {family.name + suffix for family in registry.collect() for suffix in SAMPLE_SUFFIXES[family.type]}


def known_metrics() -> set[str]:
    """schedcu's own metrics and FastStream's, as the workers' /metrics exposes them."""
    faststream = CollectorRegistry()
    MetricsContainer(faststream, custom_label_names=())
    return sample_names(REGISTRY) | sample_names(faststream) | RABBITMQ_AND_PROMETHEUS


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def metrics_in(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_the_issue_s_alerts_are_all_there() -> None:
    assert {rule["alert"] for rule in rules()} >= REQUIRED_ALERTS


def test_the_schedcu_metrics_the_alerts_rely_on_exist() -> None:
    assert {
        "schedcu_outbox_backlog",
        "schedcu_outbox_oldest_age_seconds",
        "schedcu_inbox_duplicates_total",
        "schedcu_workflows",
        "schedcu_phase_duration_seconds_bucket",
        "schedcu_dead_letters",
        "faststream_received_processed_messages_total",
    } <= known_metrics()


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_alert_uses_only_existing_metrics(rule: dict[str, Any]) -> None:
    used = metrics_in(rule["expr"])
    assert used, "an alert on no metric"
    assert used - known_metrics() == set()


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_alert_says_what_happened_and_waits_before_firing(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 80
    assert promql_parser.parse_duration(rule["for"]).total_seconds() >= 60


def test_a_misspelt_metric_is_caught() -> None:
    assert metrics_in("max(schedcu_outbox_oldest_age) > 1") - known_metrics() == {"schedcu_outbox_oldest_age"}


def test_a_broken_expression_is_caught() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("max(schedcu_dead_letters > 0")


def test_compose_prometheus_loads_the_alerts_and_scrapes_every_worker_and_the_broker() -> None:
    spec = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    mounts = dict(v.split(":")[:2] for v in spec["services"]["prometheus"]["volumes"] if v.startswith("./"))
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == [mounts["./prometheus/alerts.yml"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    (dns,) = jobs["schedcu-workers"]["dns_sd_configs"]
    assert sorted(dns["names"]) == sorted(WORKERS)
    assert dns["port"] == int(spec["services"]["versions"]["environment"]["SCHEDCU_HTTP_PORT"])
    queues = jobs["rabbitmq-queues"]
    assert queues["metrics_path"] == "/metrics/detailed"
    assert set(queues["params"]["family"]) == {"queue_coarse_metrics", "queue_consumer_count"}
