"""The store on SQLite and PostgreSQL: upsert by canonical URL, seen URLs, clear DB errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from crawler.items import Article as ArticleItem
from crawler.store.db import DatabaseError, make_engine, make_sessionmaker
from crawler.store.models import Article, SeenUrl
from crawler.store.repo import (
    MAX_URL,
    content_hash,
    decompress_html,
    record_seen,
    seen_urls,
    storable,
    store_article,
    upsert_article,
    url_key,
)


def make_item(url: str = "https://a.example/1", text: str = "Body text here.") -> ArticleItem:
    return ArticleItem(
        url=url, fetched_url=url + "?ref=feed", source="a", site="a.example", status=200,
        fetched_at=datetime(2026, 3, 1, 12, tzinfo=UTC), text=text, title="T", author="Au",
        published=datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        sitename="A", language="en", declared_canonical=url, encoding="utf-8",
        repairs=("ftfy:mojibake",), raw_html=b"<html>" + text.encode() + b"</html>",
        requested_url=url,
    )


def test_upsert_new_unchanged_changed(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        assert upsert_article(session, make_item())[0] == "new"
        session.commit()
        assert upsert_article(session, make_item(text="Body  text\nhere."))[0] == "unchanged"
        outcome, article_id = upsert_article(session, make_item(text="A corrected body."))
        assert outcome == "changed"
        session.commit()
        assert session.scalar(select(func.count()).select_from(Article)) == 1
        row = session.get(Article, article_id)
        assert row.text == "A corrected body."
        assert row.content_hash == content_hash("A corrected body.")
        assert decompress_html(row.raw_html_gz) == b"<html>A corrected body.</html>"
        assert row.repairs == "ftfy:mojibake"
        # stored as UTC, returned timezone-aware, same instant
        assert row.published == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    engine.dispose()


def test_seen_urls_skip_stored_and_dropped_but_not_errors(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as session:
        _, article_id = upsert_article(session, make_item())
        record_seen(session, "https://a.example/listing", "dropped:listing")
        record_seen(session, "https://a.example/flaky", "error:timeout")
        record_seen(session, "https://a.example/1?ref=feed", "stored", article_id)
        session.commit()
        seen = seen_urls(session)
        assert {"https://a.example/1", "https://a.example/listing",
                "https://a.example/1?ref=feed"} <= seen
        assert "https://a.example/flaky" not in seen
        record_seen(session, "https://a.example/listing", "dropped:too_short")
        session.commit()
        assert session.get(SeenUrl, "https://a.example/listing").outcome == "dropped:too_short"
    engine.dispose()


def test_a_collided_article_is_stored_and_its_urls_seen_as_stored(any_db_url: str) -> None:
    """Two pages claiming one key with different text: the second is stored under its own URL
    ("collided"), and every URL it was fetched under is remembered as stored, so the next crawl
    does not fetch it again (the crawl's store pipeline and import-warc share this path)."""
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as session:
        first = make_item()
        assert store_article(session, first)[0] == "stored"
        other = make_item(text="Another article entirely.")
        other.fetched_url = other.requested_url = "https://a.example/2"
        outcome, article_id = store_article(session, other)
        session.commit()
        assert outcome == "collided"
        assert session.get(Article, article_id).url == "https://a.example/2"
        assert session.get(SeenUrl, "https://a.example/2").outcome == "stored"
        assert "https://a.example/2" in seen_urls(session)
        assert session.scalar(select(func.count()).select_from(Article)) == 2
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [("sqlite:////nonexistent-dir/sub/x.db", "cannot open database"),
     ("nosuchdialect://x", "invalid database URL"),
     ("not a url", "invalid database URL")],
)
def test_unusable_database_is_one_clear_error(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message):
        make_engine(url)


def test_a_row_no_backend_takes_is_made_storable(any_db_url: str) -> None:
    """NUL and lone surrogates removed, an over-long URL keyed by its hash (the same key every
    run), an over-long declared canonical dropped, short columns cut: all backends store it."""
    long = "https://a.example/" + "x" * 2100
    item = make_item(long)
    item.text, item.title, item.author = "Body\x00 text\ud800 here.", "T\x00itle", "A\x00u"
    item.declared_canonical = long
    item.language, item.repairs = "en-" + "x" * 40, tuple(f"repair-{i:03d}" for i in range(60))
    clean = storable(item)
    assert clean.text == "Body text here." and clean.title == "Title" and clean.author == "Au"
    assert len(clean.url) == MAX_URL and clean.url == url_key(long) == url_key(long)
    assert url_key(long + "y") != clean.url and url_key("https://a.example/1") == "https://a.example/1"
    assert clean.declared_canonical is None and len(clean.language) == 20
    assert len(",".join(clean.repairs)) <= 400 and clean.repairs == item.repairs[:len(clean.repairs)]
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as session:
        assert upsert_article(session, clean)[0] == "new"
        record_seen(session, long, "stored")
        session.commit()
        assert session.scalars(select(Article.title)).one() == "Title"
        assert url_key(long) in seen_urls(session)
    engine.dispose()
