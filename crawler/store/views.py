"""SQL views for the common questions (documented with examples in docs/sql.md).

Views are created by migrations, never by hand: each set is versioned by the revision that
introduced it (``VIEWS_0002``). To change a view, add a new set and a migration that drops the old
one and creates the new one, so old revisions keep replaying exactly. The SQL is the same on
SQLite and PostgreSQL except for time differences, spelled per dialect by ``seconds_between``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol


class Executor(Protocol):
    """Anything with ``execute(sql)``: an Alembic ``op`` or a wrapper over a connection."""

    def execute(self, sqltext: str) -> object: ...


@dataclass(frozen=True)
class View:
    name: str
    select: Callable[[str], str]  # dialect name -> SELECT statement
    doc: str

    def create_sql(self, dialect: str) -> str:
        return f"CREATE VIEW {self.name} AS\n{self.select(dialect)}"

    def drop_sql(self) -> str:
        return f"DROP VIEW IF EXISTS {self.name}"


def seconds_between(dialect: str, start: str, end: str) -> str:
    """SQL for whole seconds from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    if dialect == "sqlite":  # UTC timestamps stored as ISO text
        return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS BIGINT)"
    raise ValueError(f"no view SQL for the {dialect!r} dialect")


def _story_overview(d: str) -> str:
    first, last = "MIN(COALESCE(a.published, a.fetched_at))", "MAX(COALESCE(a.published, a.fetched_at))"
    return f"""SELECT s.id AS story_id,
       COUNT(m.article_id) AS member_count,
       COUNT(DISTINCT a.site) AS site_count,
       s.canonical_article_id,
       c.site AS canonical_site,
       c.title AS canonical_title,
       c.url AS canonical_url,
       s.canonical_reason,
       {first} AS first_seen,
       {last} AS last_seen,
       {seconds_between(d, first, last)} AS spread_seconds,
       (SELECT COUNT(*) FROM passage_links p WHERE p.story_id = s.id) AS quoted_by
FROM stories s
JOIN articles c ON c.id = s.canonical_article_id
JOIN story_members m ON m.story_id = s.id
JOIN articles a ON a.id = m.article_id
GROUP BY s.id, s.canonical_article_id, c.site, c.title, c.url, s.canonical_reason"""


def _syndication_lag(d: str) -> str:
    return f"""SELECT m.story_id,
       o.id AS original_id,
       o.site AS original_site,
       o.published AS original_published,
       a.id AS copy_id,
       a.site AS copy_site,
       a.url AS copy_url,
       a.published AS copy_published,
       m.similarity,
       {seconds_between(d, "o.published", "a.published")} AS lag_seconds
FROM story_members m
JOIN stories s ON s.id = m.story_id
JOIN articles o ON o.id = s.canonical_article_id
JOIN articles a ON a.id = m.article_id
WHERE m.article_id <> s.canonical_article_id"""


def _syndication_pairs(_d: str) -> str:
    return """SELECT original_site,
       copy_site,
       COUNT(*) AS copies,
       MIN(lag_seconds) AS min_lag_seconds,
       CAST(ROUND(AVG(lag_seconds)) AS BIGINT) AS avg_lag_seconds,
       MAX(lag_seconds) AS max_lag_seconds,
       AVG(similarity) AS avg_similarity
FROM syndication_lag
GROUP BY original_site, copy_site"""


def _article_quotes(d: str) -> str:
    return f"""SELECT p.id AS link_id,
       p.article_id AS quoting_id,
       q.site AS quoting_site,
       q.title AS quoting_title,
       q.url AS quoting_url,
       q.published AS quoting_published,
       p.source_article_id AS source_id,
       src.site AS source_site,
       src.url AS source_url,
       p.story_id,
       p.passage,
       LENGTH(p.passage) AS passage_chars,
       p.similarity,
       {seconds_between(d, "src.published", "q.published")} AS lag_seconds
FROM passage_links p
JOIN articles q ON q.id = p.article_id
JOIN articles src ON src.id = p.source_article_id"""


def _source_duplicate_rates(_d: str) -> str:
    dup = "CASE WHEN s.size > 1 AND a.id <> s.canonical_article_id THEN 1 ELSE 0 END"
    return f"""SELECT a.source,
       COUNT(*) AS articles,
       SUM(CASE WHEN s.size > 1 AND a.id = s.canonical_article_id THEN 1 ELSE 0 END) AS originals,
       SUM({dup}) AS duplicates,
       SUM(CASE WHEN EXISTS (SELECT 1 FROM passage_links p WHERE p.article_id = a.id)
                THEN 1 ELSE 0 END) AS quoting,
       SUM(CASE WHEN m.article_id IS NULL THEN 1 ELSE 0 END) AS not_deduplicated,
       CAST(SUM({dup}) AS FLOAT) / COUNT(*) AS duplicate_rate
FROM articles a
LEFT JOIN story_members m ON m.article_id = a.id
LEFT JOIN stories s ON s.id = m.story_id
GROUP BY a.source"""


#: The views of revision 0002, in creation order (later views may read earlier ones).
VIEWS_0002: tuple[View, ...] = (
    View("story_overview", _story_overview,
         "one row per story: member and site counts, canonical article, first/last seen"),
    View("syndication_lag", _syndication_lag,
         "one row per copy: which outlet republished which original, and how many seconds later"),
    View("syndication_pairs", _syndication_pairs,
         "one row per (original outlet, copying outlet): copies and lag statistics"),
    View("article_quotes", _article_quotes,
         "one row per quoted passage: the quoting article, the source article and its story"),
    View("source_duplicate_rates", _source_duplicate_rates,
         "one row per source: articles, originals, duplicates, quoting articles, duplicate rate"),
)

def _event_overview(d: str) -> str:
    return f"""SELECT e.id AS event_id,
       e.label,
       e.central_article_id,
       c.url AS central_url,
       e.first_published,
       e.last_published,
       {seconds_between(d, "e.first_published", "e.last_published")} AS spread_seconds,
       COUNT(DISTINCT s.id) AS story_count,
       COUNT(m.article_id) AS article_count,
       COUNT(DISTINCT a.site) AS site_count
FROM events e
LEFT JOIN articles c ON c.id = e.central_article_id
JOIN stories s ON s.event_id = e.id
JOIN story_members m ON m.story_id = s.id
JOIN articles a ON a.id = m.article_id
GROUP BY e.id, e.label, e.central_article_id, c.url, e.first_published, e.last_published"""


#: Views added by revision 0005 (the 0002 set is unchanged).
VIEWS_0005: tuple[View, ...] = (
    View("event_overview", _event_overview,
         "one row per event: label, central article, first/last publication, stories, articles, "
         "outlets"),
)

#: The views the newest migration leaves in place.
CURRENT_VIEWS = VIEWS_0002 + VIEWS_0005


def create_views(executor: Executor, dialect: str, views: Iterable[View]) -> None:
    for view in views:
        executor.execute(view.create_sql(dialect))


def drop_views(executor: Executor, views: Iterable[View]) -> None:
    for view in reversed(tuple(views)):
        executor.execute(view.drop_sql())
