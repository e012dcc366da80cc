from datetime import date, time

from services.amion_scraper.matching import MatchedAssignment, map_roles, match_people
from services.amion_scraper.report import AmionRow
from shared.kernel.findings import Severity
from shared.kernel.people import PersonRef

D = date(2026, 1, 5)


def _row(label: str, name: str = "Smith, John") -> AmionRow:
    return AmionRow(D, label, name, time(17, 0), time(0, 0))


def test_first_matching_pattern_wins_case_insensitive() -> None:
    mapping = [(r"^on ?1\b", "ON1"), (r"overnight", "ON2"), (r"^on", "ON2"), (r"mid ?3", "Mid 3")]
    rows = [_row("ON1 Overnight 1a-8a"), _row("Overnight backup"), _row("on 2"), _row("MID3 (5p-12a)")]
    mapped, findings = map_roles(rows, mapping)
    assert findings == []
    assert [role for _, role in mapped] == ["ON1", "ON2", "ON2", "Mid3"]
    assert [row for row, _ in mapped] == rows


def test_empty_mapping_uses_the_label_as_role_name() -> None:
    mapped, findings = map_roles([_row("Mid 3"), _row(" on1 ")], [])
    assert findings == []
    assert [role for _, role in mapped] == ["Mid3", "ON1"]


def test_unmapped_label_reported_once_with_count_and_dropped() -> None:
    rows = [_row("Vacation"), _row("ON1"), _row("Vacation"), _row("Vacation"), _row("Meeting")]
    mapped, findings = map_roles(rows, [(r"^ON1$", "ON1")])
    assert [row.label for row, _ in mapped] == ["ON1"]
    assert [(f.code, f.severity, f.location) for f in findings] == [
        ("UNMAPPED_LABEL", Severity.WARNING, "Vacation"),
        ("UNMAPPED_LABEL", Severity.WARNING, "Meeting"),
    ]
    assert "3 rows" in findings[0].text
    assert "1 row " in findings[1].text


def test_invalid_mapping_entries_are_errors_and_ignored() -> None:
    mapped, findings = map_roles([_row("ON1")], [("(", "ON1"), ("ON", "Chief"), ("ON1", "ON1")])
    assert [role for _, role in mapped] == ["ON1"]
    assert [(f.code, f.severity) for f in findings] == [("INVALID_ROLE_MAPPING", Severity.ERROR)] * 2


PEOPLE = [
    PersonRef(1, "Smith, John", ("J Smith",)),
    PersonRef(2, "Doe, Jane", ()),
]


def test_people_match_by_name_or_alias_with_case_and_spacing_folded() -> None:
    rows = [
        (_row("ON1", "Smith,  JOHN"), "ON1"),
        (_row("ON2", " j   smith "), "ON2"),
        (_row("ON1", "doe, jane"), "ON1"),
    ]
    matched, findings = match_people(rows, PEOPLE)
    assert findings == []
    assert matched[0] == MatchedAssignment(D, "ON1", 1, "ON1", "Smith,  JOHN", time(17, 0), time(0, 0))
    assert [(m.person_id, m.role) for m in matched] == [(1, "ON1"), (1, "ON2"), (2, "ON1")]


def test_unknown_people_reported_together_and_skipped() -> None:
    rows = [
        (_row("ON1", "Nobody, A"), "ON1"),
        (_row("ON2", "Smith, John"), "ON2"),
        (_row("ON1", "Ghost, B"), "ON1"),
        (_row("ON2", "nobody,  a"), "ON2"),
    ]
    matched, findings = match_people(rows, PEOPLE)
    assert [m.person_id for m in matched] == [1]
    (finding,) = findings
    assert (finding.code, finding.severity) == ("UNKNOWN_PEOPLE", Severity.WARNING)
    assert finding.text == "Unknown people in Amion: Nobody, A, Ghost, B"


def test_a_name_shared_by_two_people_is_not_guessed() -> None:
    people = [*PEOPLE, PersonRef(3, "Smith, Johnny", ("smith, john",))]
    matched, findings = match_people([(_row("ON1", "Smith, John"), "ON1")], people)
    assert matched == []
    assert [f.code for f in findings] == ["AMBIGUOUS_PERSON"]
