"""Structured JSON logs: a ``logging.Handler``, a formatter and a structlog processor.

Each line is one JSON object with the runbook's fields: ``timestamp``,
``level``, ``message``, ``logger``; inside a request also ``request_id``,
``method`` and ``path`` (and ``status``, ``duration`` in milliseconds and
``route`` on the request's own line); ``exception`` with the traceback; and
every ``extra=`` field at the top level, so Logs Insights queries such as
``filter duration > 1000`` or ``stats count() by user_id`` work unchanged.
"""

from __future__ import annotations

import logging
import time
import traceback
from itertools import islice
from typing import Any

from rexwatch.sdk import context, state

try:  # orjson is a base dependency; plain json keeps the SDK working if it is missing
    import orjson

    def dumps(doc: dict[str, Any]) -> str:
        return orjson.dumps(doc, default=str).decode()

    loads = orjson.loads
except ImportError:  # pragma: no cover - exercised only without orjson
    import json

    def dumps(doc: dict[str, Any]) -> str:
        return json.dumps(doc, default=str, separators=(",", ":"))

    loads = json.loads


# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_N_STANDARD = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_LogRecord = logging.LogRecord
_current = context._current.get  # the ContextVar's own getter: no Python frame per line
SENDER_THREAD = "rexwatch-sdk-sender"


# The last millisecond and whole second formatted: a request's lines mostly share both.
_milli: list = [-1, ""]
_second: list = [-1, ""]


def iso(ts: float) -> str:
    return iso_ms(int(ts * 1000))


def iso_ms(ms: int) -> str:
    cached = _milli
    if cached[0] == ms:
        return cached[1]
    whole = ms // 1000
    sec = _second
    if sec[0] != whole:
        sec[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        sec[0] = whole
    text = f"{sec[1]}.{ms % 1000:03d}Z"
    cached[0], cached[1] = ms, text  # two stores: a racing reader sees an old pair or the new one's ms first
    return text


def record_doc(record: logging.LogRecord, ctx: context.RequestContext | None = None,
               ms: int | None = None) -> dict[str, Any]:
    message = record.msg
    # A plain string message without arguments needs no getMessage() call (unless a record factory's
    # subclass may format it its own way).
    if record.args or message.__class__ is not str or record.__class__ is not _LogRecord:
        message = record.getMessage()
    if ctx is None:
        ctx = _current()
    doc: dict[str, Any]
    if ctx is None:
        doc = {"timestamp": iso_ms(int(record.created * 1000) if ms is None else ms), "level": record.levelname,
               "message": message, "logger": record.name}
    else:  # one dict display rather than three stores after it
        doc = {"timestamp": iso_ms(int(record.created * 1000) if ms is None else ms), "level": record.levelname,
               "message": message, "logger": record.name, "request_id": ctx.request_id, "method": ctx.method,
               "path": ctx.path}
        if ctx.trace_id:
            doc["trace_id"] = ctx.trace_id
            if ctx.span_id:
                doc["span_id"] = ctx.span_id
    if record.exc_info and record.exc_info[0] is not None:
        doc["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    elif record.exc_text:
        doc["exception"] = record.exc_text
    if record.stack_info:
        doc["stack"] = record.stack_info
    attrs = record.__dict__
    if len(attrs) > _N_STANDARD:
        # Only records given extra= fields (or touched by a formatter) have more than the standard
        # attributes, and those come after them: LogRecord sets its own first, makeRecord adds the rest.
        for key in islice(attrs, _N_STANDARD, None):  # keys only: no pair made for the skipped ones
            if key not in _STANDARD and key not in doc and not key.startswith("_"):
                doc[key] = attrs[key]
    return doc


class JsonFormatter(logging.Formatter):
    """The same JSON as the handler ships, for a StreamHandler on stdout (containers, local runs)."""

    def format(self, record: logging.LogRecord) -> str:
        return dumps(record_doc(record))


def ship(doc: dict[str, Any], levelno: int, group: str | None = None) -> None:
    """Send one line through the request's sampling decision. Never raises."""
    sdk = state.sdk
    if sdk is not None:
        ship_in(sdk, _current(), doc, levelno, group, int(time.time() * 1000))


def ship_in(sdk: Any, ctx: context.RequestContext | None, doc: dict[str, Any], levelno: int, group: str | None,
            ms: int) -> None:
    """``ship`` for callers that already hold the SDK, the request and the time."""
    group = group or sdk.config.log_group or "/app/app"
    if ctx is None:
        sdk.sender.emit_log(group, ms, dumps(doc))
        return
    if not ctx.decided:
        if levelno >= logging.WARNING:
            keep_request(ctx)
        elif ctx.rate() >= 1.0:
            ctx.decided = ctx.kept = True
        else:
            if ctx.held is None:
                ctx.held = []
            ctx.held.append((group, ms, doc))  # type: ignore[arg-type]
            if len(ctx.held) >= context.MAX_HELD_LINES:  # a long request: decide now rather than hold more
                settle(ctx, 0)
            return
    if not ctx.kept:
        return
    if ctx.sample_rate < 1.0:
        doc["sample_rate"] = ctx.sample_rate
    sdk.sender.emit_log(group, ms, dumps(doc))


def keep_request(ctx: context.RequestContext) -> None:
    """The request turned out to matter (an error): keep it whole, held lines included, unscaled."""
    ctx.decided = ctx.kept = True
    ctx.sample_rate = 1.0
    _release(ctx)


def settle(ctx: context.RequestContext, status: int) -> None:
    """At the end of a request (or when it holds too many lines): keep or drop its held lines."""
    if ctx.decided:
        return
    if status >= 400:
        keep_request(ctx)
    elif ctx.rate() >= 1.0:
        ctx.decided = ctx.kept = True
    elif ctx.roll():
        _release(ctx)
    else:
        ctx.held = None


def _release(ctx: context.RequestContext) -> None:
    from rexwatch.sdk import core

    held, ctx.held = ctx.held, None
    sdk = core.get()
    if held and sdk is not None:
        for group, ts, doc in held:
            if ctx.sample_rate < 1.0:
                doc["sample_rate"] = ctx.sample_rate  # type: ignore[index]
            sdk.sender.emit_log(group, ts, dumps(doc))  # type: ignore[arg-type]


class RexwatchHandler(logging.Handler):
    """Ships every record it receives as a JSON line to the configured log group.

    ``logging.getLogger().addHandler(RexwatchHandler())``; ``configure(logging=True)`` does this for the
    root logger. ``log_group`` overrides the configured group for this handler's lines.
    """

    def __init__(self, level: int = logging.NOTSET, log_group: str | None = None) -> None:
        super().__init__(level)
        self.log_group = log_group

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: emit only appends to the sender's buffer, which has a lock of its own.
        if self.filters:
            rv = self.filter(record)
            if not rv:
                return False
            if isinstance(rv, logging.LogRecord):  # 3.12+: a filter may hand back a replacement
                record = rv
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        # The sender's own HTTP client logs each request: shipping those would feed back forever.
        if record.threadName == SENDER_THREAD or record.name.startswith("rexwatch.sdk"):
            return
        sdk = state.sdk
        if sdk is None:
            return
        try:
            ctx = _current()
            ms = int(record.created * 1000)
            doc = record_doc(record, ctx, ms)
            if ctx is None or (ctx.kept and ctx.sample_rate >= 1.0):  # decided and unscaled: straight out
                sdk.sender.emit_log(self.log_group or sdk.config.log_group or "/app/app", ms, dumps(doc))
            else:
                ship_in(sdk, ctx, doc, record.levelno, self.log_group, ms)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:  # logging.shutdown() calls this at exit
        sdk = state.sdk
        if sdk is not None:
            sdk.sender.flush(sdk.config.shutdown_timeout)


_LEVELS = {"critical": logging.CRITICAL, "exception": logging.ERROR, "error": logging.ERROR,
           "warning": logging.WARNING, "warn": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}


def structlog_processor(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor that ships the event as the runbook's JSON and passes it on unchanged.

    Put it before the renderer: ``structlog.configure(processors=[..., structlog_processor, JSONRenderer()])``.
    """
    try:
        doc: dict[str, Any] = {
            "timestamp": iso(time.time()),
            "level": str(event_dict.get("level", method_name)).upper(),
            "message": str(event_dict.get("event", "")),
            "logger": str(event_dict.get("logger", getattr(logger, "name", "") or "structlog")),
        }
        ctx = context.current()
        if ctx is not None:
            doc.update(request_id=ctx.request_id, method=ctx.method, path=ctx.path)
            if ctx.trace_id:
                doc["trace_id"] = ctx.trace_id
                if ctx.span_id:
                    doc["span_id"] = ctx.span_id
        exc = event_dict.get("exception") or event_dict.get("exc_info")
        if isinstance(exc, BaseException):
            doc["exception"] = "".join(traceback.format_exception(exc)).rstrip()
        elif exc is True:
            doc["exception"] = traceback.format_exc().rstrip()
        elif isinstance(exc, str):
            doc["exception"] = exc
        for key, value in event_dict.items():
            if key not in ("event", "level", "logger", "exception", "exc_info", "timestamp") and key not in doc:
                doc[key] = value
        ship(doc, _LEVELS.get(method_name, logging.INFO))
    except Exception:  # a logging pipeline must not raise into the application
        pass
    return event_dict
