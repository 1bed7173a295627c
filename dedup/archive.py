"""Document-level dedup of archives too large for memory: copies grouped into stories, out of core.

The passage index (``DedupIndex``) keeps every shingle, window and boilerplate count in memory
(~20 KB an article): right for a crawl's thousands of pages, not for years of them. An
``Archive`` keeps in memory only what a query needs: the LSH (42 bands x 3 rows of one OPH
signature per document, 12 bytes an entry) and per-row arrays (id, site, published, sizes,
story). On disk, in its directory, it keeps each document's distinct shingle hashes
(append-only) and, per site, runs of (shingle, page) entries sorted by shingle, one run per
``result``: a shingle's page count is its number of entries, and the pages holding a shingle
that just became boilerplate are found without reading any page. Until ``result`` the added
batches' shingles stay in memory (``spool_bytes`` of them; later batches are spilled to a file),
so new pages are counted and verified without reading them back. The bulk files are written
(and runs read) past the page cache (``O_DIRECT`` where the file system allows it): nothing
reads them back soon, and taking gigabytes of fresh cache pages costs more than the writes.

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

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numba import njit

from dedup.arrays import gather_ranges, sort_ranges
from dedup.blockio import (
    Generations,
    aligned,
    append_cached,
    append_direct,
    load_direct,
    npy_buffer,
    read_direct,
    read_ranges,
    write_direct,
)
from dedup.cluster import union_roots
from dedup.config import DedupConfig, Outdated, built_by
from dedup.docsign import sign_documents
from dedup.lsh import BandIndex, Run
from dedup.model import Document

FORMAT = 1
BANDS, ROWS = 42, 3  # a pair of Jaccard 0.5 (an abridged copy) is a candidate with p = 0.996
_NO_DATE = np.iinfo(np.int64).max
_PAIR_CHUNK = 8_192  # pairs verified per read of their rows' shingles (a reused buffer)


class ArchiveMismatch(ValueError):
    """The archive on disk cannot be used (``OutdatedArchive``: built by another format or with
    other parameters)."""


class OutdatedArchive(Outdated, ArchiveMismatch):
    """An archive of another format or other pinned parameters (``Outdated``)."""


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
    """Each text's distinct shingles (as ``fingerprint_batch`` would shingle it), one OPH
    signature over them cut into band keys (``dedup.docsign.sign_documents``)."""
    lsh = lsh_config(config)
    uniq, sizes, keys = sign_documents(texts, titles, config, lsh.num_perm, lsh.seed,
                                       lsh.lsh_bands, lsh.lsh_rows)
    return Signed(uniq, sizes, keys)


def _timestamp(value: datetime | None) -> int:
    """Microseconds since the epoch (naive = UTC); no date sorts last."""
    if value is None:
        return _NO_DATE
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1_000_000)


_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX_BITS = np.uint64(0xD6E8FEB86659FD93)  # another odd multiplier: the filter's bit


@njit(cache=True)
def _site_tables(boiler, b_off):  # pragma: no cover - compiled
    """Per site, an open-addressing hash set of its boilerplate shingles (at most half full)
    and in front of it a bit filter (8 bits a slot: a shingle whose bit is clear is not in the
    set, true for most, seen in one L1 read): (slots, used flags, each site's first slot, each
    site's shift to a slot, filter words, each site's first word, each site's shift to a
    bit)."""
    n_sites = b_off.shape[0] - 1
    t_off = np.zeros(n_sites + 1, np.int64)
    shift = np.zeros(n_sites, np.uint64)
    w_off = np.zeros(n_sites + 1, np.int64)
    w_shift = np.zeros(n_sites, np.uint64)
    for s in range(n_sites):
        bits = 3
        while (1 << bits) < 2 * (b_off[s + 1] - b_off[s]):
            bits += 1
        t_off[s + 1] = t_off[s] + (1 << bits)
        shift[s] = 64 - bits
        w_off[s + 1] = w_off[s] + max((1 << (bits + 3)) // 64, 1)
        w_shift[s] = 64 - (bits + 3)
    slots = np.zeros(t_off[n_sites], np.uint64)
    used = np.zeros(t_off[n_sites], np.bool_)
    words = np.zeros(w_off[n_sites], np.uint64)
    for s in range(n_sites):
        mask = t_off[s + 1] - t_off[s] - 1
        for e in range(b_off[s], b_off[s + 1]):
            x = boiler[e]
            i = np.int64((x * _MIX) >> shift[s])
            while used[t_off[s] + i] and slots[t_off[s] + i] != x:
                i = (i + 1) & mask
            slots[t_off[s] + i] = x
            used[t_off[s] + i] = True
            k = (x * _MIX_BITS) >> w_shift[s]
            words[w_off[s] + np.int64(k >> np.uint64(6))] |= np.uint64(1) << (k & np.uint64(63))
    return slots, used, t_off, shift, words, w_off, w_shift


@njit(cache=True, nogil=True)
def _content(shingles, row_off, site, order, slots, used, t_off, shift, words, w_off,
             w_shift):  # pragma: no cover - compiled
    """Per shingle: is it content (not boilerplate on its row's site); per row: how many are.
    Rows are visited in ``order`` (grouped by site, so a site's table stays in cache)."""
    keep = np.ones(shingles.shape[0], np.bool_)
    sizes = np.zeros(row_off.shape[0] - 1, np.int64)
    for r in order:
        s = site[r]
        base, mask, to_slot = t_off[s], t_off[s + 1] - t_off[s] - 1, shift[s]
        first_word, to_bit = w_off[s], w_shift[s]
        c = 0
        for i in range(row_off[r], row_off[r + 1]):
            x = shingles[i]
            k = (x * _MIX_BITS) >> to_bit
            if (words[first_word + np.int64(k >> np.uint64(6))] >> (k & np.uint64(63))) & 1:
                j = np.int64((x * _MIX) >> to_slot)
                while used[base + j]:
                    if slots[base + j] == x:
                        keep[i] = False
                        c -= 1
                        break
                    j = (j + 1) & mask
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
        while i < i_end and j < j_end:  # branch-free steps: the comparisons are random
            x, y = shingles[i], shingles[j]
            shared += (x == y) & keep[i] & keep[j]
            i += x <= y
            j += y <= x
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


@njit(cache=True, nogil=True)
def _distinct(keys):  # pragma: no cover - compiled
    """Distinct values of a sorted uint64 array and how many times each occurs (two compiled
    passes)."""
    n = keys.shape[0]
    m = 1 if n else 0
    for i in range(1, n):
        m += keys[i] != keys[i - 1]
    uniq = np.empty(m, np.uint64)
    counts = np.zeros(m, np.int64)
    k = -1
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            k += 1
            uniq[k] = keys[i]
        counts[k] += 1
    return uniq, counts


@njit(cache=True, nogil=True)
def _frequent(keys, least):  # pragma: no cover - compiled
    """The values of a sorted uint64 array that occur at least ``least`` times."""
    out = np.empty(keys.shape[0] // max(least, 1), np.uint64)
    m = 0
    i = 0
    while i < keys.shape[0]:
        j = i + 1
        while j < keys.shape[0] and keys[j] == keys[i]:
            j += 1
        if j - i >= least:
            out[m] = keys[i]
            m += 1
        i = j
    return out[:m].copy()


def _run_path(folder: Path, site: int, run: int, part: str) -> Path:
    return folder / f"{site}.{run:06d}.{part}.npy"


@njit(cache=True, nogil=True)
def _copy_pages(src, starts, lens, out, at):  # pragma: no cover - compiled
    """``out[at[p]:at[p] + lens[p]] = src[starts[p]:starts[p] + lens[p]]`` for every page."""
    for p in range(starts.shape[0]):
        out[at[p]:at[p] + lens[p]] = src[starts[p]:starts[p] + lens[p]]


@dataclass(slots=True)
class _Spooled:
    """One added batch's (shingle, page) entries, not yet counted: its rows grouped by site
    and, per page, where its distinct shingles are: in ``keys`` (the batch's ``uniq``, kept in
    memory) or, spilled, in the file ``path`` (grouped by site like the rows)."""

    base: int  # the batch's first row
    size: int  # its rows
    rows: np.ndarray  # int32: the batch's rows (archive numbering), grouped by site, stable
    lens: np.ndarray  # int64: each of those pages' shingle count
    starts: np.ndarray  # int64: each page's first shingle in ``keys`` or in the file
    cuts: dict[int, tuple[int, int]]  # site -> its slice of ``rows``
    keys: np.ndarray | None
    path: Path | None

    def site_pages(self, site: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(shingles, first shingle of each page in them, sizes, rows) of ``site``'s pages."""
        lo, hi = self.cuts[site]
        starts, lens = self.starts[lo:hi], self.lens[lo:hi]
        if self.keys is not None:
            return self.keys, starts, lens, self.rows[lo:hi]
        assert self.path is not None
        first = int(starts[0])
        src = read_direct(self.path, 8 * first,
                           8 * (int(starts[-1] + lens[-1]) - first)).view(np.uint64)
        return src, starts - first, lens, self.rows[lo:hi]


def _in_background(task: Callable[..., None], *args: object) -> Future:
    """Run ``task(*args)`` in a thread of its own (a write waiting on the disk while the
    caller computes); the future's ``result()`` waits for it and raises what it raised."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(task, *args)
    finally:
        pool.shutdown(wait=False)


def _count_site(folder: Path, site: int, min_pages: int, runs: int, spooled: list[_Spooled],
                writer: ThreadPoolExecutor) -> tuple[np.ndarray, np.ndarray, list[Future]]:
    """Fold the spooled shingles of ``site``'s new pages (each page's distinct ones, with the
    page's row) into its run number ``runs``: shingles sorted, with the row of each. Returns
    the shingles that reached ``min_pages`` pages with it, and the earlier rows holding them.

    A shingle's page count is its number of entries over the site's runs (each run's shingles
    read whole, looked up with ``searchsorted``; the rows of a run are mapped, only the few
    holding new boilerplate are read). Runs are written past the page cache by ``writer``
    (the futures of the writes are returned) and read past it."""
    parts = [part.site_pages(site) for part in spooled if site in part.cuts]
    n = sum(int(lens.sum()) for _, _, lens, _ in parts)
    key_buf, keys, key_end = npy_buffer(np.uint64, n)
    row_buf, rows, row_end = npy_buffer(np.int32, n)
    sort_ranges(parts, keys, rows)
    writes = [writer.submit(write_direct, _run_path(folder, site, runs, "keys"), key_buf,
                            key_end),
              writer.submit(write_direct, _run_path(folder, site, runs, "rows"), row_buf,
                            row_end)]
    if not runs:  # the site's first run: no earlier rows, one pass over the sorted shingles
        hit = _frequent(keys, min_pages) if min_pages > 0 else keys[:0].copy()
        return hit, np.zeros(0, np.int32), writes
    uniq, counts = _distinct(keys)
    old = np.zeros(uniq.shape[0], dtype=np.int64)
    spans = []
    for run in range(runs):
        run_keys = load_direct(_run_path(folder, site, run, "keys"))
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
    old_rows = np.unique(np.concatenate(held)) if held else np.zeros(0, np.int32)
    return uniq[crossed], old_rows, writes


class Archive:
    """Document-level stories of a large archive, kept in a directory (see the module doc).

    ``add`` signs documents (or takes ``Signed`` batches from workers via ``add_signed``),
    queries and grows the LSH and spools each batch's shingles (kept in memory up to
    ``spool_bytes`` of them, the later batches' written to disk); ``result`` counts the
    spooled shingles into the sites' runs, verifies new candidate pairs (and those of pages
    that hold new boilerplate) and groups copies; ``save`` writes the in-memory arrays.
    """

    def __init__(self, root: Path | str, config: DedupConfig | None = None,
                 spool_bytes: int = 512 << 20) -> None:
        self.root = Path(root)
        self.config = config or DedupConfig()
        self.spool_bytes = spool_bytes
        self._spooled: list[_Spooled] = []  # batches added since the last result()
        self._spool_held = 0  # bytes of spooled shingles kept in memory
        self._capacity: dict[str, np.ndarray] = {}  # per-row column -> its grown buffer
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
        self._gens = Generations(self.root, "archive.json")  # the saved arrays
        head = self._gens.header()
        if head is not None:
            self._load(head)
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
        sites and dates are read (texts may be gone). ``signed.uniq`` is kept, not copied,
        until ``result`` (while ``spool_bytes`` allows): do not change it."""
        base = len(self)
        n = len(docs)
        ids = np.fromiter((d.id for d in docs), dtype=np.int64, count=n)
        sites = np.fromiter((self._sites.setdefault(d.site, len(self._sites)) for d in docs),
                            dtype=np.int32, count=n)
        published = np.fromiter((_timestamp(d.published) for d in docs), dtype=np.int64,
                                count=n)
        uniq = np.ascontiguousarray(signed.uniq, dtype=np.uint64)
        sizes = np.asarray(signed.sizes, dtype=np.int64)
        kept = self._spool_held + uniq.nbytes <= self.spool_bytes
        # rows of a batch kept in memory are verified from there: its shingles go to the file
        # past the page cache; a spilled batch's are read back from the file, through it
        appending = _in_background(append_direct if kept else append_cached,
                                   self.root / "shingles.u64", uniq)
        try:  # the LSH is queried while the shingles go to disk
            if n:
                self._spool(sites, uniq, sizes, base, kept)
            pairs = self._lsh.add(signed.keys, np.arange(base, base + n, dtype=np.int32))
        finally:
            appending.result()
        self._append_rows({"_ids": ids, "_site": sites, "_published": published,
                           "_sizes": sizes, "_content": np.full(n, -1, np.int64)})
        self._pending.append(pairs)

    def _append_rows(self, columns: dict[str, np.ndarray]) -> None:
        """Append to the per-row arrays, each a view of a buffer grown by doubling."""
        n0 = len(self)
        for name, values in columns.items():
            n1 = n0 + values.shape[0]
            buf = self._capacity.get(name)
            if buf is None or buf.shape[0] < n1:
                buf = np.empty(max(n1, 2 * n0, 1024), getattr(self, name).dtype)
                buf[:n0] = getattr(self, name)
                self._capacity[name] = buf
            buf[n0:n1] = values
            setattr(self, name, buf[:n1])

    def _spool(self, sites: np.ndarray, uniq: np.ndarray, sizes: np.ndarray, base: int,
               kept: bool) -> None:
        """Spool each page's distinct shingles (``uniq``, ``sizes`` a page) for its site's count
        in ``result``: the batch's own array if ``kept`` (while ``spool_bytes`` allows), else
        written to a file grouped by site."""
        order = np.argsort(sites, kind="stable")
        grouped = sites[order]
        at = np.flatnonzero(np.diff(grouped)) + 1
        cuts = {int(grouped[lo]): (int(lo), int(hi)) for lo, hi in
                zip([0, *at.tolist()], [*at.tolist(), order.shape[0]], strict=True)}
        lens = sizes[order]
        starts = (np.cumsum(sizes) - sizes)[order]
        rows = (order + base).astype(np.int32)
        n = sites.shape[0]
        if kept:
            self._spool_held += uniq.nbytes
            self._spooled.append(_Spooled(base, n, rows, lens, starts, cuts, uniq, None))
        else:
            path = self.root / "counts" / f"spool.{len(self._spooled):06d}.u64"
            buf, at = aligned(uniq.nbytes), np.cumsum(lens) - lens
            _copy_pages(uniq, starts, lens, buf.view(np.uint64)[:uniq.shape[0]], at)
            write_direct(path, buf, uniq.nbytes)
            self._spooled.append(_Spooled(base, n, rows, lens, at, cuts, None, path))
        self._dirty_sites.update(cuts)

    # -- deciding ---------------------------------------------------------------------------

    def result(self, workers: int = 0) -> np.ndarray:
        """Per row, the row of its story's canonical page (a page alone is its own). Site
        counts and verification run in ``workers`` threads (0: one per core, at most 4)."""
        workers = workers or min(os.cpu_count() or 1, 4)
        spooled, self._spooled, self._spool_held = self._spooled, [], 0
        held = self._count(workers, spooled)
        new = np.unique(np.concatenate(self._pending)) if self._pending else self._pairs[:0]
        self._pending = []
        self._reverify(held)
        self._merge_pairs(new)
        self._verify_pending(workers, [(p.base, p.size, p.keys) for p in spooled
                                       if p.keys is not None])
        for part in spooled:
            if part.path is not None:
                part.path.unlink()
        copies = self._pairs[self._copy == 1]
        roots = union_roots(len(self), copies >> 32, copies & 0xFFFFFFFF)
        self._story = self._canonical(roots)
        return self._story

    def _reverify(self, rows: np.ndarray) -> None:
        """Mark for verification the verified pairs of ``rows``: pages holding a shingle that
        just became boilerplate on their site (their content shrank)."""
        if rows.size and self._pairs.size:
            stale = np.isin(self._pairs >> 32, rows) | np.isin(self._pairs & 0xFFFFFFFF, rows)
            self._copy[stale] = -1

    def _count(self, workers: int, spooled: list[_Spooled]) -> np.ndarray:
        """Fold the ``spooled`` shingles into the sites' page counts; grow boilerplate sets.
        Returns the earlier rows holding a shingle that became boilerplate."""
        folder = self.root / "counts"
        sites = sorted(self._dirty_sites)
        self._dirty_sites = set()
        limit = self.config.boilerplate_min_pages
        runs = [self._runs.get(s, 0) for s in sites]
        # file reads and compiled sorts release the GIL; more threads write the runs (they
        # mostly wait on the disk)
        with ThreadPoolExecutor(4) as writer, ThreadPoolExecutor(workers) as pool:
            got = list(pool.map(_count_site, [folder] * len(sites), sites,
                                [limit] * len(sites), runs, [spooled] * len(sites),
                                [writer] * len(sites)))
        for _, _, writes in got:
            for write in writes:
                write.result()
        held = [np.zeros(0, np.int32)]
        for site, (hit, rows, _) in zip(sites, got, strict=True):
            self._runs[site] = self._runs.get(site, 0) + 1
            if hit.size:
                old = self._boiler.get(site)
                self._boiler[site] = hit if old is None else np.sort(np.concatenate([old, hit]))
                held.append(rows)
        return np.concatenate(held)

    def _merge_pairs(self, new: np.ndarray) -> None:
        if not new.size:
            return
        merged = np.unique(np.concatenate([self._pairs, new]))
        copy = np.full(merged.shape[0], -1, np.int8)
        copy[np.searchsorted(merged, self._pairs)] = self._copy
        self._pairs, self._copy = merged, copy

    def _site_sets(self, sets: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-site sorted sets concatenated in site order, and each site's offsets."""
        n_sites = max(len(self._sites), 1)
        parts = [sets.get(s, np.zeros(0, np.uint64)) for s in range(n_sites)]
        b_off = np.concatenate(([0], np.cumsum([p.shape[0] for p in parts]))).astype(np.int64)
        return np.concatenate(parts).astype(np.uint64), b_off

    def _read_rows(self, rows: np.ndarray, row_off: np.ndarray,
                   memory: list[tuple[int, int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """The distinct shingles of ``rows`` (sorted, unique; ``row_off``: each row's first
        shingle in the file) in one private buffer, and their offsets in it: copied from the
        batches still in ``memory`` ((first row, rows, shingles) of each), the others read
        from the shingle file by offset (``blockio.read_ranges``)."""
        sizes = self._sizes[rows]
        local = np.zeros(rows.shape[0] + 1, np.int64)
        np.cumsum(sizes, out=local[1:])
        buf = np.empty(int(local[-1]), dtype=np.uint64)
        on_disk = sizes > 0
        for base, n, keys in memory:
            lo, hi = np.searchsorted(rows, [base, base + n])
            if hi > lo:
                _copy_pages(keys, row_off[rows[lo:hi]] - row_off[base], sizes[lo:hi], buf,
                            local[lo:hi])
                on_disk[lo:hi] = False
        read = np.flatnonzero(on_disk)
        if read.size and not read_ranges(self.root / "shingles.u64", buf, local[read],
                                         row_off[rows[read]], sizes[read]):
            raise ArchiveMismatch("the shingle file is shorter than the archive says")
        return buf, local

    def _verify_chunk(self, a: np.ndarray, b: np.ndarray, tables: tuple[np.ndarray, ...],
                      row_off: np.ndarray,
                      memory: list[tuple[int, int, np.ndarray]]) -> tuple[np.ndarray, ...]:
        """``_verify`` of the pairs of rows ``a[i]``, ``b[i]``, their rows read once."""
        rows = np.unique(np.concatenate([a, b]))
        shingles, offsets = self._read_rows(rows, row_off, memory)
        return _verify(shingles, offsets, self._site[rows], tables, np.searchsorted(rows, a),
                       np.searchsorted(rows, b))

    def _verified(self, a: np.ndarray, b: np.ndarray, workers: int,
                  memory: list[tuple[int, int, np.ndarray]]
                  ) -> Iterator[tuple[slice, tuple[np.ndarray, ...]]]:
        """``_verify`` of the pairs of rows ``a[i]``, ``b[i]``: (slice of the pairs, (shared,
        content of a, content of b)) a chunk at a time, chunks in ``workers`` threads (reads and
        compiled kernels release the GIL); ``memory``: the spooled batches still in memory
        ((first row, rows, shingles) of each)."""
        tables = _site_tables(*self._site_sets(self._boiler))
        row_off = np.concatenate(([0], np.cumsum(self._sizes)))
        parts = [slice(lo, lo + _PAIR_CHUNK) for lo in range(0, a.shape[0], _PAIR_CHUNK)]
        with ThreadPoolExecutor(workers) as pool:
            yield from zip(parts, pool.map(
                lambda part: self._verify_chunk(a[part], b[part], tables, row_off, memory),
                parts), strict=True)

    def _verify_pending(self, workers: int, memory: list[tuple[int, int, np.ndarray]]) -> None:
        """Exact containment of every pair marked -1 (``_verified``)."""
        todo = np.flatnonzero(self._copy < 0)
        if not todo.size:
            return
        pairs = self._pairs[todo]
        a, b = pairs >> 32, pairs & 0xFFFFFFFF
        share = self.config.copy_containment
        for part, (inter, ca, cb) in self._verified(a, b, workers, memory):
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

    @property
    def story(self) -> np.ndarray:
        """Per row, the row of its story's canonical page as last decided (``result``, or the
        saved archive; rows added since are not covered). Read only."""
        return self._story

    def containment(self, rows: np.ndarray, of: np.ndarray) -> np.ndarray:
        """Per pair ``rows[i]``, ``of[i]``: the share of ``rows[i]``'s content shingles (its
        distinct shingles that are not its site's boilerplate) that ``of[i]``'s content holds;
        1.0 for a row against itself or with no content. Call after ``result``."""
        out = np.ones(rows.shape[0])
        todo = np.flatnonzero(rows != of)
        if todo.size:
            for part, (inter, size, _) in self._verified(rows[todo], of[todo], 1, []):
                out[todo[part]] = np.where(size > 0, inter / np.maximum(size, 1), 1.0)
        return out

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
        for path in [*folder.glob("spool.*.u64"), *folder.glob("*.raw"), *folder.glob("*.rows")]:
            path.unlink()  # (.raw and .rows: the spools of archives before in-memory spools)
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
        already on disk. Crash-safe: the arrays go to new files of the next generation, the
        header naming that generation replaces the old one atomically, and only then are the old
        generation's files removed; a crash at any point leaves one complete generation."""
        if self._pending or self._dirty_sites:
            raise ValueError("call result() before save(): documents are not counted yet")
        arrays = {"ids": self._ids, "site": self._site, "published": self._published,
                  "sizes": self._sizes, "content": self._content, "story": self._story,
                  "pairs": self._pairs, "copy": self._copy}
        arrays["lsh_keys"], arrays["lsh_rows"] = self._lsh.merged()
        boiler, b_off = self._site_sets(self._boiler)
        arrays |= {"boiler": boiler, "boiler_off": b_off}
        self._gens.save(arrays, self._header())

    def _load(self, head: dict) -> None:
        if head.get("format") != FORMAT:
            raise OutdatedArchive(f"archive format {head.get('format')!r} != {FORMAT}, stored by "
                                  f"{built_by(head.get('params'))}", "rebuild it")
        changes = self.config.pinned_changes(head.get("params"))
        if changes:
            raise OutdatedArchive(f"archive built with other fingerprint parameters ({changes})",
                                  "rebuild it")
        self._drop_unsaved(head)
        self._runs = {int(s): n for s, n in head["runs"].items()}
        self._gens.recover(head)
        arr = self._gens.load
        self._ids, self._site, self._published = arr("ids"), arr("site"), arr("published")
        self._sizes, self._content, self._story = arr("sizes"), arr("content"), arr("story")
        self._pairs, self._copy = arr("pairs"), arr("copy")
        self._lsh.load([Run(arr("lsh_keys"), arr("lsh_rows"))])
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
