"""CronJob schedules as Kubernetes reads them: robfig/cron v3 `ParseStandard` and `Next`.

`parse` accepts what `cron.ParseStandard` accepts and nothing else: five fields (minute,
hour, day of month, month, day of week 0-6), `*` and `?`, ranges, steps, lists, the names
`jan`-`dec` and `sun`-`sat`, and the descriptors `@yearly`, `@annually`, `@monthly`,
`@weekly`, `@daily`, `@midnight`, `@hourly` and `@every <duration>`. Its errors read as the
library's (`end of range (7) above maximum (6): 7`). `TZ=`/`CRON_TZ=` prefixes are refused:
Kubernetes rejects them in favour of `spec.timeZone`.

`Schedule.next(after, zone)` is `SpecSchedule.Next`: months and days move by the calendar,
hours, minutes and seconds by absolute durations, so a wall time that does not exist (spring
forward) is never reached and one that happens twice (fall back) is reached twice, as in a
cluster. None stands for Go's zero time (no match within five years: `0 0 31 2 *`).

Pure: times are Unix seconds, the zone is a `tzinfo` the caller loaded.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

TZ_MESSAGE = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"

_STAR = 1 << 63  # the star bit: the field was `*` or `?` (dayMatches ANDs then)


class CronError(ValueError):
    """A schedule robfig/cron refuses; the message is the library's."""


@dataclass(frozen=True, slots=True)
class _Bounds:
    low: int
    high: int
    names: tuple[tuple[str, int], ...] = ()


_MINUTES = _Bounds(0, 59)
_HOURS = _Bounds(0, 23)
_DOM = _Bounds(1, 31)
_MONTHS = _Bounds(
    1,
    12,
    tuple(
        (name, i + 1)
        for i, name in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
        )
    ),
)
_DOW = _Bounds(
    0,
    6,
    tuple((name, i) for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))),
)
_INT = re.compile(r"[+-]?[0-9]+")


def _bits(low: int, high: int, step: int) -> int:
    out = 0
    for i in range(low, high + 1, step):
        out |= 1 << i
    return out


def _all(b: _Bounds) -> int:
    return _bits(b.low, b.high, 1) | _STAR


def _int(expr: str) -> int:
    """mustParseInt: strconv.Atoi, then no negative numbers."""
    if not _INT.fullmatch(expr):
        raise CronError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax'
        )
    num = int(expr)
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, b: _Bounds) -> int:
    for name, value in b.names:
        if expr.lower() == name:
            return value
    return _int(expr)


def _range(expr: str, b: _Bounds) -> int:
    """getRange: `*`, `?`, `N`, `N-M`, each with an optional `/step`."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.low, b.high, _STAR
    else:
        start = _int_or_name(low_high[0], b)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _int(range_and_step[1])
        if len(low_high) == 1:  # "N/step" means "N-max/step"
            end = b.high
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < b.low:
        raise CronError(f"beginning of range ({start}) below minimum ({b.low}): {expr}")
    if end > b.high:
        raise CronError(f"end of range ({end}) above maximum ({b.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return _bits(start, end, step) | extra


def _field(text: str, b: _Bounds) -> int:
    out = 0
    for expr in (e for e in text.split(",") if e):
        out |= _range(expr, b)
    return out


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: bit sets per field (SpecSchedule, seconds always 0), or a constant
    delay in whole seconds (`@every`)."""

    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    every: int = 0  # seconds; > 0 for `@every`

    def next(self, after: float, zone: dt.tzinfo) -> float | None:
        """The first time strictly after `after` (Unix seconds) that the schedule matches in
        `zone`; None when nothing matches within five years."""
        if self.every:
            return float(math.floor(after) + self.every)
        return _next(self, math.floor(after) + 1, zone)


_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def parse(spec: str) -> Schedule:
    """cron.ParseStandard(spec); CronError with the library's message when refused."""
    if not spec:
        raise CronError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        raise CronError(TZ_MESSAGE)
    if spec.startswith("@"):
        return _descriptor(spec)
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return Schedule(
        minute=_field(fields[0], _MINUTES),
        hour=_field(fields[1], _HOURS),
        dom=_field(fields[2], _DOM),
        month=_field(fields[3], _MONTHS),
        dow=_field(fields[4], _DOW),
    )


def _descriptor(spec: str) -> Schedule:
    if spec in _DESCRIPTORS:
        return parse(_DESCRIPTORS[spec])
    every = "@every "
    if spec.startswith(every):
        text = spec[len(every) :]
        seconds = parse_duration(text)
        if seconds is None:
            raise CronError(f'failed to parse duration {spec}: time: invalid duration "{text}"')
        return Schedule(every=max(1, math.floor(seconds)))
    raise CronError(f"unrecognized descriptor: {spec}")


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)")


def parse_duration(text: str) -> float | None:
    """Go's time.ParseDuration in seconds (`1h30m`, `90s`, `0`); None when invalid."""
    rest = text
    sign = 1.0
    if rest[:1] in ("+", "-"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        return None
    total = 0.0
    while rest:
        match = _DURATION_PART.match(rest)
        if match is None or match[1] in ("", ".") or match[2] not in _UNITS:
            return None
        total += float(match[1]) * _UNITS[match[2]]
        rest = rest[match.end() :]
    return sign * total


# --- SpecSchedule.Next ---------------------------------------------------------------------


def _wall(t: int, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, zone)


def _offset(t: int, zone: dt.tzinfo) -> int:
    delta = _wall(t, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _date(year: int, month: int, day: int, seconds: int, zone: dt.tzinfo) -> int:
    """Go's time.Date(year, month, day, 0, 0, seconds, 0, zone) as Unix seconds: month and
    day out of range are normalised; a wall time in a gap or an overlap is placed as Go
    places it (the offset at the wall time read as UTC, corrected once)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    unix = (dt.date(year, month, 1).toordinal() + day - 1 - _EPOCH) * 86400 + seconds
    offset = _offset(unix, zone)
    if offset and _offset(unix - offset, zone) != offset:
        offset = _offset(unix - offset, zone)
    return unix - offset


def _add_date(t: int, zone: dt.tzinfo, *, months: int = 0, days: int = 0) -> int:
    """t.AddDate(0, months, days): the same wall clock, the calendar moved."""
    w = _wall(t, zone)
    clock = w.hour * 3600 + w.minute * 60 + w.second
    return _date(w.year, w.month + months, w.day + days, clock, zone)


def _day_matches(s: Schedule, w: dt.datetime) -> bool:
    dom = bool(1 << w.day & s.dom)
    dow = bool(1 << ((w.weekday() + 1) % 7) & s.dow)
    if s.dom & _STAR or s.dow & _STAR:
        return dom and dow
    return dom or dow


def _next(s: Schedule, t: int, zone: dt.tzinfo) -> float | None:
    added = False
    year_limit = _wall(t, zone).year + 5
    while True:  # WRAP
        w = _wall(t, zone)
        if w.year > year_limit:
            return None
        wrapped = False
        while not (1 << w.month & s.month):
            if not added:
                added = True
                t = _date(w.year, w.month, 1, 0, zone)
            t = _add_date(t, zone, months=1)
            w = _wall(t, zone)
            if w.month == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not _day_matches(s, w):
            if not added:
                added = True
                t = _date(w.year, w.month, w.day, 0, zone)
            t = _add_date(t, zone, days=1)
            w = _wall(t, zone)
            if w.hour != 0:  # midnight skipped or repeated by a DST change
                t += (24 - w.hour) * 3600 if w.hour > 12 else -w.hour * 3600
                w = _wall(t, zone)
            if w.day == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << w.hour & s.hour):
            if not added:
                added = True
                t = _date(w.year, w.month, w.day, w.hour * 3600, zone)
            t += 3600
            w = _wall(t, zone)
            if w.hour == 0:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << w.minute & s.minute):
            if not added:
                added = True
                t -= t % 60
            t += 60
            w = _wall(t, zone)
            if w.minute == 0:
                wrapped = True
                break
        if wrapped:
            continue
        if w.second != 0:  # seconds: only 0 matches
            if not added:
                added = True
            t += 60 - w.second
            w = _wall(t, zone)
            continue  # the second wrapped to 0: WRAP
        return float(t)
