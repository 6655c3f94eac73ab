"""CronJob schedules: robfig/cron v3 ParseStandard and SpecSchedule.Next, as Kubernetes uses them.

The daylight-saving rows are the golden table of controllers.md (Europe/Berlin, robfig v3.0.1):
a wall time that does not exist is skipped for the day, one that happens twice runs twice.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from kubeplay.kube import cron

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _runs(spec: str, start: dt.datetime, zone: dt.tzinfo, count: int = 3) -> list[str]:
    schedule = cron.parse(spec)
    t: float | None = start.timestamp()
    out: list[str] = []
    for _ in range(count):
        assert t is not None
        t = schedule.next(t, zone)
        if t is None:
            out.append("never")
            break
        out.append(dt.datetime.fromtimestamp(t, zone).isoformat())
    return out


@pytest.mark.parametrize(
    ("spec", "start", "zone", "expected"),
    [
        pytest.param(
            "*/15 * * * *",
            dt.datetime(2026, 1, 1, 0, 7, 30, tzinfo=UTC),
            UTC,
            ["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T00:45:00+00:00"],
            id="step-minutes",
        ),
        pytest.param(
            "* * * * *",
            dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
            UTC,
            ["2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00", "2026-01-01T00:03:00+00:00"],
            id="every-minute-strictly-after",
        ),
        pytest.param(
            "0 9 * * mon-fri",
            dt.datetime(2026, 12, 4, 10, tzinfo=UTC),  # a Friday after nine
            UTC,
            ["2026-12-07T09:00:00+00:00", "2026-12-08T09:00:00+00:00", "2026-12-09T09:00:00+00:00"],
            id="weekday-names-skip-the-weekend",
        ),
        pytest.param(
            "0 0 1,15 * 3",
            dt.datetime(2026, 12, 1, 1, tzinfo=UTC),
            UTC,
            ["2026-12-02T00:00:00+00:00", "2026-12-09T00:00:00+00:00", "2026-12-15T00:00:00+00:00"],
            id="day-of-month-or-day-of-week-when-neither-is-star",
        ),
        pytest.param(
            "0 0 */2 * 3",
            dt.datetime(2026, 12, 1, 1, tzinfo=UTC),
            UTC,
            ["2026-12-02T00:00:00+00:00", "2026-12-03T00:00:00+00:00", "2026-12-05T00:00:00+00:00"],
            id="a-stepped-star-is-no-star",
        ),
        pytest.param(
            "0 0 * * 3",
            dt.datetime(2026, 12, 1, 1, tzinfo=UTC),
            UTC,
            ["2026-12-02T00:00:00+00:00", "2026-12-09T00:00:00+00:00", "2026-12-16T00:00:00+00:00"],
            id="star-day-of-month-ands",
        ),
        pytest.param(
            "@hourly",
            dt.datetime(2026, 12, 1, 1, 30, tzinfo=UTC),
            UTC,
            ["2026-12-01T02:00:00+00:00", "2026-12-01T03:00:00+00:00", "2026-12-01T04:00:00+00:00"],
            id="hourly-descriptor",
        ),
        pytest.param(
            "@weekly",
            dt.datetime(2026, 12, 1, tzinfo=UTC),
            UTC,
            ["2026-12-06T00:00:00+00:00", "2026-12-13T00:00:00+00:00", "2026-12-20T00:00:00+00:00"],
            id="weekly-is-sunday-midnight",
        ),
        pytest.param(
            "@every 90s",
            dt.datetime(2026, 12, 1, 1, 30, tzinfo=UTC),
            UTC,
            ["2026-12-01T01:31:30+00:00", "2026-12-01T01:33:00+00:00", "2026-12-01T01:34:30+00:00"],
            id="every-is-a-constant-delay",
        ),
        pytest.param(
            "0 0 31 2 *",
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            UTC,
            ["never"],
            id="february-31-never-comes",
        ),
        pytest.param(
            "0 12 29 feb *",
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            UTC,
            ["2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"],
            id="leap-day-within-five-years",
        ),
        pytest.param(
            "30 2 * * *",
            dt.datetime(2026, 3, 28, 3, 0, tzinfo=BERLIN),
            BERLIN,
            ["2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00", "2026-04-01T02:30:00+02:00"],
            id="spring-forward-skips-the-day",
        ),
        pytest.param(
            "30 2 * * *",
            dt.datetime(2026, 10, 24, 3, 0, tzinfo=BERLIN),
            BERLIN,
            ["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-26T02:30:00+01:00"],
            id="fall-back-runs-twice",
        ),
        pytest.param(
            "0 0 * * *",
            dt.datetime(2026, 12, 1, 12, tzinfo=NEW_YORK),
            NEW_YORK,
            ["2026-12-02T00:00:00-05:00", "2026-12-03T00:00:00-05:00", "2026-12-04T00:00:00-05:00"],
            id="midnight-in-the-schedule-zone",
        ),
    ],
)
def test_next(spec: str, start: dt.datetime, zone: dt.tzinfo, expected: list[str]) -> None:
    assert _runs(spec, start, zone, count=len(expected)) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("0 0 * * 7", "end of range (7) above maximum (6): 7", id="sunday-is-0-only"),
        pytest.param("L * * * *", "failed to parse int from L", id="no-L"),
        pytest.param("0 0 * * 1#2", "failed to parse int from 1#2", id="no-hash"),
        pytest.param("H * * * *", "failed to parse int from H", id="no-H"),
        pytest.param(
            "0 * * * * *", "expected exactly 5 fields, found 6: [0 * * * * *]", id="six-fields"
        ),
        pytest.param("* * * *", "expected exactly 5 fields, found 4", id="four-fields"),
        pytest.param("TZ=UTC 0 * * * *", cron.TZ_MESSAGE, id="tz-prefix"),
        pytest.param("CRON_TZ=UTC 0 * * * *", cron.TZ_MESSAGE, id="cron-tz-prefix"),
        pytest.param("@fortnightly", "unrecognized descriptor: @fortnightly", id="descriptor"),
        pytest.param("@every soon", "failed to parse duration @every soon", id="every-duration"),
        pytest.param("*/0 * * * *", "step of range should be a positive number", id="step-zero"),
        pytest.param("5-1 * * * *", "beginning of range (5) beyond end of range (1)", id="range"),
        pytest.param("0 0 0 * *", "beginning of range (0) below minimum (1): 0", id="dom-zero"),
        pytest.param("1-2-3 * * * *", "too many hyphens: 1-2-3", id="hyphens"),
        pytest.param("1/2/3 * * * *", "too many slashes: 1/2/3", id="slashes"),
        pytest.param("", "empty spec string", id="empty"),
    ],
)
def test_parse_refuses(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError, match="^" + re.escape(message)):
        cron.parse(spec)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("? * * * *", id="question-mark"),
        pytest.param("0 0 1 JAN,jul SUN", id="names-any-case"),
        pytest.param("@annually", id="annually"),
        pytest.param("@midnight", id="midnight"),
        pytest.param("@every 1h30m", id="every-compound"),
        pytest.param("5/15 * * * *", id="start-slash-step"),
        pytest.param("0  0   * * *", id="extra-spaces"),
    ],
)
def test_parse_accepts(spec: str) -> None:
    cron.parse(spec)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h30m", 5400.0), ("90s", 90.0), ("0", 0.0), ("1.5m", 90.0), ("", None), ("5", None)],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert cron.parse_duration(text) == seconds
