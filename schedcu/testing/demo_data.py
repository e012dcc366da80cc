"""Generated demo data: a roster, and an Amion ground truth for a month that exercises the rules
(BODY_ONLY radiologists on call, so Body sheets apply some nights, and a few empty Mid3 nights)."""

import random
from datetime import date
from typing import Any

from shared.kernel.schedule_days import dates_between

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

# (role, Amion label: the role and its hours, as Amion prints them in the report and the grid, start, end)
SHIFTS = (
    ("ON1", "ON1 10p-8a", "2200", "0800"),
    ("ON2", "ON2 10p-8a", "2200", "0800"),
    ("MidC", "MidC 5p-12mn", "1700", "0000"),
    ("MidL", "MidL 5p-12mn", "1700", "0000"),
    ("Mid 3", "Mid 3 5p-1a", "1700", "0100"),
)


def add_months(month: date, n: int) -> date:
    """The first day of the month `n` months after `month`'s."""
    index = month.month - 1 + n
    return date(month.year + index // 12, index % 12 + 1, 1)


def month_period(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    return start, date.fromordinal(add_months(start, 1).toordinal() - 1)


def truth(month: date, password: str, seed: int = 7) -> dict[str, Any]:
    """Every night ON1, ON2, MidC and MidL, at most one BODY_ONLY radiologist on each pair (the Body sheets
    then apply) and no NEURO_ONLY one on call; Mid3 from the BOTH radiologists, left empty every 9th day."""
    rng = random.Random(seed)
    start, end = month_period(month)
    both = [p["name"] for p in ROSTER if p["specialty"] == "BOTH"]
    body_only = [p["name"] for p in ROSTER if p["specialty"] == "BODY_ONLY"]
    assignments = []
    for day in dates_between(start, end):
        pool = both[:]
        rng.shuffle(pool)
        on_pair = [rng.choice(body_only), pool.pop()] if day.day % 3 == 0 else [pool.pop(), pool.pop()]
        mid_pair = [pool.pop(), pool.pop()]
        rng.shuffle(on_pair)
        names = {"ON1": on_pair[0], "ON2": on_pair[1], "MidC": mid_pair[0], "MidL": mid_pair[1]}
        if day.day % 9:
            names["Mid 3"] = pool.pop()
        for role, label, begin, finish in SHIFTS:
            if role in names:
                assignments.append(
                    {"date": day.isoformat(), "label": label, "name": names[role], "start": begin, "end": finish}
                )
    return {"password": password, "assignments": assignments}
