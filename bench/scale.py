"""Dedup at archive scale: a generated archive deduplicated from scratch, then new articles
matched incrementally through the persisted index.

``--level passage`` (default) measures the product path exactly as ``crawler/dedup_job.py``
runs it, with no shortcut:
``DedupIndex.add`` (normalise, tokenise, shingle, sign passage windows, LSH query/insert),
``result()`` (exact verification of every candidate pair, copy rules, clustering, canonical,
passage links) and ``save(folder)`` (the stored index, files in a temporary state directory:
the job keeps texts in the articles table and passes the documents back on open). Then
``--new`` more articles: ``open`` the saved index, add, ``result()``, ``save`` again (appending
the new shingles). Articles come from ``bench/corpus.archive``: real bodies with
syndication-like edits, generated in memory, never written.

``--level document`` measures ``dedup.archive.Archive``, the out-of-core document level (copies
grouped into stories by exact containment, no passage links): the archive is generated once
into a text store (``--store``, default under the system temp dir; kept for later runs, never
committed), then timed: batches of ``--batch`` read from the store and signed in ``--workers``
processes, LSH and spooled site counts in this one, ``result()`` (site counts in
``--workers`` processes, verification, clusters, canonical pages), ``save()``; then the
``--new`` articles: open the saved archive, add (signed here), ``result()``, ``save()``. Peak
RSS is the largest sum of the resident sets of this process and its children, sampled every
0.1 s during the timed parts.

    python bench/scale.py [--articles 5000] [--new 500] [--profile]
    python bench/scale.py --level document --articles 1000000 --new 10000

The passage level also prints each stage's cost (signatures, boilerplate, band buckets,
candidate pairs, verified alignments, stories and links, store): seconds and µs per article
(timed around the product's own functions, ``StageClock``), the bytes per article its output
holds in memory, and the stored index (its files) by part.

Last line: JSON with articles, seconds, peak_rss_mb, incremental_seconds,
index_bytes_per_article (and the per-phase seconds; passage level: per-stage figures and a digest
of the stories and links, build and incremental, to compare two versions).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import itertools
import json
import os
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import archive, documents  # noqa: E402

from dedup import DedupConfig, DedupIndex, Document  # noqa: E402
from dedup.archive import Archive, Signed, sign  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--level", choices=("passage", "document"), default="passage")
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--new", type=int, default=500)
    ap.add_argument("--profile", action="store_true", help="print where the time goes")
    ap.add_argument("--top", type=int, default=18, help="profile rows")
    ap.add_argument("--workers", type=int, default=2,
                    help="processes signing batches in the build (DedupIndex.add workers)")
    ap.add_argument("--batch", type=int, default=20000, help="documents per signed batch")
    ap.add_argument("--store", type=Path, default=None,
                    help="document level: where the generated texts are kept between runs")
    args = ap.parse_args()
    if args.level == "document":
        document_level(args)
    else:
        passage_level(args)


#: The passage level's stages, in pipeline order (docs/scaling.md).
STAGES = ("signatures", "boilerplate", "band buckets", "candidate pairs", "verified alignments",
          "stories and links", "store")


class StageClock:
    """Seconds spent in each stage of the passage level, timed around the product's own
    functions in this process (module attributes and methods swapped for timed wrappers while
    the bench runs; the product code is not changed). What ``DedupIndex.add`` spends outside
    them is signing (tokenise, shingle, window, MinHash band keys), in this process or waiting
    for the workers; what ``result`` spends outside verification is deciding stories and links.
    """

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, stage: str) -> None:
        orig = getattr(owner, name)

        def timed(*a: object, **k: object) -> object:
            t = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                self.seconds[stage] += time.perf_counter() - t

        setattr(owner, name, timed)
        self._undo.append((owner, name, orig))

    def __enter__(self) -> StageClock:
        import dedup.lsh
        from dedup.boilerplate import BoilerplateModel
        from dedup.lsh import BandIndex

        self.wrap(dedup.lsh, "sort_ranges", "band buckets")
        self.wrap(BandIndex, "merge", "band buckets")
        self.wrap(BandIndex, "add", "candidate pairs")  # minus the bucket work inside it
        self.wrap(BoilerplateModel, "add", "boilerplate")
        self.wrap(DedupIndex, "_invalidate", "boilerplate")
        self.wrap(DedupIndex, "_verify", "verified alignments")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, orig in reversed(self._undo):
            setattr(owner, name, orig)

    def split(self, t_add: float, t_result: float, t_store: float) -> dict[str, float]:
        """Exclusive seconds per stage, given the wall time of add, result and the store."""
        s = dict(self.seconds)
        s["candidate pairs"] -= s["band buckets"]
        s["signatures"] = t_add - s["band buckets"] - s["candidate pairs"] - s["boilerplate"]
        s["stories and links"] = t_result - s["verified alignments"]
        s["store"] = t_store
        return s


def _deep_size(obj: object, seen: set[int]) -> int:
    """Bytes of ``obj`` and everything it holds (containers, dataclass slots, arrays)."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return sys.getsizeof(obj)  # data included when the array owns it
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        return size + sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return size + sum(_deep_size(v, seen) for v in obj)
    for name in getattr(type(obj), "__slots__", ()):
        size += _deep_size(getattr(obj, name, None), seen)
    if hasattr(obj, "__dict__"):
        size += _deep_size(vars(obj), seen)
    return size


def _sampled_size(items: list, sample: int = 2000) -> float:
    """Deep bytes of ``items`` (Python objects), from an evenly spaced sample."""
    if not items:
        return 0.0
    step = max(1, len(items) // sample)
    picked = items[::step]
    return _deep_size(picked, set()) * len(items) / len(picked)


def stage_bytes(index: DedupIndex, result: object) -> dict[str, float]:
    """Bytes each stage's output holds in memory after a build."""
    aligned = list(index._aligned.items())
    return {
        "signatures": float(index._sh.nbytes),  # offsets, shingles not saved yet
        "boilerplate": float(index._boilerplate.nbytes),
        "band buckets": float(index._bands.nbytes),
        "candidate pairs": float(index._cand.nbytes + index._checked.nbytes),
        "verified alignments": _sampled_size(aligned) + 8.0 * len(aligned),  # + dict slots
        "stories and links": _sampled_size(list(result.stories)) + _sampled_size(list(result.links)),
        "documents": float(sum(sys.getsizeof(d.text) + sys.getsizeof(d.title or "")
                               + sys.getsizeof(d.url) for d in index._docs.values())),
    }


def stored_parts(folder: Path) -> dict[str, int]:
    """Bytes of each part of a saved index (``DedupIndex.save``), by array name prefix
    (``fp``: the shingle hashes, ``shingles.<n>.u64``, and the per-row shingle counts;
    ``lsh``: the band runs, ``bands/``; ``header``: ``index.json``)."""
    out: dict[str, int] = {}
    for path, (size, _) in _files(folder).items():
        prefix = path.split("/")[0].split(".")[0].split("_")[0]
        part = {"shingles": "fp", "index": "header", "bands": "lsh"}.get(prefix, prefix)
        out[part] = out.get(part, 0) + size
    return out


def result_digest(result: object) -> str:
    """A digest of every story (members, canonical page, reason, similarities) and passage link
    (pages, text, offsets, similarity): equal digests, identical results."""
    h = hashlib.sha256()
    for s in result.stories:
        h.update(repr((s.members, s.canonical, s.reason, sorted(s.similarity.items()))).encode())
    for x in result.links:
        h.update(repr((x.doc, x.source_doc, x.text, x.doc_start, x.doc_end, x.source_start,
                       x.source_end, x.similarity)).encode())
    return h.hexdigest()[:16]


def _digest(path: Path, size: int) -> int:
    """xxh64 of the first ``size`` bytes of ``path``, read a MB at a time (a whole shingle file
    read at once would count in the peak RSS)."""
    import xxhash

    h = xxhash.xxh64()
    with path.open("rb") as f:
        while size > 0:
            chunk = f.read(min(size, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            size -= len(chunk)
    return h.intdigest()


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, digest of the content) of every file under ``folder``, by relative path."""
    out = {}
    for p in folder.rglob("*"):
        if p.is_file():
            size = p.stat().st_size
            out[str(p.relative_to(folder))] = (size, _digest(p, size))
    return out


def written_bytes(folder: Path, before: dict[str, tuple[int, int]]) -> int:
    """Bytes a save wrote, from the files before it (``_files``) and after: the growth of a
    file whose old bytes are still its beginning (appended to), every other file whole."""
    total = 0
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        old = before.get(str(path.relative_to(folder)))
        kept = old is not None and size >= old[0] and _digest(path, old[0]) == old[1]
        total += size - old[0] if kept else size
    return total


def passage_level(args: argparse.Namespace) -> None:
    every = documents(args.articles + args.new, seed=0)
    old, new = every[: args.articles], every[args.articles:]
    words = sum(len(d.text.split()) for d in old) / max(1, len(old))
    tmp = Path(tempfile.mkdtemp(prefix="newsdedup-scale-"))
    folder = tmp / "passage"  # what the job's state directory holds
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    with StageClock() as clock:
        t0 = time.perf_counter()
        index = DedupIndex()
        index.add(old, batch=args.batch, workers=args.workers)
        t_add = time.perf_counter() - t0
        result = index.result()
        t_result = time.perf_counter() - t0 - t_add
        index.save(folder)
        seconds = time.perf_counter() - t0
    stages = clock.split(t_add, t_result, seconds - t_add - t_result)
    memory = stage_bytes(index, result)
    counts = {"windows": len(index._bands) // max(1, index.config.lsh_bands),
              "candidate_pairs": len(index._cand),
              "alignments": sum(al is not None for al in index._aligned.values())}
    del index
    by_id = {d.id: d for d in old}
    stored = sum(stored_parts(folder).values())
    parts = stored_parts(folder)
    t1 = time.perf_counter()
    loaded = DedupIndex.open(folder, documents=by_id)
    t_load = time.perf_counter() - t1
    loaded.add(new)
    inc_result = loaded.result()
    t_add_result = time.perf_counter() - t1
    before = _files(folder)  # not timed: what the save is compared with
    t2 = time.perf_counter()
    loaded.save(folder)
    t_inc_save = time.perf_counter() - t2
    incremental = t_add_result + t_inc_save
    written = written_bytes(folder, before)
    if prof:
        prof.disable()
    n = len(old)
    multi = sum(1 for s in result.stories if len(s.members) > 1)
    print(f"{n} articles ({words:.0f} words avg): {seconds:.1f} s "
          f"({n / seconds:,.0f} articles/s; add {t_add:.1f} s, result {t_result:.1f} s, "
          f"store {seconds - t_add - t_result:.1f} s); {len(result.stories)} stories, "
          f"{multi} with copies, {len(result.links)} passage links")
    print(f"+{len(new)} new: {incremental:.1f} s (open {t_load:.2f} s, save {t_inc_save:.2f} s, "
          f"{written / 1e6:.1f} MB written); {len(inc_result.stories)} stories")
    print(f"index {stored / 1e6:.1f} MB = {stored / n:,.0f} bytes/article; "
          f"peak RSS {_peak_mb():,.0f} MB")
    print(f"{counts['windows'] / n:.1f} windows, {counts['candidate_pairs'] / n:.2f} candidate "
          f"pairs, {counts['alignments'] / n:.2f} alignments per article "
          f"({args.workers} worker(s) signing)")
    print(f"{'stage':<20} {'s':>7} {'µs/article':>11} {'bytes/article in memory':>24}")
    for stage in STAGES:
        mem = memory.get(stage)
        print(f"{stage:<20} {stages[stage]:7.2f} {1e6 * stages[stage] / n:11,.0f} "
              f"{'' if mem is None else f'{mem / n:,.0f}':>24}")
    print(f"{'(documents kept)':<20} {'':>7} {'':>11} {memory['documents'] / n:24,.0f}")
    print("stored index (state directory), bytes/article: " + ", ".join(
        f"{k} {v / n:,.0f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])))
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    print(json.dumps({
        "articles": n, "seconds": round(seconds, 2), "peak_rss_mb": round(_peak_mb()),
        "new": len(new), "incremental_seconds": round(incremental, 2),
        "index_bytes_per_article": round(stored / n),
        "save_seconds": round(seconds - t_add - t_result, 3),
        "incremental_save_seconds": round(t_inc_save, 3), "incremental_written_bytes": written,
        "articles_per_s": round(n / seconds), "add_seconds": round(t_add, 2),
        "result_seconds": round(t_result, 2), "load_seconds": round(t_load, 2),
        "stories": len(result.stories), "passage_links": len(result.links),
        "digest": result_digest(result), "incremental_digest": result_digest(inc_result),
        "stage_us_per_article": {k: round(1e6 * v / n) for k, v in stages.items()},
        "stage_bytes_per_article": {k: round(v / n) for k, v in memory.items()},
        "stored_bytes_per_article": {k: round(v / n) for k, v in parts.items()},
        "per_article": {k: round(v / n, 3) for k, v in counts.items()},
    }))
    shutil.rmtree(tmp)


# -- document level ------------------------------------------------------------------------

class TextStore:
    """Generated articles on disk: UTF-8 texts and titles back to back, offsets, site codes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.text_off = np.load(root / "text_off.npy", mmap_mode="r")
        self.title_off = np.load(root / "title_off.npy", mmap_mode="r")
        self.site = np.load(root / "site.npy", mmap_mode="r")

    def __len__(self) -> int:
        return int(self.site.shape[0])

    @staticmethod
    def generate(root: Path, n: int, seed: int = 0) -> None:
        """Write ``n`` articles of ``bench/corpus.archive`` (run in a child process: the
        generator's memory never counts against the timed run)."""
        root.mkdir(parents=True, exist_ok=True)
        text_off, title_off, sites = [0], [0], []
        with (root / "texts.bin").open("wb") as texts, (root / "titles.bin").open("wb") as titles:
            for _, site, title, text in archive(n, seed):
                raw, head = text.encode(), title.encode()
                texts.write(raw)
                titles.write(head)
                text_off.append(text_off[-1] + len(raw))
                title_off.append(title_off[-1] + len(head))
                sites.append(int(site[4:].split(".")[0]))
        np.save(root / "text_off.npy", np.asarray(text_off, dtype=np.int64))
        np.save(root / "title_off.npy", np.asarray(title_off, dtype=np.int64))
        np.save(root / "site.npy", np.asarray(sites, dtype=np.int16))
        (root / "DONE").write_text(str(n))

    def _read(self, name: str, off: np.ndarray, lo: int, hi: int) -> list[str]:
        a, b = int(off[lo]), int(off[hi])
        with (self.root / name).open("rb") as f:
            f.seek(a)
            raw = f.read(b - a)
        cuts = (off[lo:hi + 1] - a).tolist()
        return [raw[x:y].decode() for x, y in itertools.pairwise(cuts)]

    def texts(self, lo: int, hi: int) -> tuple[list[str], list[str]]:
        return self._read("texts.bin", self.text_off, lo, hi), self._read(
            "titles.bin", self.title_off, lo, hi)

    def documents(self, lo: int, hi: int, with_text: bool = True) -> list[Document]:
        texts, titles = self.texts(lo, hi) if with_text else ([""] * (hi - lo), [None] * (hi - lo))
        return [Document(id=i, url=f"http://site{s}.test/a/{i}", site=f"site{s}.test", text=t,
                         title=ti)
                for i, s, t, ti in zip(range(lo, hi), self.site[lo:hi].tolist(), texts, titles,
                                       strict=True)]


def _sign_range(root: Path, lo: int, hi: int) -> Signed:
    """Worker: read articles ``lo:hi`` from the store and sign them."""
    texts, titles = TextStore(root).texts(lo, hi)
    return sign(texts, titles, DedupConfig())


def _tree_rss_mb() -> float:
    """Resident set of this process and all its descendants, in MB (Linux /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    me = os.getpid()
    total = 0
    for pid, value in rss.items():
        p = pid
        while p > 1 and p != me:
            p = parent.get(p, 1)
        if p == me:
            total += value
    return total / 1e6


class PeakRSS:
    """Samples ``_tree_rss_mb`` every 0.1 s in a thread while active; ``peak`` in MB."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mb())
            self._stop.wait(0.1)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss_mb())


def _store(args: argparse.Namespace) -> TextStore:
    total = args.articles + args.new
    root = args.store or Path(tempfile.gettempdir()) / f"newsdedup-archive-{total}"
    done = root / "DONE"
    if not done.exists() or done.read_text() != str(total):
        import multiprocessing

        print(f"generating {total:,} articles into {root} (once) ...", flush=True)
        t = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=TextStore.generate,
                                                             args=(root, total))
        child.start()
        child.join()
        if child.exitcode:
            raise SystemExit(f"generating the archive failed ({child.exitcode})")
        print(f"  {time.perf_counter() - t:.0f} s", flush=True)
    return TextStore(root)


def document_level(args: argparse.Namespace) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    store = _store(args)
    n, batch = args.articles, args.batch
    folder = Path(tempfile.mkdtemp(prefix="newsdedup-archive-index-"))
    ctx = multiprocessing.get_context("forkserver")
    try:
        with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
            list(pool.map(_sign_range, [store.root], [0], [min(n, 50)]))  # warm: imports, kernels
            with PeakRSS() as rss:
                t0 = time.perf_counter()
                index = Archive(folder)
                pending: deque = deque()
                for lo in range(0, n, batch):
                    hi = min(n, lo + batch)
                    pending.append((lo, hi, pool.submit(_sign_range, store.root, lo, hi)))
                    while len(pending) > args.workers:
                        a, b, fut = pending.popleft()
                        index.add_signed(store.documents(a, b, with_text=False), fut.result())
                while pending:
                    a, b, fut = pending.popleft()
                    index.add_signed(store.documents(a, b, with_text=False), fut.result())
                t_add = time.perf_counter() - t0
                index.result(workers=args.workers)
                t_result = time.perf_counter() - t0 - t_add
                index.save()
                seconds = time.perf_counter() - t0
        stories, copies = index.stories(), index.copy_pairs()
        disk = index.disk_bytes()
        del index
        new_docs = store.documents(n, n + args.new)
        prof = cProfile.Profile() if args.profile else None
        with PeakRSS() as rss_inc:
            if prof:
                prof.enable()
            t1 = time.perf_counter()
            loaded = Archive(folder)
            t_load = time.perf_counter() - t1
            loaded.add(new_docs)
            loaded.result(workers=args.workers)
            loaded.save()
            incremental = time.perf_counter() - t1
            if prof:
                prof.disable()
        inc_stories = loaded.stories()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumtime").print_stats(args.top)
        print(f"incremental profile:\n{out.getvalue()}")
    in_stories = sum(len(m) for m in stories.values())
    print(f"document level, {n:,} articles: {seconds:.1f} s ({n / seconds:,.0f} articles/s; "
          f"add {t_add:.1f} s, result {t_result:.1f} s, save {seconds - t_add - t_result:.1f} "
          f"s); {copies:,} copy pairs, {len(stories):,} stories of 2+ pages holding "
          f"{in_stories:,} articles")
    print(f"+{args.new:,} new: {incremental:.2f} s (load {t_load:.2f} s); "
          f"{len(inc_stories):,} stories of 2+ pages")
    print(f"archive on disk {disk / 1e6:,.0f} MB = {disk / n:,.0f} bytes/article; peak RSS "
          f"(all processes) {rss.peak:,.0f} MB build, {rss_inc.peak:,.0f} MB incremental")
    print(json.dumps({
        "level": "document", "articles": n, "seconds": round(seconds, 2),
        "peak_rss_mb": round(max(rss.peak, rss_inc.peak)), "new": args.new,
        "incremental_seconds": round(incremental, 2),
        "index_bytes_per_article": round(disk / n), "articles_per_s": round(n / seconds),
        "add_seconds": round(t_add, 2), "result_seconds": round(t_result, 2),
        "load_seconds": round(t_load, 2), "copy_pairs": copies,
        "multi_page_stories": len(stories),
    }))


if __name__ == "__main__":
    main()
