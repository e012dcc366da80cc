"""Spreadsheet cell references, the location of the importer's findings (their codes: `shared.kernel.findings`)."""


def cell_ref(sheet: str, row_index: int, column: int) -> str:
    """`Mid Weekday Body 5 - 6 pm!C4` for row index 3, column 2 (both counted from 0)."""
    return f"{sheet}!{column_letters(column)}{row_index + 1}"


def column_letters(column: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    column += 1
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters
