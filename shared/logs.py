"""Logging: JSON lines (unless on a terminal) where every line carries the workflow id, the message id
and the trace id of the message being handled."""

import logging
import sys
from contextvars import ContextVar
from datetime import datetime
from typing import Any, NamedTuple

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter


class MessageIds(NamedTuple):
    message_id: str | None = None
    workflow_id: str | None = None
    trace_id: str | None = None  # from the incoming message, until a span of this process is current


NO_MESSAGE = MessageIds()
MESSAGE_CONTEXT: ContextVar[MessageIds] = ContextVar("schedcu_message_context", default=NO_MESSAGE)
QUIET = ("alembic", "httpx", "httpcore")


class MessageContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = MESSAGE_CONTEXT.get()
        span = trace.get_current_span().get_span_context()
        found = {
            "workflow_id": context.workflow_id,
            "message_id": context.message_id,
            "trace_id": format(span.trace_id, "032x") if span.is_valid else context.trace_id,
        }
        for key, value in found.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class Json(JsonFormatter):
    """ISO 8601 times with the offset, and no terminal colour codes (uvicorn's `color_message`)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("color_message", None)


def configure(service: str, log_format: str = "auto") -> None:
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(
            Json(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(workflow_id)s %(message_id)s %(trace_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MessageContext())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
