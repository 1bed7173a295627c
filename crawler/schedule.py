"""``newsdedup schedule``: run crawl + dedup again and again, each run in a child process.

The Twisted reactor cannot be restarted, so every run is ``newsdedup run --no-report`` in a new
process. SIGINT/SIGTERM stop the loop: the running child gets one SIGTERM (Scrapy's graceful
shutdown: requests in flight finish, the store commits, the run is recorded ``interrupted``),
a second signal is passed on too (Scrapy then stops at once). Runs never overlap: each child takes
the database lock (see :mod:`crawler.lock`).
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Protocol

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_every(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h30m``, ``2d`` (a bare number is seconds) as a positive timedelta."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        parts = _PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 1h30m, 1d)")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return timedelta(seconds=seconds)


class Schedule(Protocol):
    def first(self, now: datetime) -> datetime: ...

    def next(self, started: datetime, now: datetime) -> datetime: ...


@dataclass(frozen=True)
class Every:
    """Start a run every ``period`` (the first at once); a run that overran is followed at once."""

    period: timedelta

    def first(self, now: datetime) -> datetime:
        return now

    def next(self, started: datetime, now: datetime) -> datetime:
        return max(now, started + self.period)

    def __str__(self) -> str:
        return f"every {self.period}"


@dataclass(frozen=True)
class Cron:
    """Start runs at the times of a cron expression (UTC); a time missed while running is skipped."""

    expression: str

    def __post_init__(self) -> None:
        from croniter import croniter

        if not croniter.is_valid(self.expression):
            raise ValueError(f"not a cron expression: {self.expression!r}")

    def _after(self, when: datetime) -> datetime:
        from croniter import croniter

        return croniter(self.expression, when).get_next(datetime)

    def first(self, now: datetime) -> datetime:
        return self._after(now)

    def next(self, started: datetime, now: datetime) -> datetime:
        return self._after(now)

    def __str__(self) -> str:
        return f"cron '{self.expression}' (UTC)"


@dataclass
class Stopper:
    """Set by the first SIGINT/SIGTERM; each signal is passed on to the running child."""

    event: threading.Event
    child: subprocess.Popen[bytes] | None = None
    signals: int = 0

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        self.event.set()
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def install(self) -> None:
        signal.signal(signal.SIGINT, self.handle)
        signal.signal(signal.SIGTERM, self.handle)


def run_child(argv: Sequence[str], stopper: Stopper) -> int:
    """Run one child in its own session (a terminal's Ctrl-C reaches only us; we pass it on)."""
    child = subprocess.Popen(list(argv), start_new_session=True)
    stopper.child = child
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # a handler that raised: keep waiting for the child
                continue
    finally:
        stopper.child = None


def run_schedule(job: Callable[[int], int], schedule: Schedule, stop: threading.Event,
                 max_runs: int | None = None, clock: Callable[[], datetime] | None = None,
                 on_wait: Callable[[datetime], None] | None = None) -> list[int]:
    """Call ``job(n)`` at the schedule's times until ``stop`` is set or ``max_runs`` ran; returns
    the exit statuses. Waiting is ``stop.wait``, so a signal ends it at once."""
    now = clock or (lambda: datetime.now(UTC))
    statuses: list[int] = []
    due = schedule.first(now())
    while not stop.is_set() and (max_runs is None or len(statuses) < max_runs):
        wait = (due - now()).total_seconds()
        if wait > 0:
            if on_wait is not None:
                on_wait(due)
            if stop.wait(wait):
                break
        started = now()
        statuses.append(job(len(statuses) + 1))
        due = schedule.next(started, now())
    return statuses
