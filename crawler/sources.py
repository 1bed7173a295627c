"""The sources file (TOML): which feeds, sitemaps and start pages to crawl, per source."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crawler.urls import host_of, unfetchable


class SourcesError(ValueError):
    """The sources file is missing or malformed."""


@dataclass(frozen=True)
class Source:
    """One outlet: a name and the URLs crawling starts from."""

    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=(), compare=False)
    robots_sitemaps: bool = False  #: also crawl the sitemaps its hosts' robots.txt lists

    @property
    def urls(self) -> tuple[str, ...]:
        return self.feeds + self.sitemaps + self.start_urls


#: The keys of a ``[[source]]`` table (any other is a typo, e.g. ``feed`` for ``feeds``).
KEYS = ("name", "feeds", "sitemaps", "start_urls", "robots_sitemaps", "tags")


def check_url(url: str) -> str:
    """``url`` if the crawler can request it; else why not (one line, for SourcesError)."""
    problem = unfetchable(url)
    if problem is not None:
        raise SourcesError(f"'{url}' {problem}")
    return url


def _strings(entry: dict, key: str, where: str, what: str = "URLs") -> tuple[str, ...]:
    """A list of strings; one string alone is a list of one (``feeds = "https://…"``, ``tags =
    "wire"``: never its characters)."""
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourcesError(f"{where}: '{key}' must be a list of {what}")
    return tuple(value)


def _urls(entry: dict, key: str, where: str) -> tuple[str, ...]:
    urls = _strings(entry, key, where)
    for url in urls:
        try:
            check_url(url)
        except SourcesError as exc:
            raise SourcesError(f"{where}: {exc}") from None
    return urls


def _flag(entry: dict, key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise SourcesError(f"{where}: '{key}' must be true or false")
    return value


def parse_sources(text: str, origin: str = "<sources>") -> list[Source]:
    """Parse a sources document: ``[[source]]`` tables with ``name``, ``feeds``,
    ``sitemaps``, ``start_urls`` (lists of URLs), optional ``tags`` and ``robots_sitemaps``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{origin}: not valid TOML: {exc}") from exc
    entries = data.get("source")
    if isinstance(entries, dict):
        raise SourcesError(f"{origin}: write each source as [[source]] (two brackets), not [source]")
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{origin}: no [[source]] entries")
    sources: list[Source] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, 1):
        where = f"{origin}: source #{i}"
        if not isinstance(entry, dict):
            raise SourcesError(f"{where}: not a [[source]] table")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise SourcesError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
                               f"(known: {', '.join(KEYS)})")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SourcesError(f"{where}: 'name' is required")
        name = name.strip()
        if name in seen:
            raise SourcesError(f"{where}: duplicate name '{name}'")
        seen.add(name)
        source = Source(
            name=name,
            feeds=_urls(entry, "feeds", where),
            sitemaps=_urls(entry, "sitemaps", where),
            start_urls=_urls(entry, "start_urls", where),
            tags=_strings(entry, "tags", where, "words"),
            robots_sitemaps=_flag(entry, "robots_sitemaps", where),
        )
        if not source.urls:
            raise SourcesError(f"{where} ('{name}'): no feeds, sitemaps or start_urls")
        sources.append(source)
    return sources


def load_sources(path: Path) -> list[Source]:
    """Read and parse the sources file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourcesError(f"cannot read sources file {path}: not UTF-8 text ({exc.reason} at "
                           f"byte {exc.start})") from exc
    return parse_sources(text, str(path))


def adhoc_sources(
    feeds: Iterable[str] = (), sitemaps: Iterable[str] = (), urls: Iterable[str] = ()
) -> list[Source]:
    """Sources for URLs given on the command line, one source per host; a host given a page URL
    also has the sitemaps its robots.txt lists crawled."""
    by_host: dict[str, dict[str, list[str]]] = {}
    for kind, items in (("feeds", feeds), ("sitemaps", sitemaps), ("start_urls", urls)):
        for url in items:
            check_url(url)
            by_host.setdefault(host_of(url) or url, {}).setdefault(kind, []).append(url)
    return [
        Source(name=host, robots_sitemaps="start_urls" in kinds, **{k: tuple(v) for k, v in kinds.items()})
        for host, kinds in sorted(by_host.items())
    ]
