"""The dry run drives the workers' own handlers, in this process: change one of their steps, and the dry run's
report changes with it."""

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from schedcu.operations.dry_run import dry_run
from services.amion_scraper import handlers as amion_handlers
from services.amion_scraper.assessment import ScrapeOutcome
from services.ods_importer import handlers as importer_handlers
from services.ods_importer.handlers import Import
from shared.kernel.contracts import ImportRequested
from shared.kernel.findings import Code, Severity
from shared.settings import get_settings
from tests.conftest import Pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # the pipeline: the workers as processes

STORED = (
    "SELECT (SELECT count(*) FROM schedule_versions), (SELECT count(*) FROM workflows), "
    "(SELECT count(*) FROM assignments), (SELECT count(*) FROM coverage_calculations), (SELECT count(*) FROM outbox)"
)


@pytest.fixture
def on_the_pipeline(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process configured as the pipeline's processes are: its database, its broker, its fake Amion."""
    for key, value in pipeline.env.items():
        if key.startswith("SCHEDCU_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def request(pipeline: Pipeline) -> ImportRequested:
    body = amqp_client.import_requested("dry-run-probe", pipeline.template, "2026-03-02", "2026-03-08")
    return ImportRequested.model_validate(body)


@pytest.mark.usefixtures("on_the_pipeline")
def test_a_change_to_a_workers_step_shows_in_the_dry_run(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    before = pipeline.query(STORED)
    as_imported = dry_run(request(pipeline))
    assert (as_imported.layout, as_imported.windows, as_imported.assignments) == ("TEMPLATE", 12, 35)
    assert as_imported.coverage is not None

    probe = Code("PROBE", Severity.WARNING)("the importer's step was changed")
    prepare, assess = importer_handlers.prepare, amion_handlers.assess

    def prepare_with_probe(*args: Any) -> Import:
        prepared = prepare(*args)
        return dataclasses.replace(prepared, findings=[*prepared.findings, probe])

    def assess_matching_nobody(*args: Any) -> ScrapeOutcome:
        return dataclasses.replace(assess(*args), assignments=[])

    monkeypatch.setattr(importer_handlers, "prepare", prepare_with_probe)
    monkeypatch.setattr(amion_handlers, "assess", assess_matching_nobody)
    changed = dry_run(request(pipeline))

    assert probe in changed.template_findings and probe not in as_imported.template_findings
    assert (changed.scrape_state, changed.scrape_months) == (as_imported.scrape_state, as_imported.scrape_months)
    assert changed.assignments == 0
    assert changed.coverage is not None and changed.coverage["summary"] != as_imported.coverage["summary"]
    assert pipeline.query(STORED) == before
