"""structlog set-up: key-value events, console renderer on a TTY, JSON otherwise.

Adapters and the engine log snake_case event names with fields; the pure core never logs.
Logs go to stderr so that stdout stays the command's output. structlog (and the rich
renderer it pulls in) costs ~150 ms to import, so loggers are lazy: an event below the
configured level returns before structlog is ever imported, keeping `get pods` fast.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

# The stdlib logging levels, without importing logging (structlog filters on these numbers).
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_state: dict[str, Any] = {"level": _LEVELS["warning"], "configured": False}


def configure(*, verbose: bool = False, level: str = "", stream: Any = None) -> None:
    """`level` (debug, info, ...) overrides `verbose`; `stream` replaces stderr (the
    supervisor logs to a file under the run root)."""
    _state["level"] = _LEVELS[level or ("debug" if verbose else "warning")]
    _state["stream"] = stream
    _state["configured"] = False
    if stream is not None and not stream.isatty() and "structlog" not in sys.modules:
        # JSON to a file (the supervisor): structlog imports rich for console tracebacks if it
        # can, ~5 MB the long-running process never uses. A None entry makes that import fail.
        sys.modules.setdefault("rich", None)  # type: ignore[arg-type]


def _structlog_configure() -> None:
    import structlog

    renderer: Any
    stream = _state.get("stream") or sys.stderr
    if stream.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_state["level"]),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    _state["configured"] = True


class Logger:
    """A structlog logger created on the first event at or above the configured level."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if _LEVELS[level] < _state["level"]:
            return
        if not _state["configured"]:
            _structlog_configure()
        import structlog

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
    ObjectLogger: the controllers' loop binds the object a sync is about. Free (structlog
    not imported) while the level logs nothing below warnings."""
    if _state["level"] > _LEVELS["info"]:
        yield
        return
    import structlog

    with structlog.contextvars.bound_contextvars(**fields):
        yield
