"""Shared corpus loaders and scorers for the bench scripts."""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.evaluation import metrics  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ZYTE = DATA / "article-extraction-benchmark"
TRAFEVAL = DATA / "trafilatura-eval"
SYNDICATION = DATA / "syndication-dev"

_WS_RE = re.compile(r"\s+")


def read_gz(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def zyte_pages(limit: int | None = None) -> Iterator[tuple[str, bytes, str, str]]:
    """(id, html bytes, url, true body) of the Zyte benchmark."""
    truth = json.loads((ZYTE / "ground-truth.json").read_text(encoding="utf-8"))
    for i, (item_id, item) in enumerate(sorted(truth.items())):
        if limit is not None and i >= limit:
            return
        yield item_id, read_gz(ZYTE / "html" / f"{item_id}.html.gz"), item["url"], item[
            "articleBody"
        ]


def trafeval_pages(limit: int | None = None) -> Iterator[tuple[str, bytes, dict]]:
    """(stored path, html bytes, annotation) of trafilatura's eval set."""
    ann = json.loads((TRAFEVAL / "annotations.json").read_text(encoding="utf-8"))
    for i, (path, item) in enumerate(sorted(ann.items())):
        if limit is not None and i >= limit:
            return
        yield path, read_gz(TRAFEVAL / path), item


def shingle_prf(pred: str, truth: str) -> tuple[float | None, float | None]:
    """Zyte benchmark per-page (precision, recall); None where undefined (the eval's metric)."""
    return metrics.shingle_precision_recall(truth, pred)


def corpus_f1(pairs: list[tuple[float | None, float | None]]) -> tuple[float, float, float]:
    """Mean P over pages with output, mean R over pages with truth, F1 of the means."""
    p, r, f = metrics.mean_precision_recall(pairs)
    return p or 0.0, r or 0.0, f or 0.0


def page_f1(pred: str, truth: str) -> float:
    p, r = shingle_prf(pred, truth)
    p, r = p or 0.0, r or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def snippet_counts(output: str | None, item: dict) -> tuple[int, int, int, int]:
    """trafilatura eval (TP, FN, FP, TN) for one document."""
    if output is None:
        return 0, len(item["with"]), 0, len(item["without"])
    text = _WS_RE.sub(" ", output)
    tp = sum(1 for s in item["with"] if _WS_RE.sub(" ", s) in text)
    fp = sum(1 for s in item["without"] if _WS_RE.sub(" ", s) in text)
    return tp, len(item["with"]) - tp, fp, len(item["without"]) - fp


def snippet_f1(counts: list[tuple[int, int, int, int]]) -> float:
    tp = sum(c[0] for c in counts)
    fn = sum(c[1] for c in counts)
    fp = sum(c[2] for c in counts)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
