"""Extraction quality and speed: process_page vs bare trafilatura.extract, side by side.

Corpora (from ../shared/data): the Zyte article-extraction benchmark (4-token shingle
P/R/F1), trafilatura's own eval set (with/without snippets, F1: on the whole set, on its two
halves by a hash of the URL -- rules are tuned on the "tune" half and judged on the
"held-out" one -- and on its pages laid out with tables, a table cell holding prose;
title/author/date accuracy on its labelled pages), and syndication-dev (per-outlet body F1,
metadata). Bare trafilatura runs on the same pages (the same bytes) in the same run as the
baseline: `trafilatura.extract(page, url=url)` with its defaults, as a user calls it, and, as a
stronger reference, with comments off (`include_comments=False`: the product leaves comments
out, and the eval marks comment text as not-content).

Usage: python bench/extraction.py [--limit N] [--workers N]
The last line printed is one JSON object of key figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import trafilatura
from trafilatura.metadata import extract_metadata
from w3lib.encoding import html_to_unicode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    SYNDICATION,
    corpus_f1,
    shingle_prf,
    snippet_counts,
    snippet_f1,
    trafeval_pages,
    zyte_pages,
)
from crawler.content import NotAnArticle, extraction, process_page

# the stronger reference: trafilatura's defaults except comments, which the product leaves out
NO_COMMENTS = {"include_comments": False}
HALVES = ("tune", "held-out")


def half_of(url: str) -> str:
    """trafilatura-eval's split: tune on one half (by a hash of the URL), report the other."""
    return HALVES[int(hashlib.sha1(url.encode()).hexdigest(), 16) % 2]


def _product(body: bytes, url: str, content_type: str | None) -> tuple[dict | None, float]:
    start = time.perf_counter()
    try:
        result = process_page(body, url, content_type)
    except NotAnArticle as err:
        return {"error": err.reason}, time.perf_counter() - start
    return asdict(result), time.perf_counter() - start


@contextmanager
def _single_pass() -> Iterator[None]:
    """process_page without its fallbacks (further trafilatura passes, readability, jusText)."""
    saved = (
        extraction.PRECISION_MIN_CHARS,
        extraction.misses_lead,
        extraction.coverage,
        extraction.rescue_body,
        extraction.repair_from_default,
    )
    extraction.PRECISION_MIN_CHARS = 0
    extraction.misses_lead = lambda text, paragraphs: False
    extraction.coverage = lambda text, paragraphs: (1.0, 0)
    extraction.rescue_body = lambda *args: ""
    extraction.repair_from_default = lambda tree, url, language, text, *rest: text
    try:
        yield
    finally:
        (
            extraction.PRECISION_MIN_CHARS,
            extraction.misses_lead,
            extraction.coverage,
            extraction.rescue_body,
            extraction.repair_from_default,
        ) = saved


def _bare(html: str | bytes, url: str | None, **extra: object) -> tuple[str | None, float]:
    """trafilatura.extract as a user calls it: its defaults, `extra` options on top."""
    start = time.perf_counter()
    out = trafilatura.extract(html, url=url, **extra)
    return out, time.perf_counter() - start


def _bare_meta(raw: bytes, url: str | None) -> dict:
    doc = extract_metadata(trafilatura.load_html(raw), default_url=url)
    return {"title": doc.title, "author": doc.author, "published": doc.date}


def run_zyte(job: tuple[str, bytes, str, str]) -> dict:
    item_id, raw, url, truth = job
    html = html_to_unicode(None, raw)[1]
    with _single_pass():  # first: a second parse of the same page may hit warm caches
        single, t_single = _product(raw, url, None)
    prod, t_prod = _product(raw, url, None)
    bare, t_bare = _bare(html, url)
    bare_nc = _bare(html, url, **NO_COMMENTS)[0]
    # the fallbacks' cost: best of two more runs each way, alternated (the machine is shared)
    t_single_best, t_prod_best = t_single, t_prod
    for _ in range(2):
        with _single_pass():
            t_single_best = min(t_single_best, _product(raw, url, None)[1])
        t_prod_best = min(t_prod_best, _product(raw, url, None)[1])
    text = (prod or {}).get("text") or ""
    return {
        "t_single": t_single_best,
        "t_prod_best": t_prod_best,
        "fell_back": (single or {}).get("text") != (prod or {}).get("text"),
        "id": item_id,
        "prod": shingle_prf(text, truth),
        "bare": shingle_prf(bare or "", truth),
        "bare_nc": shingle_prf(bare_nc or "", truth),
        "t_prod": t_prod,
        "t_bare": t_bare,
    }


def story_in_table(raw: bytes) -> bool:
    """Whether a table cell of the page holds prose (a body-like paragraph): a table layout."""
    tree = trafilatura.load_html(raw)
    return tree is not None and any(
        extraction.is_body_like(extraction.clean_text(cell.text_content()))
        for table in tree.iter("table") for row in extraction._table_cells(table) for cell in row)


def run_trafeval(job: tuple[str, bytes, dict]) -> dict:
    path, raw, item = job
    url = item.get("url")
    prod, t_prod = _product(raw, url or "http://example.invalid/", None)
    bare, t_bare = _bare(raw, url)
    bare_nc = _bare(raw, url, **NO_COMMENTS)[0]
    text = (prod or {}).get("text")
    prod_meta = prod if prod and "error" not in prod else {}
    return {
        "id": path,
        "half": half_of(url or path),
        "table_layout": story_in_table(raw),
        "prod": snippet_counts(text, item),
        "bare": snippet_counts(bare, item),
        "bare_nc": snippet_counts(bare_nc, item),
        "t_prod": t_prod,
        "t_bare": t_bare,
        "labels": item.get("metadata") or {},
        "prod_meta": {k: prod_meta.get(k) for k in ("title", "author", "published")},
        "bare_meta": _bare_meta(raw, url) if "title" in (item.get("metadata") or {}) else {},
    }


def run_syndication(job: dict) -> dict:
    raw = (SYNDICATION / "sites" / job["site"] / job["path"].lstrip("/")).read_bytes()
    url = f"http://{job['site']}.test{job['path']}"
    prod, _ = _product(raw, url, job["content_type"])
    html = html_to_unicode(job["content_type"], raw)[1]
    bare, _ = _bare(html, url)
    truth = job["body"]
    prod = prod or {}
    return {
        "site": job["site"],
        "prod": shingle_prf(prod.get("text") or "", truth),
        "bare": shingle_prf(bare or "", truth),
        "title": prod.get("title") == job["title"],
        "author": prod.get("author") == job["author"],
        "date": (prod.get("published") or "")[:10] == job["published"][:10],
        "error": prod.get("error"),
        "repaired": prod.get("repaired"),
    }


def _norm(value: str | list | None) -> str:
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    return " ".join((value or "").split()).casefold()


def metadata_accuracy(rows: list[dict], key: str) -> dict[str, float]:
    """Accuracy of title/author/date against trafilatura-eval labels (empty = absent)."""
    out: dict[str, float] = {}
    labelled = [r for r in rows if "title" in r["labels"]]
    for field, label_key, day in (
        ("title", "title", False),
        ("author", "author", False),
        ("published", "date", True),
    ):
        hits = 0
        for r in labelled:
            truth = _norm(r["labels"].get(label_key))
            pred = _norm(r[key].get(field))
            if day:
                pred = pred[:10]
            hits += truth == pred
        out[label_key] = hits / len(labelled) if labelled else 0.0
    out["n"] = len(labelled)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="pages per corpus")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    manifest = json.loads((SYNDICATION / "manifest.json").read_text(encoding="utf-8"))
    synd_jobs = manifest["pages"][: args.limit] if args.limit else manifest["pages"]
    with ProcessPoolExecutor(args.workers) as pool:
        zyte = list(pool.map(run_zyte, zyte_pages(args.limit), chunksize=4))
        traf = list(pool.map(run_trafeval, trafeval_pages(args.limit), chunksize=4))
        synd = list(pool.map(run_syndication, synd_jobs, chunksize=4))

    z_prod = corpus_f1([r["prod"] for r in zyte])
    z_bare = corpus_f1([r["bare"] for r in zyte])
    t_prod = snippet_f1([r["prod"] for r in traf])
    t_bare = snippet_f1([r["bare"] for r in traf])
    z_nc = corpus_f1([r["bare_nc"] for r in zyte])
    t_nc = snippet_f1([r["bare_nc"] for r in traf])
    n_pages = len(zyte) + len(traf)
    time_prod = sum(r["t_prod"] for r in zyte + traf)
    time_bare = sum(r["t_bare"] for r in zyte + traf)
    meta_prod = metadata_accuracy(traf, "prod_meta")
    meta_bare = metadata_accuracy(traf, "bare_meta")

    print(f"{'':28}{'product':>10}{'bare':>10}{'gain':>10}{'bare, no comments':>20}")
    print(f"{'zyte P / R':28}{z_prod[0]:>5.3f}/{z_prod[1]:.3f}{z_bare[0]:>5.3f}/{z_bare[1]:.3f}"
          f"{'':>10}{z_nc[0]:>15.3f}/{z_nc[1]:.3f}")
    print(f"{'zyte F1':28}{z_prod[2]:>10.4f}{z_bare[2]:>10.4f}{z_prod[2] - z_bare[2]:>+10.4f}"
          f"{z_nc[2]:>20.4f}")
    print(f"{'trafeval F1':28}{t_prod:>10.4f}{t_bare:>10.4f}{t_prod - t_bare:>+10.4f}{t_nc:>20.4f}")
    halves = {}
    subsets = {half: [r for r in traf if r["half"] == half] for half in HALVES}
    subsets["table layouts"] = [r for r in traf if r["table_layout"]]
    for name, rows in subsets.items():
        halves[name] = tuple(snippet_f1([r[key] for r in rows]) for key in ("prod", "bare", "bare_nc"))
        label = f"trafeval F1 {name} ({len(rows)})"
        print(f"{label:28}{halves[name][0]:>10.4f}{halves[name][1]:>10.4f}"
              f"{halves[name][0] - halves[name][1]:>+10.4f}{halves[name][2]:>20.4f}")
    for label in ("title", "author", "date"):
        print(f"{'trafeval ' + label + ' acc':28}{meta_prod[label]:>10.3f}{meta_bare[label]:>10.3f}")
    print(f"{'pages/s (1 core)':28}{n_pages / time_prod:>10.1f}{n_pages / time_bare:>10.1f}")
    z_time = sum(r["t_prod_best"] for r in zyte)
    fallback_cost = z_time / sum(r["t_single"] for r in zyte) - 1
    changed = sum(r["fell_back"] for r in zyte) / len(zyte)
    print(f"zyte fallback cost vs single pass: {fallback_cost:+.1%} (text changed on {changed:.0%})")

    by_site: dict[str, list[dict]] = defaultdict(list)
    for r in synd:
        by_site[r["site"]].append(r)
    synd_f1: dict[str, float] = {}
    print(f"\n{'syndication-dev outlet':24}{'F1':>7}{'bare':>7}{'title':>7}{'author':>7}{'date':>7}")
    for site, rows in sorted(by_site.items()):
        f1 = corpus_f1([r["prod"] for r in rows])[2]
        synd_f1[site] = round(f1, 4)
        print(
            f"{site:24}{f1:>7.3f}{corpus_f1([r['bare'] for r in rows])[2]:>7.3f}"
            f"{sum(r['title'] for r in rows) / len(rows):>7.2f}"
            f"{sum(r['author'] for r in rows) / len(rows):>7.2f}"
            f"{sum(r['date'] for r in rows) / len(rows):>7.2f}"
        )
    errors = [(r["site"], r["error"]) for r in synd if r["error"]]
    if errors:
        print("syndication NotAnArticle:", errors)
    clean = [f for s, f in synd_f1.items() if s != "mojibake-mirror"]
    summary = {
        "zyte_f1": round(z_prod[2], 4),
        "zyte_f1_bare": round(z_bare[2], 4),
        "zyte_f1_bare_no_comments": round(z_nc[2], 4),
        "trafeval_f1": round(t_prod, 4),
        "trafeval_f1_bare": round(t_bare, 4),
        "trafeval_f1_bare_no_comments": round(t_nc, 4),
        "trafeval_f1_tune": round(halves["tune"][0], 4),
        "trafeval_f1_tune_bare": round(halves["tune"][1], 4),
        "trafeval_f1_tune_bare_no_comments": round(halves["tune"][2], 4),
        "trafeval_f1_heldout": round(halves["held-out"][0], 4),
        "trafeval_f1_heldout_bare": round(halves["held-out"][1], 4),
        "trafeval_f1_heldout_bare_no_comments": round(halves["held-out"][2], 4),
        "trafeval_f1_table_layouts": round(halves["table layouts"][0], 4),
        "trafeval_f1_table_layouts_bare": round(halves["table layouts"][1], 4),
        "pages_per_s": round(n_pages / time_prod, 2),
        "pages_per_s_bare": round(n_pages / time_bare, 2),
        "zyte_fallback_cost": round(fallback_cost, 4),
        "meta_title_acc": round(meta_prod["title"], 4),
        "meta_title_acc_bare": round(meta_bare["title"], 4),
        "meta_author_acc": round(meta_prod["author"], 4),
        "meta_author_acc_bare": round(meta_bare["author"], 4),
        "meta_date_acc": round(meta_prod["date"], 4),
        "meta_date_acc_bare": round(meta_bare["date"], 4),
        "syndication_f1": round(corpus_f1([r["prod"] for r in synd])[2], 4),
        "syndication_f1_bare": round(corpus_f1([r["bare"] for r in synd])[2], 4),
        "syndication_mojibake_f1": synd_f1.get("mojibake-mirror"),
        "syndication_clean_outlets_min_f1": min(clean) if clean else None,
        "syndication_outlet_f1": synd_f1,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
