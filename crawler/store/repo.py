"""Reads and writes of the store, as functions over a caller-owned Session."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterable
from dataclasses import fields, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler import items
from crawler.fetchstate import DocState
from crawler.store.models import Article, FetchState, SeenUrl, utcnow
from crawler.urls import canonical_url, host_of

#: Outcomes that mean "do not fetch this URL again".
FINAL_OUTCOMES = ("stored", "unchanged", "changed", "dropped:")


#: Longest URL a key column holds (``String(2048)``); a longer one is stored as a cut-and-hashed key.
MAX_URL = 2048
#: Characters no database text column takes: NUL (PostgreSQL refuses it) and lone surrogates
#: (not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: Short columns of ``articles`` besides the URLs: longer values are cut to fit.
_SHORT_FIELDS = {"source": 200, "site": 255, "language": 20, "encoding": 40}


def url_key(url: str) -> str:
    """``url`` as stored and looked up: itself when it fits the key columns, else its start and
    the SHA-256 of the whole URL (one key per URL, the same in every run)."""
    if len(url) <= MAX_URL:
        return url
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{url[:MAX_URL - len(digest) - 1]}#{digest}"


def storable(art: items.Article) -> items.Article:
    """The article as every backend can store it: unstorable characters removed from every text
    field, URLs keyed by ``url_key``, a too-long declared canonical dropped (a cut URL would
    point elsewhere), short fields and the repairs list cut to their columns."""
    values = {f.name: _UNSTORABLE.sub("", getattr(art, f.name)) for f in fields(art)
              if isinstance(getattr(art, f.name), str)}
    for name in ("url", "fetched_url", "requested_url"):
        values[name] = url_key(values[name])
    if values.get("declared_canonical") and len(values["declared_canonical"]) > MAX_URL:
        values["declared_canonical"] = None
    for name, limit in _SHORT_FIELDS.items():
        if values.get(name):
            values[name] = values[name][:limit]
    repairs = tuple(_UNSTORABLE.sub("", r) for r in art.repairs)
    while len(",".join(repairs)) > 400:
        repairs = repairs[:-1]
    return replace(art, **values, repairs=repairs)


def content_hash(text: str) -> str:
    """SHA-256 of the article text, whitespace-normalised."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def compress_html(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=6, mtime=0)


def decompress_html(blob: bytes) -> bytes:
    return gzip.decompress(blob)


def seen_urls(session: Session) -> set[str]:
    """URLs already fetched with a final outcome: an incremental crawl skips them."""
    rows = session.scalars(select(SeenUrl.url).where(~SeenUrl.outcome.startswith("error")))
    stored = session.scalars(select(Article.url))
    return set(rows) | set(stored)


def is_seen(session: Session, url: str) -> bool:
    """Whether ``url`` was fetched with a final outcome (one URL of ``seen_urls``)."""
    key = url_key(url)
    row = session.get(SeenUrl, key)
    if row is not None and not row.outcome.startswith("error"):
        return True
    return session.scalar(select(Article.id).where(Article.url == key).limit(1)) is not None


def record_seen(session: Session, url: str, outcome: str, article_id: int | None = None) -> None:
    """Remember that ``url`` was fetched and what came of it."""
    now = utcnow()
    url = url_key(url)
    row = session.get(SeenUrl, url)
    if row is None:
        session.add(SeenUrl(url=url, outcome=outcome, article_id=article_id, first_seen=now,
                            last_seen=now))
    else:
        row.outcome = outcome
        row.last_seen = now
        if article_id is not None:
            row.article_id = article_id


def store_article(session: Session, art: items.Article) -> tuple[str, int]:
    """Upsert ``art`` and remember every URL it was fetched under as seen: the crawl's and the
    WARC import's one way of storing an article. Returns ("stored" | "changed" | "unchanged" |
    "collided", article id); a "collided" article is stored too (see ``upsert_article``)."""
    outcome, article_id = upsert_article(session, art)
    outcome = "stored" if outcome == "new" else outcome
    seen = "stored" if outcome == "collided" else outcome
    for url in {art.url, art.fetched_url, art.requested_url} - {""}:
        record_seen(session, url, seen, article_id)
    return outcome, article_id


def upsert_article(session: Session, art: items.Article) -> tuple[str, int]:
    """Insert or update by canonical URL. Returns ("new" | "changed" | "unchanged" | "collided",
    article id).

    "collided": another page already holds ``art.url`` with other text (pages sharing one
    rel=canonical, say); both are kept: ``art`` is re-keyed to its own fetched URL (``art.url``
    and ``art.site`` change) and inserted there. Different text at the same fetched URL is an
    update ("changed").
    """
    digest = content_hash(art.text)
    row = session.scalars(select(Article).where(Article.url == art.url)).one_or_none()
    if row is not None and row.content_hash == digest:
        return "unchanged", row.id
    own = canonical_url(art.fetched_url)
    if row is not None and own != art.url and canonical_url(row.fetched_url) != own:
        art.url, art.site = own, host_of(own)
        outcome, article_id = upsert_article(session, art)
        return ("collided" if outcome == "new" else outcome), article_id
    values = {
        "fetched_url": art.fetched_url,
        "source": art.source,
        "site": art.site,
        "title": art.title,
        "author": art.author,
        "published": art.published,
        "sitename": art.sitename,
        "language": art.language,
        "declared_canonical": art.declared_canonical,
        "text": art.text,
        "content_hash": digest,
        "word_count": len(art.text.split()),
        "encoding": art.encoding,
        "repairs": ",".join(art.repairs),
        "raw_html_gz": compress_html(art.raw_html),
        "http_status": art.status,
        "fetched_at": art.fetched_at,
        "updated_at": utcnow(),
    }
    if row is None:
        row = Article(url=art.url, **values)
        session.add(row)
        session.flush()
        return "new", row.id
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return "changed", row.id


_STATE_FIELDS = ("source", "kind", "parent", "etag", "last_modified", "last_fetched", "last_changed",
                 "content_hash", "interval_seconds", "next_due", "failures", "last_status", "last_error")


def load_fetch_states(session: Session) -> dict[str, DocState]:
    """Every feed's, sitemap's and start page's revalidation state, by URL."""
    return {row.url: DocState(url=row.url, **{f: getattr(row, f) for f in _STATE_FIELDS})
            for row in session.scalars(select(FetchState))}


def save_fetch_states(session: Session, states: Iterable[DocState]) -> None:
    """Insert or update these states (the caller commits)."""
    for state in states:
        row = session.get(FetchState, state.url) or FetchState(url=state.url)
        for f in _STATE_FIELDS:
            setattr(row, f, getattr(state, f))
        session.add(row)
