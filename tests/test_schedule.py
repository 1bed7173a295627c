"""The scheduler loop and its schedules, on a fake clock (no processes)."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from crawler.schedule import Cron, Every, Stopper, parse_every, run_child, run_schedule

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h30m", 5400),
                                               ("2d", 172800), ("45", 45), ("0.5s", 0.5)])
def test_parse_every(text: str, seconds: float) -> None:
    assert parse_every(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0", "m", "5x", "1h 30m", "-5m"])
def test_parse_every_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_every(text)


def test_every_runs_at_once_then_per_period_and_at_once_after_an_overrun() -> None:
    plan = Every(timedelta(minutes=30))
    assert plan.first(T0) == T0
    assert plan.next(T0, T0 + timedelta(minutes=5)) == T0 + timedelta(minutes=30)
    assert plan.next(T0, T0 + timedelta(minutes=45)) == T0 + timedelta(minutes=45)


def test_cron() -> None:
    plan = Cron("*/30 * * * *")
    assert plan.first(T0 + timedelta(minutes=1)) == T0 + timedelta(minutes=30)
    assert plan.next(T0, T0 + timedelta(minutes=31)) == T0 + timedelta(hours=1)
    with pytest.raises(ValueError):
        Cron("every tuesday")


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeStop(threading.Event):
    """``wait`` advances the fake clock instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0)
        self.clock.now += timedelta(seconds=timeout or 0)
        return self.is_set()


def test_run_schedule_runs_max_runs_times_on_schedule() -> None:
    clock = FakeClock()
    stop = FakeStop(clock)
    starts = []

    def job(n: int) -> int:
        starts.append(clock.now)
        clock.now += timedelta(minutes=10)  # the run takes 10 minutes
        return 0

    assert run_schedule(job, Every(timedelta(minutes=30)), stop, max_runs=3, clock=clock) == [0, 0, 0]
    assert starts == [T0, T0 + timedelta(minutes=30), T0 + timedelta(minutes=60)]
    assert stop.waits == [1200.0, 1200.0]


def test_run_schedule_stops_when_signalled_during_a_run() -> None:
    clock = FakeClock()
    stop = FakeStop(clock)

    def job(n: int) -> int:
        stop.set()  # SIGTERM arrived while the child ran
        return 130

    assert run_schedule(job, Every(timedelta(minutes=30)), stop, clock=clock) == [130]


def test_stopper_passes_the_signal_to_the_child_once_per_signal() -> None:
    stopper = Stopper(threading.Event())
    code = "import signal,sys,time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(7)); time.sleep(30)"
    timer = threading.Timer(0.5, stopper.handle, args=(signal.SIGTERM, None))
    timer.start()
    assert run_child([sys.executable, "-c", code], stopper) == 7
    assert stopper.event.is_set() and stopper.signals == 1 and stopper.child is None


def test_scheduled_runs_fetch_only_due_documents_and_keep_the_user_overrides() -> None:
    from pathlib import Path

    from crawler.cli import _crawl_argv

    argv = _crawl_argv(sources_file=Path("s.toml"), feeds=("https://a.example/feed",), sitemaps=(),
                       urls=(), refetch=False, overrides=("NEWSDEDUP_ONLY_DUE=False",),
                       stats_file=None, warc_dir=Path("w"))
    assert argv == ["--sources", "s.toml", "--feed", "https://a.example/feed", "--warc", "w",
                    "-s", "NEWSDEDUP_ONLY_DUE=True", "-s", "NEWSDEDUP_ONLY_DUE=False"]
