"""Whether Amion's content for a month changed: pages compared by what they say, not by their bytes. Pure.

A report carries the time it was printed, so two fetches of an unchanged month differ byte for byte. Each page
is read as `parse_page` reads it, and the key is a hash of its rows (every field, in a fixed order) and its
findings: two pages with the same key give the same assignments and the same month outcome.
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import date

from services.amion_scraper.pages import parse_page


def content_key(body: str, month: date) -> str:
    parsed = parse_page(body, month)
    rows = sorted(
        json.dumps([r.schedule_date.isoformat(), r.label, r.name, str(r.start), str(r.end), r.division, r.note])
        for r in parsed.rows
    )
    findings = sorted(f"{f.severity}:{f.code}:{f.text}" for f in parsed.findings)
    return hashlib.sha256("\n".join([*rows, "--", *findings]).encode()).hexdigest()


def changed_months(fetched: Mapping[date, str], stored: Mapping[date, str]) -> list[date]:
    """The months of `fetched` (month -> page just fetched) whose content differs from `stored` (month -> page
    of the applied batch); a month without a stored page has changed."""
    return sorted(
        month
        for month, body in fetched.items()
        if month not in stored or content_key(body, month) != content_key(stored[month], month)
    )
