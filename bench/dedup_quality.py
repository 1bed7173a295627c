"""Dedup quality on syndication-dev: ours vs document-level datasketch MinHash LSH.

Runs ``dedup.deduplicate`` on the corpus twice (text extracted from the served HTML, and the
manifest's clean ``body``) and prints ARI, pair P/R/F1, passage-link P/R and canonical accuracy
next to the baseline measured in the same run. The last line is one JSON object.

    python bench/dedup_quality.py [--data DIR] [--extra]

``--extra`` adds the second-corpus checks (seeds, giveme5w1h-news-cluster, multinews-longbench).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.evaluation import metrics  # noqa: E402
from dedup import DedupConfig, DedupResult, Document, deduplicate  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


# -- metrics -------------------------------------------------------------------------------

def adjusted_rand_index(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """ARI of two labelings, by the scorer ``newsdedup eval`` uses."""
    return metrics.adjusted_rand_index(metrics.pair_counts(truth, pred))


def pair_scores(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> dict[str, float]:
    """Pairwise precision / recall / F1, by the scorer ``newsdedup eval`` uses."""
    p, r, f = metrics.pair_precision_recall_f1(metrics.pair_counts(truth, pred))
    return {"pair_precision": p, "pair_recall": r, "pair_f1": f}


# -- corpus --------------------------------------------------------------------------------

def _charset(page: dict, sites: dict[str, dict]) -> str:
    ct = page.get("content_type") or ""
    m = re.search(r"charset=([\w-]+)", ct)
    return m.group(1) if m else sites[page["site"]]["charset"]


def _meta(html: str) -> dict[str, str | None]:
    def first(pattern: str) -> str | None:
        m = re.search(pattern, html, re.IGNORECASE)
        return m.group(1) if m else None

    return {
        "canonical": first(r'<link[^>]+rel="canonical"[^>]+href="([^"]+)"'),
        "published": first(r'article:published_time"\s+content="([^"]+)"')
        or first(r'<time[^>]+datetime="([^"]+)"'),
        "title": first(r'<meta[^>]+property="og:title"[^>]+content="([^"]*)"')
        or first(r"<h1[^>]*>(.*?)</h1>"),
    }


def _extract(html: str, raw: bytes, url: str, content_type: str | None) -> tuple[str, str]:
    """(text, how): crawler.content.page.process_page when present, else bare trafilatura."""
    try:
        from crawler.content.page import NotAnArticle, process_page
    except ImportError:
        import trafilatura

        return trafilatura.extract(html, deduplicate=False) or "", "trafilatura"
    try:
        return process_page(raw, url, content_type).text, "process_page"
    except NotAnArticle:
        return "", "process_page"


def load_syndication(corpus: Path, source: str) -> tuple[list[Document], list[dict], str]:
    """Documents (ids = manifest order) from the served HTML or the manifest body."""
    import html as htmlmod

    manifest = json.loads((corpus / "manifest.json").read_text())
    sites = {s["name"]: s for s in manifest["sites"]}
    docs, how = [], "manifest body"
    for i, page in enumerate(manifest["pages"]):
        raw = (corpus / "sites" / page["site"] / page["path"].lstrip("/")).read_bytes()
        html = raw.decode(_charset(page, sites), errors="replace")
        meta = _meta(html)
        url = f"http://{page['site']}.test{page['path']}"
        if source == "html":
            text, how = _extract(html, raw, url, page.get("content_type"))
            title = htmlmod.unescape(meta["title"]) if meta["title"] else None
            published = datetime.fromisoformat(meta["published"]) if meta["published"] else None
        else:
            text = "\n".join(p for p in page["body"].split("\n") if p.strip())
            title = page["title"]
            published = datetime.fromisoformat(page["published"])
        docs.append(Document(id=i, url=url, site=page["site"], text=text, title=title,
                             author=page.get("author"), published=published,
                             canonical_url=meta["canonical"]))
    return docs, manifest["pages"], how


def truth_labels(pages: list[dict]) -> list[str]:
    return [p["source"] if p["role"] in ("original", "copy") else f"single-{i}"
            for i, p in enumerate(pages)]


# -- predictions ---------------------------------------------------------------------------

def labels_of(result: DedupResult, n: int) -> list[int]:
    story = result.story_of()
    return [story[i] for i in range(n)]


def baseline_labels(docs: list[Document], threshold: float) -> list[int]:
    """Whole-document datasketch MinHashLSH, word 5-shingles, 128 perm, union of matches."""
    from datasketch import MinHash, MinHashLSH

    def shingles(text: str) -> set[bytes]:
        words = re.findall(r"\w+", text.lower())
        return {" ".join(words[i:i + 5]).encode() for i in range(max(1, len(words) - 4))}

    hashes = MinHash.bulk([shingles(d.text) for d in docs], num_perm=128, seed=1,
                          scheme="affine32")
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    for d, m in zip(docs, hashes, strict=True):
        lsh.insert(d.id, m)
    parent = list(range(len(docs)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for d, m in zip(docs, hashes, strict=True):
        for other in lsh.query(m):
            parent[find(other)] = find(d.id)
    return [find(i) for i in range(len(docs))]


def passage_scores(result: DedupResult, pages: list[dict]) -> dict[str, float]:
    """P/R of (page, story) pairs; a link page -> source_doc names the source_doc's story.

    As ``newsdedup eval`` scores them: a link whose source page has no story (a digest) is a
    false positive.
    """
    truth = {(i, s) for i, p in enumerate(pages) for s in p["passages_from"]}
    pred = {(link.doc, pages[link.source_doc]["source"] or f"unknown:{link.source_doc}")
            for link in result.links}
    tp = len(truth & pred)
    return {"passage_precision": tp / len(pred) if pred else 1.0,
            "passage_recall": tp / len(truth) if truth else 1.0,
            "passage_fp": sorted(pred - truth)[:20], "passage_fn": sorted(truth - pred)[:20]}


def canonical_accuracy(result: DedupResult, pages: list[dict]) -> float:
    """Share of true multi-page clusters whose predicted canonical is their original."""
    story = result.story_of()
    clusters: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pages):
        if p["role"] in ("original", "copy"):
            clusters[p["source"]].append(i)
    multi = [m for m in clusters.values() if len(m) > 1]
    good = 0
    for members in multi:
        original = next(i for i in members if pages[i]["role"] == "original")
        good += result.stories[story[original]].canonical == original
    return good / len(multi) if multi else 1.0


def evaluate(docs: list[Document], pages: list[dict], config: DedupConfig) -> dict:
    t0 = time.perf_counter()
    result = deduplicate(docs, config)
    seconds = time.perf_counter() - t0
    truth = truth_labels(pages)
    pred = labels_of(result, len(docs))
    out = {"ari": adjusted_rand_index(truth, pred), **pair_scores(truth, pred),
           **passage_scores(result, pages),
           "canonical_accuracy": canonical_accuracy(result, pages), "seconds": seconds,
           "stories": len(result.stories), "links": len(result.links)}
    for th in (0.5, 0.3):
        base = baseline_labels(docs, th)
        out[f"baseline_{th}"] = {"ari": adjusted_rand_index(truth, base),
                                 **pair_scores(truth, base)}
    out["errors"] = cluster_errors(truth, pred, pages)
    return out


def cluster_errors(truth: list[str], pred: list[int], pages: list[dict]) -> list[str]:
    """Pages whose predicted cluster differs from the true one (for reading, not scoring)."""
    by_pred: dict[int, set[int]] = defaultdict(set)
    by_true: dict[str, set[int]] = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, pred, strict=True)):
        by_pred[p].add(i)
        by_true[t].add(i)
    out = []
    for i, (t, p) in enumerate(zip(truth, pred, strict=True)):
        if by_pred[p] != by_true[t]:
            extra = sorted(by_pred[p] - by_true[t])
            missing = sorted(by_true[t] - by_pred[p])
            out.append(f"{i} {pages[i]['role']}: +{extra} -{missing}")
    return out


# -- second corpora ------------------------------------------------------------------------

def jsonl_docs(path: Path, text_key: str = "text") -> tuple[list[Document], list[dict]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    docs = []
    for i, r in enumerate(rows):
        date = r.get("date")
        try:
            published = datetime.fromisoformat(date) if date else None
        except ValueError:
            published = None
        docs.append(Document(id=i, url=r.get("url") or f"doc:{r['id']}",
                             site=r.get("source") or f"site-{i}", text=r[text_key] or "",
                             title=r.get("title"), published=published))
    return docs, rows


def pair_check(result: DedupResult, clusters: Sequence[str],
               skip: Callable[[int], bool]) -> dict[str, object]:
    """Predicted copy pairs inside vs across the corpus' same-event clusters."""
    inside = across = 0
    for story in result.stories:
        members = [m for m in story.members if not skip(m)]
        for a, b in combinations(members, 2):
            if clusters[a] == clusters[b]:
                inside += 1
            else:
                across += 1
    return {"copy_pairs_within_cluster": inside, "copy_pairs_across_clusters": across,
            "links": len(result.links)}


def extra_checks(config: DedupConfig) -> dict[str, object]:
    out: dict[str, object] = {}
    seeds = DATA / "seeds"
    if seeds.exists():
        files = sorted(seeds.glob("*.txt"))
        docs = [Document(id=i, url=f"seed:{f.name}", site=f"seed-{i}", text=f.read_text())
                for i, f in enumerate(files)]
        res = deduplicate(docs, config)
        names = [f.name[:3] for f in files]
        out["seeds"] = {"stories": [[names[m] for m in s.members] for s in res.stories],
                        "links": sorted({(names[x.doc], names[x.source_doc]) for x in res.links})}
    for name, folder, with_baseline in (("giveme5w1h", "giveme5w1h-news-cluster", True),
                                        ("multinews", "multinews-longbench", False)):
        path = DATA / folder / "articles.jsonl"
        if not path.exists():
            continue
        docs, rows = jsonl_docs(path)
        res = deduplicate(docs, config)
        clusters = [r["cluster"] for r in rows]
        out[name] = pair_check(res, clusters,
                               lambda i, rows=rows: bool(rows[i].get("cross_cluster_duplicate")))
        if with_baseline:
            out[name]["baseline_0.5"] = _baseline_pairs(docs, clusters, 0.5)
    return out


def _baseline_pairs(docs: list[Document], clusters: Sequence[str], th: float) -> dict[str, int]:
    labels = baseline_labels(docs, th)
    inside = across = 0
    for a, b in combinations(range(len(docs)), 2):
        if labels[a] == labels[b]:
            inside += clusters[a] == clusters[b]
            across += clusters[a] != clusters[b]
    return {"within": inside, "across": across}


# -- report --------------------------------------------------------------------------------

def _row(name: str, m: dict) -> str:
    return (f"  {name:<22} ARI {m['ari']:.3f}  pairP {m['pair_precision']:.3f}  "
            f"pairR {m['pair_recall']:.3f}  F1 {m['pair_f1']:.3f}")


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA / "syndication-dev")
    ap.add_argument("--extra", action="store_true", help="also run the second-corpus checks")
    ap.add_argument("--errors", action="store_true", help="print mis-clustered pages")
    args = ap.parse_args(list(argv) if argv is not None else None)
    if not (args.data / "manifest.json").exists():
        print(f"no corpus at {args.data}", file=sys.stderr)
        return 2
    config = DedupConfig()
    summary: dict[str, object] = {"config": config.fingerprint_params()}
    for source in ("html", "body"):
        docs, pages, how = load_syndication(args.data, source)
        m = evaluate(docs, pages, config)
        print(f"{source} ({how}), {len(docs)} pages, {m['seconds']:.1f}s")
        print(_row("newsdedup", m))
        print(f"  {'':<22} passageP {m['passage_precision']:.3f}  "
              f"passageR {m['passage_recall']:.3f}  canonical {m['canonical_accuracy']:.3f}  "
              f"stories {m['stories']}  links {m['links']}")
        for th in (0.5, 0.3):
            print(_row(f"baseline LSH {th}", m[f"baseline_{th}"]))
        if args.errors:
            for line in m["errors"]:
                print("   ", line)
            print("    passage FP", m["passage_fp"])
            print("    passage FN", m["passage_fn"])
        summary[source] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()
                           if k not in ("errors", "passage_fp", "passage_fn")}
    if args.extra:
        summary["extra"] = extra_checks(config)
        print("extra:", json.dumps(summary["extra"]))
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
