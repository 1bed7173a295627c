"""Layout of the per-story timeline chart (outlets × publication time), drawn as inline SVG.

The geometry is computed here; ``templates/timeline.svg.j2`` draws it, so every label passes
through Jinja2's autoescaping like the rest of the page. No JavaScript, nothing fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crawler.report.queries import MemberView

#: Tick steps to choose from, in seconds.
TICK_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
              30 * 86400)
MAX_TICKS = 6


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    member: MemberView


@dataclass(frozen=True)
class Row:
    y: float
    label: str
    lag_from_x: float  # the canonical article's x: a line from there to the row's points shows the lag
    lag_to_x: float


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    axis_y: float
    rows: list[Row]
    points: list[Point]
    ticks: list[Tick]
    undated: list[MemberView]


def format_lag(seconds: int | None) -> str:
    """``+2h 05m``, ``−15m``, ``+3d 4h``, ``same time``; empty when unknown."""
    if seconds is None:
        return ""
    if abs(seconds) < 60:
        return "same time"
    sign = "+" if seconds > 0 else "−"
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {mins:02d}m"
    return f"{sign}{mins}m"


def _ticks(start: datetime, end: datetime) -> tuple[int, list[datetime]]:
    span = (end - start).total_seconds()
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    first = int(start.timestamp()) // step * step + (step if int(start.timestamp()) % step else 0)
    out, t = [], first
    while t <= end.timestamp():
        out.append(datetime.fromtimestamp(t, UTC))
        t += step
    return step, out


def _tick_label(moment: datetime, step: int, previous: datetime | None) -> str:
    if step >= 86400:
        return moment.strftime("%d %b")
    if previous is None or previous.date() != moment.date():
        return moment.strftime("%d %b %H:%M")
    return moment.strftime("%H:%M")


def format_duration(seconds: int | None) -> str:
    """``2h 05m``, ``3d 4h`` (no sign); empty when unknown."""
    return format_lag(abs(seconds)).lstrip("+") if seconds is not None else ""


def build_timeline(members: list[MemberView], width: int = 1000, left: int = 180, right_pad: int = 40,
                   row_height: int = 26, top: int = 14, bottom: int = 34) -> Timeline | None:
    """Rows of outlets (earliest first) against publication time; None when no member is dated."""
    dated = [m for m in members if m.published is not None]
    if not dated:
        return None
    times = [m.published for m in dated if m.published is not None]
    start, end = min(times), max(times)
    if end - start < timedelta(minutes=30):
        pad = (timedelta(minutes=30) - (end - start)) / 2
        start, end = start - pad, end + pad
    margin = (end - start) * 0.04
    start, end = start - margin, end + margin
    right = width - right_pad

    def x_of(moment: datetime) -> float:
        return round(left + (moment - start) / (end - start) * (right - left), 1)

    first_seen: dict[str, datetime] = {}
    for m in sorted(dated, key=lambda m: (m.published, not m.is_canonical)):
        first_seen.setdefault(m.site, m.published)  # type: ignore[arg-type]
    row_y = {site: top + row_height * (i + 0.5) for i, site in enumerate(first_seen)}
    canonical = next((m for m in dated if m.is_canonical), None)
    origin = x_of(canonical.published) if canonical and canonical.published else None
    rows = []
    for site, y in row_y.items():
        xs = [x_of(m.published) for m in dated if m.site == site and m.published]
        ends = [*xs, origin] if origin is not None else xs
        rows.append(Row(y, site, min(ends), max(ends)))
    points = [Point(x_of(m.published), row_y[m.site], m) for m in dated if m.published]
    points.sort(key=lambda p: p.member.is_canonical)  # canonical drawn last, on top
    step, moments = _ticks(start, end)
    ticks = [Tick(x_of(t), _tick_label(t, step, moments[i - 1] if i else None))
             for i, t in enumerate(moments)]
    axis_y = top + row_height * len(row_y) + 4
    return Timeline(width, int(axis_y + bottom), left, right, axis_y, rows, points, ticks,
                    [m for m in members if m.published is None])
