"""Logging: key-value events, structlog's console renderer on a TTY, JSON lines otherwise.

Adapters and the engine log snake_case event names with fields; the pure core never logs.
Logs go to stderr so that stdout stays the command's output. structlog (and the rich
renderer it pulls in) costs ~150 ms to import, so loggers are lazy: an event below the
configured level returns before anything is imported, keeping `get pods` fast.

JSON lines (a file or a pipe: the supervisor's log under the run root, a test's stderr) are
written here, in the format of structlog's JSONRenderer after its level and ISO timestamp
processors (`{...fields, "event", ...bound fields, "level", "timestamp"}`), without
importing structlog: the supervisor logs all its life, and structlog with the stdlib
logging and pickle it imports was ~1 MB of its memory, paid by every running pod.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

# The stdlib logging levels, without importing logging (structlog filters on these numbers).
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_state: dict[str, Any] = {"level": _LEVELS["warning"], "json": None}
# Fields `bound` adds to every event of this context (thread or task).
_context: ContextVar[Mapping[str, Any]] = ContextVar(
    "kubeplay_log_context", default=MappingProxyType({})
)
_write_lock = threading.Lock()  # whole lines from the engine's threads


def configure(*, verbose: bool = False, level: str = "", stream: Any = None) -> None:
    """`level` (debug, info, ...) overrides `verbose`; `stream` replaces stderr (the
    supervisor logs to a file under the run root)."""
    _state["level"] = _LEVELS[level or ("debug" if verbose else "warning")]
    _state["stream"] = stream
    _state["json"] = None  # decided at the first event


def _stream() -> Any:
    return _state.get("stream") or sys.stderr


def _structlog_configure() -> None:
    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_state["level"]),
        logger_factory=structlog.PrintLoggerFactory(file=_stream()),
        cache_logger_on_first_use=False,
    )


def _json_line(level: str, event: str, fields: dict[str, Any]) -> str:
    import datetime
    import json

    record = {**fields, "event": event}
    for key, value in _context.get().items():
        record.setdefault(key, value)
    record["level"] = level
    stamp = datetime.datetime.now(tz=datetime.UTC).isoformat().replace("+00:00", "Z")
    record["timestamp"] = stamp
    return json.dumps(record, default=repr)


class Logger:
    """A logger that does nothing (imports nothing) below the configured level."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if _LEVELS[level] < _state["level"]:
            return
        if _state["json"] is None:
            _state["json"] = not _stream().isatty()
            if not _state["json"]:
                _structlog_configure()
        if _state["json"]:
            line = _json_line(level, event, fields)
            with _write_lock:
                stream = _stream()
                stream.write(line + "\n")
                stream.flush()
            return
        import structlog

        for key, value in _context.get().items():
            fields.setdefault(key, value)
        getattr(structlog.get_logger(self._name), level)(event, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, fields)


def get_logger(name: str) -> Logger:
    return Logger(name)


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add `fields` to every event logged in this context (this thread or task), as kopf's
    ObjectLogger: the controllers' loop binds the object a sync is about. Free while the
    level logs nothing below warnings."""
    if _state["level"] > _LEVELS["info"]:
        yield
        return
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)
