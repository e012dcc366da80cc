"""What `schedcu ods check` shows of a parsed workbook: a JSON-ready view, and the same as text."""

from collections import Counter
from datetime import time
from typing import Any

from services.ods_importer.workbook import Layout, ParsedWorkbook
from shared.kernel.findings import Severity
from shared.kernel.template_model import Window


def workbook_view(name: str, parsed: ParsedWorkbook) -> dict[str, Any]:
    counts = Counter(f.severity.value for f in parsed.findings)
    return {
        "file": name,
        "layout": parsed.layout.value if parsed.layout else None,
        "ok": counts[Severity.ERROR.value] == 0,
        "counts": {severity.value: counts[severity.value] for severity in Severity},
        "sheets": [_window_view(w) for w in parsed.windows],
        "shifts": _shifts_view(parsed) if parsed.layout is Layout.FLAT else None,
        "messages": [f.model_dump(mode="json") for f in parsed.findings],
    }


def _window_view(window: Window) -> dict[str, Any]:
    return {
        "sheet": window.sheet,
        "window": {
            "category": window.category.value,
            "day_type": window.day_type.value if window.day_type else None,
            "variant": window.variant.value if window.variant else None,
            "start": _clock(window.start),
            "end": _clock(window.end),
            "crosses_midnight": window.crosses_midnight,
            "starts_next_day": window.starts_next_day,
        },
        "roles": list(window.roles),
        "worklists": {r.worklist: r.role for r in window.responsibilities},
    }


def _shifts_view(parsed: ParsedWorkbook) -> dict[str, Any]:
    dates = [s.schedule_date for s in parsed.shifts]
    return {
        "count": len(parsed.shifts),
        "first_date": min(dates).isoformat() if dates else None,
        "last_date": max(dates).isoformat() if dates else None,
        "by_role": dict(sorted(Counter(s.role for s in parsed.shifts).items())),
        "by_hospital": dict(sorted(Counter(s.hospital or "-" for s in parsed.shifts).items())),
        "mandatory": sum(s.mandatory for s in parsed.shifts),
    }


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def render_text(view: dict[str, Any]) -> str:
    counts = view["counts"]
    if view["layout"] is None:
        content = "not a coverage workbook"
    elif view["layout"] == Layout.FLAT:
        content = f"flat layout, {view['shifts']['count']} shifts"
    else:
        content = f"template layout, {len(view['sheets'])} windows"
    lines = [
        f"{view['file']}: {content}, {counts['ERROR']} errors, {counts['WARNING']} warnings, {counts['INFO']} notes"
    ]
    for sheet in view["sheets"]:
        lines += ["", sheet["sheet"], f"  window: {_describe(sheet['window'])}"]
        lines.append(f"  roles: {', '.join(sheet['roles'])}")
        width = max((len(w) for w in sheet["worklists"]), default=0)
        lines += [f"  {worklist:<{width}}  {role}" for worklist, role in sheet["worklists"].items()]
    if view["shifts"] is not None and view["shifts"]["count"]:
        shifts = view["shifts"]
        lines += [
            "",
            f"shifts: {shifts['count']} from {shifts['first_date']} to {shifts['last_date']}, "
            f"{shifts['mandatory']} mandatory",
            "  by role: " + ", ".join(f"{role} {n}" for role, n in shifts["by_role"].items()),
            "  by hospital: " + ", ".join(f"{hospital} {n}" for hospital, n in shifts["by_hospital"].items()),
        ]
    if view["messages"]:
        lines += ["", "messages:"]
        for m in view["messages"]:
            where = f" [{m['location']}]" if m["location"] else ""
            lines.append(f"  {m['severity']:<7} {m['code']}{where}: {m['text']}")
    return "\n".join(lines)


def _describe(window: dict[str, Any]) -> str:
    day = {"WEEKDAY": "weekdays", "WEEKEND": "weekends and holidays", None: "every day"}[window["day_type"]]
    variant = f"{window['variant']} variant" if window["variant"] else "no variant"
    hours = f"{window['start']}-{window['end']}"
    if window["crosses_midnight"]:
        hours += " (crosses midnight)"
    elif window["starts_next_day"]:
        hours += " (early hours of the next day)"
    return f"{window['category']}, {day}, {variant}, {hours}"
