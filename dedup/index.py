"""DedupIndex: the incremental, persistable state of deduplication (plain data, no DB)."""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import datetime
from importlib.metadata import version
from itertools import chain

import numpy as np

from dedup.align import Alignment, Passage, align
from dedup.boilerplate import BoilerplateModel
from dedup.canonical import choose_canonical, utc_naive
from dedup.cluster import star_components
from dedup.config import DedupConfig
from dedup.lsh import BandIndex
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
from dedup.shingles import Fingerprint, fingerprint
from dedup.signatures import signatures

_MAGIC = b"NEWSDEDUP-INDEX\n"
_FORMAT = 2  # 1: zlib of a JSON payload (refused: rebuild)


class IndexMismatch(ValueError):
    """A stored index was built with other fingerprint parameters, seed, scheme or version."""


class DedupIndex:
    """Documents, their fingerprints and the passage LSH, matched incrementally.

    ``add(docs)`` fingerprints new documents, signs their passages and looks them up in the
    LSH of every stored document; candidate pairs are kept. ``result()`` verifies candidates
    exactly against the current boilerplate model and clusters them; verified alignments are
    cached (and stored) until a side's boilerplate mask changes, so an incremental run aligns
    only the pairs of new pages and of pages whose site template grew. Candidate
    generation is deterministic per pair, so adding documents in any batches gives the same
    result as one rebuild.
    """

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._docs: dict[int, Document] = {}
        self._fps: dict[int, Fingerprint] = {}
        self._boilerplate = BoilerplateModel(self.config.boilerplate_min_pages)
        self._bands = BandIndex(self.config)
        self._candidates: set[tuple[int, int]] = set()
        self._site_docs: dict[str, list[int]] = defaultdict(list)
        # Caches, valid for the current boilerplate model: a document's boilerplate mask and the
        # exact alignment (None: nothing shared) of every verified candidate pair. Adding pages
        # invalidates exactly the documents holding a shingle that just became boilerplate.
        self._masks: dict[int, np.ndarray] = {}
        self._aligned: dict[tuple[int, int], Alignment | None] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    @property
    def documents(self) -> dict[int, Document]:
        return dict(self._docs)

    def add(self, docs: Iterable[Document]) -> None:
        """Index new documents and match them against every stored one."""
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
        fps = {d.id: fingerprint(d.text, d.title, self.config) for d in new}
        windows = [(d.id, w, fps[d.id].hashes[s:e + 1])
                   for d in new for w, (s, e) in enumerate(fps[d.id].windows)]
        sigs = signatures([h for _, _, h in windows], self.config)
        crossed: dict[str, list[int]] = defaultdict(list)
        for d in new:
            self._docs[d.id] = d
            self._fps[d.id] = fps[d.id]
            crossed[d.site].extend(self._boilerplate.add(d.site, fps[d.id].hashes))
            self._site_docs[d.site].append(d.id)
        self._invalidate(crossed, {d.id for d in new})
        for (doc_id, w, _), sig in zip(windows, sigs, strict=True):
            for other, _ in self._bands.query(sig):
                if other != doc_id:
                    self._candidates.add((min(doc_id, other), max(doc_id, other)))
            self._bands.insert((doc_id, w), sig)

    # -- verification and clustering -------------------------------------------------------

    def _invalidate(self, crossed: dict[str, list[int]], new: set[int]) -> None:
        """Drop the cached masks and alignments of stored documents whose boilerplate mask
        changed: those holding a shingle that became boilerplate of their site."""
        dirty = set()
        for site, hashes in crossed.items():
            if not hashes:
                continue
            now = np.asarray(hashes, dtype=np.uint64)
            for doc_id in self._site_docs[site]:
                if doc_id in self._masks and doc_id not in new and \
                        np.isin(self._fps[doc_id].hashes, now).any():
                    dirty.add(doc_id)
        for doc_id in dirty:
            del self._masks[doc_id]
        if dirty:
            self._aligned = {k: v for k, v in self._aligned.items()
                             if k[0] not in dirty and k[1] not in dirty}

    def boilerplate_mask(self, doc_id: int) -> np.ndarray:
        mask = self._masks.get(doc_id)
        if mask is None:
            doc = self._docs[doc_id]
            mask = self._boilerplate.mask(doc.site, self._fps[doc_id].hashes)
            mask.setflags(write=False)
            self._masks[doc_id] = mask
        return mask

    def fingerprint_of(self, doc_id: int) -> Fingerprint:
        return self._fps[doc_id]

    def alignments(self) -> list[Alignment]:
        """Exact alignments of all candidate pairs that share a non-boilerplate passage.

        Pairs verified before are taken from the cache unless a side's mask changed since.
        """
        out = []
        cache = self._aligned
        for pair in sorted(self._candidates):
            if pair in cache:
                al = cache[pair]
            else:
                a, b = pair
                al = align(a, self._fps[a], self.boilerplate_mask(a), b, self._fps[b],
                           self.boilerplate_mask(b), self.config)
                cache[pair] = al
            if al is not None:
                out.append(al)
        return out

    def result(self) -> DedupResult:
        """Stories (every document in exactly one) and passage links between stories."""
        alignments = self.alignments()
        graph = AlignmentGraph(alignments)
        titles = {i: d.title for i, d in self._docs.items()}
        edges = copy_edges(graph, self.config, titles)
        content = {i: int((~self.boilerplate_mask(i)).sum()) for i in self._docs}
        groups = star_components(
            self._docs, [(i, o) for i, o, _ in edges],
            lambda members: choose_canonical(members, self._docs, content).doc)
        stories = []
        story_of: dict[int, int] = {}
        for members in groups:
            choice = choose_canonical(members, self._docs, content)
            sim = {}
            for m in members:
                al = graph.get(m, choice.doc)
                sim[m] = 1.0 if m == choice.doc else round(al.side(m)[0], 4) if al else 0.0
            for m in members:
                story_of[m] = len(stories)
            stories.append(Story(members, choice.doc, choice.reason, sim))
        order = sorted(self._docs, key=lambda i: (utc_naive(self._docs[i].published), i))
        rank = {doc_id: r for r, doc_id in enumerate(order)}
        members_of = {doc: stories[story_of[doc]].members for doc in self._docs}
        compiled = compilations(graph, members_of, content)
        links = []
        for al in alignments:
            if story_of[al.a] == story_of[al.b]:
                continue
            for q, s, passages in link_directions(al, rank, graph, members_of, compiled):
                links.extend(self._links(al, q, s, passages))
        links = drop_templates(drop_mutual(drop_relayed(links)), compiled,
                               {i: d.site for i, d in self._docs.items()})
        links.sort(key=lambda x: (x.doc, x.source_doc, x.doc_start))
        return DedupResult(stories, links, self.header()["params"])

    def _links(self, al: Alignment, q: int, s: int,
               passages: tuple[Passage, ...]) -> list[PassageLink]:
        fq, fs = self._fps[q], self._fps[s]
        out = []
        for p in passages:
            (qf, ql), (sf, sl) = ((p.a_first, p.a_last), (p.b_first, p.b_last))
            if q != al.a:
                (qf, ql), (sf, sl) = (sf, sl), (qf, ql)
            q0, q1 = fq.char_span(qf, ql)
            s0, s1 = fs.char_span(sf, sl)
            out.append(PassageLink(q, s, self._docs[q].text[q0:q1], q0, q1, s0, s1,
                                   round(p.matched / (ql - qf + 1), 4)))
        return out

    # -- persistence ----------------------------------------------------------------------

    def header(self) -> dict[str, object]:
        return {"format": _FORMAT, "params": self.config.fingerprint_params(),
                "config": asdict(self.config), "datasketch": version("datasketch"),
                "documents": len(self._docs)}

    def to_bytes(self) -> bytes:
        """Header line (JSON: format, pinned params, config, versions), then the arrays.

        Layout (format 2): ``_MAGIC``, the header as one JSON line, a manifest as one JSON
        line (``[[name, numpy dtype str, shape(, stored length)], ...]``), then each array's
        C-order bytes in manifest order, back to back; an entry with a stored length is
        deflated (zlib level 1: small integers), the others are raw (64-bit hashes; text
        blobs, deflated on their own). Arrays: documents (string fields as UTF-8 blobs with
        per-document lengths, -1 for None), fingerprints (concatenated, with per-document
        counts; token offsets as gaps and lengths), LSH buckets, candidate pairs,
        boilerplate masks (packed bits) and the verified alignment of every candidate pair.
        Per-site boilerplate counts are not stored: they are recounted from the hashes.
        """
        ids = sorted(self._docs)
        arrays: dict[str, np.ndarray] = {"doc.id": np.asarray(ids, dtype="<i8")}
        docs = [self._docs[i] for i in ids]
        for name in _STR_FIELDS:
            if name == "published":
                values = [d.published.isoformat() if d.published else None for d in docs]
            else:
                values = [getattr(d, name) for d in docs]
            _put_strings(arrays, f"doc.{name}", values)
        fps = [self._fps[i] for i in ids]
        arrays["fp.n"] = _small([f.n for f in fps])
        arrays["fp.hash"] = _cat([f.hashes for f in fps], "<u8")
        arrays["fp.last"] = _small(np.concatenate(
            [f.last_token - np.arange(f.n) for f in fps] or [np.zeros(0, np.int64)]))
        arrays["fp.ntok"] = _small([f.token_starts.shape[0] for f in fps])
        starts = _cat([f.token_starts for f in fps], "<i8")
        ends = _cat([f.token_ends for f in fps], "<i8")
        arrays["fp.toklen"] = _small(ends - starts)
        before = np.concatenate(([0], ends[:-1])) if ends.size else ends
        firsts = _offsets(arrays["fp.ntok"])[:-1]
        before[firsts[firsts < ends.size]] = 0  # each document's first gap from offset 0
        arrays["fp.tokgap"] = _small(starts - before)
        arrays["fp.nwin"] = _small([len(f.windows) for f in fps])
        arrays["fp.win"] = _small(np.asarray([w for f in fps for w in f.windows],
                                             dtype=np.int64).reshape(-1, 2))
        masks = [self.boilerplate_mask(i) for i in ids]
        arrays["fp.mask"] = np.packbits(np.concatenate(masks or [np.zeros(0, bool)]))
        buckets = self._bands.buckets
        bkeys = np.fromiter(buckets.keys(), dtype=np.uint64, count=len(buckets))
        order = np.argsort(bkeys, kind="stable")
        values = list(buckets.values())
        items = [values[r] for r in order.tolist()]
        arrays["lsh.key"] = bkeys[order].astype("<u8")
        arrays["lsh.n"] = _small(np.fromiter(map(len, items), dtype=np.int64, count=len(items)))
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(items)),
                           dtype=np.int64).reshape(-1, 2)
        arrays["lsh.doc"] = _small(flat[:, 0])
        arrays["lsh.win"] = _small(flat[:, 1])
        arrays["cand"] = np.asarray(sorted(self._candidates), dtype="<i8").reshape(-1, 2)
        pairs = sorted(self._aligned)
        als = [self._aligned[p] for p in pairs]
        arrays["al.pair"] = np.asarray(pairs, dtype="<i8").reshape(-1, 2)
        arrays["al.ok"] = np.asarray([al is not None for al in als], dtype=np.uint8)
        found = [al for al in als if al is not None]
        arrays["al.f"] = np.asarray(
            [(al.cover_a, al.cover_b, al.lead_a, al.lead_b, al.jaccard) for al in found],
            dtype="<f8").reshape(-1, 5)
        arrays["al.np"] = _small([len(al.passages) for al in found])
        arrays["al.p"] = _small(np.asarray(
            [(p.a_first, p.a_last, p.b_first, p.b_last, p.matched)
             for al in found for p in al.passages], dtype=np.int64).reshape(-1, 5))
        head = json.dumps(self.header(), sort_keys=True).encode()
        manifest, blobs = [], []
        for name, arr in arrays.items():
            raw = np.ascontiguousarray(arr).tobytes()
            if name in _RANDOM or name.endswith(".z"):
                manifest.append([name, arr.dtype.str, list(arr.shape)])
            else:  # small integers: deflate them
                raw = zlib.compress(raw, 1)
                manifest.append([name, arr.dtype.str, list(arr.shape), len(raw)])
            blobs.append(raw)
        return b"".join([_MAGIC, head, b"\n",
                         json.dumps(manifest, separators=(",", ":")).encode(), b"\n", *blobs])

    @classmethod
    def from_bytes(cls, data: bytes, config: DedupConfig | None = None) -> DedupIndex:
        """Load an index; ``IndexMismatch`` if it was built with other pinned parameters, by
        another storage format, or cannot be read."""
        if not data.startswith(_MAGIC):
            raise IndexMismatch(f"not a newsdedup index; {_REBUILD}")
        head_raw, _, rest = data[len(_MAGIC):].partition(b"\n")
        try:
            head = json.loads(head_raw)
            fmt = head.get("format")
        except (ValueError, AttributeError) as exc:
            raise IndexMismatch(f"unreadable index header ({exc}); {_REBUILD}") from exc
        if fmt != _FORMAT:
            raise IndexMismatch(f"index format {fmt!r} != {_FORMAT} (stored by another "
                                f"version); {_REBUILD}")
        if not isinstance(head.get("config"), dict) or not isinstance(head.get("params"), dict):
            raise IndexMismatch(f"index header without parameters; {_REBUILD}")
        if config is None:
            known = {f.name for f in fields(DedupConfig)}
            config = DedupConfig(**{k: v for k, v in head["config"].items() if k in known})
        want = config.fingerprint_params()
        got = head["params"]
        diff = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
        if diff:
            detail = ", ".join(f"{k}: index {got.get(k)!r} != config {want.get(k)!r}"
                               for k in diff)
            raise IndexMismatch(f"index built with other parameters ({detail}); rebuild it")
        try:
            return cls._load(rest, config, head)
        except (ValueError, KeyError, IndexError, TypeError, zlib.error) as exc:
            raise IndexMismatch(f"corrupt index ({exc}); {_REBUILD}") from exc

    @classmethod
    def _load(cls, rest: bytes, config: DedupConfig, head: dict) -> DedupIndex:
        manifest_raw, _, body = rest.partition(b"\n")
        arrays: dict[str, np.ndarray] = {}
        offset = 0
        for name, dtype, shape, *packed in json.loads(manifest_raw):
            dt = np.dtype(dtype)
            count = int(np.prod(shape)) if shape else 1
            if packed:
                raw = zlib.decompress(body[offset:offset + packed[0]])
                arrays[name] = np.frombuffer(raw, dtype=dt, count=count).reshape(shape)
                offset += packed[0]
            else:
                arrays[name] = np.frombuffer(body, dtype=dt, count=count,
                                             offset=offset).reshape(shape)
                offset += count * dt.itemsize
        if offset != len(body):
            raise ValueError(f"{len(body) - offset} trailing bytes")
        index = cls(config)
        ids = arrays["doc.id"].astype(np.int64).tolist()
        strings = {name: _get_strings(arrays, f"doc.{name}") for name in _STR_FIELDS}
        for r, doc_id in enumerate(ids):
            values = {name: strings[name][r] for name in _STR_FIELDS}
            pub = values["published"]
            values["published"] = datetime.fromisoformat(pub) if pub else None
            doc = Document(id=doc_id, **values)
            index._docs[doc_id] = doc
            index._site_docs[doc.site].append(doc_id)
        n_sh = _offsets(arrays["fp.n"])
        n_tok = _offsets(arrays["fp.ntok"])
        n_win = _offsets(arrays["fp.nwin"])
        hashes = arrays["fp.hash"].astype(np.uint64)
        last = arrays["fp.last"].astype(np.int64)
        lens = arrays["fp.toklen"].astype(np.int64)
        gaps = arrays["fp.tokgap"].astype(np.int64)
        steps = gaps.copy()  # start[j] = start[j - 1] + len[j - 1] + gap[j]
        steps[1:] += lens[:-1]
        firsts = n_tok[:-1][n_tok[:-1] < lens.size]
        steps[firsts] = gaps[firsts]  # each document's first start is its gap from 0
        cum = np.cumsum(steps)
        starts = cum - np.repeat(np.concatenate(([0], cum))[n_tok[:-1]], np.diff(n_tok))
        ends = starts + lens
        wins = arrays["fp.win"].astype(np.int64).tolist()
        total = int(n_sh[-1])
        masks = np.unpackbits(arrays["fp.mask"], count=total).astype(bool)
        for r, doc_id in enumerate(ids):
            s0, s1 = int(n_sh[r]), int(n_sh[r + 1])
            t0, t1 = int(n_tok[r]), int(n_tok[r + 1])
            index._fps[doc_id] = Fingerprint(
                hashes[s0:s1].copy(), last[s0:s1] + np.arange(s1 - s0),
                starts[t0:t1].copy(), ends[t0:t1].copy(),
                tuple((a, b) for a, b in wins[int(n_win[r]):int(n_win[r + 1])]))
            index._masks[doc_id] = masks[s0:s1].copy()
        for site, members in index._site_docs.items():  # pages per shingle, per site
            seen = np.concatenate([np.unique(index._fps[i].hashes) for i in members])
            keys, counts = np.unique(seen, return_counts=True)
            index._boilerplate.counts[site] = dict(zip(keys.tolist(), counts.tolist(),
                                                       strict=True))
        lsh_off = _offsets(arrays["lsh.n"]).tolist()
        items = list(zip(arrays["lsh.doc"].tolist(), arrays["lsh.win"].tolist(), strict=True))
        buckets = index._bands.buckets
        for r, key in enumerate(arrays["lsh.key"].tolist()):
            buckets[key] = items[lsh_off[r]:lsh_off[r + 1]]
        index._candidates = set(map(tuple, arrays["cand"].tolist()))
        same = all(head["config"].get(k) == getattr(config, k) for k in _CACHE_PARAMS)
        if not same:  # masks and alignments depend on these decision thresholds
            index._masks.clear()
            return index
        feats = arrays["al.f"].tolist()
        p_off = _offsets(arrays["al.np"]).tolist()
        passages = [Passage(*p) for p in arrays["al.p"].tolist()]
        r = 0
        for (a, b), ok in zip(arrays["al.pair"].tolist(), arrays["al.ok"].tolist(), strict=True):
            if not ok:
                index._aligned[(a, b)] = None
                continue
            index._aligned[(a, b)] = Alignment(a, b, tuple(passages[p_off[r]:p_off[r + 1]]),
                                               *feats[r])
            r += 1
        return index


#: Arrays of 64-bit hashes, stored raw (deflate cannot shrink them).
_RANDOM = ("fp.hash", "lsh.key")
_STR_FIELDS = ("url", "site", "text", "title", "author", "published", "canonical_url")
#: Config fields that are not pinned but decide boilerplate masks and alignments: a stored
#: index loaded with other values drops its cached masks and alignments.
_CACHE_PARAMS = ("boilerplate_min_pages", "min_passage_shingles", "max_gap")
_REBUILD = "run `newsdedup dedup --rebuild`"


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


def _cat(arrays: list[np.ndarray], dtype: str) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype=dtype)


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
