"""The main job, end to end: services found, database migrated, five workers and a fake Amion started,
a generated month submitted, waited for, its coverage summary printed, everything stopped."""

import asyncio
import os
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from schedcu.operations.submit import import_request, publish_request
from schedcu.operations.workflow_progress import TERMINAL, print_workflow, wait_for
from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
from schedcu.runtime import local
from schedcu.runtime.infra import MissingService
from schedcu.testing.demo_data import add_months, month_period
from schedcu.views.coverage_page import render_page
from schedcu.views.terminal import print_summary
from shared.db.session import transaction
from shared.kernel import ids
from shared.kernel.contracts import Period
from shared.kernel.states import WorkflowState
from shared.settings import get_settings


def run_demo(month: str | None, workdir: Path) -> int:
    first = date.fromisoformat(f"{month}-01") if month else add_months(date.today(), 1)
    start, end = month_period(first)
    settings = get_settings()
    with ExitStack() as stack:
        try:
            database_url, amqp_url = local.migrated_database(settings.database_url, settings.amqp_url, stack)
        except MissingService as error:
            print(f"schedcu demo: {error}")
            return 3
        system = local.start(workdir, [first], "demo", database_url, amqp_url, stack)

        request_id = f"demo-{start:%Y-%m}-{os.getpid()}"
        request = import_request(
            system.template,
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
