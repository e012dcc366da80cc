"""Read side of coverage: the latest calculation of a version."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import CoverageCalculation


def latest_calculation(session: Session, version_id: uuid.UUID) -> dict[str, Any] | None:
    calc = session.scalars(
        select(CoverageCalculation)
        .where(CoverageCalculation.version_id == version_id)
        .order_by(CoverageCalculation.created_at.desc())
        .limit(1)
    ).first()
    if calc is None:
        return None
    return {
        "calculation_id": str(calc.id),
        "version_id": str(version_id),
        "created_at": calc.created_at.isoformat(),
        "summary": calc.summary,
        "findings": calc.findings,
    }
