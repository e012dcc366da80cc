"""A version's template windows as the importer stored them, read back as the domain's `Window`s: what coverage
checks and drafting fills."""

import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import TemplateResponsibility, TemplateWindow
from shared.kernel.schedule_days import DayType
from shared.kernel.template_model import Category, Responsibility, Variant, Window


def template_windows(session: Session, version_id: uuid.UUID) -> list[Window]:
    """The version's windows in template order, each with its responsibilities (two statements)."""
    rows = session.scalars(
        select(TemplateWindow).where(TemplateWindow.version_id == version_id).order_by(TemplateWindow.id)
    ).all()
    responsibilities: dict[int, list[Responsibility]] = defaultdict(list)
    for window_id, worklist, role in session.execute(
        select(TemplateResponsibility.window_id, TemplateResponsibility.worklist, TemplateResponsibility.role)
        .join(TemplateWindow)
        .where(TemplateWindow.version_id == version_id)
        .order_by(TemplateResponsibility.id)
    ):
        responsibilities[window_id].append(Responsibility(worklist=worklist, role=role))
    return [
        Window(
            sheet=w.sheet,
            category=Category(w.category),
            day_type=DayType(w.day_type) if w.day_type else None,
            variant=Variant(w.variant) if w.variant else None,
            start=w.start_time,
            end=w.end_time,
            responsibilities=tuple(responsibilities[w.id]),
        )
        for w in rows
    ]
