"""The fairness chart of a draft: inline SVG drawn on the server, per person and category a bar of the nights held
(history, then this period) and a line at the fair share, each panel on its own scale; names escaped, so the
SVG stays well-formed whatever a person is called."""

import xml.etree.ElementTree as ET

from schedcu.views.draft_view import CATEGORIES, GAP, NAME_W, PANEL_W, fairness_chart, fairness_rows
from services.drafting.model import Category

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & "Co"'


def stored(name: str, nights: tuple[int, int, int], weekends: tuple[int, int, int]) -> dict[str, object]:
    """A person as a run stores them: per category (before, held, share in thousandths)."""
    shown = {Category.NIGHTS: nights, Category.WEEKENDS: weekends, Category.HOLIDAYS: (0, 0, 0)}
    categories = {c.value: dict(zip(("before", "held", "share"), v, strict=True)) for c, v in shown.items()}
    return {"person_id": 1, "name": name, "fte": 1.0, "categories": categories}


def bars(svg: str) -> dict[tuple[str, str], dict[str, float]]:
    """Per (person, category): the two bars' x and width and the share line's x."""
    root = ET.fromstring(svg)
    found = {}
    for g in root.iter(f"{SVG}g"):
        before, held = g.findall(f"{SVG}rect")
        line = g.find(f"{SVG}line")
        assert line is not None
        found[(g.get("data-person"), g.get("data-category"))] = {
            "x": float(before.get("x")), "before": float(before.get("width")), "held_x": float(held.get("x")),
            "held": float(held.get("width")), "share": float(line.get("x1")), "title": g.find(f"{SVG}title").text,
        }  # fmt: skip
    return found


def test_each_person_gets_a_bar_per_category_scaled_against_the_fair_share() -> None:
    rows = fairness_rows([stored("Adams, Ada", (2, 4, 5000), (1, 1, 2500)), stored(HOSTILE, (0, 1, 2000), (0, 0, 500))])

    drawn = bars(fairness_chart(rows))

    assert set(drawn) == {(p, c.value) for p in ("Adams, Ada", HOSTILE) for c in CATEGORIES}
    nights = NAME_W + CATEGORIES.index(Category.NIGHTS) * (PANEL_W + GAP)
    scale = PANEL_W / 6  # the nights panel's top: Adams' 2 + 4 held
    ada, other = drawn[("Adams, Ada", "nights")], drawn[(HOSTILE, "nights")]
    assert (ada["x"], ada["before"], ada["held_x"], ada["held"]) == (
        nights,
        round(2 * scale, 1),
        round(nights + 2 * scale, 1),
        round(4 * scale, 1),
    )
    assert ada["share"] == round(nights + 5 * scale, 1)  # a share of 5 nights: one below the 6 held
    assert (other["before"], other["held"], other["share"]) == (0, round(scale, 1), round(nights + 2 * scale, 1))
    weekends = drawn[("Adams, Ada", "weekend nights")]
    # the weekend panel's top: the 2.5 shared, rounded up to whole nights
    assert weekends["share"] == round(NAME_W + (PANEL_W + GAP) + 2.5 * PANEL_W / 3, 1)
    assert ada["title"] == "Adams, Ada, nights: 6 held (2 before, 4 this period); fair share 5.00"
    holidays = drawn[("Adams, Ada", "holiday nights")]
    assert holidays["before"] == holidays["held"] == 0  # nothing held, nothing shared: an empty bar


def test_names_are_escaped() -> None:
    svg = fairness_chart(fairness_rows([stored(HOSTILE, (0, 1, 1000), (0, 0, 0))]))

    assert "<script>" not in svg and "&lt;script&gt;" in svg
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert HOSTILE in texts  # the name as written, once the SVG is read
