"""Whether Amion's content for a month changed: pages compared by what they say, not by their bytes. Pure.

A report carries the time it was printed, so two fetches of an unchanged month differ byte for byte. Each page
is read as `parse_page` reads it, and the key is a hash of its rows (every field, in a fixed order) and its
findings: two pages with the same key give the same assignments and the same month outcome.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from services.amion_scraper.pages import parse_page
from services.amion_scraper.rows import AmionRow
from shared.kernel.findings import Severity


def content_key(body: str, month: date) -> str:
    parsed = parse_page(body, month)
    findings = sorted(f"{f.severity}:{f.code}:{f.text}" for f in parsed.findings)
    return hashlib.sha256("\n".join([_rows_key(parsed.rows), "--", *findings]).encode()).hexdigest()


def changed_months(fetched: Mapping[date, str], stored: Mapping[date, str]) -> list[date]:
    """The months of `fetched` (month -> page just fetched) whose content differs from `stored` (month -> page
    of the applied batch); a month without a stored page has changed."""
    return sorted(
        month
        for month, body in fetched.items()
        if month not in stored or content_key(body, month) != content_key(stored[month], month)
    )


def _rows_key(rows: Iterable[AmionRow]) -> str:
    lines = sorted(
        json.dumps([r.schedule_date.isoformat(), r.label, r.name, str(r.start), str(r.end), r.division, r.note])
        for r in rows
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def changed_in_span(fetched: str, stored: Mapping[date, str], start: date, end: date) -> list[date]:
    """The months whose dates `start..end` read otherwise in `fetched` (a page of those dates, `fetch_days`) than
    in `stored` (month -> page of the applied batch; a month without one reads as no rows). Only rows are
    compared: findings name the month a page was asked for, which differs between a span and a month."""
    parsed = parse_page(fetched)
    failed = [f for f in parsed.findings if f.severity == Severity.ERROR]
    if failed:
        raise ValueError("; ".join(f.text for f in failed))
    months = sorted({start.replace(day=1), end.replace(day=1)})
    changed = []
    for month in months:
        first, last = max(start, month), min(end, (month + timedelta(days=32)).replace(day=1) - timedelta(days=1))
        now = [r for r in parsed.rows if first <= r.schedule_date <= last]
        before = (
            [r for r in parse_page(stored[month], month).rows if first <= r.schedule_date <= last]
            if month in stored
            else []
        )
        if _rows_key(now) != _rows_key(before):
            changed.append(month)
    return changed
