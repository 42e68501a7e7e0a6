"""Business hours: weekly opening times in a time zone, minus holidays."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_days(spec: str) -> set[int]:
    """``mon-fri``, ``sat``, ``mon,wed,fri`` -> weekday numbers (Monday is 0)."""
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"unknown day range {spec!r}: use mon..sun, e.g. 'mon-fri'")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    return days


def parse_span(spec: str) -> tuple[time, time]:
    match = _SPAN.match(spec)
    if match is None:
        raise ValueError(f"opening hours {spec!r} must look like '09:00-17:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (h1 < 24 and m1 < 60 and m2 < 60 and (h2 < 24 or (h2 == 24 and m2 == 0))):
        raise ValueError(f"opening hours {spec!r} are not valid times")
    start, end = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(
            f"opening hours {spec!r} must end after they start (split overnight spans)"
        )
    return start, end


def is_open(open_hours: dict[str, str], holidays: list[str], zone: str, now: datetime) -> bool:
    """Whether ``now`` (an aware datetime) falls in the opening hours, in ``zone``."""
    local = now.astimezone(ZoneInfo(zone))
    if local.date() in {date.fromisoformat(day) for day in holidays}:
        return False
    for days, span in open_hours.items():
        start, end = parse_span(span)
        if local.weekday() in parse_days(days) and start <= local.time() < end:
            return True
    return False
