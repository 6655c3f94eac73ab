"""kubeplay.log: JSON lines in structlog's JSONRenderer format without importing structlog
(the supervisor's log), bound fields, level filtering."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay import log


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    log.configure(level="info", stream=out)
    yield out
    log.configure()


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_the_fields_the_event_the_level_and_an_utc_timestamp(
    stream: io.StringIO,
) -> None:
    log.get_logger("t").info("pod_started", pod="default/web", restarts=2)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert list(record) == ["pod", "restarts", "event", "level", "timestamp"]
    assert record["event"] == "pod_started"
    assert (record["pod"], record["restarts"], record["level"]) == ("default/web", 2, "info")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])


def test_a_value_json_cannot_encode_is_written_as_its_repr(stream: io.StringIO) -> None:
    log.get_logger("t").warning("odd", path=Path("/x"))
    assert records(stream)[0]["path"] == "PosixPath('/x')"


def test_events_below_the_level_are_not_written(stream: io.StringIO) -> None:
    log.get_logger("t").debug("noise")
    log.get_logger("t").error("boom")
    assert [r["event"] for r in records(stream)] == ["boom"]


def test_bound_fields_follow_the_event_and_an_explicit_field_wins(stream: io.StringIO) -> None:
    logger = log.get_logger("t")
    with log.bound(kind="Pod", object="default/a"):
        with log.bound(object="default/b"):
            logger.info("inner", kind="Job")
        logger.info("outer")
    logger.info("after")
    inner, outer, after = records(stream)
    assert list(inner)[:3] == ["kind", "event", "object"]
    assert (inner["kind"], inner["object"]) == ("Job", "default/b")
    assert (outer["kind"], outer["object"]) == ("Pod", "default/a")
    assert "kind" not in after and "object" not in after


def test_json_logging_imports_no_structlog() -> None:
    """The supervisor logs JSON all its life: structlog (and logging, pickle) would be
    memory every running pod pays for."""
    script = (
        "import io, sys\n"
        "from kubeplay import log\n"
        "log.configure(level='info', stream=io.StringIO())\n"
        "with log.bound(kind='Pod'):\n"
        "    log.get_logger('t').info('x', n=1)\n"
        "print(sorted(m for m in ('structlog', 'logging', 'pickle') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
