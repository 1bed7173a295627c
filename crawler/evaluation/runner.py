"""``newsdedup eval``: serve a labelled corpus, crawl it with the real spider, dedup, score."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.archive_job import run_level
from crawler.evaluation.corpus import Corpus, load_corpus
from crawler.evaluation.score import PagePrediction, score
from crawler.evaluation.server import LOOPBACK_SETTINGS, proxy_environment, serve_corpus
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, PassageLink, StoryMember

#: Politeness tuned for a loopback server, warnings only (the child's log is kept for errors).
EVAL_SETTINGS = {**LOOPBACK_SETTINGS, "LOG_LEVEL": "WARNING"}


def sources_toml(corpus: Corpus) -> str:
    """A sources file naming only each outlet's feed and sitemap (never the page list)."""

    def toml(value: object) -> str:  # JSON strings and arrays of strings are valid TOML
        return json.dumps(value, ensure_ascii=False)

    return "\n".join(
        f"[[source]]\nname = {toml(site.name)}\n"
        f"feeds = {toml([site.feed] if site.feed else [])}\n"
        f"sitemaps = {toml([site.sitemap] if site.sitemap else [])}\n"
        for site in corpus.sites
    )


def crawl_subprocess(proxy_url: str, sources_file: Path, db_url: str, log_file: Path) -> int:
    """Run ``newsdedup crawl`` in a child process whose HTTP proxy is the corpus server."""
    env = proxy_environment(proxy_url, os.environ)
    cmd = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources_file),
           "--db", db_url]
    for key, value in EVAL_SETTINGS.items():
        cmd += ["-s", f"{key}={value}"]
    with open(log_file, "wb") as log:
        return subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                              timeout=1800, check=False).returncode


def predictions_from_store(session: Session) -> list[PagePrediction]:
    """One prediction per stored article: its story, metadata, text and quoted sources."""
    url_of = dict(session.execute(select(Article.id, Article.fetched_url)).all())
    quoted: dict[int, list[str]] = defaultdict(list)
    for link in session.scalars(select(PassageLink)):
        quoted[link.article_id].append(url_of[link.source_article_id])
    out = []
    rows = session.execute(select(Article, StoryMember).outerjoin(StoryMember))
    for art, member in rows:
        out.append(
            PagePrediction(
                url=art.fetched_url,
                cluster=f"story-{member.story_id}" if member else f"article-{art.id}",
                is_canonical=bool(member and member.is_canonical),
                text=art.text,
                title=art.title,
                author=art.author,
                published=art.published.isoformat() if art.published else None,
                passage_sources=tuple(sorted(set(quoted.get(art.id, ())))),
            )
        )
    return out


def run_eval(corpus_dir: Path, db_url: str | None = None, workdir: Path | None = None,
             level: str = "passage") -> tuple[dict[str, Any], list[PagePrediction]]:
    """Crawl, dedup at ``level`` ("passage" or "document": an archive in the work directory)
    and score ``corpus_dir``. Returns (scores, predictions)."""
    started = time.monotonic()
    corpus = load_corpus(corpus_dir)
    with tempfile.TemporaryDirectory(prefix="newsdedup-eval-") as tmp:
        tmpdir = Path(workdir or tmp)
        db_url = db_url or f"sqlite:///{tmpdir / 'eval.db'}"
        sources_file = tmpdir / "sources.toml"
        sources_file.write_text(sources_toml(corpus), encoding="utf-8")
        with serve_corpus(corpus) as server:
            code = crawl_subprocess(server.proxy_url, sources_file, db_url, tmpdir / "crawl.log")
            requests = list(server.requests)
        if code != 0:
            log = (tmpdir / "crawl.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"crawl failed with exit status {code}:\n{log}")
        engine = make_engine(db_url)
        try:
            with make_sessionmaker(engine)() as session:
                run_level(session, level, db_url, tmpdir / "archive")
                predictions = predictions_from_store(session)
        finally:
            engine.dispose()
    scores = score(corpus, predictions, requests)
    scores["level"] = level
    scores["seconds"] = round(time.monotonic() - started, 2)
    return scores, predictions
