"""The greedy baseline, in the seed schedulers' way: dates in order, each role of a date in order, the person
its rotation names (or the date's exception) first, then the fairest who may hold it. It keeps the same hard
rules as the solver (a night blocks the morning after it through the rest rule), never looks ahead, and serves
as the fallback when the solver finds nothing in time and as the benchmark's yardstick.

Fairest: the smallest deviation (nights held in history and so far minus the fair share) in the date's
categories, holidays first, then weekends, then all nights; then those without an "off" request matching
the role-date, and those with an "on" request first; then by name.
"""

from collections import defaultdict
from datetime import date

from services.drafting.facts import Facts
from services.drafting.model import SHARE_UNIT, Category


def greedy(facts: Facts) -> dict[tuple[date, str], int]:
    held: dict[int, set[int]] = defaultdict(set)
    at: dict[int, int] = {}
    counts: dict[int, dict[Category, int]] = {r.id: dict.fromkeys(Category, 0) for r in facts.active}

    def place(s: int, pid: int) -> None:
        held[pid].add(s)
        at[s] = pid
        for category in facts.categories(facts.slots[s].day):
            counts.setdefault(pid, dict.fromkeys(Category, 0))[category] += 1

    for s, ks in facts.kept_on.items():
        place(s, ks[0].person_id)
    named: dict[int, list[int]] = defaultdict(list)
    for s, pid in facts.rotation_targets:
        named[s].append(pid)
    for s, rd in enumerate(facts.slots):
        if s in at:
            continue
        ordered = [c for c in Category if c in facts.categories(rd.day)]

        def fairness(pid: int, day: date = rd.day, role: str = rd.role, ordered: list[Category] = ordered) -> tuple:
            devs = [SHARE_UNIT * (facts.held_before(pid, c) + counts[pid][c]) - facts.shares[pid][c] for c in ordered]
            requests = [q for q in facts.problem.requests if q.person_id == pid and q.matches(day, role)]
            reader = facts.readers[pid]
            return (
                *devs,
                any(not q.on for q in requests),
                not any(q.on for q in requests),
                reader.name.casefold(),
                pid,
            )

        others = sorted((pid for pid in facts.eligible[s] if pid not in named[s]), key=fairness)
        for pid in (*named[s], *others):
            if pid in facts.eligible[s] and not facts.reasons(pid, s, held, at):
                place(s, pid)
                break
    return {(facts.slots[s].day, facts.slots[s].role): pid for s, pid in at.items()}
