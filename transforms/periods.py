"""Reporting periods: ISO weeks (``2026-W46``) and months (``2026-10``).

A period is a half-open window ``[start, end)`` of local calendar days in the
team's timezone. Timestamps are stored in naive UTC; :func:`local_dates`
turns them into local calendar days before bucketing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    start: date  # first day, inclusive
    end: date  # first day after, exclusive
    kind: str  # "week" | "month"
    label: str  # "2026-W46" | "2026-10"

    def __str__(self) -> str:
        return self.label

    def previous(self) -> "Period":
        return week(self.start - timedelta(days=7)) if self.kind == "week" else month(self.start - timedelta(days=1))

    def next(self) -> "Period":
        return week(self.end) if self.kind == "week" else month(self.end)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def week(day: date) -> Period:
    """The ISO week (Monday to Sunday) containing ``day``."""
    start = day - timedelta(days=day.weekday())
    iso = start.isocalendar()
    return Period(start, start + timedelta(days=7), "week", f"{iso.year}-W{iso.week:02d}")


def month(day: date) -> Period:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(start, end, "month", f"{start.year}-{start.month:02d}")


def parse_period(label: str) -> Period:
    """``2026-W46`` or ``2026-10`` -> Period; a clear ValueError otherwise."""
    text = label.strip()
    if m := _WEEK.match(text):
        year, wk = int(m[1]), int(m[2])
        try:
            start = date.fromisocalendar(year, wk, 1)
        except ValueError:
            raise ValueError(f"{label!r}: {year} has no ISO week {wk}") from None
        return week(start)
    if m := _MONTH.match(text):
        year, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12:
            raise ValueError(f"{label!r}: month must be 01-12")
        return month(date(year, mo, 1))
    raise ValueError(f"{label!r}: expected an ISO week like 2026-W46 or a month like 2026-10")


def trailing_weeks(period: Period, count: int) -> list[Period]:
    """``count`` weeks ending with (and including) the week of ``period.start``, oldest first."""
    last = week(period.start)
    out = [last]
    while len(out) < count:
        out.append(out[-1].previous())
    return out[::-1]


def last_complete_week(now: datetime) -> Period:
    """The most recent week that has ended at ``now`` (an aware or local datetime)."""
    return week(now.date()).previous()


def last_complete_month(now: datetime) -> Period:
    return month(now.date()).previous()


def local_dates(utc_naive: pd.Series, timezone: str) -> pd.Series:
    """Naive-UTC timestamps -> local calendar days (``datetime64[ns]`` at midnight) in ``timezone``."""
    if utc_naive.empty:
        return pd.Series(pd.to_datetime([]), index=utc_naive.index)
    local = pd.to_datetime(utc_naive).dt.tz_localize("UTC").dt.tz_convert(timezone)
    return local.dt.tz_localize(None).dt.normalize()


def in_period(days: pd.Series, period: Period) -> pd.Series:
    """Boolean mask: local days (from :func:`local_dates`) inside ``[start, end)``."""
    return (days >= pd.Timestamp(period.start)) & (days < pd.Timestamp(period.end))
