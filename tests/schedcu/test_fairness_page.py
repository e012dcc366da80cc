"""The report's Fairness section: one row per person with nights, weekends, holidays and hours."""

import re
from zoneinfo import ZoneInfo

from schedcu.views.coverage_page import render_page
from tests.schedcu.test_coverage_views import CALC, CELLS

FAIRNESS = {
    "version_id": "v-1",
    "start": "2026-01-31",
    "end": "2026-02-01",
    "people": [
        {
            "person_id": 1,
            "name": "Ana <Both>",
            "active": True,
            "nights": 2,
            "weekends": 2,
            "holidays": 0,
            "hours": 19.0,
        },
        {"person_id": 2, "name": "Old", "active": False, "nights": 1, "weekends": 1, "holidays": 1, "hours": 7.5},
    ],
}


def test_the_fairness_table_lists_each_person_with_their_counts_escaped() -> None:
    page = render_page(CALC, CELLS, [], ZoneInfo("America/New_York"), fairness=FAIRNESS)
    section = page[page.index("<h2>Fairness</h2>") :]
    assert "2026-01-31 .. 2026-02-01" in section
    rows = re.findall(
        r'<tr data-person="(\d+)"><td>([^<]*)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>([\d.]+)</td>', section
    )
    assert rows == [("1", "Ana &lt;Both&gt;", "2", "2", "0", "19"), ("2", "Old (inactive)", "1", "1", "1", "7.5")]


def test_no_fairness_no_section() -> None:
    assert "<h2>Fairness</h2>" not in render_page(CALC, CELLS, [], ZoneInfo("America/New_York"))
