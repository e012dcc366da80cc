"""A draft's explanations in a scheduler's words: every unfilled role with each active person's reason, every
rotation left unhonored with the rule it would break, and kept assignments that cannot all hold."""

from collections.abc import Sequence

from services.drafting.facts import Facts, names_text, number, reason
from services.drafting.model import Assignment, Excluded, Kept, Reason, Unfilled, Unhonored

FREE = reason(
    "none",
    "breaks no hard rule there (the draft is not proven optimal)",
    "break no hard rule there (the draft is not proven optimal)",
)
_CANNOT = frozenset({"inactive", "specialty"})  # rules that keep a person off the role whatever the draft


def _clauses(people: Sequence[Excluded]) -> list[str]:
    """People grouped by their first reason, in order of appearance: `A and B are on time off`."""
    groups: dict[Reason, list[str]] = {}
    for e in people:
        groups.setdefault(e.reasons[0], []).append(e.name)
    return [f"{names_text(names)} {r.plural if len(names) > 1 else r.text}" for r, names in groups.items()]


def _join(clauses: Sequence[str]) -> str:
    if len(clauses) < 3:
        return " and ".join(clauses)
    return f"{', '.join(clauses[:-1])}, and {clauses[-1]}"


def unfilled(facts: Facts, assignment: Assignment) -> tuple[Unfilled, ...]:
    held, at = facts.holdings(assignment)
    found = []
    for s, rd in enumerate(facts.slots):
        if not rd.mandatory or s in at:
            continue
        people = tuple(Excluded(r.id, r.name, tuple(facts.reasons(r.id, s, held, at)) or (FREE,)) for r in facts.active)
        could = [e for e in people if e.reasons[0].rule not in _CANNOT]
        cannot = [e for e in people if e.reasons[0].rule in _CANNOT]
        head = f"{rd.day.isoformat()} {rd.role}: "
        if could:
            readers = "reader" if len(could) == 1 else "readers"
            text = f"{head}of the {number(len(could))} {readers} who could hold it, {_join(_clauses(could))}"
            if cannot:
                text += f"; {_join(_clauses(cannot))}"
        else:
            text = f"{head}nobody could hold it: {_join(_clauses(cannot)) or 'nobody is active'}"
        found.append(Unfilled(rd.day, rd.role, people, text + "."))
    return tuple(found)


def unhonored(facts: Facts, assignment: Assignment) -> tuple[Unhonored, ...]:
    held, at = facts.holdings(assignment)
    exceptions = {(e.day, e.role) for e in facts.problem.exceptions}
    found = []
    for s, pid in facts.rotation_targets:
        if at.get(s) == pid:
            continue
        rd = facts.slots[s]
        kept = [
            reason("kept", f"gives way to {facts.readers[k.person_id].name}, who is kept on it")
            for k in facts.kept_on.get(s, ())
            if k.person_id != pid and at.get(s) == k.person_id
        ]
        reasons = (*kept, *facts.reasons(pid, s, held, at)) or (FREE,)
        what = "exception" if (rd.day, rd.role) in exceptions else "rotation"
        holder = f" ({facts.readers[at[s]].name} holds it)" if s in at else " (it stays unfilled)"
        name = facts.readers[pid].name
        text = f"{rd.day.isoformat()} {rd.role}: the {what}'s {name} {'; '.join(r.text for r in reasons)}{holder}."
        found.append(Unhonored(rd.day, rd.role, pid, reasons, text))
    return tuple(found)


def kept_text(facts: Facts, k: Kept) -> str:
    return f"{facts.readers[k.person_id].name} on {k.role} {k.day.isoformat()}"


def kept_conflict(facts: Facts, core: Sequence[Kept]) -> str:
    """Why the kept assignments of `core` (a smallest conflicting set) cannot all hold."""
    held: dict[int, set[int]] = {}
    at: dict[int, int] = {}
    why: list[str] = []
    for k in core:
        s = facts.index[(k.day, k.role)]
        if s in at and at[s] != k.person_id:
            other = facts.readers[at[s]].name
            why.append(f"{other} and {facts.readers[k.person_id].name} are both kept on {k.role} {k.day.isoformat()}")
            continue
        held.setdefault(k.person_id, set()).add(s)
        at[s] = k.person_id
    for k in core:
        s = facts.index[(k.day, k.role)]
        if at.get(s) == k.person_id:
            why.extend(f"{kept_text(facts, k)} {r.text}" for r in facts.reasons(k.person_id, s, held, at))
    listed = names_text([kept_text(facts, k) for k in core])
    because = "; ".join(dict.fromkeys(why)) or "together they break the night's specialty rule"
    return f"These kept assignments cannot all hold: {listed}: {because}."
