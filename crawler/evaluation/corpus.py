"""Load and validate a labelled corpus (``manifest.json`` + ``sites/<outlet>/`` document roots).

Format (see the corpus's SOURCE.md): ``sites[]`` with ``name, host, dir, charset, feed, sitemap``;
``pages[]`` with ``site, path, content_type, role, source, passages_from, published, title,
author, body``. A page's URL is ``http://<site>.test<path>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROLES = frozenset({"original", "copy", "followup", "digest"})
SITE_KEYS = ("name", "host", "dir", "charset", "feed", "sitemap")


@dataclass(frozen=True)
class Site:
    """One outlet: its host (``<name>.test``) and document root relative to the corpus."""

    name: str
    host: str
    dir: str
    charset: str
    feed: str
    sitemap: str


@dataclass(frozen=True)
class Page:
    """One labelled article page."""

    site: str
    path: str
    content_type: str
    role: str
    source: str | None  # copy-cluster (story) id; None for digests
    passages_from: tuple[str, ...]  # story ids quoted without being a copy
    published: str | None
    title: str | None
    author: str | None
    body: str

    @property
    def url(self) -> str:
        return f"http://{self.site}.test{self.path}"


@dataclass(frozen=True)
class Corpus:
    """A validated corpus; ``root`` is the directory holding ``manifest.json``."""

    root: Path
    sites: tuple[Site, ...]
    pages: tuple[Page, ...]
    _by_url: dict[str, Page] = field(init=False, repr=False, compare=False)
    _by_host: dict[str, Site] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_url", {normalize_url(p.url): p for p in self.pages})
        object.__setattr__(self, "_by_host", {s.host.lower(): s for s in self.sites})

    def page(self, url: str) -> Page | None:
        """The manifest page at ``url`` (compared after :func:`normalize_url`), else None."""
        return self._by_url.get(normalize_url(url))

    def site_for_host(self, host: str) -> Site | None:
        """The outlet serving ``host`` (case-insensitive, port ignored), else None."""
        return self._by_host.get(host.split(":", 1)[0].lower())

    def site_root(self, site: Site) -> Path:
        return self.root / site.dir


def normalize_url(url: str) -> str:
    """Matching form: lower-case scheme and host, no default port or fragment, path decoded."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port not in (None, 80):
        host = f"{host}:{parts.port}"
    path = unquote(parts.path) or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{(parts.scheme or 'http').lower()}://{host}{path}{query}"


def load_corpus(path: str | Path) -> Corpus:
    """Read ``<path>/manifest.json`` (or ``path`` itself if it is a file) and validate it.

    Raises ValueError naming the problem: unreadable/invalid JSON, a missing or mistyped key
    (``pages[3].role``), an unknown role or site, a duplicate page or host.
    """
    path = Path(path)
    manifest_path = path if path.is_file() else path / "manifest.json"
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"no manifest: {manifest_path} does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"bad manifest {manifest_path}: {exc}") from exc
    return parse_manifest(data, manifest_path.parent)


def parse_manifest(data: Any, root: Path) -> Corpus:
    """Validate a decoded manifest; see :func:`load_corpus`."""
    if not isinstance(data, Mapping):
        raise ValueError("manifest: top level must be a JSON object")
    for key in ("sites", "pages"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"manifest: missing or non-list key {key!r}")
    sites = tuple(_site(i, raw) for i, raw in enumerate(data["sites"]))
    names = [s.name for s in sites]
    hosts = [s.host.lower() for s in sites]
    for label, values in (("site name", names), ("site host", hosts)):
        dup = _first_duplicate(values)
        if dup is not None:
            raise ValueError(f"manifest: duplicate {label} {dup!r}")
    pages = tuple(_page(i, raw, set(names)) for i, raw in enumerate(data["pages"]))
    dup = _first_duplicate([normalize_url(p.url) for p in pages])
    if dup is not None:
        raise ValueError(f"manifest: duplicate page {dup}")
    return Corpus(root=root, sites=sites, pages=pages)


def _site(i: int, raw: Any) -> Site:
    where = f"sites[{i}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"manifest: {where} must be an object")
    values = {key: _require(raw, key, where, str) for key in SITE_KEYS}
    return Site(**values)


def _page(i: int, raw: Any, site_names: set[str]) -> Page:
    where = f"pages[{i}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"manifest: {where} must be an object")
    site = _require(raw, "site", where, str)
    if site not in site_names:
        raise ValueError(f"manifest: {where}.site {site!r} is not in sites[]")
    path = _require(raw, "path", where, str)
    if not path.startswith("/"):
        raise ValueError(f"manifest: {where}.path {path!r} must start with '/'")
    role = _require(raw, "role", where, str)
    if role not in ROLES:
        raise ValueError(f"manifest: {where}.role {role!r} is not one of {sorted(ROLES)}")
    passages = _require(raw, "passages_from", where, list)
    if not all(isinstance(s, str) for s in passages):
        raise ValueError(f"manifest: {where}.passages_from must be a list of strings")
    return Page(
        site=site,
        path=path,
        content_type=_require(raw, "content_type", where, str),
        role=role,
        source=_require(raw, "source", where, str, nullable=True),
        passages_from=tuple(passages),
        published=_require(raw, "published", where, str, nullable=True),
        title=_require(raw, "title", where, str, nullable=True),
        author=_require(raw, "author", where, str, nullable=True),
        body=_require(raw, "body", where, str),
    )


def _require(raw: Mapping[str, Any], key: str, where: str, kind: type, *, nullable: bool = False):
    if key not in raw:
        raise ValueError(f"manifest: {where} is missing key {key!r}")
    value = raw[key]
    if value is None and nullable:
        return None
    if not isinstance(value, kind):
        raise ValueError(f"manifest: {where}.{key} must be {kind.__name__}, got {value!r:.60}")
    return value


def _first_duplicate(values: list[str]) -> str | None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None
