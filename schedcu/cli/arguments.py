"""argparse `type=` converters (a wrong value is a one-line usage error, exit status 2, naming the fix) and
`Subparsers`, what each command module adds its commands to."""

import argparse
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def uuid_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an id: give the full UUID, e.g. from `schedcu workflows list` or `schedcu versions list`"
        ) from None


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-01") from None


def month(text: str) -> str:
    try:
        date.fromisoformat(text + "-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month: use YYYY-MM, e.g. 2026-03") from None
    return text


def months_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of months: give 1 to 12")
    return int(text)


def count(text: str) -> int:
    """A whole number, 0 or more (how many to show)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count: give a whole number, 0 or more, e.g. 3")
    return value


def seconds(text: str) -> float:
    """A duration in seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: give seconds, more than 0, e.g. 5 or 0.5")
    return value


def port(text: str) -> int:
    """A TCP port to listen on; 0: a free one."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 1 to 65535, or 0 for a free one")
    return int(text)


def reason(text: str) -> str:
    """Why an operator acts, for the audit: not blank."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a reason in words, e.g. --reason 'wrong template uploaded'")
    return text.strip()


def existing_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: give a file in it")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} does not exist: check the path")
    return path


def new_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: give a file name in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {path.parent} does not exist: create it or write elsewhere")
    return path


def iso_datetime(text: str) -> datetime:
    """A time, `YYYY-MM-DDTHH:MM` with or without an offset (without: in the configured time zone)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use YYYY-MM-DDTHH:MM, e.g. 2026-03-14T23:30 or 2026-03-14T23:30-04:00"
        ) from None


def folder(text: str) -> Path:
    """A folder to write into: it exists, or its parent does (it is created)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file: give a folder")
    if not path.exists() and not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {path.parent} does not exist: create it or write elsewhere")
    return path


def actor() -> str:
    """Who runs the command, for audit records: the login name."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "operator"
