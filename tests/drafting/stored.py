"""A version to draft, stored as phase 1 stores one (the sample template), with the demo roster and no
assignments."""

import uuid
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from schedcu.testing.sample_template import sample_template
from services.ods_importer.expansion import expand
from services.ods_importer.store import store_version
from services.ods_importer.workbook import parse_workbook
from shared.kernel.contracts import Period
from tests.schedcu.test_coverage_queries import roster_ids

GROUP = "drafting-tests"
NY = ZoneInfo("America/New_York")


def draft_version(session: Session, start: date, end: date, group: str = GROUP) -> uuid.UUID:
    parsed = parse_workbook(sample_template())
    version_id = uuid.uuid4()
    store_version(
        session,
        version_id=version_id,
        workflow_id=uuid.uuid4(),
        group=group,
        period=Period(start=start, end=end),
        layout=parsed.layout,
        template_name="template.ods",
        template_sha256="0" * 64,
        windows=parsed.windows,
        shifts=expand(parsed.windows, start, end, NY),
        findings=parsed.findings,
        actor="drafting-tests",
    )
    roster_ids(session)
    return version_id
