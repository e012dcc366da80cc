"""Settings from the environment (`SCHEDCU_<NAME>`, in any case), read once per process. A list or a mapping is
written as JSON. Read with pydantic alone: pydantic-settings cost every command a tenth of a second to import."""

import json
import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_origin
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from shared.kernel.states import WorklistSpecialty


class AmionAccount(BaseModel):
    """An Amion account. The password never travels in a request: it comes from an environment
    variable or a secret file named here."""

    base_url: str = "https://www.amion.com/cgi-bin/ocs"
    password_env: str | None = None
    password_file: Path | None = None
    role_mapping: list[tuple[str, str]] = Field(default_factory=list)  # (regex on label, role)
    source: Literal["report", "grid"] = "report"  # the report (preferred) or the monthly grid (Page=Call)
    report: Literal["619", "625c", "619tabs", "625ctabs"] = "619"
    requests_per_s: float = Field(default=1.0, gt=0)  # Amion blocks clients that poll faster
    max_in_flight: int = Field(default=5, ge=1)
    timeout_s: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=4, ge=1)
    backoff_s: float = Field(default=1.0, ge=0)  # the first retry waits up to this, doubling per attempt (full jitter)
    # added to the interval between request starts: starts are spaced on the client's clock, and a request that
    # travels faster than the one before it arrives early (18 ms measured); the margin keeps arrivals apart
    arrival_margin_s: float = Field(default=0.05, ge=0)

    def password(self) -> SecretStr:
        if self.password_file is not None:
            return SecretStr(self.password_file.read_text(encoding="utf-8").strip())
        if self.password_env and self.password_env in os.environ:
            return SecretStr(os.environ[self.password_env])
        raise LookupError("no Amion password configured (set password_env or password_file)")


PREFIX = "SCHEDCU_"


class Settings(BaseModel):
    """Each setting from `SCHEDCU_<NAME>` unless given to the constructor."""

    model_config = ConfigDict(extra="forbid")

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/schedcu"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # the broker accounts' names, `{name}` a worker's (ods-importer ...), `upstream` or `operator`: a worker logged
    # in as its own account dead-letters a message whose AMQP user_id may not send it (shared/messaging/senders.py)
    broker_accounts: str = Field(default="schedcu-{name}", pattern=r"\{name\}")
    amion_accounts: dict[str, AmionAccount] = Field(default_factory=dict)
    time_zone: str = "America/New_York"
    holidays: list[date] = Field(default_factory=list)
    worklist_specialties: dict[str, WorklistSpecialty] = Field(default_factory=dict)  # beats Body sheets, label
    rest_hours: float = Field(default=10.0, ge=0)  # after a shift ending in the morning (REST_VIOLATION, candidates)

    max_template_bytes: int = 10_000_000
    max_template_decompressed_bytes: int = 100_000_000  # per member of the ODS zip, counted while reading
    max_template_sheets: int = 200
    max_template_rows: int = 100_000  # per sheet
    max_template_columns: int = 1_000
    template_fetch_timeout_s: float = 30.0
    template_url_hosts: list[str] = Field(default_factory=list)  # hosts a template URL may name; empty: none
    max_period_days: int = 400
    prefetch: int = 4
    delivery_limit: int = 5
    graceful_timeout_s: float = 30.0
    outbox_poll_s: float = 1.0
    # saga: how long each phase may run before the coordinator retries it, and how many attempts it gets
    ods_timeout_s: float = 600.0
    amion_timeout_min_s: float = 120.0
    amion_timeout_base_s: float = 30.0
    amion_timeout_per_month_s: float = 10.0
    coverage_timeout_s: float = 120.0
    ods_attempts: int = 3
    amion_attempts: int = 2
    coverage_attempts: int = 1
    saga_sweep_s: float = 5.0
    # watch: each group's PRODUCTION versions (and STAGING ones with watch_staging) re-checked against Amion
    watch_interval_s: float = Field(default=900.0, gt=0)
    watch_jitter_s: float = Field(default=60.0, ge=0)  # each next check moves by up to this either way
    watch_tick_s: float = Field(default=5.0, gt=0)  # how often the versions worker looks for groups due
    # the near-term watch: the next `watch_near_hours` of each watched version, checked every
    # `watch_near_interval_s` (moved by up to `watch_near_jitter_s`) with one small Amion request
    watch_near_hours: float = Field(default=48.0, ge=0)  # 0: no near-term checks
    watch_near_interval_s: float = Field(default=90.0, gt=0)
    watch_near_jitter_s: float = Field(default=10.0, ge=0)
    # a check is sent only while the account's checks already sent end within this many seconds (at its
    # politeness): what is not sent stays due, near-term checks first
    watch_backlog_s: float = Field(default=5.0, gt=0)
    watch_staging: bool = False
    # drafting: the solver's time limit and CP-SAT workers (a command may give its own), the history window
    draft_time_limit_s: float = Field(default=30.0, gt=0)
    draft_workers: int = Field(default=2, ge=1)
    draft_attempts: int = Field(default=2, ge=1)  # a run whose attempts all died mid-solve ends crashed
    draft_history_days: int = Field(default=365, ge=0)
    # a DRAFT workflow's draft phase may take its attempts' time limits plus this (reading, writing, queueing)
    draft_margin_s: float = Field(default=300.0, gt=0)
    # repair: the solver's time limit, how many days around the gaps assignments may move, and how far ahead a
    # production version's new mandatory gaps start a repair by themselves
    repair_time_limit_s: float = Field(default=5.0, gt=0)
    repair_reach_days: int = Field(default=7, ge=0)
    repair_horizon_days: int = Field(default=14, ge=0)
    http_host: str = "127.0.0.1"  # 0.0.0.0 in a container
    http_port: int = 0  # /health and /metrics; 0 picks a free port
    declare_topology: bool = True  # false: the broker's definitions are preloaded; declare passively only
    metrics_interval_s: float = 15.0  # how often a worker refreshes its gauges and its heartbeat
    management_url: str | None = None  # RabbitMQ management API, e.g. http://127.0.0.1:15672 (for `status`)
    log_format: str = "auto"  # auto (JSON unless on a terminal) | json | text
    otel_exporter: str = "none"  # none | console | otlp
    otel_endpoint: str | None = None
    drop_folder: Path | None = None
    console_users_file: Path | None = None  # `schedcu console`: users with their role and token hash (a secret)
    status_gone_after_s: float = Field(default=120.0, gt=0)  # `schedcu status` stops listing a worker unseen this long

    @model_validator(mode="before")
    @classmethod
    def _environment(cls, given: dict[str, Any]) -> dict[str, Any]:
        environment = {name.upper(): text for name, text in os.environ.items()}
        found = {
            name: environment[PREFIX + name.upper()]
            for name in cls.model_fields
            if PREFIX + name.upper() in environment
        }
        return {**found, **given}

    @field_validator("*", mode="before")
    @classmethod
    def _json(cls, value: Any, info: ValidationInfo) -> Any:
        """A list or a mapping given as text is JSON."""
        if not isinstance(value, str) or get_origin(cls.model_fields[info.field_name].annotation) not in (list, dict):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("not valid JSON: write it as JSON (README, Settings)") from None

    @field_validator("database_url")
    @classmethod
    def _psycopg(cls, url: str) -> str:
        """`postgres://` and `postgresql://`, as libpq and hosting services write them, mean psycopg 3 here.
        The message names no part of the URL: it may hold a password."""
        scheme, separator, rest = url.partition("://")
        if separator and scheme in ("postgres", "postgresql"):
            return f"postgresql+psycopg://{rest}"
        if scheme != "postgresql+psycopg" or not separator:
            raise ValueError("give a PostgreSQL URL, postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        return url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
