"""Score a crawl's predictions against a labelled corpus (see the corpus's SOURCE.md).

Conventions shared by every metric:

* Clustering (``ari``, ``pair_*``) is over ALL manifest pages. True clusters are pages sharing a
  ``source`` (digests, whose source is null, are singletons). Predicted clusters come from
  ``PagePrediction.cluster``; a manifest page without a prediction is a singleton of its own.
* Accuracies and extraction are over *crawled* manifest pages (those with a prediction) that
  have the label; a missing predicted value counts as wrong. ``None`` means "no page to score".
* Predictions whose URL is not a manifest page are ignored (counted in ``extra``); a second
  prediction for the same page is ignored (counted in ``duplicate_predictions``).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.robotparser import RobotFileParser

from crawler.evaluation.corpus import Corpus, Page, load_corpus, normalize_url
from crawler.evaluation.metrics import (
    adjusted_rand_index,
    f1,
    mean_precision_recall,
    pair_counts,
    pair_precision_recall_f1,
    shingle_precision_recall,
)

__all__ = [
    "PagePrediction",
    "format_table",
    "load_corpus",
    "predictions_to_json",
    "score",
    "score_clusters",
    "score_clusters_file",
]


@dataclass(frozen=True)
class PagePrediction:
    """What the system produced for one crawled page."""

    url: str  # http://<outlet>.test<path>
    cluster: str  # predicted story id
    is_canonical: bool  # the page is its predicted story's canonical article
    text: str | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601 date or datetime
    passage_sources: tuple[str, ...] = ()  # URLs of pages whose passages this page quotes


def score(
    corpus: Corpus,
    predictions: Sequence[PagePrediction],
    requests: Iterable[tuple[str, str, int]] | None = None,
    *,
    user_agent: str = "*",
) -> dict[str, Any]:
    """Every metric of ``newsdedup eval --json`` (see the module docstring for conventions).

    Keys: counts ``pages crawled missing extra duplicate_predictions clusters_true
    clusters_pred``; clustering ``ari pair_precision pair_recall pair_f1``; passages
    ``passage_pairs_true passage_pairs_pred passage_precision passage_recall passage_f1``; body
    ``extraction_precision extraction_recall extraction_f1 extraction_f1_by_site`` ({site: F1 or
    None}); ``title_accuracy date_accuracy author_accuracy``; ``canonical_clusters
    canonical_accuracy``; ``robots_violations``. Values are floats in [0, 1] (ARI may be
    negative), ints, or None when there is nothing to score.

    ``requests`` are the (host, path, status) records of the corpus server; ``robots_violations``
    is None when they are not given.
    """
    matched, extra, duplicates = _match(corpus, predictions)
    clusters = score_clusters(corpus, {url: p.cluster for url, p in matched.items()})
    result: dict[str, Any] = {
        "pages": clusters["pages"],
        "crawled": clusters["crawled"],
        "missing": clusters["pages"] - clusters["crawled"],
        "extra": extra,
        "duplicate_predictions": duplicates,
    }
    result |= {k: v for k, v in clusters.items() if k not in result}
    result |= _passages(corpus, matched)
    result |= _extraction(corpus, matched)
    result |= _metadata(corpus, matched)
    result |= _canonical(corpus, matched)
    result["robots_violations"] = (
        None if requests is None else robots_violations(corpus, requests, user_agent)
    )
    return result


def _match(
    corpus: Corpus, predictions: Iterable[PagePrediction]
) -> tuple[dict[str, PagePrediction], int, int]:
    """Predictions keyed by their manifest page URL; plus counts of extra and duplicate ones."""
    matched: dict[str, PagePrediction] = {}
    extra = duplicates = 0
    for prediction in predictions:
        page = corpus.page(prediction.url)
        if page is None:
            extra += 1
        elif page.url in matched:
            duplicates += 1
        else:
            matched[page.url] = prediction
    return matched, extra, duplicates


def score_clusters(corpus: Corpus, clusters: Mapping[str, str]) -> dict[str, Any]:
    """Clustering metrics from a ``{page url: predicted cluster id}`` mapping.

    Returns ``pages``, ``crawled``, ``clusters_true``, ``clusters_pred`` (over all manifest pages,
    missing pages as singletons), ``ari``, ``pair_precision``, ``pair_recall``, ``pair_f1``.
    """
    by_page: dict[str, str] = {}
    for url, cluster in clusters.items():
        page = corpus.page(url)
        if page is not None:
            by_page.setdefault(page.url, cluster)
    true = [_true_label(page) for page in corpus.pages]
    pred = [_pred_label(page, by_page) for page in corpus.pages]
    counts = pair_counts(true, pred)
    precision, recall, pair_f1 = pair_precision_recall_f1(counts)
    return {
        "pages": len(corpus.pages),
        "crawled": len(by_page),
        "clusters_true": len(set(true)),
        "clusters_pred": len(set(pred)),
        "ari": adjusted_rand_index(counts),
        "pair_precision": precision,
        "pair_recall": recall,
        "pair_f1": pair_f1,
    }


def _true_label(page: Page) -> tuple[str, str]:
    return ("story", page.source) if page.source is not None else ("page", page.url)


def _pred_label(page: Page, by_page: Mapping[str, str]) -> tuple[str, str]:
    cluster = by_page.get(page.url)
    return ("cluster", cluster) if cluster is not None else ("missing", page.url)


def predictions_to_json(predictions: Iterable[PagePrediction]) -> dict[str, Any]:
    """``{"clusters": {page url: cluster id}}``; the first prediction of a URL wins."""
    clusters: dict[str, str] = {}
    for prediction in predictions:
        clusters.setdefault(prediction.url, prediction.cluster)
    return {"clusters": clusters}


def score_clusters_file(corpus: Corpus, path: str | Path) -> dict[str, Any]:
    """:func:`score_clusters` of a JSON file written from :func:`predictions_to_json`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"bad predictions file {path}: {exc}") from exc
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in clusters.items()
    ):
        raise ValueError(f"bad predictions file {path}: need {{'clusters': {{url: cluster id}}}}")
    return score_clusters(corpus, clusters)


def _passages(corpus: Corpus, matched: Mapping[str, PagePrediction]) -> dict[str, Any]:
    """Passage links as (page, story) pairs.

    Truth: ``passages_from`` of every manifest page (links of uncrawled pages are misses).
    Predicted: for each crawled page, the manifest ``source`` of each URL in its
    ``passage_sources``, deduplicated; a URL that is no manifest page or has no source is one
    false positive. Precision is 1.0 with no predicted pair, recall 1.0 with no true pair.
    """
    truth = {(page.url, story) for page in corpus.pages for story in page.passages_from}
    predicted: set[tuple[str, str]] = set()
    for url, prediction in matched.items():
        for source_url in prediction.passage_sources:
            source_page = corpus.page(source_url)
            if source_page is not None and source_page.source is not None:
                predicted.add((url, source_page.source))
            else:
                predicted.add((url, "unknown:" + normalize_url(source_url)))
    hits = len(truth & predicted)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    return {
        "passage_pairs_true": len(truth),
        "passage_pairs_pred": len(predicted),
        "passage_precision": precision,
        "passage_recall": recall,
        "passage_f1": f1(precision, recall),
    }


def _extraction(corpus: Corpus, matched: Mapping[str, PagePrediction]) -> dict[str, Any]:
    """Zyte body metric: mean per-page shingle P and R over crawled pages; F1 of the means."""
    by_site: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for page in corpus.pages:
        prediction = matched.get(page.url)
        if prediction is not None:
            by_site[page.site].append(shingle_precision_recall(page.body, prediction.text or ""))
    overall = [pr for values in by_site.values() for pr in values]
    precision, recall, body_f1 = mean_precision_recall(overall)
    return {
        "extraction_precision": precision,
        "extraction_recall": recall,
        "extraction_f1": body_f1,
        "extraction_f1_by_site": {
            site.name: mean_precision_recall(by_site.get(site.name, []))[2] for site in corpus.sites
        },
    }


def _metadata(corpus: Corpus, matched: Mapping[str, PagePrediction]) -> dict[str, Any]:
    """Title (whitespace-normalised), author (also case-insensitive), date (calendar day)."""
    tallies: dict[str, list[bool]] = {"title": [], "author": [], "date": []}
    for page in corpus.pages:
        prediction = matched.get(page.url)
        if prediction is None:
            continue
        if page.title:
            tallies["title"].append(_norm(prediction.title) == _norm(page.title))
        if page.author:
            tallies["author"].append(
                _norm(prediction.author, fold=True) == _norm(page.author, fold=True)
            )
        if page.published:
            tallies["date"].append(same_day(page.published, prediction.published))
    return {
        f"{name}_accuracy": (sum(hits) / len(hits) if hits else None)
        for name, hits in tallies.items()
    }


def _norm(value: str | None, *, fold: bool = False) -> str | None:
    """Whitespace runs collapsed, ends stripped; case-folded if ``fold``; None stays None."""
    if value is None:
        return None
    text = " ".join(value.split())
    return text.casefold() if fold else text


def same_day(truth: str, predicted: str | None) -> bool:
    """Whether ``predicted`` falls on the calendar day of ``truth`` in truth's own UTC offset.

    A tz-aware predicted datetime is converted to truth's offset first; a date or naive datetime
    is taken as stated. An unparseable prediction is wrong.
    """
    true_dt = _parse_iso(truth)
    pred_dt = _parse_iso(predicted)
    if true_dt is None or pred_dt is None:
        return False
    if true_dt.tzinfo is not None and pred_dt.tzinfo is not None:
        pred_dt = pred_dt.astimezone(true_dt.tzinfo)
    return true_dt.date() == pred_dt.date()


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day)


def _canonical(corpus: Corpus, matched: Mapping[str, PagePrediction]) -> dict[str, Any]:
    """Canonical choice over TRUE copy clusters with ≥ 2 pages and exactly one ``original``.

    A cluster counts as correct when all of these hold:
      1. its original page was crawled and its prediction has ``is_canonical``;
      2. no other crawled manifest page in the original's predicted cluster is marked canonical;
      3. the original's predicted cluster holds strictly more of the true cluster's pages than any
         other predicted cluster does (uncrawled pages are singletons holding one page each), so
         a tie fails.
    ``canonical_accuracy`` = correct / ``canonical_clusters``; None when there is no such cluster.
    """
    members: dict[str, list[Page]] = defaultdict(list)
    for page in corpus.pages:
        if page.source is not None:
            members[page.source].append(page)
    canonical_by_cluster: Counter[str] = Counter(
        p.cluster for p in matched.values() if p.is_canonical
    )
    cluster_of = {url: m.cluster for url, m in matched.items()}
    eligible = correct = 0
    for pages in members.values():
        originals = [p for p in pages if p.role == "original"]
        if len(pages) < 2 or len(originals) != 1:
            continue
        eligible += 1
        original = matched.get(originals[0].url)
        if original is None or not original.is_canonical:
            continue
        if canonical_by_cluster[original.cluster] != 1:
            continue
        held = Counter(_pred_label(p, cluster_of) for p in pages)
        mine = held.pop(("cluster", original.cluster))
        if mine > max(held.values(), default=0):
            correct += 1
    return {
        "canonical_clusters": eligible,
        "canonical_accuracy": correct / eligible if eligible else None,
    }


def robots_violations(
    corpus: Corpus, requests: Iterable[tuple[str, str, int]], user_agent: str = "*"
) -> int:
    """Number of requests (any status) for a path the outlet's robots.txt disallows.

    Requests to unknown hosts or to outlets without a robots.txt are not counted.
    """
    parsers: dict[str, RobotFileParser | None] = {}
    count = 0
    for host, path, _status in requests:
        site = corpus.site_for_host(host)
        if site is None:
            continue
        if site.name not in parsers:
            parsers[site.name] = _robots(corpus.site_root(site) / "robots.txt")
        parser = parsers[site.name]
        if parser is not None and not parser.can_fetch(user_agent, f"http://{site.host}{path}"):
            count += 1
    return count


def _robots(path: Path) -> RobotFileParser | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    parser = RobotFileParser()
    parser.parse(lines)
    return parser


_TABLE_ROWS: tuple[tuple[str, str], ...] = (
    ("pages", "Manifest pages"),
    ("crawled", "Crawled"),
    ("missing", "Missing"),
    ("extra", "Extra (not in manifest)"),
    ("clusters_true", "True clusters"),
    ("clusters_pred", "Predicted clusters"),
    ("ari", "Copy clusters: ARI"),
    ("pair_precision", "Copy clusters: pair precision"),
    ("pair_recall", "Copy clusters: pair recall"),
    ("pair_f1", "Copy clusters: pair F1"),
    ("passage_precision", "Passage links: precision"),
    ("passage_recall", "Passage links: recall"),
    ("extraction_precision", "Body: precision"),
    ("extraction_recall", "Body: recall"),
    ("extraction_f1", "Body: F1"),
    ("title_accuracy", "Title accuracy"),
    ("date_accuracy", "Date accuracy"),
    ("author_accuracy", "Author accuracy"),
    ("canonical_accuracy", "Canonical accuracy"),
    ("robots_violations", "Robots violations"),
)


def format_table(scores: Mapping[str, Any]) -> str:
    """Fixed-width two-column table of the scores; per-site body F1 indented after the total."""
    width = max(len(label) for _, label in _TABLE_ROWS) + 2
    lines = [f"{'metric':<{width}}value", "-" * (width + 8)]
    for key, label in _TABLE_ROWS:
        if key not in scores:
            continue
        lines.append(f"{label:<{width}}{_fmt(scores[key])}")
        if key == "extraction_f1":
            for site, value in sorted((scores.get("extraction_f1_by_site") or {}).items()):
                lines.append(f"{'  ' + site:<{width}}{_fmt(value)}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
