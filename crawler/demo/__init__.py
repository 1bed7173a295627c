"""The bundled sample of news sites behind ``newsdedup demo``.

``corpus/`` is a labelled corpus (the format of :mod:`crawler.evaluation.corpus`): four invented
outlets whose text was written for the demo (10 pages, 6 stories). Wire stories are republished
(one twice, once under a rewritten headline), a follow-up quotes a paragraph of another story, a
digest quotes three stories, and one republished page arrives as mojibake (UTF-8 read as
Windows-1252 and saved again as UTF-8).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crawler.evaluation.corpus import load_corpus
from crawler.evaluation.runner import sources_toml
from crawler.evaluation.server import proxy_environment, serve_corpus

CORPUS = Path(__file__).with_name("corpus")


@contextmanager
def served_demo(workdir: Path) -> Iterator[Path]:
    """Serve the sample sites on 127.0.0.1 as this process's HTTP proxy for the block; yields a
    sources file (in ``workdir``) naming their feeds and sitemaps."""
    corpus = load_corpus(CORPUS)
    sources = workdir / "sources.toml"
    sources.write_text(sources_toml(corpus), encoding="utf-8")
    saved = dict(os.environ)
    with serve_corpus(corpus) as server:
        os.environ.clear()
        os.environ.update(proxy_environment(server.proxy_url, saved))
        try:
            yield sources
        finally:
            os.environ.clear()
            os.environ.update(saved)
