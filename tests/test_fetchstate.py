"""Revalidation state of feeds and sitemaps: validators, adaptive interval, due times (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.fetchstate import (
    DocState,
    FetchOutcome,
    IntervalPolicy,
    apply_outcome,
    conditional_headers,
    is_due,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = IntervalPolicy(min_seconds=600, initial_seconds=1800, max_seconds=86400)
URL = "https://wire.example/feed.xml"


def fetched(status: int = 200, digest: str = "h1", **kw: object) -> FetchOutcome:
    return FetchOutcome(url=URL, source="wire", kind="feed", status=status, etag='"e1"',
                        last_modified="Sun, 01 Mar 2026 11:00:00 GMT", content_hash=digest, **kw)


def test_first_fetch_keeps_validators_and_halves_the_initial_interval() -> None:
    state = apply_outcome(None, fetched(), POLICY, NOW)
    assert (state.etag, state.last_modified) == ('"e1"', "Sun, 01 Mar 2026 11:00:00 GMT")
    assert state.interval_seconds == 900 and state.last_changed == NOW
    assert state.next_due == NOW + timedelta(seconds=900)
    assert conditional_headers(state) == {"If-None-Match": '"e1"',
                                          "If-Modified-Since": "Sun, 01 Mar 2026 11:00:00 GMT"}


def test_not_modified_grows_the_interval_up_to_the_maximum_and_keeps_validators() -> None:
    state = apply_outcome(None, fetched(), POLICY, NOW)
    for _ in range(20):
        state = apply_outcome(state, FetchOutcome(url=URL, source="wire", kind="feed", status=304),
                              POLICY, NOW)
    assert state.interval_seconds == 86400
    assert state.etag == '"e1"' and state.last_changed == NOW and state.content_hash == "h1"


def test_same_body_without_validators_counts_as_unchanged() -> None:
    state = apply_outcome(None, fetched(), POLICY, NOW)
    later = NOW + timedelta(hours=1)
    again = apply_outcome(state, fetched(digest="h1"), POLICY, later)
    assert again.interval_seconds == 1350 and again.last_changed == NOW
    changed = apply_outcome(state, fetched(digest="h2"), POLICY, later)
    assert changed.interval_seconds == 600 and changed.last_changed == later  # clamped at the minimum


def test_failures_back_off_exponentially_and_keep_the_validators() -> None:
    state = apply_outcome(None, fetched(), POLICY, NOW)
    for expected in (600, 1200, 2400):
        state = apply_outcome(state, FetchOutcome(url=URL, source="wire", kind="feed", status=503),
                              POLICY, NOW)
        assert state.next_due == NOW + timedelta(seconds=expected)
    assert state.failures == 3 and state.last_error == "HTTP 503" and state.etag == '"e1"'
    ok = apply_outcome(state, fetched(status=304), POLICY, NOW)
    assert ok.failures == 0 and ok.last_error is None


def test_an_incomplete_read_keeps_no_validators() -> None:
    state = apply_outcome(None, fetched(complete=False), POLICY, NOW)
    assert state.etag is None and state.last_modified is None and state.content_hash is None
    assert conditional_headers(state) == {}


def test_due() -> None:
    assert is_due(None, NOW)
    state = DocState(url=URL, source="wire", kind="feed", next_due=NOW + timedelta(seconds=1))
    assert not is_due(state, NOW) and is_due(state, NOW + timedelta(seconds=1))
