"""The saga coordinator's own cost, in one process: CPU and SQL statements per workflow for its four steps.

    .venv/bin/python bench/saga_bench.py [--workflows N]

Each workflow runs the versions worker's handlers directly, without the broker: ImportRequested (the real
template inline), OdsImported, AmionScraped and CoverageFailed (which ends the workflow with warnings). CPU is
this thread's (`time.thread_time`); statements are those the engine sent. Uses a database
`schedcu_saga_bench_<pid>` on the server of SCHEDCU_DATABASE_URL, dropped on exit.
"""

import argparse
import os
import sys
import time
import uuid

import psycopg
from pipeline_bench import DEFAULT_DATABASE_URL, request
from sqlalchemy import event
from sqlalchemy.engine import make_url

from schedcu.runtime.infra import ensure_database_exists
from shared.db.migrate import upgrade

WARM_UP = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=100)
    args = parser.parse_args()
    server = make_url(os.environ.get("SCHEDCU_DATABASE_URL", DEFAULT_DATABASE_URL))
    name = f"schedcu_saga_bench_{os.getpid()}"
    database_url = server.set(database=name).render_as_string(False)
    admin_url = server.set(drivername="postgresql", database="postgres").render_as_string(False)
    try:
        ensure_database_exists(database_url)
        upgrade(database_url)
        os.environ["SCHEDCU_DATABASE_URL"] = database_url
        cpu_ms, statements = run(args.workflows)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{args.workflows} workflows, four saga steps each, in one process")
    print(f"  CPU per workflow   {cpu_ms:.1f} ms (this thread)")
    print(f"  SQL per workflow   {statements:.1f} statements")
    return 0


def run(workflows: int) -> tuple[float, float]:
    # imported once the database is chosen: the engine is made from the settings on first use
    from services.versions import intake, results
    from shared.db.session import engine
    from shared.kernel import ids
    from shared.kernel.contracts import AmionScraped, CoverageFailed, ImportRequested, OdsImported
    from shared.messaging.consumer import Delivery
    from shared.settings import get_settings

    settings = get_settings()
    sent = [0]
    event.listen(engine(), "before_cursor_execute", lambda *_: sent.__setitem__(0, sent[0] + 1))

    def workflow(r: ImportRequested) -> None:
        workflow_id = ids.workflow_id_for(r.request_id)
        context = {"workflow_id": workflow_id, "request_id": r.request_id, "group": r.group, "period": r.period}
        version_id = uuid.uuid4()

        def delivery(kind: str) -> Delivery:
            return Delivery(f"{kind}:{r.request_id}", r.request_id, kind, False)

        intake.start_workflow(r, delivery("request"), settings)
        results.on_ods_imported(
            OdsImported(**context, attempt=1, version_id=version_id, windows=12, shift_instances=509),
            delivery("ods"),
            settings,
        )
        results.on_amion_scraped(
            AmionScraped(**context, attempt=1, version_id=version_id, batch_id=uuid.uuid4(), state="COMPLETE",
                         assignments=100),
            delivery("amion"),
            settings,
        )  # fmt: skip
        results.on_coverage_failed(
            CoverageFailed(**context, attempt=1, version_id=version_id, reason="bench"), delivery("coverage"), settings
        )

    requests = [request(f"saga-bench-{i}", i % 120) for i in range(WARM_UP + workflows)]
    for r in requests[:WARM_UP]:
        workflow(r)
    sent[0] = 0
    started = time.thread_time()
    for r in requests[WARM_UP:]:
        workflow(r)
    return 1000 * (time.thread_time() - started) / workflows, sent[0] / workflows


if __name__ == "__main__":
    sys.exit(main())
