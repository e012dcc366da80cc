"""Validation findings: every problem found in a template, an Amion page or a coverage run."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


class Finding(BaseModel):
    """One problem, in words a scheduler understands, with a stable code and where it was found."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    code: str
    text: str
    location: str | None = None


def has_errors(findings: "list[Finding] | tuple[Finding, ...]") -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
