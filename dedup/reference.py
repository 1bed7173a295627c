"""Reference implementations in plain Python/NumPy of what compiled kernels compute: the
specification the kernels are tested against, and a baseline for benches. Not used by the
product."""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections import Counter

import numpy as np
from numba import njit

from dedup.align import Alignment, Passage, _align_sets, _content_set
from dedup.config import DedupConfig
from dedup.events import (
    _CJK_RUN,
    _NUMBER,
    _WORD,
    DocumentFrequency,
    EventConfig,
    EventStory,
    _amount_idf,
    _cjk_language,
    _idf,
    _lead,
)
from dedup.hashing import _G, _MASK, _X1, _fmix_int, _weights, token_hash
from dedup.lsh import _M1, _finish, band_salts
from dedup.minhash import _CHUNK, _EMPTY, _check_ranges, mix64, probe_ranks
from dedup.shingles import Fingerprint
from dedup.text import is_cjk


def combine_tokens(tokens: list[int], seed: int) -> int:
    """Hash of a shingle from its tokens' hashes: seeded, position-weighted sum, length mixed
    in, finalised (order matters; ``_shingle`` computes the same)."""
    weights = _weights(len(tokens)).tolist()
    acc = (seed * int(_X1)) & _MASK
    for t, w in zip(tokens, weights, strict=True):
        acc = (acc + t * w) & _MASK
    return _fmix_int(acc ^ ((len(tokens) * _G) & _MASK))


def shingle_hashes(words: tuple[str, ...], k: int, cjk_k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the shingles of ``words`` and each shingle's last token index (the
    reference, token by token in Python; ``fingerprint_batch`` computes the same values).

    Shingle ``i`` starts at token ``i`` and spans ``k`` tokens, or ``cjk_k`` when token ``i`` is a
    CJK character (cut at the end of the text); there are ``len(words) - k + 1`` (at least one).
    """
    n = len(words)
    if not n:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    count = max(1, n - k + 1)
    last = np.fromiter((min(n, i + (cjk_k if is_cjk(words[i]) else k)) - 1 for i in range(count)),
                       dtype=np.int64, count=count)
    tokens = [token_hash(w) for w in words]
    hashes = np.fromiter((combine_tokens(tokens[i:j + 1], seed)
                          for i, j in enumerate(last.tolist())), dtype=np.uint64, count=count)
    return hashes, last


_FAST_PROBES = 8


def oph_signatures_numpy(hashes: np.ndarray, offsets: np.ndarray, num_perm: int,
                         seed: int) -> np.ndarray:
    """``oph_signatures`` in vectorised NumPy, cache-sized chunks of whole sets at a time: the
    reference the compiled path is tested against (same values)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    n_sets = max(int(offsets.shape[0]) - 1, 0)
    sig = np.full((n_sets, num_perm), _EMPTY, dtype=np.uint64)
    if n_sets == 0 or hashes.shape[0] == 0:
        return sig
    _check_ranges(hashes, offsets[:-1], offsets[1:])
    flat = sig.reshape(-1)
    sizes = np.diff(offsets)
    cuts = np.searchsorted(offsets, np.arange(0, int(offsets[-1]), _CHUNK), side="right") - 1
    bounds = [*np.unique(cuts).tolist(), n_sets]
    for lo, hi in itertools.pairwise(bounds):
        a, b = int(offsets[lo]), int(offsets[hi])
        if a == b:
            continue
        z = mix64(hashes[a:b], seed)
        _bin_min(flat, bin_of(z, num_perm), z, offsets[lo:hi + 1] - a, lo, num_perm)
    _densify(sig, sizes > 0, probe_ranks(num_perm, seed))
    return sig


@njit(cache=True)
def _bin_min(flat, bins, z, offsets, first_set, num_perm):  # pragma: no cover - compiled
    """``flat[(first_set + s) * num_perm + bins[i]] = min(..., z[i])`` for item i of set s."""
    for s in range(offsets.shape[0] - 1):
        base = (first_set + s) * num_perm
        for i in range(offsets[s], offsets[s + 1]):
            q = base + bins[i]
            if z[i] < flat[q]:
                flat[q] = z[i]


def bin_of(z: np.ndarray, num_perm: int) -> np.ndarray:
    """Bin of each mixed value: its top bits, scaled to ``num_perm`` (int64)."""
    if num_perm & (num_perm - 1) == 0:
        return (z >> np.uint64(64 - num_perm.bit_length() + 1)).astype(np.int64)
    return ((z >> np.uint64(32)) * np.uint64(num_perm) >> np.uint64(32)).astype(np.int64)


def _densify(sig: np.ndarray, nonempty_set: np.ndarray, ranks: np.ndarray) -> None:
    """Fill each empty bin in place from the first originally filled bin it probes.

    The first ``_FAST_PROBES`` steps of every bin's sequence are checked for whole rows at
    once; bins still empty then take the filled bin of lowest rank (same answer, more work).
    """
    filled = sig != _EMPTY
    k = sig.shape[1]
    empties = k - filled.sum(axis=1)
    big = np.array(k, dtype=ranks.dtype)
    few = np.flatnonzero(nonempty_set & (empties > 0) & (empties <= k // 8))
    if few.size:  # nearly full rows (whole documents): rank the empty bins' probes directly
        r, c = np.nonzero(~filled[few])
        r = few[r]
        sig[r, c] = sig[r, np.where(filled[r], ranks[c], big).argmin(axis=1)]
    todo = np.flatnonzero(nonempty_set & (empties > k // 8))
    if todo.size == 0:
        return
    seq = np.argsort(ranks, axis=1)[:, :_FAST_PROBES]  # (k, probes): bins in probe order
    step = max(1, _CHUNK // k)
    for lo in range(0, todo.size, step):
        rows = todo[lo:lo + step]
        f = filled[rows]
        s = sig[rows]
        hits = f[:, seq]  # (rows, k, probes)
        first = hits.argmax(axis=2)
        found = hits.any(axis=2) & ~f
        src = np.where(found, np.take_along_axis(np.broadcast_to(seq, hits.shape), first[..., None],
                                                 axis=2)[..., 0], -1)
        r, c = np.nonzero(~f & ~found)
        if r.size:
            src[r, c] = np.where(f[r], ranks[c], big).argmin(axis=1)
        fill = ~f
        s[fill] = np.take_along_axis(s, np.where(fill, src, 0), axis=1)[fill]
        sig[rows] = s


def band_keys32_reference(sig: np.ndarray, bands: int, rows_per_band: int) -> np.ndarray:
    """Keys of 32-bit signature rows in NumPy (the reference of the compiled ones).

    Per band: rows packed two to a word (``r0 | r1 << 32``; an odd last row alone), state =
    the band's salt; each word but the last: ``state = m(state ^ word)`` with
    ``m(h) = h * M1 ^ (h * M1 >> 32)``; key = ``finish(state ^ last word)``. Every step is a
    bijection of the state, so different band contents collide only by chance (about 2**-64)
    and equal rows in different bands never give equal keys.
    """
    sig = np.atleast_2d(sig).astype(np.uint64)
    n = sig.shape[0]
    rows = sig.reshape(n, bands, rows_per_band)
    if rows_per_band % 2:
        rows = np.concatenate([rows, np.zeros((n, bands, 1), np.uint64)], axis=2)
    words = rows[:, :, 0::2] | (rows[:, :, 1::2] << np.uint64(32))
    h = np.broadcast_to(band_salts(bands), (n, bands)).copy()
    with np.errstate(over="ignore"):
        for j in range(words.shape[2] - 1):
            h = (h ^ words[:, :, j]) * _M1
            h ^= h >> np.uint64(32)
        return _finish(h ^ words[:, :, -1])


@njit(cache=True)
def _align_nb(ha, ca, hb, cb, max_gap, min_passage):  # pragma: no cover - compiled
    """Passages (first_a, last_a, first_b, last_b, matched) of two shingle sequences, with
    the sizes of both content sets and of their intersection (``align``'s rule, compiled)."""
    set_a, own_a = _content_set(ha, ca)
    set_b, own_b = _content_set(hb, cb)
    return _align_sets(own_a, own_b, set_a, set_b, max_gap, min_passage)


def align(a_id: int, fa: Fingerprint, bp_a: np.ndarray, b_id: int, fb: Fingerprint,
          bp_b: np.ndarray, config: DedupConfig) -> Alignment | None:
    """Shared passages of two documents, ignoring each side's boilerplate; None if none.

    Matched shingles (content shingles of one side whose hash is a content shingle of the
    other) form runs with gaps up to ``max_gap``; runs with at least ``min_passage_shingles``
    matches are kept on each side. One A run may match several B runs (B re-ordered or
    abridged): one passage per B run, holding the A positions (``matched``) that hit it.
    """
    if a_id > b_id:
        a_id, fa, bp_a, b_id, fb, bp_b = b_id, fb, bp_b, a_id, fa, bp_a
    content_a, content_b = ~np.asarray(bp_a, dtype=bool), ~np.asarray(bp_b, dtype=bool)
    found, na, nb, inter = _align_nb(fa.hashes, content_a, fb.hashes, content_b,
                                     config.max_gap, config.min_passage_shingles)
    if not found.shape[0]:
        return None
    passages = [Passage(*p) for p in found.tolist()]
    cum_a = np.concatenate(([0], np.cumsum(content_a)))
    cum_b = np.concatenate(([0], np.cumsum(content_b)))
    n_a, n_b = int(cum_a[-1]), int(cum_b[-1])
    ranges_a = [(p.a_first, p.a_last) for p in passages]
    ranges_b = [(p.b_first, p.b_last) for p in passages]
    cov_a = _union_content(cum_a, ranges_a) / n_a
    cov_b = _union_content(cum_b, ranges_b) / n_b
    lead_a = int(cum_a[min(r[0] for r in ranges_a)]) / n_a
    lead_b = int(cum_b[min(r[0] for r in ranges_b)]) / n_b
    return Alignment(a_id, b_id, tuple(passages), min(cov_a, 1.0), min(cov_b, 1.0), lead_a,
                     lead_b, inter / (na + nb - inter))


def _union_content(cum: np.ndarray, ranges: list[tuple[int, int]]) -> int:
    total, reach = 0, -1
    for first, last in sorted(ranges):
        first = max(first, reach + 1)
        if first <= last:
            total += _content_between(cum, first, last)
            reach = last
    return total


def _content_between(content_cum: np.ndarray, first: int, last: int) -> int:
    return int(content_cum[last + 1] - content_cum[first])


# -- events (dedup.events) -----------------------------------------------------------------

def event_terms(story: EventStory, config: EventConfig) -> dict[str, float]:
    """``dedup.events.terms`` with regular expressions over Unicode classes and ``Counter``: the
    specification of its compiled reading (same terms, in the same order, same floats)."""
    language = story.language or config.language
    part = unicodedata.normalize("NFKC", f"{story.title or ''}\n{_lead(story.text, config.lead_words)}")
    out: dict[str, float] = {}
    for word, n in Counter(_WORD.findall(part.lower())).items():
        cjk = not word.isascii() and _CJK_RUN.search(word)  # read as bigrams below
        idf = 0.0 if cjk else _idf(word, language)
        if idf >= config.min_idf and idf:
            out[word] = idf * (1.0 + math.log(n))
    grams: Counter[str] = Counter()
    for run in _CJK_RUN.findall(part):
        lang = _cjk_language(run, language)
        for gram in [run[i: i + 2] for i in range(len(run) - 1)] or [run]:
            grams[gram] += 1
            if gram not in out and (idf := _idf(gram, lang)) >= config.min_idf:
                out[gram] = idf
    for gram, n in grams.items():
        if n > 1 and gram in out:
            out[gram] *= 1.0 + math.log(n)
    amounts: Counter[str] = Counter()
    for match, n in Counter(_NUMBER.findall(part)).items():
        amount, idf = _amount_idf(*match, language)
        if idf >= config.min_idf:
            out[amount] = idf
            amounts[amount] += n
    for amount, n in amounts.items():
        if n > 1:
            out[amount] *= 1.0 + math.log(n)
    return out


def average_link(pairs: np.ndarray, threshold: float, least: float) -> np.ndarray:
    """``dedup.events._agglomerate`` in NumPy (its specification): each story's cluster."""
    n = len(pairs)
    label = np.arange(n)
    sums = pairs.copy()
    sizes = np.ones(n)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    while True:
        link = np.where(upper, sums / np.outer(sizes, sizes), -1.0)
        merged = False
        for flat in np.argsort(-link, axis=None, kind="stable"):
            a, b = divmod(int(flat), n)
            if link[a, b] < threshold:
                break
            cross = pairs[np.ix_(label == a, label == b)]
            to_b, to_a = cross.sum(axis=1), cross.sum(axis=0)
            na, nb, total = len(to_b), len(to_a), float(to_b.sum())
            if not ((na > 1 and ((total - to_b) / ((na - 1) * nb) < least).any())
                    or (nb > 1 and ((total - to_a) / (na * (nb - 1)) < least).any())):
                merged = True
                break
        if not merged:
            return label
        sums[a] += sums[b]
        sums[:, a] += sums[:, b]
        sizes[a] += sizes[b]
        label[label == b] = a
        upper[b, :] = upper[:, b] = False


def event_pairs(stories: list[EventStory], df: DocumentFrequency,
                config: EventConfig) -> dict[int, dict[int, float]]:
    """What ``dedup.events.EventIndex`` links, pair by pair from ``event_terms``: every pair
    within the window whose similarity (the later story's vector summed over the earlier
    one's terms in their order, rounded to 12 places) reaches threshold / 4. Stories are all
    dated or all undated."""
    vectors = {}
    for story in stories:
        found = event_terms(story, config)
        weights = np.array(list(found.values())) * np.array([df.idf.get(t, df.unseen) for t in found])
        norm = math.sqrt(float(weights @ weights))
        vectors[story.key] = dict(zip(found, (weights / norm if norm else weights).tolist(), strict=True))
    order = sorted(stories, key=lambda s: (s.published is None, s.published or 0, s.key))
    span = config.window_hours * 3600
    pairs: dict[int, dict[int, float]] = {}
    for i, later in enumerate(order):
        for earlier in order[:i]:
            if later.published and earlier.published and (
                    later.published - earlier.published).total_seconds() > span:
                continue
            score = 0.0
            for term, weight in vectors[earlier.key].items():
                score += vectors[later.key].get(term, 0.0) * weight
            score = float(np.round(np.array([score]), 12)[0])
            if score >= config.threshold / 4:
                pairs.setdefault(later.key, {})[earlier.key] = score
                pairs.setdefault(earlier.key, {})[later.key] = score
    return pairs
