"""DedupIndex: the incremental, persistable state of deduplication (plain data, no DB)."""

from __future__ import annotations

import itertools
import os
import re
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from importlib.metadata import version
from pathlib import Path

import numpy as np
import xxhash

from dedup.align import Alignment, Passage, align_many
from dedup.arrays import gather_ranges
from dedup.blockio import (
    TMP_SUFFIX,
    Generations,
    append_cached,
    fsync_path,
    read_ranges,
    write_npy,
)
from dedup.boilerplate import BoilerplateModel
from dedup.canonical import CanonicalChoice, FactsCache, choose_canonical, utc_naive
from dedup.cluster import star_components
from dedup.config import DedupConfig, Outdated, built_by
from dedup.lsh import BandIndex, Run
from dedup.model import DedupResult, Document, PassageLink, Story
from dedup.relations import (
    AlignmentGraph,
    compilations,
    copy_edges,
    drop_mutual,
    drop_relayed,
    drop_templates,
    link_directions,
)
from dedup.shingles import Fingerprint, fingerprint_batch, sign_batch

_FORMAT = 4  # ``save``: append-only columns and band runs (3: whole arrays, read once)
_HEADER = "index.json"  # a saved index's header (``save``), naming its generation
_BANDS = "bands"  # the saved index's band runs, inside its folder
#: Append-only columns of a saved index (``save``): name -> little-endian dtype.
_LOGS = {"doc.id": "<i8", "doc.digest": "<u8", "fp.n": "<u4", "shingles": "<u8",
         "cand": "<i8", "al.pair": "<i8", "al.ok": "u1", "al.f": "<f8", "al.np": "<u4",
         "al.p": "<u4"}
#: The alignment columns are rewritten when they hold more than twice the live entries plus
#: this many (pairs verified again after their boilerplate grew leave stale entries).
_MIN_REWRITE = 4096


class IndexMismatch(ValueError):
    """A stored index was built with other fingerprint parameters, seed, scheme or version."""


class StaleDocuments(IndexMismatch):
    """An index stored without texts does not match the documents given back to it."""


class OutdatedIndex(Outdated, IndexMismatch):
    """A stored index of another format or other pinned parameters (``Outdated``)."""


class DedupIndex:
    """Documents, their fingerprints and the passage LSH, matched incrementally.

    ``add(docs)`` fingerprints new documents in one compiled batch, signs their passage windows
    and looks their band keys up in the sorted LSH arrays of every stored document; candidate
    pairs are kept. ``result()`` verifies candidates exactly against the current boilerplate
    model and clusters them; verified alignments are cached (and stored) until a side's
    boilerplate mask changes, so an incremental run aligns only the pairs of new pages and of
    pages whose site template grew. Candidate generation is deterministic per pair, so adding
    documents in any batches gives the same result as one rebuild.

    Storage is columnar: documents get rows in arrival order; their fingerprints are one
    column of shingle hashes (``_Shingles``: the rows saved read back by offset from the saved
    file when needed, the others in memory; token offsets are recomputed from the text when a
    passage needs character spans), boilerplate masks computed from the per-site boilerplate
    sets when rows are read, the LSH sorted runs (memory-mapped once saved) and the candidates
    one sorted array of row pairs (``a << 32 | b``).
    """

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._docs: dict[int, Document] = {}
        self._row: dict[int, int] = {}
        self._ids = np.zeros(0, dtype=np.int64)  # row -> document id
        self._site_row = np.zeros(0, dtype=np.int64)  # row -> site code
        self._site_code: dict[str, int] = {}
        self._sh = _Shingles()  # every row's shingle hashes
        self._boilerplate = BoilerplateModel(self.config.boilerplate_min_pages)
        self._bands = BandIndex(self.config)
        self._cand = np.zeros(0, dtype=np.int64)
        # Exact alignment (None: nothing shared) of every verified candidate pair, valid for the
        # current boilerplate masks: a pair is dropped when a side's mask changes.
        self._aligned: dict[tuple[int, int], Alignment | None] = {}
        self._checked = np.zeros(0, dtype=np.int64)  # sorted codes of _cand in _aligned
        self._dropped = np.zeros(0, dtype=np.int64)  # codes dropped from _checked since a save
        self._facts = FactsCache(self._docs)
        self._result = _ResultCache()
        # (folder, generation) this index was opened from or last saved to: a save there
        # appends; rows from _al_from on may have verified pairs the folder does not hold yet
        self._saved: tuple[Path, int] | None = None
        self._al_from = 0

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    @property
    def documents(self) -> dict[int, Document]:
        return dict(self._docs)

    def _site(self, site: str) -> int:
        code = self._site_code.get(site)
        if code is None:
            code = self._site_code[site] = len(self._site_code)
        return code

    def add(self, docs: Iterable[Document], batch: int = 20000, workers: int = 1) -> None:
        """Index new documents and match them against every stored one.

        Documents are fingerprinted and signed in batches of ``batch``; with ``workers`` > 1 and
        several batches, batches are signed in that many processes (forkserver) while this one
        merges them in order: the result does not depend on batches or workers.
        """
        new: list[Document] = []
        for doc in sorted(docs, key=lambda d: d.id):
            known = self._docs.get(doc.id)
            if known is not None:
                if known != doc:
                    raise ValueError(f"document {doc.id} is already indexed with other content")
                continue
            if new and new[-1].id == doc.id:
                raise ValueError(f"document {doc.id} given twice")
            new.append(doc)
        if not new:
            return
        chunks = [new[i:i + batch] for i in range(0, len(new), batch)]
        jobs = [([d.text for d in c], [d.title for d in c]) for c in chunks]
        if workers > 1 and len(chunks) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=ctx) as pool:
                pending = deque()  # at most `workers` batches in flight: bounded memory
                for i, (texts, titles) in enumerate(jobs):
                    pending.append(pool.submit(sign_batch, texts, titles, self.config, 1))
                    if len(pending) > workers:
                        self._append(chunks[i - workers], *pending.popleft().result())
                for i in range(len(jobs) - len(pending), len(jobs)):
                    self._append(chunks[i], *pending.popleft().result())
        else:
            for chunk, (texts, titles) in zip(chunks, jobs, strict=True):
                self._append(chunk, *sign_batch(texts, titles, self.config))

    def _append(self, new: list[Document], doc_sh: np.ndarray, hashes: np.ndarray,
                keys: np.ndarray, key_rows: np.ndarray) -> None:
        base = len(self._ids)
        if base + len(new) >= 2**31:
            raise ValueError("an index holds at most 2**31 documents")
        sites = np.fromiter((self._site(d.site) for d in new), dtype=np.int64, count=len(new))
        for r, d in enumerate(new):
            self._docs[d.id] = d
            self._row[d.id] = base + r
        self._ids = np.concatenate([self._ids, [d.id for d in new]]).astype(np.int64)
        self._site_row = np.concatenate([self._site_row, sites])
        self._sh.append(doc_sh, hashes)
        self._invalidate(self._boilerplate.add(sites, hashes, doc_sh), base)
        pairs = self._bands.add(keys, key_rows + base)
        self._cand = np.union1d(self._cand, pairs)

    def _append_loaded(self, docs: list[Document], shingles: _Shingles) -> None:
        """Rows of a stored index: documents as given, shingle hashes in their saved file;
        boilerplate counts recounted from them, a chunk of rows at a time (masks are membership
        in the sites' boilerplate sets: counts only grow, so that is what ``_invalidate``
        kept)."""
        sites = np.fromiter((self._site(d.site) for d in docs), dtype=np.int64, count=len(docs))
        for r, d in enumerate(docs):
            self._docs[d.id] = d
            self._row[d.id] = r
        self._ids = np.asarray([d.id for d in docs], dtype=np.int64)
        self._site_row = sites
        self._sh = shingles
        for lo, hi in shingles.chunks():
            hashes, doc_sh, _ = shingles.read(np.arange(lo, hi, dtype=np.int64))
            self._boilerplate.add(sites[lo:hi], hashes, doc_sh)

    def _rows(self, rows: np.ndarray, masks: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Shingle hashes of ``rows`` (sorted, distinct), offsets, where each row is in them,
        and their boilerplate masks (``masks``; from the sites' boilerplate sets), like
        ``_Shingles.read``."""
        hashes, doc_sh, pos = self._sh.read(rows)
        if not masks:
            return hashes, doc_sh, pos, None
        sites = self._site_row if len(doc_sh) == len(self._site_row) + 1 else self._site_row[rows]
        return hashes, doc_sh, pos, self._boilerplate.masks(sites, hashes, doc_sh)

    # -- verification and clustering -------------------------------------------------------

    def _invalidate(self, crossed: dict[int, np.ndarray], base: int) -> None:
        """Find the stored rows (before ``base``) whose masks changed with the sites' new
        boilerplate shingles ``crossed``; drop their cached alignments."""
        dirty: list[int] = []
        for site, crossing in crossed.items():
            rows = np.flatnonzero(self._site_row[:base] == site)
            if not rows.size:
                continue
            # a shingle that crossed was in no set before, so it was unmasked on every row
            hashes, doc_sh, pos, _ = self._rows(rows, masks=False)
            sizes = doc_sh[pos + 1] - doc_sh[pos]
            hit = np.isin(hashes[gather_ranges(doc_sh[pos], sizes)], crossing)
            if hit.any():
                dirty.extend(np.unique(np.repeat(rows, sizes)[hit]).tolist())
        if dirty:
            ids = set(self._ids[dirty].tolist())
            self._aligned = {k: v for k, v in self._aligned.items()
                             if k[0] not in ids and k[1] not in ids}
            rows, done = np.unique(dirty), self._checked
            gone = np.isin(done >> 32, rows) | np.isin(done & 0xFFFFFFFF, rows)
            self._dropped = np.union1d(self._dropped, done[gone])
            self._checked = done[~gone]

    def fingerprint_of(self, doc_id: int) -> Fingerprint:
        """The document's full fingerprint (token offsets for character spans), recomputed from
        its text: the index keeps only shingle hashes."""
        doc = self._docs[doc_id]
        return fingerprint_batch([doc.text], [doc.title], self.config).get(0)

    def _codes(self, pairs: np.ndarray) -> np.ndarray:
        """Sorted candidate codes (``_cand``: row pairs ``a << 32 | b``, a < b) of id pairs."""
        order = np.argsort(self._ids, kind="stable")
        rows = order[np.searchsorted(self._ids, pairs, sorter=order)].astype(np.int64)
        return np.unique((rows.min(axis=1, initial=2**62) << 32) | rows.max(axis=1, initial=-1))

    def candidate_pairs(self) -> np.ndarray:
        """(pairs, 2) document ids (a < b) of every candidate pair, sorted."""
        a = self._ids[self._cand >> 32]
        b = self._ids[self._cand & 0xFFFFFFFF]
        pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
        return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]

    def alignments(self) -> list[Alignment]:
        """Exact alignments of all candidate pairs that share a non-boilerplate passage.

        Pairs verified before are taken from the cache unless a side's mask changed since; the
        others are aligned in one compiled batch.
        """
        self._verify()
        cache = self._aligned
        out = []
        for pair in map(tuple, self.candidate_pairs().tolist()):
            al = cache[pair]
            if al is not None:
                out.append(al)
        return out

    def _verify(self) -> None:
        """Align the candidate pairs without a cached alignment (one compiled batch); keep the
        alignment graph current and note the documents whose alignments changed."""
        cand, done = self._cand, self._checked
        pos = np.searchsorted(done, cand)
        known = np.zeros(len(cand), dtype=bool)
        inside = pos < len(done)
        known[inside] = done[pos[inside]] == cand[inside]
        todo = cand[~known]
        graph = self._result.graph
        touched = self._result.touched
        if graph is None:
            graph = self._result.graph = _adjacency(self._aligned)
            touched.update(graph)
        if not len(todo):
            return
        ra, rb = todo >> 32, todo & 0xFFFFFFFF
        ia, ib = self._ids[ra], self._ids[rb]
        rows = np.unique(np.concatenate([ra, rb]))
        hashes, doc_sh, pos, mask = self._rows(rows)
        la, lb = pos[np.searchsorted(rows, ra)], pos[np.searchsorted(rows, rb)]
        swap = ia > ib
        a, b = np.where(swap, ib, ia), np.where(swap, ia, ib)
        found = align_many(a, np.where(swap, lb, la), b, np.where(swap, la, lb), hashes, mask,
                           doc_sh, self.config)
        a_ids, b_ids = a.tolist(), b.tolist()
        for x, y, al in zip(a_ids, b_ids, found, strict=True):
            self._aligned[(x, y)] = al
            _link(graph, x, y, al)
        touched.update(a_ids)
        touched.update(b_ids)
        self._checked = np.union1d(done, todo)

    def _content_of(self, ids: list[int]) -> dict[int, int]:
        """Document id -> its number of non-boilerplate shingles, for ``ids`` (reading only their
        shingles)."""
        rows, back = np.unique(np.fromiter(map(self._row.__getitem__, ids), dtype=np.int64,
                                           count=len(ids)), return_inverse=True)
        _, doc_sh, pos, mask = self._rows(rows)
        cum = np.concatenate(([0], np.cumsum(~mask, dtype=np.int64)))
        content = cum[doc_sh[pos + 1]] - cum[doc_sh[pos]]
        return dict(zip(ids, content[back].tolist(), strict=True))

    def result(self) -> DedupResult:
        """Stories (every document in exactly one) and passage links between stories.

        Everything decided for a document depends only on its component of the alignment graph
        (pages linked by shared passages). The stories and links of the last call are kept per
        component; a call decides again only the components holding a document whose alignments
        changed since (new pages, pages whose boilerplate mask changed), so the output equals a
        rebuild's while the work follows what changed.
        """
        self._verify()
        cache = self._result
        dirty = _closure(cache.graph, cache.touched)
        cache.touched = set()
        stories, links = self._decide(dirty)
        fresh = self._ids[cache.storied:]
        if dirty and len(fresh):
            fresh = fresh[~np.isin(fresh, np.fromiter(dirty, dtype=np.int64, count=len(dirty)))]
        cache.storied = len(self._ids)
        cache.replace(dirty, stories, links, fresh)
        return DedupResult(cache.stories(), list(cache.links), self.header()["params"])

    def _decide(self, dirty: set[int]) -> tuple[list[Story], list[PassageLink]]:
        """Stories and links of the documents ``dirty`` (whole alignment components): copy
        rules, star clustering, canonical pages, then directed passage links."""
        adj = self._result.graph
        nodes = sorted(d for d in dirty if d in adj)
        alignments = sorted((al for d in nodes for o, al in adj[d].items() if d < o),
                            key=lambda al: (al.a, al.b))
        graph = AlignmentGraph(alignments)
        docs = self._docs
        edges = copy_edges(graph, self.config, {i: docs[i].title for i in nodes})
        content = self._content_of(nodes)
        chosen: dict[tuple[int, ...], CanonicalChoice] = {}

        def canonical(members: tuple[int, ...]) -> CanonicalChoice:
            """``choose_canonical``, once per member set (star splitting asks again)."""
            got = chosen.get(members)
            if got is None:
                got = chosen[members] = choose_canonical(members, docs, content, self._facts)
            return got

        groups = star_components(nodes, [(i, o) for i, o, _ in edges],
                                 lambda members: canonical(members).doc)
        stories = [_single(d) for d in dirty if d not in adj]
        members_of: dict[int, tuple[int, ...]] = {}
        canonical_of: dict[int, int] = {}
        for members in groups:
            choice = canonical(members)
            sim = {}
            for m in members:
                al = graph.get(m, choice.doc)
                sim[m] = 1.0 if m == choice.doc else round(al.side(m)[0], 4) if al else 0.0
                members_of[m] = members
                canonical_of[m] = choice.doc
            stories.append(Story(members, choice.doc, choice.reason, sim))
        rank = {d: (utc_naive(docs[d].published), d) for d in nodes}
        compiled = compilations(graph, members_of, content)
        directed = [(al, q, s, passages) for al in alignments
                    if members_of[al.a] is not members_of[al.b]
                    for q, s, passages in link_directions(al, rank, graph, members_of, compiled,
                                                        self.config.edge_share,
                                                        self.config.lead_share, canonical_of)]
        links = self._links(directed)
        links = drop_templates(drop_mutual(drop_relayed(links)), compiled,
                               {i: docs[i].site for i in compiled})
        return stories, links

    def _links(self, directed: list[tuple[Alignment, int, int, tuple[Passage, ...]]]
               ) -> list[PassageLink]:
        """The passage links of directed passages (alignment, quoting doc, source doc,
        passages): character spans from the two pages' fingerprints, recomputed in one batch."""
        order = sorted({d for _, q, s, _ in directed for d in (q, s)})
        row = {d: r for r, d in enumerate(order)}
        docs = [self._docs[i] for i in order]
        batch = fingerprint_batch([d.text for d in docs], [d.title for d in docs], self.config)
        found = []  # quoting doc, source doc, its first and last shingle, the source's, matched
        for al, q, s, passages in directed:
            for p in passages:
                if q == al.a:
                    found.append((q, s, p.a_first, p.a_last, p.b_first, p.b_last, p.matched))
                else:
                    found.append((q, s, p.b_first, p.b_last, p.a_first, p.a_last, p.matched))
        if not found:
            return []
        arr = np.asarray(found, dtype=np.int64)
        rows = np.fromiter(map(row.__getitem__, arr[:, :2].reshape(-1).tolist()), dtype=np.int64,
                           count=2 * len(found)).reshape(-1, 2)
        q0, q1 = batch.char_spans(rows[:, 0], arr[:, 2], arr[:, 3])
        s0, s1 = batch.char_spans(rows[:, 1], arr[:, 4], arr[:, 5])
        by_id = self._docs
        return [PassageLink(q, s, by_id[q].text[a:b], a, b, c, d, round(m / (ql - qf + 1), 4))
                for (q, s, qf, ql, _, _, m), a, b, c, d in zip(
                    found, q0.tolist(), q1.tolist(), s0.tolist(), s1.tolist(), strict=True)]

    # -- persistence ----------------------------------------------------------------------

    def header(self) -> dict[str, object]:
        return {"format": _FORMAT, "params": self.config.fingerprint_params(),
                "config": asdict(self.config), "datasketch": version("datasketch"),
                "documents": len(self._docs)}

    def _row_arrays(self, first: int) -> dict[str, np.ndarray]:
        """The per-row columns of rows ``first`` on: ids, document digests, shingle counts."""
        docs = [self._docs[i] for i in self._ids[first:].tolist()]
        return {"doc.id": self._ids[first:].astype("<i8"),
                "doc.digest": np.fromiter(map(_digest, docs), dtype="<u8", count=len(docs)),
                "fp.n": np.diff(self._sh.offsets[first:]).astype("<u4")}

    def _alignment_arrays(self, pairs: list[tuple[int, int]],
                          gone: list[tuple[int, int]]) -> dict[str, np.ndarray]:
        """Verified pairs as arrays: ``al.ok`` 1 with an alignment (its features, passage count
        and passages in ``al.f``, ``al.np``, ``al.p``), 0 for nothing shared, 2 for a pair
        dropped since (``gone``, listed first: a later entry of a pair overrides an earlier)."""
        als = [self._aligned[p] for p in pairs]
        found = [al for al in als if al is not None]
        return {
            "al.pair": np.asarray(gone + pairs, dtype="<i8").reshape(-1, 2),
            "al.ok": np.asarray([2] * len(gone) + [al is not None for al in als], dtype=np.uint8),
            "al.f": np.asarray([(al.cover_a, al.cover_b, al.lead_a, al.lead_b, al.jaccard)
                                for al in found], dtype="<f8").reshape(-1, 5),
            "al.np": np.asarray([len(al.passages) for al in found], dtype=np.int64),
            "al.p": np.asarray([(p.a_first, p.a_last, p.b_first, p.b_last, p.matched)
                                for al in found for p in al.passages],
                               dtype=np.int64).reshape(-1, 5)}

    def save(self, folder: Path | str) -> None:
        """Store the index without texts (only each document's digest: the caller keeps the
        documents and passes them back to ``open``) as files in ``folder``; a save writes what
        changed since the last one, not the whole index.

        - Append-only columns (``_LOGS``: ``<name>.<n>.<dtype>``, e.g. ``shingles.<n>.u64``):
          per row its id, digest and shingle count, every row's shingle hashes, the candidate
          row pairs, and the verified pairs with their alignments (an entry per pair verified
          since the last save; a pair verified again overrides its earlier entry, one dropped
          since gets a tombstone; rewritten whole when most entries are stale).
        - Band keys as sorted runs (``bands/run.<n>.keys.npy``, ``.rows.npy``): a run is
          written once, when it first exists (a batch's keys, or runs merged in memory).
        - The decided stories and links (small) as ``.npy`` files of the next generation
          (``dedup.blockio.Generations``).
        - ``index.json`` (header, the columns' files and lengths, the runs) names all of it and
          is replaced atomically, after everything it names is fsynced.

        An index that was not opened from (or last saved to) this folder, a rebuild, starts new
        columns and writes all its runs, so it too leaves the old index whole until its header
        is in place. A crash (kill -9) at any point leaves the previous save whole; ``open``
        truncates the columns to their recorded lengths and drops unnamed files."""
        folder = Path(folder)
        (folder / _BANDS).mkdir(parents=True, exist_ok=True)
        gens = Generations(folder, _HEADER)
        try:
            head = gens.header()
        except ValueError:  # unreadable: nothing to extend, replaced below
            head = None
        ours = head is not None and head.get("format") == _FORMAT
        if head is not None:
            gens.recover(head)
        if ours:
            _drop_unnamed(folder, head)
        same = ours and self._saved == (folder.resolve(), head["generation"])
        logs: dict[str, list] = dict(head["logs"]) if same else {}
        gen = gens.generation + 1
        saved_rows = logs["doc.id"][1] if same else 0
        tails = self._row_arrays(saved_rows)
        tails["shingles"] = self._sh.since(saved_rows).astype("<u8", copy=False)
        cand = self._cand
        tails["cand"] = cand[(cand & 0xFFFFFFFF) >= saved_rows] if same else cand
        entries = logs["al.ok"][1] if same else 0
        if same and entries <= 2 * len(self._aligned) + _MIN_REWRITE:
            done, dropped = self._checked, self._dropped
            again = np.isin(dropped, done)
            codes = np.union1d(done[(done & 0xFFFFFFFF) >= self._al_from], dropped[again])
            tails.update(self._alignment_arrays(self._pairs_of(codes),
                                                self._pairs_of(dropped[~again])))
        else:  # every verified pair, in new files
            tails.update(self._alignment_arrays(sorted(self._aligned), []))
            for name in _LOGS:
                if name.startswith("al."):
                    logs.pop(name, None)
        for name, tail in tails.items():
            dtype = np.dtype(_LOGS[name])
            if name in logs:
                file, count = logs[name]
                os.truncate(folder / file, count * dtype.itemsize)
            else:
                file, count = f"{_file_name(name)}.{gen}.{dtype.kind}{8 * dtype.itemsize}", 0
                (folder / file).write_bytes(b"")
            flat = tail.astype(dtype, copy=False).reshape(-1)
            append_cached(folder / file, flat)
            fsync_path(folder / file)
            logs[name] = [file, count + len(flat)]
        runs = self._bands.runs
        names = [r.name if same else None for r in runs]
        number = max(head["runs"], default=0) if ours else 0  # new runs: numbers not in use
        for i, run in enumerate(runs):
            if names[i] is None:
                number = names[i] = number + 1
                for part, arr in (("keys", run.keys.astype("<u8", copy=False)),
                                  ("rows", _small(run.rows))):
                    write_npy(folder / _BANDS / f"run.{number}.{part}.npy", arr)
        fsync_path(folder / _BANDS)
        arrays = self._result.arrays(self)
        al_from = len(self._ids) if len(self._checked) == len(self._cand) else (
            self._al_from if same else 0)
        head = {**self.header(), "arrays": list(arrays), "logs": logs, "runs": names,
                "aligned_rows": al_from}
        gens.save({_file_name(k): v for k, v in arrays.items()}, head)
        _drop_unnamed(folder, head)
        for run, name in zip(runs, names, strict=True):
            if run.name != name:  # written now: read from its files from now on
                run.keys, run.rows = _map_run(folder, name)
            run.name = name
        self._sh.saved(folder / logs["shingles"][0], len(self._ids))
        self._saved = (folder.resolve(), gens.generation)
        self._al_from, self._dropped = al_from, self._dropped[:0]

    def _pairs_of(self, codes: np.ndarray) -> list[tuple[int, int]]:
        """Document id pairs (a < b, sorted) of candidate codes (row pairs)."""
        a, b = self._ids[codes >> 32], self._ids[codes & 0xFFFFFFFF]
        return sorted(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True))

    @classmethod
    def open(cls, folder: Path | str, config: DedupConfig | None = None,
             documents: Mapping[int, Document] | None = None,
             recover: bool = True) -> DedupIndex | None:
        """The index ``save`` stored in ``folder`` (None when it holds none), its documents
        taken from ``documents`` (id -> Document): ``StaleDocuments`` when one is missing or
        changed since, ``IndexMismatch`` when it was built with other pinned parameters or by
        another version, or cannot be read. ``recover`` (the one writer):
        remove what an unfinished save left (column tails past the recorded lengths, unnamed
        files); without it nothing is changed (a reader beside the writer). A folder of an
        earlier format is ``IndexMismatch``: it holds an earlier algorithm's decisions too."""
        folder = Path(folder)
        gens = Generations(folder, _HEADER)
        try:
            head = gens.header()
        except ValueError as exc:
            raise IndexMismatch(f"unreadable {gens.header_path} ({exc}); {REBUILD_ADVICE}") from exc
        if head is None:
            return None
        config = cls._checked_config(head, config)
        try:
            arrays, runs, shingles = _read_files(folder, head, gens, recover)
            index = cls._from_arrays(arrays, config, head, documents, runs, shingles)
        except StaleDocuments:
            raise
        except (OSError, ValueError, KeyError, IndexError, TypeError, zlib.error) as exc:
            raise IndexMismatch(f"corrupt index in {folder} ({exc}); {REBUILD_ADVICE}") from exc
        if _same_cache(head, config):  # its alignments as stored: later saves extend them
            index._saved = (folder.resolve(), gens.generation)
            index._al_from = int(head["aligned_rows"])
        return index

    @staticmethod
    def _checked_config(head: dict, config: DedupConfig | None) -> DedupConfig:
        """``config`` (None: the stored one) after checking a stored header against it:
        ``OutdatedIndex`` for another format or other pinned parameters."""
        fmt = head.get("format")
        if fmt != _FORMAT:
            raise OutdatedIndex(f"index format {fmt!r} != {_FORMAT}, stored by "
                                f"{built_by(head.get('params'))}", REBUILD_ADVICE)
        if not isinstance(head.get("config"), dict) or not isinstance(head.get("params"), dict):
            raise IndexMismatch(f"index header without parameters; {REBUILD_ADVICE}")
        if config is None:
            known = {f.name for f in fields(DedupConfig)}
            config = DedupConfig(**{k: v for k, v in head["config"].items() if k in known})
        changes = config.pinned_changes(head["params"])
        if changes:
            raise OutdatedIndex(f"index built with other parameters ({changes})", REBUILD_ADVICE)
        return config

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], config: DedupConfig, head: dict,
                     documents: Mapping[int, Document] | None, runs: list[Run],
                     shingles: _Shingles) -> DedupIndex:
        """An index of its stored arrays, band runs and shingle column (``_read_files``). In
        ``al.*`` a later entry of a pair overrides an earlier one (``al.ok`` 2: dropped)."""
        index = cls(config)
        if documents is None:
            raise StaleDocuments("the index was stored without texts: pass the documents")
        docs = []
        for doc_id, digest in zip(arrays["doc.id"].tolist(), arrays["doc.digest"].tolist(),
                                  strict=True):
            doc = documents.get(doc_id)
            if doc is None or _digest(doc) != digest:
                raise StaleDocuments(f"document {doc_id} is gone or changed since the index "
                                     "was stored")
            docs.append(doc)
        if len(docs):
            index._append_loaded(docs, shingles)
        index._bands.load(runs)
        index._cand = np.sort(arrays["cand"].astype(np.int64))
        if not _same_cache(head, config):  # alignments depend on these decision thresholds
            return index
        feats = arrays["al.f"].tolist()
        p_off = _offsets(arrays["al.np"]).tolist()
        passages = [Passage(*p) for p in arrays["al.p"].tolist()]
        r = 0
        for (a, b), ok in zip(arrays["al.pair"].tolist(), arrays["al.ok"].tolist(), strict=True):
            if ok != 1:
                if ok:
                    index._aligned.pop((a, b), None)
                else:
                    index._aligned[(a, b)] = None
                continue
            index._aligned[(a, b)] = Alignment(a, b, tuple(passages[p_off[r]:p_off[r + 1]]),
                                               *feats[r])
            r += 1
        index._checked = index._codes(np.asarray(list(index._aligned),
                                                 dtype=np.int64).reshape(-1, 2))
        if "res.n" in arrays and head["config"] == asdict(config):
            index._result.load(arrays, index)
        return index


_STR_FIELDS = ("url", "site", "text", "title", "author", "published", "canonical_url")
#: Config fields that are not pinned but decide boilerplate masks and alignments: a stored
#: index loaded with other values drops its cached masks and alignments.
_CACHE_PARAMS = ("boilerplate_min_pages", "min_passage_shingles", "max_gap")
REBUILD_ADVICE = "run `newsdedup dedup --rebuild`"


def _same_cache(head: dict, config: DedupConfig) -> bool:
    """Whether a stored index's alignments hold for ``config`` (same ``_CACHE_PARAMS``)."""
    return all(head["config"].get(k) == getattr(config, k) for k in _CACHE_PARAMS)


def _read_files(folder: Path, head: dict, gens: Generations, recover: bool
                ) -> tuple[dict[str, np.ndarray], list[Run], _Shingles]:
    """The arrays, band runs (memory-mapped) and shingle column (read by offset when needed)
    of a folder ``save`` wrote (format 4); ``recover``: first truncate the columns to their
    recorded lengths and remove unnamed files (what a save killed before its header left)."""
    arrays: dict[str, np.ndarray] = {}
    for name, (file, count) in head["logs"].items():
        path, dtype = folder / file, np.dtype(_LOGS[name])
        if path.stat().st_size < count * dtype.itemsize:
            raise ValueError(f"{path} is shorter than {_HEADER} says")
        if recover:
            os.truncate(path, count * dtype.itemsize)
        if name != "shingles":
            arrays[name] = np.fromfile(path, dtype=dtype, count=count)
    if recover:
        gens.recover(head)
        _drop_unnamed(folder, head)
    else:
        gens.generation = int(head["generation"])
    arrays["al.pair"] = arrays["al.pair"].reshape(-1, 2)
    arrays["al.f"] = arrays["al.f"].reshape(-1, 5)
    arrays["al.p"] = arrays["al.p"].reshape(-1, 5)
    arrays |= {name: gens.load(_file_name(name)) for name in head["arrays"]}
    runs = [Run(*_map_run(folder, n), n) for n in head["runs"]]
    file, count = head["logs"]["shingles"]
    offsets = _offsets(arrays["fp.n"])
    if offsets[-1] != count:
        raise ValueError(f"{count} shingle hashes for {int(offsets[-1])}")
    return arrays, runs, _Shingles(offsets, path=folder / file, stored=len(offsets) - 1)


_COLUMN_FILE = re.compile(r"[a-z_]+\.\d+\.[uif]\d+")


def _drop_unnamed(folder: Path, head: dict) -> None:
    """Remove the column files and band runs of ``folder`` its header ``head`` does not name:
    an index it replaced, or what a crashed save began."""
    keep = {file for file, _ in head["logs"].values()}
    (folder / (_HEADER + TMP_SUFFIX)).unlink(missing_ok=True)  # a header never put in place
    for path in folder.iterdir():
        if _COLUMN_FILE.fullmatch(path.name) and path.name not in keep:
            path.unlink()
    runs = {f"run.{n}.{part}.npy" for n in head["runs"] for part in ("keys", "rows")}
    for path in (folder / _BANDS).iterdir():
        if path.name not in runs:
            path.unlink()


def _file_name(name: str) -> str:
    """The file name of array ``name`` (``Generations`` names files ``<name>.<gen>.npy``)."""
    return name.replace(".", "_")


def _digest(doc: Document) -> int:
    """64-bit digest of every stored field of a document."""
    parts = [str(doc.id)]
    for name in _STR_FIELDS:
        value = getattr(doc, name)
        if name == "published" and value is not None:
            value = value.isoformat()
        parts.append("\x00" if value is None else value)
    return xxhash.xxh64_intdigest("\x1e".join(parts).encode("utf-8", "surrogatepass"))


def _small(values: object) -> np.ndarray:
    """Non-negative integers in the narrowest little-endian unsigned dtype (int64 if any < 0)."""
    arr = np.asarray(values, dtype=np.int64)
    if arr.size == 0:
        return arr.astype(np.uint8)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0:
        return arr.astype("<i8")
    for dt in ("u1", "<u2", "<u4"):
        if hi <= np.iinfo(dt).max:
            return arr.astype(dt)
    return arr.astype("<u8")


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts.astype(np.int64))))


def _put_strings(arrays: dict[str, np.ndarray], name: str, values: list[str | None]) -> None:
    raw = [v.encode() if v is not None else b"" for v in values]
    arrays[f"{name}.len"] = np.asarray([len(b) if v is not None else -1
                                        for b, v in zip(raw, values, strict=True)], dtype="<i8")
    arrays[f"{name}.z"] = np.frombuffer(zlib.compress(b"".join(raw), 1), dtype=np.uint8)


def _get_strings(arrays: dict[str, np.ndarray], name: str) -> list[str | None]:
    blob = zlib.decompress(arrays[f"{name}.z"].tobytes())
    out: list[str | None] = []
    pos = 0
    for n in arrays[f"{name}.len"].tolist():
        if n < 0:
            out.append(None)
            continue
        out.append(blob[pos:pos + n].decode())
        pos += n
    if pos != len(blob):
        raise ValueError(f"{name}: {len(blob) - pos} trailing bytes")
    return out


#: Shingles read back at a time while opening (the boilerplate recount): 64 MB.
_READ_CHUNK = 1 << 23


class _Shingles:
    """Every row's shingle hashes, one column cut by ``offsets`` (row -> first shingle): rows
    before ``stored`` in the saved column file ``path``, read back by offset when they are
    needed (``read``), later rows in memory (``tail``). What the index holds per row is its
    offset; per shingle only the rows not saved yet."""

    def __init__(self, offsets: np.ndarray | None = None, path: Path | None = None,
                 stored: int = 0) -> None:
        self.offsets = np.zeros(1, np.int64) if offsets is None else offsets
        self.tail = np.zeros(0, np.uint64)
        self.path, self.stored = path, stored

    @property
    def nbytes(self) -> int:
        return self.offsets.nbytes + self.tail.nbytes

    def append(self, doc_sh: np.ndarray, hashes: np.ndarray) -> None:
        """New rows (their own offsets ``doc_sh`` into ``hashes``)."""
        self.offsets = np.concatenate([self.offsets[:-1], doc_sh + self.offsets[-1]])
        self.tail = np.concatenate([self.tail, hashes])

    def saved(self, path: Path, rows: int) -> None:
        """Rows before ``rows`` are now in the file ``path``: their shingles leave memory."""
        cut = int(self.offsets[rows] - self.offsets[self.stored])
        self.path, self.stored, self.tail = path, rows, self.tail[cut:].copy()

    def read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shingle hashes of ``rows`` (sorted, distinct), their offsets and each row's position
        in them (``hashes[doc_sh[pos[i]]:doc_sh[pos[i] + 1]]`` are row ``rows[i]``'s): the
        whole column without a copy when it is all in memory and most rows are asked for,
        else the rows copied into one buffer (the saved ones read from the file)."""
        off = self.offsets
        if not self.stored and 2 * len(rows) >= len(off) - 1:
            return self.tail, off, rows
        sizes = off[rows + 1] - off[rows]
        local = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(sizes, out=local[1:])
        buf = np.empty(int(local[-1]), np.uint64)
        cut = int(np.searchsorted(rows, self.stored))
        if cut < len(rows):
            mem = slice(cut, None)
            buf[local[cut]:] = self.tail[gather_ranges(off[rows[mem]] - off[self.stored],
                                                       sizes[mem])]
        if cut and not read_ranges(self.path, buf, local[:cut], off[rows[:cut]], sizes[:cut]):
            raise ValueError(f"{self.path} is shorter than its index says")
        return buf, local, np.arange(len(rows), dtype=np.int64)

    def since(self, row: int) -> np.ndarray:
        """The shingle hashes of rows ``row`` on, concatenated."""
        if row >= self.stored:
            return self.tail[int(self.offsets[row] - self.offsets[self.stored]):]
        return self.read(np.arange(row, len(self.offsets) - 1, dtype=np.int64))[0]

    def chunks(self) -> list[tuple[int, int]]:
        """Row ranges (lo, hi) of about ``_READ_CHUNK`` shingles each, covering every row."""
        cuts = np.searchsorted(self.offsets, np.arange(0, int(self.offsets[-1]), _READ_CHUNK))
        bounds = np.unique(np.concatenate([cuts, [len(self.offsets) - 1]])).tolist()
        if bounds[0] != 0:
            bounds.insert(0, 0)
        return list(itertools.pairwise(bounds))


def _map_run(folder: Path, name: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys and rows of the saved band run ``name``, memory-mapped (read-only): the pages a join
    touches are read, and the kernel may drop them again."""
    return tuple(np.asarray(np.load(folder / _BANDS / f"run.{name}.{part}.npy", mmap_mode="r"))
                 for part in ("keys", "rows"))


class _Stories(dict[int, Story]):
    """First member -> story; a document without an entry is a story of its own."""

    def __missing__(self, doc_id: int) -> Story:
        got = self[doc_id] = _single(doc_id)
        return got


def _single(doc_id: int) -> Story:
    return Story((doc_id,), doc_id, "single page", {doc_id: 1.0})


class _ResultCache:
    """What ``result()`` keeps between calls (and the stored index keeps between runs): the
    alignment graph (document id -> other id -> alignment, shared passages only), every story
    keyed by its first member, and the sorted links."""

    def __init__(self) -> None:
        self.graph: dict[int, dict[int, Alignment]] | None = None  # None: build from _aligned
        self.touched: set[int] = set()  # documents whose alignments changed since the last call
        self.by_first = _Stories()
        self.first_of: dict[int, int] = {}  # member of a story of several -> its first member
        self.keys = np.zeros(0, dtype=np.int64)  # sorted first members of every story
        self.links: list[PassageLink] = []
        self.storied = 0  # rows before this have a story

    def replace(self, dirty: set[int], stories: list[Story], links: list[PassageLink],
                fresh: np.ndarray) -> None:
        """Drop the stories and links of the documents ``dirty`` (whole components then and
        now), add ``stories``, ``links`` and the single-page stories of the new documents
        ``fresh``."""
        gone = {self.first_of.pop(d, d) for d in dirty}
        for first in gone:
            self.by_first.pop(first, None)
        for story in stories:
            first = story.members[0]
            self.by_first[first] = story
            if len(story.members) > 1:
                for m in story.members:
                    self.first_of[m] = first
        new = np.fromiter((s.members[0] for s in stories), dtype=np.int64, count=len(stories))
        old = np.setdiff1d(self.keys, np.fromiter(gone, dtype=np.int64, count=len(gone)),
                           assume_unique=True)
        self.keys = np.union1d(old, np.concatenate([new, fresh]))
        if dirty:
            kept = [x for x in self.links if x.doc not in dirty]
            kept.extend(links)
            kept.sort(key=lambda x: (x.doc, x.source_doc, x.doc_start))
            self.links = kept

    def stories(self) -> list[Story]:
        """Every story, ordered by first member."""
        return list(map(self.by_first.__getitem__, self.keys.tolist()))

    def current(self, index: DedupIndex) -> bool:
        """Whether the kept result is ``index.result()`` as of now."""
        return (self.graph is not None and not self.touched and self.storied == len(index._ids)
                and len(index._checked) == len(index._cand))

    def arrays(self, index: DedupIndex) -> dict[str, np.ndarray]:
        """The stories of several pages and the links, as stored arrays (none unless current:
        a stored index without them decides everything again on its first ``result()``)."""
        if not self.current(index):
            return {}
        multi = [s for s in map(self.by_first.get, self.keys.tolist())
                 if s is not None and len(s.members) > 1]
        out = {"res.n": _small([len(s.members) for s in multi]),
               "res.m": np.asarray([m for s in multi for m in s.members], dtype="<i8"),
               "res.c": np.asarray([s.canonical for s in multi], dtype="<i8"),
               "res.sim": np.asarray([s.similarity[m] for s in multi for m in s.members],
                                     dtype="<f8"),
               "res.link": np.asarray([(x.doc, x.source_doc, x.doc_start, x.doc_end,
                                        x.source_start, x.source_end) for x in self.links],
                                      dtype="<i8").reshape(-1, 6),
               "res.link.sim": np.asarray([x.similarity for x in self.links], dtype="<f8")}
        _put_strings(out, "res.reason", [s.reason for s in multi])
        return out

    def load(self, arrays: dict[str, np.ndarray], index: DedupIndex) -> None:
        """The stored result of ``index`` (its alignments loaded): nothing to decide again."""
        members = arrays["res.m"].astype(np.int64).tolist()
        sims = arrays["res.sim"].astype(np.float64).tolist()
        cuts = _offsets(arrays["res.n"]).tolist()
        reasons = _get_strings(arrays, "res.reason")
        for r, canonical in enumerate(arrays["res.c"].astype(np.int64).tolist()):
            lo, hi = cuts[r], cuts[r + 1]
            group = tuple(members[lo:hi])
            story = Story(group, canonical, reasons[r], dict(zip(group, sims[lo:hi],
                                                                 strict=True)))
            self.by_first[group[0]] = story
            for m in group:
                self.first_of[m] = group[0]
        later = np.fromiter((m for m, f in self.first_of.items() if m != f), dtype=np.int64)
        self.keys = np.setdiff1d(index._ids, later)
        docs = index._docs
        self.links = [PassageLink(d, s, docs[d].text[d0:d1], d0, d1, s0, s1, sim)
                      for (d, s, d0, d1, s0, s1), sim in zip(
                          arrays["res.link"].astype(np.int64).reshape(-1, 6).tolist(),
                          arrays["res.link.sim"].astype(np.float64).tolist(), strict=True)]
        self.graph = _adjacency(index._aligned)
        self.storied = len(index._ids)


def _adjacency(aligned: Mapping[tuple[int, int], Alignment | None],
               ) -> dict[int, dict[int, Alignment]]:
    graph: dict[int, dict[int, Alignment]] = {}
    for (a, b), al in aligned.items():
        if al is not None:
            graph.setdefault(a, {})[b] = al
            graph.setdefault(b, {})[a] = al
    return graph


def _link(graph: dict[int, dict[int, Alignment]], a: int, b: int, al: Alignment | None) -> None:
    """Set (or, for None, remove) the edge a-b of the alignment graph."""
    if al is not None:
        graph.setdefault(a, {})[b] = al
        graph.setdefault(b, {})[a] = al
        return
    for x, y in ((a, b), (b, a)):
        near = graph.get(x)
        if near is not None and near.pop(y, None) is not None and not near:
            del graph[x]


def _closure(graph: Mapping[int, Mapping[int, Alignment]], start: Iterable[int]) -> set[int]:
    """``start`` and every document connected to one of them."""
    seen = set(start)
    stack = list(seen)
    while stack:
        for other in graph.get(stack.pop(), ()):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen
