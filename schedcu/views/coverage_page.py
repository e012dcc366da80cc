"""The coverage page (`schedcu coverage report VERSION --out FILE.html`): one self-contained HTML page
(inline CSS and script, no external request).

The summary sentence; when some dates have no Amion data, a banner naming their months and why. Then month by
month, each in a section that opens and closes (open when the period spans at most two months): a calendar
heat map (worklists down, dates across), one square per (date, worklist) that has coverage cells, coloured by
the worst status of that worklist's windows that date (`NO_DATA` in a grey hatched pattern, neither a gap
nor covered); hovering a square, or moving to it with Tab, shows every window with its role, people and
status (the script makes each square take focus, labelled with its date, worklist and status). The month's critical
gaps follow, one line per date, role and hours with the worklists left uncovered and the best three
candidates. Then the other findings.

A year stays light: a square carries only indexes into one table of the page's window names, roles, statuses
and lists of people, from which the script writes the hover text. Pure: takes the stored
calculation, its cells and its grouped gaps, returns the page.
"""

import calendar
import json
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from services.coverage.gap_lines import GapGroup, lines_text
from shared.kernel.coverage_rules import CellStatus
from shared.kernel.coverage_text import coverage_sentence, unknown_months
from shared.kernel.schedule_days import DayType, dates_between, day_type

# worst first: the colour of a (date, worklist) is that of its worst window
_RANK = {
    CellStatus.UNCOVERED: 0,
    CellStatus.SPECIALTY_MISMATCH: 1,
    CellStatus.PARTIAL: 2,
    CellStatus.NO_DATA: 3,
    CellStatus.COVERED: 4,
    CellStatus.FULL: 4,
}
_GLYPH = {
    CellStatus.UNCOVERED: "✕",
    CellStatus.SPECIALTY_MISMATCH: "≠",
    CellStatus.PARTIAL: "½",
    CellStatus.NO_DATA: "?",
}
_MEANING = {
    CellStatus.NO_DATA: "no Amion data for the date: unknown, not a gap",
    CellStatus.COVERED: "a responsible person may read it",
    CellStatus.FULL: "desired coverage reached",
    CellStatus.PARTIAL: "fewer people than desired",
    CellStatus.UNCOVERED: "nobody on the responsible role",
    CellStatus.SPECIALTY_MISMATCH: "nobody on the role may read it",
}

_CSS = """
* { box-sizing: border-box; }
body { font: 14px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #616161; margin: 0 0 16px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 20px; }
.card small { display: block; color: #757575; font-size: 11px; }
.sw { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px;
      margin-right: 6px; text-align: center; font-size: 11px; line-height: 14px; color: #fff; }
table.counts { border-collapse: collapse; align-self: flex-start; margin-right: 24px; }
table.counts th, table.counts td { border-bottom: 1px solid #eee; padding: 3px 12px 3px 0; text-align: right; }
table.counts th:first-child, table.counts td:first-child { text-align: left; }
.month { border-collapse: separate; border-spacing: 2px; margin-bottom: 6px; display: block; overflow-x: auto;
         max-width: 100%; }
.month th { font-weight: normal; font-size: 11px; color: #616161; }
.month thead th { width: 22px; text-align: center; line-height: 1.1; }
.month thead th.we { background: #eceff1; border-radius: 3px; color: #37474f; font-weight: bold; }
.month tbody th { text-align: left; padding-right: 8px; white-space: nowrap; font-size: 12px; color: #212121; }
.month tr.hospital th { padding-top: 6px; font-weight: bold; color: #455a64; }
.month td { width: 22px; height: 20px; border-radius: 3px; text-align: center; font-size: 12px;
            color: #fff; cursor: default; }
.month td.none { background: #fafafa; }
.s-COVERED, .s-FULL { background: #81c784; }
.s-PARTIAL { background: #ffb74d; color: #3e2723 !important; }
.s-UNCOVERED { background: #e53935; }
.s-SPECIALTY_MISMATCH { background: #8e24aa; }
.s-NO_DATA { background: repeating-linear-gradient(45deg, #e0e0e0 0 3px, #f5f5f5 3px 6px);
             color: #616161 !important; }
.banner { border: 1px solid #9e9e9e; border-left: 6px solid #616161; background: #f5f5f5; border-radius: 6px;
          padding: 8px 14px; margin: 16px 0 0; }
.banner ul { margin: 4px 0 0; padding-left: 18px; }
.month td[data-w]:hover, .month td[data-w]:focus { outline: 2px solid #212121; outline-offset: -1px; }
details.month-block { margin: 8px 0; }
details.month-block > summary { cursor: pointer; font-size: 17px; font-weight: bold; margin: 12px 0 8px; }
details.month-block > summary small { font-weight: normal; color: #616161; font-size: 13px; }
.gaps { margin: 4px 0 16px; } .gaps h3 { font-size: 14px; margin: 8px 0 4px; }
.gaps table { border-collapse: collapse; }
.gaps td, .gaps th { padding: 3px 14px 3px 0; text-align: left; border-bottom: 1px solid #f0f0f0;
                     vertical-align: top; }
.gaps td:nth-child(-n+3) { white-space: nowrap; }
.gaps ol { margin: 0; padding-left: 18px; } .gaps .none { color: #9e9e9e; }
.findings li { margin: 2px 0; }
#tip { position: fixed; z-index: 10; max-width: 560px; background: #263238; color: #fff; padding: 8px 10px;
       border-radius: 6px; white-space: pre-line; font-size: 12px; pointer-events: none;
       box-shadow: 0 2px 8px rgba(0,0,0,.3); }
"""

_SCRIPT = """
(() => {
  const data = JSON.parse(document.getElementById('cells').textContent);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const tipOf = (td) => {
    const [day, worklist] = td.dataset.cell.split('|');
    const lines = [`${days[new Date(day + 'T12:00:00Z').getUTCDay()]} ${day} · ${worklist}`];
    for (const w of td.dataset.w.split(' ')) {
      const [win, role, status, people, optional] = w.split('.');
      const who = data.people[people] || 'nobody';
      lines.push(`${data.windows[win]} — ${data.roles[role]}: ${who} — ${data.statuses[status]}`
                 + (optional ? ' (optional)' : ''));
    }
    return lines.join('\\n');
  };
  window.coverageTip = tipOf;
  // every square takes focus and says what it is; set here, not in the markup, so that a year stays light
  for (const td of document.querySelectorAll('td[data-w]')) {
    td.tabIndex = 0;
    td.setAttribute('aria-label', `${td.dataset.cell.replace('|', ' ')}: ${td.dataset.status}`);
  }
  const tip = document.getElementById('tip');
  const place = (x, y) => {
    const pad = 14, w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(0, Math.min(x + pad, window.innerWidth - w - pad)) + 'px';
    tip.style.top = (y + pad + h > window.innerHeight ? Math.max(0, y - h - pad) : y + pad) + 'px';
  };
  const show = (cell, x, y) => {
    tip.textContent = tipOf(cell);
    tip.hidden = false;
    place(x, y);
  };
  document.addEventListener('mouseover', (e) => {
    const cell = e.target.closest('td[data-w]');
    if (!cell) { if (!document.activeElement.matches('td[data-w]')) tip.hidden = true; return; }
    show(cell, e.clientX, e.clientY);
  });
  document.addEventListener('mousemove', (e) => {
    if (!tip.hidden && e.target.closest('td[data-w]')) place(e.clientX, e.clientY);
  });
  document.addEventListener('focusin', (e) => {
    const cell = e.target.closest('td[data-w]');
    if (!cell) return;
    const r = cell.getBoundingClientRect();
    show(cell, r.right, r.bottom);
  });
  document.addEventListener('focusout', (e) => { if (e.target.closest('td[data-w]')) tip.hidden = true; });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') tip.hidden = true; });
})();
"""


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _day_label(day: date) -> str:
    return f"{calendar.day_abbr[day.weekday()]} {day.isoformat()}"


def _worklists(cells: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """hospital -> its worklists, both in order of first appearance."""
    grouped: dict[str, dict[str, None]] = {}
    for c in cells:
        grouped.setdefault(c["hospital"], {})[c["worklist"]] = None
    return {hospital: list(worklists) for hospital, worklists in grouped.items()}


class _Names:
    """Strings numbered in order of first use, for the page's table."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        return self.index.setdefault(name, len(self.index))

    def names(self) -> list[str]:
        return list(self.index)


class _Table:
    """What the hover text needs, once per page: window names, roles, statuses and lists of people."""

    def __init__(self) -> None:
        self.windows, self.roles, self.statuses, self.people = _Names(), _Names(), _Names(), _Names()

    def square(self, windows: Sequence[Mapping[str, Any]]) -> str:
        """A square's `data-w`: per window `window.role.status.people`, with `.o` when it is optional."""
        return " ".join(
            f"{self.windows(c['window'])}.{self.roles(c['role'])}.{self.statuses(c['status'])}."
            f"{self.people(', '.join(c['people']))}" + ("" if c["mandatory"] else ".o")
            for c in windows
        )

    def script(self) -> str:
        data = {
            "windows": self.windows.names(),
            "roles": self.roles.names(),
            "statuses": self.statuses.names(),
            "people": self.people.names(),
        }
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        return f'<script type="application/json" id="cells">{text}</script>'


def _heat_map(
    cells: Sequence[Mapping[str, Any]],
    days: Sequence[date],
    worklists: Mapping[str, Sequence[str]],
    holidays: Collection[date],
    table: _Table,
) -> str:
    by_key: dict[tuple[date, str], list[Mapping[str, Any]]] = defaultdict(list)
    for c in cells:
        by_key[(date.fromisoformat(c["schedule_date"]), c["worklist"])].append(c)
    head = "".join(
        f'<th class="{"we" if day_type(d, holidays) is DayType.WEEKEND else "wd"}" '
        f'title="{_day_label(d)}">{calendar.day_abbr[d.weekday()][:2]}<br>{d.day}</th>'
        for d in days
    )
    rows = []
    for hospital, names in worklists.items():
        rows.append(f'<tr class="hospital"><th colspan="{len(days) + 1}">{escape(hospital)}</th></tr>')
        for worklist in names:
            tds = []
            for d in days:
                windows = by_key.get((d, worklist))
                if not windows:
                    tds.append('<td class="none"></td>')
                    continue
                status = min((CellStatus(c["status"]) for c in windows), key=_RANK.__getitem__)
                tds.append(
                    f'<td class="s-{status}" data-cell="{_attr(d.isoformat() + "|" + worklist)}" '
                    f'data-status="{status}" data-w="{table.square(windows)}">{_GLYPH.get(status, "")}</td>'
                )
            rows.append(f"<tr><th>{escape(worklist)}</th>{''.join(tds)}</tr>")
    return f'<table class="month"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _worklist_cell(group: GapGroup) -> str:
    parts = []
    if group.uncovered:
        parts.append(f'<span class="sw s-UNCOVERED">{_GLYPH[CellStatus.UNCOVERED]}</span>uncovered: '
                     + escape(", ".join(group.uncovered)))  # fmt: skip
    if group.mismatched:
        parts.append(f'<span class="sw s-SPECIALTY_MISMATCH">{_GLYPH[CellStatus.SPECIALTY_MISMATCH]}</span>'
                     "mismatched: " + escape(", ".join(group.mismatched)))  # fmt: skip
    return "<br>".join(parts)


def _gaps(groups: Sequence[GapGroup], title: str, tz: ZoneInfo) -> str:
    """One row per group: date, role, hours, the worklists left, the top three candidates."""
    if not groups:
        return f'<div class="gaps"><h3>{escape(title)}: none</h3></div>'
    rows = []
    for g in groups:
        candidates = (
            "<ol>" + "".join(f"<li>{escape(g.candidate_text(c))}</li>" for c in g.candidates[:3]) + "</ol>"
            if g.candidates
            else '<span class="none">no candidate</span>'
        )
        rows.append(
            f'<tr data-gap="{_attr(g.schedule_date.isoformat() + "|" + g.role + "|" + g.hours(tz))}">'
            f"<td>{_day_label(g.schedule_date)}</td><td>{escape(g.role)}</td><td>{g.hours(tz)}</td>"
            f"<td>{_worklist_cell(g)}</td><td>{candidates}</td></tr>"
        )
    cells = sum(g.gaps for g in groups)
    return (
        f'<div class="gaps"><h3>{escape(title)}: {cells} in {lines_text(len(groups))}</h3><table><thead><tr>'
        "<th>date</th><th>role</th><th>hours</th><th>worklists</th><th>best candidates</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _months(
    cells: Sequence[Mapping[str, Any]],
    groups: Sequence[GapGroup],
    start: date,
    end: date,
    tz: ZoneInfo,
    holidays: Collection[date],
) -> tuple[str, str]:
    """Month by month: its heat map, then its critical gaps; open when the period spans at most two months.
    Second, what must follow them at the end of the page: the tooltip, the hover text's table and the script."""
    days_of: dict[tuple[int, int], list[date]] = defaultdict(list)
    for day in dates_between(start, end):
        days_of[(day.year, day.month)].append(day)
    cells_of: dict[tuple[int, int], list[Mapping[str, Any]]] = defaultdict(list)
    for c in cells:
        cells_of[(int(c["schedule_date"][:4]), int(c["schedule_date"][5:7]))].append(c)
    groups_of: dict[tuple[int, int], list[GapGroup]] = defaultdict(list)
    for g in groups:
        groups_of[(g.schedule_date.year, g.schedule_date.month)].append(g)
    worklists = _worklists(cells)
    is_open = " open" if len(days_of) <= 2 else ""
    table = _Table()
    parts = []
    for (year, month), days in days_of.items():
        name = f"{calendar.month_name[month]} {year}"
        month_groups = groups_of.get((year, month), [])
        gap_cells = sum(g.gaps for g in month_groups)
        parts.append(
            f'<details class="month-block" data-month="{year}-{month:02d}"{is_open}><summary>{name} '
            f"<small>— {gap_cells} critical gaps in {lines_text(len(month_groups))}</small></summary>"
            f"{_heat_map(cells_of.get((year, month), []), days, worklists, holidays, table)}"
            f"{_gaps(month_groups, f'Critical gaps of {name}', tz)}</details>"
        )
    tip = f'<div id="tip" role="tooltip" hidden></div>{table.script()}<script>{_SCRIPT}</script>'
    return "".join(parts), tip


def _counts_table(title: str, counts: Mapping[str, Mapping[str, int]], statuses: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(s)}</th>" for s in statuses)
    rows = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{c.get(s, 0)}</td>" for s in statuses) + "</tr>"
        for name, c in sorted(counts.items())
    )
    return f'<table class="counts"><thead><tr><th>{escape(title)}</th>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _cards(summary: Mapping[str, Any]) -> str:
    known = summary.get("known_cells", summary["total"])
    cards = [
        f'<div class="card">cells<b>{summary["total"]}</b></div>',
        f'<div class="card">coverage<b>{summary["coverage_ratio"]:.1%}</b><small>of {known} known cells</small></div>'
        if known
        else '<div class="card">coverage<b>unknown</b><small>no known cell</small></div>',
        f'<div class="card">critical gaps<b>{summary["critical_gaps_total"]}</b></div>',
    ]
    for s, n in summary["by_status"].items():
        status = CellStatus(s)
        cards.append(
            f'<div class="card"><span class="sw s-{s}">{_GLYPH.get(status, "")}</span>{escape(s)}<b>{n}</b>'
            f"<small>{escape(_MEANING[status])}</small></div>"
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _banner(summary: Mapping[str, Any]) -> str:
    """Above the heat map: the months whose dates have no Amion data, and why; empty when every date has."""
    months = unknown_months(summary)
    if not months:
        return ""
    items = "".join(
        f'<li data-month="{_attr(m["month"])}"><b>{escape(m["month"])}</b> ({escape(m["start"])} .. '
        f"{escape(m['end'])}, {m['cells']} cells): {escape(m['reason'])}</li>"
        for m in months
    )
    return (
        f'<div class="banner" id="no-data" role="alert"><b>No Amion data for {summary["unknown_cells"]} cells.</b> '
        "Their dates are unknown, not gaps: they are drawn hatched and are not counted in the coverage."
        f"<ul>{items}</ul></div>"
    )


def _breakdown(summary: Mapping[str, Any]) -> str:
    statuses = list(summary["by_status"])
    return (
        '<h2>By hospital and by role</h2><div class="cards">'
        + _counts_table("hospital", summary["by_hospital"], statuses)
        + _counts_table("role", summary["by_role"], statuses)
        + "</div>"
    )


def _findings(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return ""
    counts = Counter(f["code"] for f in findings)
    items = "".join(
        f"<li><b>{escape(f['severity'])} {escape(f['code'])}</b> {escape(f['text'])}</li>" for f in findings
    )
    title = ", ".join(f"{code} {n}" for code, n in counts.most_common())
    return (
        f'<h2>Other findings</h2><details class="findings"><summary>{escape(title)}</summary><ul>{items}</ul></details>'
    )


def render_page(
    calc: Mapping[str, Any],
    cells: Sequence[Mapping[str, Any]],
    groups: Sequence[GapGroup],
    tz: ZoneInfo,
    holidays: Collection[date] = (),
    fairness: Mapping[str, Any] | None = None,
) -> str:
    """`calc` as `queries.latest_calculation` gives it; `cells` as `queries.cells` gives them; `groups` as
    `queries.critical_gap_groups` gives them; times in `tz`; `fairness` as services/coverage/fairness.py's
    `FairnessReport.to_dict` gives it."""
    title = f"Coverage {calc['period']['start']} .. {calc['period']['end']}"
    calculated = datetime.fromisoformat(calc["created_at"]).astimezone(tz)
    months, tip = _period_months(calc, cells, groups, tz, holidays)
    total = calc["summary"]["critical_gaps_total"]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">file {escape(calc["template_name"])} · version {escape(calc["version_id"])} '
        f"({escape(calc['version_state'])}, {escape(calc['layout'])} layout) · calculated "
        f"{calculated:%Y-%m-%d %H:%M %Z} ({escape(calc['calculation_id'])})</p>"
        f'<p class="sentence">{escape(coverage_sentence(calc["summary"]))}</p>'
        f"{_cards(calc['summary'])}"
        f"{_banner(calc['summary'])}"
        f"<h2>Month by month: heat map and critical gaps ({total} in {lines_text(len(groups))})</h2>"
        '<p class="meta">One square per worklist and schedule date, coloured by its worst window; hover a '
        "square (or move to it with Tab) for its windows, roles and people. Weekends and holidays are shaded; "
        "dates without Amion data are hatched grey. Under each month, its critical gaps: one line per date, role "
        "and hours, with the worklists left and the three best candidates (who fill most of its gaps, then fewest "
        "nights, weekends and holidays so far).</p>"
        f"{months}"
        f"{_breakdown(calc['summary'])}"
        f"{_findings(calc['findings'])}"
        f"{fairness_section(fairness)}"
        f"{tip}</body></html>"
    )


def heat_map_section(
    calc: Mapping[str, Any],
    cells: Sequence[Mapping[str, Any]],
    groups: Sequence[GapGroup],
    tz: ZoneInfo,
    holidays: Collection[date] = (),
) -> str:
    """The page's banner and month-by-month heat maps with their gap lines, styles and tooltip, to embed in
    another page (the console)."""
    months, tip = _period_months(calc, cells, groups, tz, holidays)
    return f"<style>{_CSS}</style>{_banner(calc['summary'])}{months}{tip}"


def _period_months(
    calc: Mapping[str, Any],
    cells: Sequence[Mapping[str, Any]],
    groups: Sequence[GapGroup],
    tz: ZoneInfo,
    holidays: Collection[date],
) -> tuple[str, str]:
    """The calculation's period month by month, and the tooltip."""
    start, end = date.fromisoformat(calc["period"]["start"]), date.fromisoformat(calc["period"]["end"])
    return _months(cells, groups, start, end, tz, holidays)


def fairness_section(fairness: Mapping[str, Any] | None) -> str:
    """Per person: nights, weekend nights, holiday nights and hours in the period (`schedcu fairness`)."""
    if fairness is None:
        return ""
    rows = "".join(
        f'<tr data-person="{p["person_id"]}"><td>{escape(p["name"])}{"" if p["active"] else " (inactive)"}</td>'
        f"<td>{p['nights']}</td><td>{p['weekends']}</td><td>{p['holidays']}</td><td>{p['hours']:g}</td></tr>"
        for p in fairness["people"]
    )
    return (
        f'<h2>Fairness</h2><p class="meta">{escape(fairness["start"])} .. {escape(fairness["end"])}: nights are '
        "schedule dates with any role but DAY; hours are the real length of every assignment.</p>"
        '<table class="counts" id="fairness"><thead><tr><th>person</th><th>nights</th><th>weekends</th>'
        f"<th>holidays</th><th>hours</th></tr></thead><tbody>{rows}</tbody></table>"
    )
