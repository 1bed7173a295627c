"""DedupIndex: the incremental, persistable state of deduplication (plain data, no DB)."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import datetime
from importlib.metadata import version

import numpy as np

from dedup.align import Alignment, align
from dedup.boilerplate import BoilerplateModel
from dedup.canonical import choose_canonical, utc_naive
from dedup.cluster import star_components
from dedup.config import DedupConfig
from dedup.lsh import BandIndex
from dedup.model import DedupResult, Document, PassageLink, Story
from dedup.relations import AlignmentGraph, copy_edges, drop_relayed, quoter
from dedup.shingles import Fingerprint, fingerprint
from dedup.signatures import signatures

_MAGIC = b"NEWSDEDUP-INDEX\n"
_FORMAT = 1


class IndexMismatch(ValueError):
    """A stored index was built with other fingerprint parameters, seed, scheme or version."""


class DedupIndex:
    """Documents, their fingerprints and the passage LSH, matched incrementally.

    ``add(docs)`` fingerprints new documents, signs their passages and looks them up in the
    LSH of every stored document; candidate pairs are kept. ``result()`` verifies all
    candidates exactly against the current boilerplate model and clusters them. Candidate
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
        for d in new:
            self._docs[d.id] = d
            self._fps[d.id] = fps[d.id]
            self._boilerplate.add(d.site, fps[d.id].hashes)
        for (doc_id, w, _), sig in zip(windows, sigs, strict=True):
            for other, _ in self._bands.query(sig):
                if other != doc_id:
                    self._candidates.add((min(doc_id, other), max(doc_id, other)))
            self._bands.insert((doc_id, w), sig)

    # -- verification and clustering -------------------------------------------------------

    def boilerplate_mask(self, doc_id: int) -> np.ndarray:
        doc = self._docs[doc_id]
        return self._boilerplate.mask(doc.site, self._fps[doc_id].hashes)

    def fingerprint_of(self, doc_id: int) -> Fingerprint:
        return self._fps[doc_id]

    def alignments(self) -> list[Alignment]:
        """Exact alignments of all candidate pairs that share a non-boilerplate passage."""
        masks = {i: self.boilerplate_mask(i) for i in self._docs}
        out = []
        for a, b in sorted(self._candidates):
            al = align(a, self._fps[a], masks[a], b, self._fps[b], masks[b], self.config)
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
        links = []
        for al in alignments:
            if story_of[al.a] == story_of[al.b]:
                continue
            q, s = quoter(al, rank, graph, members_of)
            links.extend(self._links(al, q, s))
        links = drop_relayed(links)
        links.sort(key=lambda x: (x.doc, x.source_doc, x.doc_start))
        return DedupResult(stories, links, self.header()["params"])

    def _links(self, al: Alignment, q: int, s: int) -> list[PassageLink]:
        fq, fs = self._fps[q], self._fps[s]
        out = []
        for p in al.passages:
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
        """Header (params, seed, scheme, versions) + compressed documents, fingerprints, LSH."""
        payload = {
            "docs": [_doc_to_json(d) for _, d in sorted(self._docs.items())],
            "fingerprints": {str(i): _fp_to_json(f) for i, f in sorted(self._fps.items())},
            "buckets": [[k, v] for k, v in sorted(self._bands.buckets.items())],
            "candidates": sorted(self._candidates),
        }
        head = json.dumps(self.header(), sort_keys=True).encode()
        body = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
        return _MAGIC + head + b"\n" + body

    @classmethod
    def from_bytes(cls, data: bytes, config: DedupConfig | None = None) -> DedupIndex:
        """Load an index; ``IndexMismatch`` if it was built with other pinned parameters."""
        if not data.startswith(_MAGIC):
            raise IndexMismatch("not a newsdedup index")
        head_raw, _, body = data[len(_MAGIC):].partition(b"\n")
        head = json.loads(head_raw)
        if head.get("format") != _FORMAT:
            raise IndexMismatch(f"index format {head.get('format')} != {_FORMAT}")
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
        payload = json.loads(zlib.decompress(body))
        index = cls(config)
        for d in payload["docs"]:
            doc = _doc_from_json(d)
            index._docs[doc.id] = doc
        for key, raw in payload["fingerprints"].items():
            fp = _fp_from_json(raw)
            index._fps[int(key)] = fp
            index._boilerplate.add(index._docs[int(key)].site, fp.hashes)
        for key, items in payload["buckets"]:
            index._bands.buckets[int(key)] = [(int(a), int(b)) for a, b in items]
        index._candidates = {(int(a), int(b)) for a, b in payload["candidates"]}
        return index


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()


def _unb64(raw: str, dtype: type) -> np.ndarray:
    return np.frombuffer(base64.b64decode(raw), dtype=dtype).copy()


def _fp_to_json(fp: Fingerprint) -> dict[str, object]:
    return {"h": _b64(fp.hashes.astype("<u8")), "l": _b64(fp.last_token.astype("<i8")),
            "s": _b64(fp.token_starts.astype("<i8")), "e": _b64(fp.token_ends.astype("<i8")),
            "w": [list(w) for w in fp.windows]}


def _fp_from_json(raw: dict) -> Fingerprint:
    return Fingerprint(_unb64(raw["h"], "<u8").astype(np.uint64),
                       _unb64(raw["l"], "<i8").astype(np.int64),
                       _unb64(raw["s"], "<i8").astype(np.int64),
                       _unb64(raw["e"], "<i8").astype(np.int64),
                       tuple((int(a), int(b)) for a, b in raw["w"]))


def _doc_to_json(doc: Document) -> dict[str, object]:
    d = asdict(doc)
    d["published"] = doc.published.isoformat() if doc.published else None
    return d


def _doc_from_json(raw: dict) -> Document:
    pub = raw.get("published")
    return Document(**{**raw, "published": datetime.fromisoformat(pub) if pub else None})
