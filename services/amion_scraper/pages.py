"""Any page Amion serves for a month, recognised by its content: `NOFI=` replies, the `Page=Call` grid (HTML)
or a report (`Rpt=619`/`625c`, CSV or tabs). Pure."""

from datetime import date

from shared.kernel.findings import AMION_AUTH_FAILED, AMION_ERROR, EMPTY_MONTH

from .grid import parse_grid
from .report import parse_report
from .rows import ParsedPage, month_label


def _nofi(reply: str, where: str) -> ParsedPage:
    place = f" for {where}" if where else ""
    if reply.lower() == "no file":
        finding = EMPTY_MONTH(f"Amion has no file{place}.", where or None)
    elif reply.lower() == "bad password":
        finding = AMION_AUTH_FAILED(f"Amion refused the view password{place}.", where or None)
    else:
        finding = AMION_ERROR(f"Amion answered {reply[:200]!r}{place}.", where or None)
    return ParsedPage(rows=(), findings=(finding,))


def parse_page(body: str, month: date | None = None) -> ParsedPage:
    """Rows and findings of a page. With `month` (the month asked for), messages name it, rows outside it
    are left out (a grid may show days of the next month; that month's own page has them) and a grid must
    show all of its days."""
    where = month_label(month) if month else ""
    text = body.lstrip("\ufeff \t\r\n")
    if text.startswith("NOFI="):
        return _nofi(text.splitlines()[0].removeprefix("NOFI=").strip(), where)
    parsed = parse_grid(body, month) if text.startswith("<") else parse_report(body, where)
    if month is None:
        return parsed
    inside = tuple(r for r in parsed.rows if (r.schedule_date.year, r.schedule_date.month) == (month.year, month.month))
    return ParsedPage(rows=inside, findings=parsed.findings)


def is_empty_month(parsed: ParsedPage) -> bool:
    return any(f.code == EMPTY_MONTH.code for f in parsed.findings)
