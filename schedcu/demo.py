"""The main job, end to end: services found, database migrated, four workers and a fake Amion started,
a generated month submitted, waited for, its coverage summary printed, everything stopped."""

import asyncio
import json
import os
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import yaml

from schedcu import processes
from schedcu.commands.versions import TERMINAL, print_workflow, wait_for
from schedcu.coverage_page import render_page
from schedcu.demo_data import ROSTER, month_period, truth
from schedcu.infra import MissingService, ensure_database_exists, resolve
from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
from schedcu.sample_template import sample_template
from schedcu.submit import import_request, publish_request
from schedcu.terminal import print_summary
from services.amion_scraper.roster import RosterEntry, reconcile
from shared import ids
from shared.contracts import Period
from shared.db.migrate import upgrade
from shared.db.session import transaction
from shared.settings import get_settings
from shared.states import WorkflowState

DEMO_PASSWORD = "demo pass"  # the fake Amion's; a space, as real view passwords may have


def next_month() -> date:
    today = date.today()
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def run_demo(month: str | None, workdir: Path) -> int:
    first = date.fromisoformat(f"{month}-01") if month else next_month()
    start, end = month_period(first)
    settings = get_settings()
    with ExitStack() as stack:
        try:
            database_url, amqp_url = resolve(settings.database_url, settings.amqp_url, stack)
        except MissingService as error:
            print(f"schedcu demo: {error}")
            return 3
        print(f"PostgreSQL {database_url.split('@')[-1]}, RabbitMQ {amqp_url.split('@')[-1]}")
        ensure_database_exists(database_url)
        upgrade(database_url)
        print("database migrated")

        logs = workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        template = workdir / "sample-template.ods"
        template.write_bytes(sample_template())
        truth_file = workdir / "amion-truth.yaml"
        truth_file.write_text(yaml.safe_dump(truth(first, DEMO_PASSWORD)), encoding="utf-8")

        fake = processes.fake_amion(truth_file, dict(os.environ), logs).start()
        stack.callback(fake.stop)
        fake.wait_healthy()
        amion_url = fake.health_url.replace("/truth", "/cgi-bin/ocs")
        os.environ.update(
            {
                "SCHEDCU_DATABASE_URL": database_url,
                "SCHEDCU_AMQP_URL": amqp_url,
                "SCHEDCU_DEMO_AMION_PASSWORD": DEMO_PASSWORD,
                "SCHEDCU_AMION_ACCOUNTS": json.dumps(
                    {"demo": {"base_url": amion_url, "password_env": "SCHEDCU_DEMO_AMION_PASSWORD"}}
                ),
            }
        )
        get_settings.cache_clear()
        workers = [processes.worker(name, dict(os.environ), logs).start() for name in processes.WORKER_NAMES]
        for w in workers:
            stack.callback(w.stop)
        for w in workers:
            w.wait_healthy()
        print(f"fake Amion and workers {', '.join(processes.WORKER_NAMES)} running (logs in {logs})")

        with transaction() as session:
            change = reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])
        print(f"roster: {change.added} added, {change.updated} updated")

        request_id = f"demo-{start:%Y-%m}-{os.getpid()}"
        request = import_request(
            template,
            group="demo",
            period=Period(start=start, end=end),
            amion_account="demo",
            requested_by="demo",
            request_id=request_id,
        )
        asyncio.run(publish_request(get_settings(), request))
        workflow_id = ids.workflow_id_for(request_id)
        print(f"submitted {start}..{end}: workflow {workflow_id}")
        view = wait_for(workflow_id, timeout_s=300)
        if view is None or view["state"] not in TERMINAL:
            print("the workflow did not finish in time")
            return 2
        print_workflow(view)
        if view["version_id"] is None:
            return 1
        settings = get_settings()
        version_id = ids.version_id_for(workflow_id)
        with transaction() as session:
            calc = latest_calculation(session, version_id)
            all_cells = cells(session, uuid.UUID(calc["calculation_id"])) if calc else []
            groups = critical_gap_groups(session, version_id, calc["summary"], settings) if calc else []
        if calc is not None:
            print_summary(calc, groups, settings.tz)
            report = workdir / "coverage-report.html"
            report.write_text(
                render_page(calc, all_cells, groups, settings.tz, frozenset(settings.holidays)), encoding="utf-8"
            )
            print(f"the scheduler's report (open it in a browser): {report.resolve()}")
        print("stopping workers")
    return 0 if view["state"] != WorkflowState.FAILED else 1
