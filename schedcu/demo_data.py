"""Generated demo data: a roster, and an Amion ground truth for a month that exercises the rules
(BODY_ONLY radiologists on call, so Body sheets apply some nights, and a few empty Mid3 nights)."""

import random
from datetime import date
from typing import Any

from shared.schedule_days import dates_between

ROSTER: list[dict[str, Any]] = [
    {"name": "Adams, Ada", "email": "ada.adams@example.org", "specialty": "BOTH", "aliases": ["Adams, A"]},
    {"name": "Baker, Ben", "email": "ben.baker@example.org", "specialty": "BODY_ONLY", "aliases": []},
    {"name": "Chen, Cleo", "email": "cleo.chen@example.org", "specialty": "BOTH", "aliases": []},
    {"name": "Diaz, Dan", "email": "dan.diaz@example.org", "specialty": "NEURO_ONLY", "aliases": []},
    {"name": "Evans, Eve", "email": "eve.evans@example.org", "specialty": "BOTH", "aliases": []},
    {"name": "Fox, Finn", "email": "finn.fox@example.org", "specialty": "BODY_ONLY", "aliases": []},
    {"name": "Gray, Gia", "email": "gia.gray@example.org", "specialty": "BOTH", "aliases": []},
    {"name": "Hill, Hal", "email": "hal.hill@example.org", "specialty": "BOTH", "aliases": []},
    {"name": "Ito, Iris", "email": "iris.ito@example.org", "specialty": "NEURO_ONLY", "aliases": []},
    {"name": "Jones, Jay", "email": "jay.jones@example.org", "specialty": "BOTH", "aliases": []},
    {"name": "King, Kim", "email": "kim.king@example.org", "specialty": "BOTH", "aliases": []},
    {"name": "Lopez, Lu", "email": "lu.lopez@example.org", "specialty": "BOTH", "aliases": []},
]

SHIFTS = (
    ("ON1", "2200", "0800"),
    ("ON2", "2200", "0800"),
    ("MidC", "1700", "0000"),
    ("MidL", "1700", "0000"),
    ("Mid 3", "1700", "0100"),
)


def month_period(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, date.fromordinal(following.toordinal() - 1)


def truth(month: date, password: str, seed: int = 7) -> dict[str, Any]:
    """Every night: ON1, ON2, MidC, MidL from the roster; Mid3 left empty on every 9th day."""
    rng = random.Random(seed)
    start, end = month_period(month)
    assignments = []
    for day in dates_between(start, end):
        people = rng.sample([p["name"] for p in ROSTER], k=len(SHIFTS))
        for (label, begin, finish), name in zip(SHIFTS, people, strict=True):
            if label == "Mid 3" and day.day % 9 == 0:
                continue
            assignments.append({"date": day.isoformat(), "label": label, "name": name, "start": begin, "end": finish})
    return {"password": password, "assignments": assignments}
