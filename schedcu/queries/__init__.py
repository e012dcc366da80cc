"""The read side for operators (CLI and console)."""

from sqlalchemy import ColumnElement, SQLColumnExpression


def starts_with(column: SQLColumnExpression[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive prefix match; `%`, `_` and `\\` in `text` are matched as themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"{escaped}%", escape="\\")
