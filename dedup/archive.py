"""Document-level dedup of archives too large for memory: copies grouped into stories, out of core.

The passage index (``DedupIndex``) keeps every shingle, window and boilerplate count in memory
(~20 KB an article): right for a crawl's thousands of pages, not for years of them. An
``Archive`` keeps in memory only what a query needs: the LSH (42 bands x 3 rows of one OPH
signature per document, 12 bytes an entry) and per-row arrays (id, site, published, sizes,
story). On disk, in its directory, it keeps each document's distinct shingle hashes
(append-only) and, per site, runs of (shingle, page) entries sorted by shingle, one run per
``result``: a shingle's page count is its number of entries, and the pages holding a shingle
that just became boilerplate are found without reading any page.

Decisions are document level: two pages are copies when the smaller one's content shingles (its
distinct shingles that are not its site's boilerplate) are at least ``copy_containment``
contained in the other's, counted exactly; copies are grouped (union-find) and each story's
canonical page is the earliest published, then the one with most content, then the first
indexed. No passage links: quotes, follow-ups and digests are the passage index's job.

Signatures cover all distinct shingles (content or not), so they never change when a site's
boilerplate grows; boilerplate applies in verification, and a pair is verified again when one of
its sites learned new boilerplate. Adding documents in any batches gives the same stories as
one build.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numba import njit

from dedup.arrays import gather_ranges
from dedup.boilerplate import _doc_unique
from dedup.config import DedupConfig
from dedup.lsh import BandIndex, _sort_by_key, band_keys
from dedup.minhash import oph_signatures
from dedup.model import Document
from dedup.shingles import fingerprint_batch

FORMAT = 1
BANDS, ROWS = 42, 3  # a pair of Jaccard 0.5 (an abridged copy) is a candidate with p = 0.996
_NO_DATE = np.iinfo(np.int64).max
_PAIR_CHUNK = 50_000  # pairs verified per read of their rows' shingles


class ArchiveMismatch(ValueError):
    """The archive on disk was built with other parameters or by another format."""


@dataclass(frozen=True, slots=True)
class Signed:
    """What an archive keeps of a batch of documents (picklable: made in worker processes)."""

    uniq: np.ndarray  # uint64: each document's distinct shingle hashes, sorted, concatenated
    sizes: np.ndarray  # int64: how many of them each document has
    keys: np.ndarray  # uint64 (documents, BANDS): LSH band keys


def lsh_config(config: DedupConfig) -> DedupConfig:
    """The OPH signature and banding an archive uses, seeded like ``config``."""
    return DedupConfig(num_perm=BANDS * ROWS, lsh_bands=BANDS, lsh_rows=ROWS, scheme="oph",
                       seed=config.seed, shingle_size=config.shingle_size,
                       cjk_shingle_size=config.cjk_shingle_size)


def sign(texts: list[str], titles: list[str | None], config: DedupConfig) -> Signed:
    """Fingerprint a batch (``fingerprint_batch``), keep each text's distinct shingles, sign
    them with OPH and cut the signatures into band keys."""
    fb = fingerprint_batch(texts, titles, config)
    uniq, sizes = _doc_unique(fb.hashes, fb.doc_sh)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    lsh = lsh_config(config)
    sig = oph_signatures(uniq, offsets, lsh.num_perm, lsh.seed)
    return Signed(uniq, sizes.astype(np.int64), band_keys(sig, lsh))


def _timestamp(value: datetime | None) -> int:
    """Microseconds since the epoch (naive = UTC); no date sorts last."""
    if value is None:
        return _NO_DATE
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1_000_000)


_MIX = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True)
def _site_tables(boiler, b_off):  # pragma: no cover - compiled
    """Per site, an open-addressing hash set of its boilerplate shingles (at most half full):
    (slots, used flags, each site's first slot, each site's shift to a slot)."""
    n_sites = b_off.shape[0] - 1
    t_off = np.zeros(n_sites + 1, np.int64)
    shift = np.zeros(n_sites, np.uint64)
    for s in range(n_sites):
        bits = 3
        while (1 << bits) < 2 * (b_off[s + 1] - b_off[s]):
            bits += 1
        t_off[s + 1] = t_off[s] + (1 << bits)
        shift[s] = 64 - bits
    slots = np.zeros(t_off[n_sites], np.uint64)
    used = np.zeros(t_off[n_sites], np.bool_)
    for s in range(n_sites):
        mask = t_off[s + 1] - t_off[s] - 1
        for e in range(b_off[s], b_off[s + 1]):
            x = boiler[e]
            i = np.int64((x * _MIX) >> shift[s])
            while used[t_off[s] + i] and slots[t_off[s] + i] != x:
                i = (i + 1) & mask
            slots[t_off[s] + i] = x
            used[t_off[s] + i] = True
    return slots, used, t_off, shift


@njit(cache=True, inline="always")
def _is_boiler(x, slots, used, t_off, shift, s):  # pragma: no cover - compiled
    base = t_off[s]
    mask = t_off[s + 1] - base - 1
    i = np.int64((x * _MIX) >> shift[s])
    while used[base + i]:
        if slots[base + i] == x:
            return True
        i = (i + 1) & mask
    return False


@njit(cache=True, nogil=True)
def _content(shingles, row_off, site, order, slots, used, t_off,
             shift):  # pragma: no cover - compiled
    """Per shingle: is it content (not boilerplate on its row's site); per row: how many are.
    Rows are visited in ``order`` (grouped by site, so a site's table stays in cache)."""
    keep = np.ones(shingles.shape[0], np.bool_)
    sizes = np.zeros(row_off.shape[0] - 1, np.int64)
    for r in order:
        s = site[r]
        c = 0
        for i in range(row_off[r], row_off[r + 1]):
            if _is_boiler(shingles[i], slots, used, t_off, shift, s):
                keep[i] = False
            else:
                c += 1
        sizes[r] = c
    return keep, sizes


@njit(cache=True, nogil=True)
def _shared(shingles, row_off, keep, a, b):  # pragma: no cover - compiled
    """Per pair of rows: shingles both hold as content."""
    n = a.shape[0]
    out = np.zeros(n, np.int64)
    for p in range(n):
        i, i_end = row_off[a[p]], row_off[a[p] + 1]
        j, j_end = row_off[b[p]], row_off[b[p] + 1]
        shared = 0
        while i < i_end and j < j_end:
            x, y = shingles[i], shingles[j]
            if x < y:
                i += 1
            elif y < x:
                j += 1
            else:
                shared += keep[i] and keep[j]
                i += 1
                j += 1
        out[p] = shared
    return out


def _verify(shingles: np.ndarray, row_off: np.ndarray, site: np.ndarray,
            tables: tuple[np.ndarray, ...], a: np.ndarray,
            b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair of rows ``a[i]``, ``b[i]``: (shared content shingles, content size of a, of
    b). A shingle is content on a page unless it is boilerplate on that page's site (``tables``:
    ``_site_tables`` of the sites' sets; ``site``: each row's site code). Each row's shingles
    are looked up once, however many pairs hold it."""
    order = np.argsort(site, kind="stable")
    keep, sizes = _content(shingles, row_off, site, order, *tables)
    return _shared(shingles, row_off, keep, a, b), sizes[a], sizes[b]


@njit(cache=True)
def _roots(n, a, b):  # pragma: no cover - compiled
    """Union-find over the pairs: each row's component root (its smallest row)."""
    parent = np.arange(n)
    for p in range(a.shape[0]):
        x, y = a[p], b[p]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x != y:
            parent[max(x, y)] = min(x, y)
    for i in range(n):
        r = i
        while parent[r] != r:
            r = parent[r]
        parent[i] = r
    return parent


def _runs_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how many times each occurs (``np.unique``
    without sorting again)."""
    if not values.size:
        return values, np.zeros(0, np.int64)
    first = np.empty(values.shape[0], dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return values[starts], np.diff(np.append(starts, values.shape[0]))


def _run_path(folder: Path, site: int, run: int, part: str) -> Path:
    return folder / f"{site}.{run:06d}.{part}.npy"


def _count_site(folder: Path, site: int, min_pages: int,
                runs: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold the spooled shingles of ``site``'s new pages (each page's distinct ones, with the
    page's row) into its run number ``runs``: shingles sorted, with the row of each. Returns
    the shingles that reached ``min_pages`` pages with it, and the earlier rows holding them.

    A shingle's page count is its number of entries over the site's runs (each run's shingles
    read whole, looked up with ``searchsorted``; the rows of a run are mapped, only the few
    holding new boilerplate are read)."""
    keys = np.fromfile(folder / f"{site}.raw", dtype=np.uint64)
    rows = np.fromfile(folder / f"{site}.rows", dtype=np.int32)
    keys, rows = _sort_by_key(keys, rows)  # uniform hashes: one bucket pass, stable
    uniq, counts = _runs_of(keys)
    old = np.zeros(uniq.shape[0], dtype=np.int64)
    spans = []
    for run in range(runs):
        run_keys = np.load(_run_path(folder, site, run, "keys"))
        lo, hi = np.searchsorted(run_keys, uniq), np.searchsorted(run_keys, uniq, side="right")
        old += hi - lo
        spans.append((run, lo, hi))
    crossed = (old < min_pages) & (old + counts >= min_pages)
    held = []
    for run, lo, hi in spans:
        lo, hi = lo[crossed], hi[crossed]
        if (hi > lo).any():
            run_rows = np.load(_run_path(folder, site, run, "rows"), mmap_mode="r")
            held.append(np.asarray(run_rows[gather_ranges(lo, hi - lo)]))
    np.save(_run_path(folder, site, runs, "keys"), keys)
    np.save(_run_path(folder, site, runs, "rows"), rows)
    (folder / f"{site}.raw").unlink()
    (folder / f"{site}.rows").unlink()
    old_rows = np.unique(np.concatenate(held)) if held else np.zeros(0, np.int32)
    return uniq[crossed], old_rows


class Archive:
    """Document-level stories of a large archive, kept in a directory (see the module doc).

    ``add`` signs documents (or takes ``Signed`` batches from workers via ``add_signed``),
    queries and grows the LSH and spools each site's shingles to disk; ``result`` counts the
    spooled shingles into the sites' runs, verifies new candidate pairs (and those of pages
    that hold new boilerplate) and groups copies; ``save`` writes the in-memory arrays.
    """

    def __init__(self, root: Path | str, config: DedupConfig | None = None) -> None:
        self.root = Path(root)
        self.config = config or DedupConfig()
        self._lsh = BandIndex(lsh_config(self.config))
        self._ids = np.zeros(0, np.int64)
        self._site = np.zeros(0, np.int32)
        self._published = np.zeros(0, np.int64)
        self._sizes = np.zeros(0, np.int64)
        self._sites: dict[str, int] = {}
        self._pairs = np.zeros(0, np.int64)  # candidate row pairs, a << 32 | b, sorted
        self._copy = np.zeros(0, np.int8)  # per pair: 1 copy, 0 not, -1 to verify
        self._content = np.zeros(0, np.int64)  # per row: content shingles (-1: never verified)
        self._boiler: dict[int, np.ndarray] = {}
        self._story = np.zeros(0, np.int64)  # per row: canonical row of its story
        self._pending: list[np.ndarray] = []  # candidate row pairs found since the last result()
        self._dirty_sites: set[int] = set()
        self._runs: dict[int, int] = {}  # per site: count runs on disk
        if (self.root / "archive.json").exists():
            self._load()
        else:
            (self.root / "counts").mkdir(parents=True, exist_ok=True)
            (self.root / "shingles.u64").touch()

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    # -- adding -----------------------------------------------------------------------------

    def new_documents(self, docs: Sequence[Document]) -> list[Document]:
        """The documents of ``docs`` not yet in the archive (ids are the identity)."""
        ids = np.fromiter((d.id for d in docs), dtype=np.int64, count=len(docs))
        if np.unique(ids).shape[0] != ids.shape[0]:
            raise ValueError("a document id is given twice")
        known = np.isin(ids, self._ids)
        return [d for d, k in zip(docs, known.tolist(), strict=True) if not k]

    def add(self, docs: Sequence[Document], batch: int = 20000) -> None:
        """Sign and index the documents not yet in the archive, ``batch`` at a time."""
        docs = self.new_documents(docs)
        for i in range(0, len(docs), batch):
            part = docs[i:i + batch]
            signed = sign([d.text for d in part], [d.title for d in part], self.config)
            self.add_signed(part, signed)

    def add_signed(self, docs: Sequence[Document], signed: Signed) -> None:
        """Index documents already signed (``sign``), in the order given; only their ids,
        sites and dates are read (texts may be gone)."""
        base = len(self)
        n = len(docs)
        ids = np.fromiter((d.id for d in docs), dtype=np.int64, count=n)
        sites = np.fromiter((self._sites.setdefault(d.site, len(self._sites)) for d in docs),
                            dtype=np.int32, count=n)
        published = np.fromiter((_timestamp(d.published) for d in docs), dtype=np.int64,
                                count=n)
        with (self.root / "shingles.u64").open("ab") as f:
            f.write(memoryview(np.ascontiguousarray(signed.uniq)).cast("B"))
        self._spool(sites, signed, base)
        pairs = self._lsh.add(signed.keys, np.arange(base, base + n, dtype=np.int32))
        self._ids = np.concatenate([self._ids, ids])
        self._site = np.concatenate([self._site, sites])
        self._published = np.concatenate([self._published, published])
        self._sizes = np.concatenate([self._sizes, signed.sizes])
        self._content = np.concatenate([self._content, np.full(n, -1, np.int64)])
        self._pending.append(pairs)

    def _spool(self, sites: np.ndarray, signed: Signed, base: int) -> None:
        """Append each page's distinct shingles, and its row (``base`` + its place in the
        batch) for each, to its site's spool (counted in ``result``)."""
        order = np.argsort(sites, kind="stable")
        offsets = np.concatenate(([0], np.cumsum(signed.sizes)))
        folder = self.root / "counts"
        cuts = np.flatnonzero(np.diff(sites[order])) + 1
        for rows in np.split(order, cuts):
            if not rows.size:
                continue
            site = int(sites[rows[0]])
            keys = signed.uniq[gather_ranges(offsets[rows], signed.sizes[rows])]
            owner = np.repeat((rows + base).astype(np.int32), signed.sizes[rows])
            with (folder / f"{site}.raw").open("ab") as f:
                f.write(memoryview(keys).cast("B"))
            with (folder / f"{site}.rows").open("ab") as f:
                f.write(memoryview(owner).cast("B"))
            self._dirty_sites.add(site)

    # -- deciding ---------------------------------------------------------------------------

    def result(self, workers: int = 0) -> np.ndarray:
        """Per row, the row of its story's canonical page (a page alone is its own). Site
        counts and verification run in ``workers`` threads (0: one per core, at most 4)."""
        workers = workers or min(os.cpu_count() or 1, 4)
        held = self._count(workers)
        new = (_runs_of(np.sort(np.concatenate(self._pending)))[0] if self._pending
               else self._pairs[:0])
        self._pending = []
        self._reverify(held)
        self._merge_pairs(new)
        self._verify_pending(workers)
        copies = self._pairs[self._copy == 1]
        roots = _roots(len(self), copies >> 32, copies & 0xFFFFFFFF)
        self._story = self._canonical(roots)
        return self._story

    def _reverify(self, rows: np.ndarray) -> None:
        """Mark for verification the verified pairs of ``rows``: pages holding a shingle that
        just became boilerplate on their site (their content shrank)."""
        if rows.size and self._pairs.size:
            stale = np.isin(self._pairs >> 32, rows) | np.isin(self._pairs & 0xFFFFFFFF, rows)
            self._copy[stale] = -1

    def _count(self, workers: int) -> np.ndarray:
        """Fold the spooled shingles into the sites' page counts; grow boilerplate sets.
        Returns the earlier rows holding a shingle that became boilerplate."""
        folder = self.root / "counts"
        sites = sorted(self._dirty_sites)
        self._dirty_sites = set()
        limit = self.config.boilerplate_min_pages
        runs = [self._runs.get(s, 0) for s in sites]
        with ThreadPoolExecutor(workers) as pool:  # file reads and NumPy sorts release the GIL
            got = list(pool.map(_count_site, [folder] * len(sites), sites,
                                [limit] * len(sites), runs))
        held = [np.zeros(0, np.int32)]
        for site, (hit, rows) in zip(sites, got, strict=True):
            self._runs[site] = self._runs.get(site, 0) + 1
            if hit.size:
                old = self._boiler.get(site)
                self._boiler[site] = hit if old is None else np.sort(np.concatenate([old, hit]))
                held.append(rows)
        return np.concatenate(held)

    def _merge_pairs(self, new: np.ndarray) -> None:
        if not new.size:
            return
        merged, _ = _runs_of(np.sort(np.concatenate([self._pairs, new])))
        copy = np.full(merged.shape[0], -1, np.int8)
        copy[np.searchsorted(merged, self._pairs)] = self._copy
        self._pairs, self._copy = merged, copy

    def _site_sets(self, sets: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-site sorted sets concatenated in site order, and each site's offsets."""
        n_sites = max(len(self._sites), 1)
        parts = [sets.get(s, np.zeros(0, np.uint64)) for s in range(n_sites)]
        b_off = np.concatenate(([0], np.cumsum([p.shape[0] for p in parts]))).astype(np.int64)
        return np.concatenate(parts).astype(np.uint64), b_off

    def _read_rows(self, rows: np.ndarray,
                   row_off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct shingles of ``rows`` (sorted, unique; ``row_off``: each row's first
        shingle in the file), read from the shingle file into one private buffer, and their
        offsets in it. ``pread`` per row, not a memory map: a
        mapping's fault-around would make most of the file resident."""
        sizes = self._sizes[rows]
        local = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        buf = np.empty(int(local[-1]), dtype=np.uint64)
        view = memoryview(buf).cast("B")
        starts = (row_off[rows] * 8).tolist()
        with (self.root / "shingles.u64").open("rb") as f:
            fd = f.fileno()
            for lo, hi, at in zip((local[:-1] * 8).tolist(), (local[1:] * 8).tolist(), starts,
                                  strict=True):
                if hi > lo and os.preadv(fd, [view[lo:hi]], at) != hi - lo:
                    raise ArchiveMismatch("the shingle file is shorter than the archive says")
        return buf, local

    def _verify_chunk(self, a: np.ndarray, b: np.ndarray, tables: tuple[np.ndarray, ...],
                      row_off: np.ndarray) -> tuple[np.ndarray, ...]:
        """``_verify`` of the pairs of rows ``a[i]``, ``b[i]``, their rows read once."""
        rows = np.unique(np.concatenate([a, b]))
        shingles, offsets = self._read_rows(rows, row_off)
        return _verify(shingles, offsets, self._site[rows], tables, np.searchsorted(rows, a),
                       np.searchsorted(rows, b))

    def _verify_pending(self, workers: int) -> None:
        """Exact containment of every pair marked -1 (see ``_verify``), chunks of pairs in
        ``workers`` threads (reads and compiled kernels release the GIL)."""
        todo = np.flatnonzero(self._copy < 0)
        if not todo.size:
            return
        tables = _site_tables(*self._site_sets(self._boiler))
        row_off = np.concatenate(([0], np.cumsum(self._sizes)))
        pairs = self._pairs[todo]
        a, b = pairs >> 32, pairs & 0xFFFFFFFF
        share = self.config.copy_containment
        parts = [slice(lo, lo + _PAIR_CHUNK) for lo in range(0, todo.shape[0], _PAIR_CHUNK)]
        with ThreadPoolExecutor(workers) as pool:
            done = pool.map(lambda part: self._verify_chunk(a[part], b[part], tables, row_off),
                            parts)
            for part, (inter, ca, cb) in zip(parts, done, strict=True):
                self._content[a[part]], self._content[b[part]] = ca, cb
                self._copy[todo[part]] = inter >= share * np.maximum(np.minimum(ca, cb), 1)

    def _canonical(self, roots: np.ndarray) -> np.ndarray:
        """Per row, its story's canonical row: earliest published, then most content, then
        first indexed."""
        content = np.where(self._content >= 0, self._content, self._sizes)
        order = np.lexsort((np.arange(len(self)), -content, self._published, roots))
        first = np.ones(order.shape[0], dtype=bool)
        first[1:] = roots[order][1:] != roots[order][:-1]
        best = np.empty(len(self), np.int64)
        best[roots[order][first]] = order[first]
        return best[roots]

    # -- views ------------------------------------------------------------------------------

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    def stories(self) -> dict[int, list[int]]:
        """Canonical document id -> member document ids, for stories of two or more pages."""
        story = self._story
        multi = np.flatnonzero(np.bincount(story, minlength=len(self))[story] > 1)
        out: dict[int, list[int]] = {}
        for r in multi.tolist():
            out.setdefault(int(self._ids[story[r]]), []).append(int(self._ids[r]))
        return out

    def copy_pairs(self) -> int:
        return int((self._copy == 1).sum())

    def disk_bytes(self) -> int:
        """Bytes the archive's directory holds."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    # -- persistence ------------------------------------------------------------------------

    def _header(self) -> dict[str, object]:
        return {"format": FORMAT, "params": self.config.fingerprint_params(),
                "config": asdict(self.config), "bands": BANDS, "rows": ROWS,
                "sites": list(self._sites), "documents": len(self),
                "shingles": int(self._sizes.sum()),
                "runs": {str(s): n for s, n in sorted(self._runs.items())}}

    def _drop_unsaved(self, head: dict) -> None:
        """Remove what an add after the last save left on disk (spooled shingles, count runs,
        shingle rows), so a crashed run counts nothing twice."""
        folder = self.root / "counts"
        for path in [*folder.glob("*.raw"), *folder.glob("*.rows")]:
            path.unlink()
        runs = head["runs"]
        for path in folder.glob("*.npy"):
            site, number = path.name.split(".")[:2]
            if int(number) >= runs.get(site, 0):
                path.unlink()
        shingles = self.root / "shingles.u64"
        if shingles.stat().st_size > 8 * head["shingles"]:
            os.truncate(shingles, 8 * head["shingles"])

    def save(self) -> None:
        """Write the in-memory arrays (after ``result``); the shingle file and site counts are
        already on disk."""
        if self._pending or self._dirty_sites:
            raise ValueError("call result() before save(): documents are not counted yet")
        arrays = {"ids": self._ids, "site": self._site, "published": self._published,
                  "sizes": self._sizes, "content": self._content, "story": self._story,
                  "pairs": self._pairs, "copy": self._copy, "lsh_keys": self._lsh.keys,
                  "lsh_rows": self._lsh.rows}
        boiler, b_off = self._site_sets(self._boiler)
        arrays |= {"boiler": boiler, "boiler_off": b_off}
        for name, arr in arrays.items():
            np.save(self.root / f"{name}.npy", arr)
        tmp = self.root / "archive.json.tmp"
        tmp.write_text(json.dumps(self._header(), sort_keys=True))
        os.replace(tmp, self.root / "archive.json")

    def _load(self) -> None:
        head = json.loads((self.root / "archive.json").read_text())
        if head.get("format") != FORMAT:
            raise ArchiveMismatch(f"archive format {head.get('format')!r} != {FORMAT}: rebuild it")
        if head.get("params") != self.config.fingerprint_params():
            raise ArchiveMismatch("archive built with other fingerprint parameters: rebuild it")
        self._drop_unsaved(head)
        self._runs = {int(s): n for s, n in head["runs"].items()}

        def arr(name: str) -> np.ndarray:
            return np.load(self.root / f"{name}.npy")

        self._ids, self._site, self._published = arr("ids"), arr("site"), arr("published")
        self._sizes, self._content, self._story = arr("sizes"), arr("content"), arr("story")
        self._pairs, self._copy = arr("pairs"), arr("copy")
        self._lsh.keys, self._lsh.rows = arr("lsh_keys"), arr("lsh_rows")
        self._sites = {name: i for i, name in enumerate(head["sites"])}
        boiler, b_off = arr("boiler"), arr("boiler_off")
        self._boiler = {s: boiler[b_off[s]:b_off[s + 1]] for s in range(b_off.shape[0] - 1)
                        if b_off[s + 1] > b_off[s]}


def build(root: Path | str, batches: Iterable[Sequence[Document]],
          config: DedupConfig | None = None) -> Archive:
    """An archive of every batch, decided and saved (one process)."""
    archive = Archive(root, config)
    for docs in batches:
        archive.add(docs)
    archive.result()
    archive.save()
    return archive
