"""What each page takes in its query string, and each action in its form: pydantic models with bounds, so a
wrong value is a 400 naming the parameter and what to give, never a database error. An empty field is absent
(the pages' search forms send every field)."""

import re
import uuid
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from schedcu.operations.draft_approval import row_key
from shared.kernel.states import ProposalState, VersionState, WorkflowState

MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2099, 12, 31)
MAX_PAGE = 100_000
MAX_TEXT = 200  # a search field, a worklist, a person
MAX_LONG_TEXT = 2_000  # a reason, a message id

# C0 controls and DEL; tab, line feed and carriage return are text in a form's field, never in a URL
URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORM_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

M = TypeVar("M", bound=BaseModel)


class BadParameter(ValueError):
    """A query or form value the page cannot take; the text names it and what to give."""


def _day(text: object) -> date:
    if not isinstance(text, str):
        raise ValueError("give a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date: use YYYY-MM-DD") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"{text!r} is out of range: give a date from {MIN_DATE} to {MAX_DATE}")
    return day


def _version_id(text: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        raise ValueError(f"{str(text)[:40]!r} is not a version id") from None


def _no_control(text: str) -> str:
    if FORM_CONTROL.search(text):
        raise ValueError("control characters (such as NUL) are not allowed")
    return text


Day = Annotated[date, BeforeValidator(_day)]
VersionId = Annotated[uuid.UUID, BeforeValidator(_version_id)]
Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_no_control)]
LongText = Annotated[str, Field(max_length=MAX_LONG_TEXT), AfterValidator(_no_control)]
Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
# 200 pages of 50: a dead-letter queue's first 10,000 letters, as far as the console pages (`schedcu dlq show
# --offset` goes further)
MAX_DEAD_LETTER_PAGE = 200
DeadLetterPage = Annotated[int, Field(ge=1, le=MAX_DEAD_LETTER_PAGE)]


class Params(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data


def parse(model: type[M], values: dict[str, Any]) -> M:
    """`values` as `model`; `BadParameter` naming each wrong one."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise BadParameter(
            "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg'].removeprefix('Value error, ')}"
                for e in error.errors(include_input=False, include_url=False)
            )
        ) from None


# ---- query strings


class WorkflowsQuery(Params):
    request: Text | None = None
    group: Text | None = None
    state: WorkflowState | None = None
    created_from: Day | None = Field(None, alias="from")
    created_to: Day | None = Field(None, alias="to")
    page: Page = 1


class VersionsQuery(Params):
    group: Text | None = None
    state: VersionState | None = None


class DiffQuery(Params):
    a: VersionId | None = None
    b: VersionId | None = None


class GapsQuery(Params):
    date: Day | None = None


class VersionProposalsQuery(Params):
    state: ProposalState | None = None


class OpenProposalsQuery(Params):
    group: Text | None = None
    person: Text | None = None
    page: Page = 1


class FairnessQuery(Params):
    start: Day | None = Field(None, alias="from")
    end: Day | None = Field(None, alias="to")


class DeadLettersQuery(Params):
    page: DeadLetterPage = 1


class DeadLetterQuery(Params):
    id: LongText | None = None


class DiscardQuery(Params):
    message_id: LongText | None = None
    reason: LongText | None = None


class OnCallQuery(Params):
    worklist: Text | None = None
    at: Text | None = None
    group: Text | None = None


# ---- forms (the CSRF token is checked before)


class NoFields(Params):
    pass


class ReasonForm(Params):
    reason: LongText | None = None


class PromoteForm(ReasonForm):
    force: Literal["yes"] | None = None


class CreateProposalsForm(Params):
    date: Day | None = None


class EditProposalForm(Params):
    candidate: Text | None = None


class RejectMoveForm(ReasonForm):
    move: int | None = None


class RepairForm(ReasonForm):
    """A sick call, as `schedcu draft repair VERSION --person P --from D1 [--to D2] [--reason]` takes it."""

    person: Text
    first: Day = Field(alias="from")
    last: Day | None = Field(None, alias="to")


class EditMoveForm(Params):
    move: int | None = None
    person: Text | None = None  # an email, a name or an Amion alias, as `schedcu draft repair-edit` takes


class LettersForm(Params):
    message_id: LongText | None = None
    reason: LongText | None = None
    confirmed: Literal["yes"] | None = None


# ---- drafting: the inputs' forms (`schedcu draft ...`); an empty field is absent, `none` clears a setting

MAX_LIMIT = 1_000
Limit = Annotated[int, Field(le=MAX_LIMIT)] | Literal["none"]  # inputs.py refuses one too small, with the rule
Share = Annotated[float, Field(allow_inf_nan=False)]


class DraftRunsQuery(Params):
    version: VersionId | None = None


class LimitsForm(ReasonForm):
    nights: Limit | None = None
    consecutive: Limit | None = None
    free_between: Limit | None = None
    weekends: Limit | None = None


class DraftPersonForm(LimitsForm):
    person: Text
    fte: Share | None = None
    active_from: Day | Literal["none"] | None = None
    active_to: Day | Literal["none"] | None = None


class HoursForm(ReasonForm):
    role: Text
    hours: Text | None = None  # absent: the template's span again


class RotationForm(ReasonForm):
    weekday: Text
    role: Text
    person: Text
    first: Day = Field(alias="from")
    last: Day = Field(alias="to")


class ExceptionForm(ReasonForm):
    date: Day
    role: Text
    person: Text | None = None
    nobody: Literal["yes"] | None = None


class RequestForm(ReasonForm):
    person: Text
    kind: Literal["on", "off"]
    date: Day | None = None
    weekday: Text | None = None
    role: Text | None = None
    weight: int = 1


class TimeOffForm(ReasonForm):
    person: Text
    first: Day = Field(alias="from")
    last: Day = Field(alias="to")
    note: Text | None = None


# ---- drafting: a period drafted, and a run's rows decided (`schedcu draft new|approve|reject|edit`)


def _row(text: object) -> tuple[date, str]:
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ValueError("give a row as DATE:ROLE")
    return row_key(text)


def _listed(value: object) -> object:
    """A field sent once (one ticked box) as a list of one."""
    return [value] if isinstance(value, str) else value


RowKey = Annotated[tuple[date, str], BeforeValidator(_row)]


class DraftNewForm(ReasonForm):
    group: Text
    start: Day
    end: Day
    time_limit: Annotated[float, Field(gt=0, le=3600)] | None = None


class DraftRowsForm(ReasonForm):
    row: Annotated[list[RowKey], BeforeValidator(_listed), Field(max_length=10_000)] = []
    whole: Literal["yes"] | None = None  # every open row of the draft


class DraftEditForm(ReasonForm):
    date: Day
    role: Text
    person: Text
