"""A draft run as the operator sees it, for `schedcu draft show` and the console alike: the grid of dates x roles,
level values in their units, the progress of a solve, the fairness table and its chart (inline SVG, drawn here on
the server: no script)."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from services.drafting.model import SHARE_UNIT, Category, Level

# the chart's and the table's order: all nights first, as schedulers count them
CATEGORIES = (Category.NIGHTS, Category.WEEKENDS, Category.HOLIDAYS)


def settings_text(values: Mapping[str, Any]) -> str:
    """Drafting settings (limits, FTE, active dates) as `nights 4, consecutive -` (-: not set)."""
    return ", ".join(f"{k.replace('_', ' ')} {'-' if v is None else v}" for k, v in values.items())


@dataclass(frozen=True)
class Cell:
    person: str | None  # None: unfilled
    kept: bool = False  # the version's own assignment, not the draft's
    state: str | None = None  # a draft row's: PROPOSED, EDITED, APPROVED or REJECTED


def grid(view: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, dict[str, Cell]]]]:
    """The roles, and per date (in order) each role's cell: the draft's rows, the kept rows and the unfilled roles."""
    cells: dict[str, dict[str, Cell]] = {}
    for row in view["rows"]:
        cells.setdefault(row["date"], {})[row["role"]] = Cell(row["person"], state=row["state"])
    for row in view["kept_rows"]:
        cells.setdefault(row["date"], {}).setdefault(row["role"], Cell(row["person"], kept=True))
    for u in view["explanations"].get("unfilled", []):
        cells.setdefault(u["date"], {}).setdefault(u["role"], Cell(None))  # unless an edit has filled it since
    days = sorted(cells)
    roles = list(dict.fromkeys(role for day in days for role in cells[day]))
    return roles, [(day, cells[day]) for day in days]


def value_text(level: str, value: int | None) -> str:
    """A level's value in its unit: fairness in nights (stored in thousandths), the others as counts."""
    if value is None:
        return "-"
    return f"{value / SHARE_UNIT:.3f}" if Level(level).in_share_units else str(value)


def progress_text(progress: Mapping[str, Any] | None) -> str | None:
    """Where a running solve stands, as its worker last recorded it; None before the solver started."""
    if not progress:
        return None
    level = progress["level"]
    found = (
        "no solution of it yet"
        if progress["value"] is None
        else f"best so far {value_text(level, progress['value'])}, bound {value_text(level, progress['bound'])}"
    )
    return (
        f"solving level {progress['number']} of {progress['levels']} ({level}): {found}; "
        f"{progress['seconds_left']:.0f} s left (at {progress['at'][11:19]} UTC)"
    )


@dataclass(frozen=True)
class Fair:
    """One person's nights of one category: held before (history) and in the period, and the fair share, in nights."""

    before: int
    held: int
    share: float

    @property
    def total(self) -> int:
        return self.before + self.held

    @property
    def deviation(self) -> float:
        return self.total - self.share


@dataclass(frozen=True)
class FairRow:
    name: str
    fte: float
    by_category: dict[Category, Fair]


def fairness_rows(fairness: Sequence[Mapping[str, Any]]) -> list[FairRow]:
    """The run's stored fairness (`services.drafting.runs.fairness`) in nights, per person."""
    return [
        FairRow(
            f["name"],
            f["fte"],
            {
                c: Fair(shown["before"], shown["held"], shown["share"] / SHARE_UNIT)
                for c in CATEGORIES
                for shown in [f["categories"][c.value]]
            },
        )
        for f in fairness
    ]


NAME_W, PANEL_W, GAP, ROW_H, BAR_H, TOP = 190, 230, 30, 20, 12, 34


def fairness_chart(rows: Sequence[FairRow]) -> str:
    """Per person and category, a bar of the nights held (history light, this period dark) and a line at the fair
    share; each panel has its own scale. Every name is escaped."""
    height = TOP + ROW_H * len(rows) + 34
    width = NAME_W + len(CATEGORIES) * (PANEL_W + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fairness-chart" id="fairness-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="nights per person against their fair share">'
    ]
    for n, row in enumerate(rows):
        y = TOP + ROW_H * n
        parts.append(f'<text x="{NAME_W - 8}" y="{y + BAR_H - 1}" text-anchor="end">{escape(row.name)}</text>')
    for k, category in enumerate(CATEGORIES):
        left = NAME_W + k * (PANEL_W + GAP)
        top = math.ceil(max([max(r.by_category[category].total, r.by_category[category].share) for r in rows] + [1.0]))
        scale = PANEL_W / top
        parts.append(f'<text x="{left}" y="14" class="panel">{escape(category.value)} (0 to {top} nights)</text>')
        parts.append(f'<line x1="{left}" y1="20" x2="{left}" y2="{TOP + ROW_H * len(rows)}" class="axis"/>')
        for n, row in enumerate(rows):
            fair, y = row.by_category[category], TOP + ROW_H * n
            title = (
                f"{row.name}, {category.value}: {fair.total} held ({fair.before} before, {fair.held} this period); "
                f"fair share {fair.share:.2f}"
            )
            parts.append(
                f'<g class="bar" data-person="{escape(row.name)}" data-category="{category.value}" '
                f'data-held="{fair.total}" data-share="{fair.share:.3f}"><title>{escape(title)}</title>'
                f'<rect class="before" x="{left}" y="{y}" width="{fair.before * scale:.1f}" height="{BAR_H}"/>'
                f'<rect class="held" x="{left + fair.before * scale:.1f}" y="{y}" width="{fair.held * scale:.1f}" '
                f'height="{BAR_H}"/>'
                f'<line class="share" x1="{left + fair.share * scale:.1f}" y1="{y - 3}" '
                f'x2="{left + fair.share * scale:.1f}" y2="{y + BAR_H + 3}"/></g>'
            )
    legend_y = TOP + ROW_H * len(rows) + 22
    parts.append(
        f'<rect class="held" x="{NAME_W}" y="{legend_y - 10}" width="12" height="12"/>'
        f'<text x="{NAME_W + 18}" y="{legend_y}">this period</text>'
        f'<rect class="before" x="{NAME_W + 110}" y="{legend_y - 10}" width="12" height="12"/>'
        f'<text x="{NAME_W + 128}" y="{legend_y}">history (before the period)</text>'
        f'<line class="share" x1="{NAME_W + 300}" y1="{legend_y - 12}" x2="{NAME_W + 300}" y2="{legend_y + 3}"/>'
        f'<text x="{NAME_W + 308}" y="{legend_y}">fair share</text></svg>'
    )
    return "".join(parts)
