"""Per-site template text: shingles repeated on many pages of one site never link pages."""

from __future__ import annotations

import numpy as np
from numba import njit

from dedup.arrays import sort_into

_MAX_LOAD = 0.8  # a site's count table grows before it would be fuller than this
_GROWN_LOAD = 0.5  # ... to a size where its entries (if all new) fill this share
_MIN_SLOTS = 64
_AHEAD = 32  # table slots of this many shingles are loaded before any is counted
_REGION_BITS = 12  # a batch's shingles of a site are bucketed so a bucket's slots are ~4096


@njit(cache=True)
def _doc_unique(hashes, doc_sh):  # pragma: no cover - compiled
    """Each document's distinct hashes (sorted), concatenated, and their counts per document."""
    n_docs = doc_sh.shape[0] - 1
    out = np.empty(hashes.shape[0], np.uint64)
    counts = np.zeros(n_docs, np.int64)
    longest = 1
    for d in range(n_docs):
        longest = max(longest, doc_sh[d + 1] - doc_sh[d])
    bits = 1
    while (1 << bits) < longest and bits < 16:
        bits += 1
    hist = np.empty(1 << bits, np.int64)
    k = 0
    for d in range(n_docs):
        a, b = doc_sh[d], doc_sh[d + 1]
        if b == a:
            continue
        nb = 1
        while (1 << nb) < b - a and nb < bits:
            nb += 1
        sort_into(hashes, a, b, out, k, nb, hist)
        end = k + b - a
        k0 = k
        k += 1
        for i in range(k0 + 1, end):
            if out[i] != out[k - 1]:
                out[k] = out[i]
                k += 1
        counts[d] = k - k0
    return out[:k], counts


@njit(cache=True, inline="always")
def _mix(h):  # pragma: no cover - compiled
    """A bijective scramble of a hash (so structured hashes still spread over a table)."""
    x = h ^ (h >> np.uint64(31))
    x *= np.uint64(0x9E3779B97F4A7C15)
    return x ^ (x >> np.uint64(29))


@njit(cache=True, inline="always")
def _home(x, cap):  # pragma: no cover - compiled
    """Home slot of mixed hash ``x`` in a table of ``cap`` slots (its top 32 bits scaled, so
    slots follow the order of ``x``)."""
    return np.int64(((x >> np.uint64(32)) * np.uint64(cap)) >> np.uint64(32))


@njit(cache=True)
def _count_rows(keys, counts, uniq, offsets, rows, limit, scratch, hist, bits):  # pragma: no cover
    """Count one page for each shingle of rows ``rows`` (cut from ``uniq`` by ``offsets``) in a
    site's open-addressing table (``keys``, ``counts``; count 0 = empty slot; counts saturate at
    ``limit``), visiting them bucketed by their top ``bits`` (1 to 16) bits (nearly in table order).
    Returns (new entries, m, a checksum of no use): ``scratch[:m]`` are the shingles whose
    count reached ``limit``."""
    shift = np.uint64(64 - bits)
    size = 1 << bits
    hist[:size] = 0
    for r in rows:
        for i in range(offsets[r], offsets[r + 1]):
            hist[_mix(uniq[i]) >> shift] += 1
    pos = 0
    for b in range(size):
        c = hist[b]
        hist[b] = pos
        pos += c
    for r in rows:
        for i in range(offsets[r], offsets[r + 1]):
            b = _mix(uniq[i]) >> shift
            scratch[hist[b]] = uniq[i]
            hist[b] += 1
    cap = keys.shape[0]
    top = max(limit, 1)
    added = 0
    m = 0
    homes = np.empty(_AHEAD, np.int64)
    touched = np.uint64(0)
    for g in range(0, pos, _AHEAD):
        end = min(g + _AHEAD, pos)
        for j in range(g, end):  # independent loads first: their cache misses overlap
            p = _home(_mix(scratch[j]), cap)
            homes[j - g] = p
            touched += keys[p] + counts[p]
        for j in range(g, end):
            h = scratch[j]
            p = homes[j - g]
            while True:
                c = counts[p]
                if c == 0:
                    keys[p] = h
                    counts[p] = 1
                    added += 1
                    if limit <= 1:
                        scratch[m] = h  # m <= j: already read
                        m += 1
                    break
                if keys[p] == h:
                    if c < top:
                        counts[p] = c + 1
                        if c + 1 == limit:
                            scratch[m] = h
                            m += 1
                    break
                p += 1
                if p == cap:
                    p = 0
    return added, m, touched


@njit(cache=True)
def _rehash(keys, counts, new_keys, new_counts):  # pragma: no cover - compiled
    """Move every entry of a table (``counts`` 0 = empty) into an empty larger one, in slot
    order (so nearly in the new table's order too); also for sets (``counts`` flags)."""
    cap = new_keys.shape[0]
    for i in range(keys.shape[0]):
        c = counts[i]
        if c == 0:
            continue
        h = keys[i]
        p = _home(_mix(h), cap)
        while new_counts[p] != 0:
            p += 1
            if p == cap:
                p = 0
        new_keys[p] = h
        new_counts[p] = c


@njit(cache=True)
def _set_add(keys, used, hashes):  # pragma: no cover - compiled
    """Add hashes (not yet in it) to an open-addressing set (``used`` flags its slots)."""
    cap = keys.shape[0]
    for h in hashes:
        p = _home(_mix(h), cap)
        while used[p]:
            p += 1
            if p == cap:
                p = 0
        keys[p] = h
        used[p] = 1


@njit(cache=True)
def _set_masks(keys, used, hashes, doc_sh, rows, out):  # pragma: no cover - compiled
    """``out[i] = True`` for the shingles ``i`` of rows ``rows`` that are in the set."""
    cap = keys.shape[0]
    for r in rows:
        for i in range(doc_sh[r], doc_sh[r + 1]):
            h = hashes[i]
            p = _home(_mix(h), cap)
            while used[p]:
                if keys[p] == h:
                    out[i] = True
                    break
                p += 1
                if p == cap:
                    p = 0


def _by_site(sites: np.ndarray) -> tuple[list[int], np.ndarray, list[int]]:
    """Distinct sites (ascending), the rows ordered by site (stably) and where each site's
    rows start in that order (and end)."""
    present, inverse = np.unique(sites, return_inverse=True)
    rows = np.argsort(inverse.ravel(), kind="stable")
    seg = np.searchsorted(inverse.ravel()[rows], np.arange(present.size + 1))
    return present.tolist(), rows, seg.tolist()


class BoilerplateModel:
    """Counts, per site, on how many pages each shingle occurs.

    A shingle on ``min_pages`` or more pages of one site is boilerplate there (footers, "Most
    read" teasers, newsletter pitches, syndication notes). Counts only grow, so a shingle once
    boilerplate stays boilerplate, and the final mask is the same however pages arrived.

    Per site: an open-addressing count table (linear probing; 8-byte keys, counts saturating
    at ``min_pages``), grown before it would be 80 % full, so a page costs the same however
    many batches came before. Home slots follow the order of the (scrambled) hash and a batch's
    shingles of a site are visited bucketed by it, so a batch sweeps a large table nearly in
    order instead of missing the cache on every shingle. Per site also: its boilerplate
    shingles as a small open-addressing set (for ``masks``).
    """

    def __init__(self, min_pages: int) -> None:
        self.min_pages = min_pages
        self._count_dtype = (np.uint8 if min_pages < 255 else
                             np.uint16 if min_pages < 65535 else np.uint32)
        self._code: dict[int, int] = {}  # site -> number of its tables
        self._sites: list[int] = []  # number -> site
        self._keys: list[np.ndarray] = []  # count tables
        self._counts: list[np.ndarray] = []
        self._used: list[int] = []
        self._set_keys: list[np.ndarray] = []  # boilerplate sets
        self._set_used: list[np.ndarray] = []
        self._set_size: list[int] = []
        self._boiler: dict[int, np.ndarray] | None = {}

    @property
    def boiler(self) -> dict[int, np.ndarray]:
        """Per site with any: its boilerplate shingles, sorted."""
        if self._boiler is None:
            self._boiler = {site: np.sort(keys[used.view(bool)])
                            for site, keys, used, n in zip(self._sites, self._set_keys,
                                                           self._set_used, self._set_size,
                                                           strict=True) if n}
        return self._boiler

    def __len__(self) -> int:
        """Distinct (site, shingle) pairs counted."""
        return sum(self._used)

    @property
    def nbytes(self) -> int:
        """Bytes of the count tables and boilerplate sets."""
        return sum(a.nbytes for part in (self._keys, self._counts, self._set_keys,
                                         self._set_used) for a in part)

    def add(self, sites: np.ndarray, hashes: np.ndarray, doc_sh: np.ndarray) -> dict[int, np.ndarray]:
        """Count pages (row ``i``: site ``sites[i]``, shingles ``hashes[doc_sh[i]:doc_sh[i+1]]``);
        returns, per site, the shingles that became boilerplate with them (sorted)."""
        uniq, per_row = _doc_unique(np.asarray(hashes, dtype=np.uint64),
                                    np.asarray(doc_sh, dtype=np.int64))
        return self.add_unique(sites, uniq, per_row)

    def add_unique(self, sites: np.ndarray, uniq: np.ndarray,
                   per_row: np.ndarray) -> dict[int, np.ndarray]:
        """``add`` given each row's distinct shingles (``uniq``, ``per_row`` of them a row)."""
        sites = np.asarray(sites, dtype=np.int64)
        uniq = np.asarray(uniq, dtype=np.uint64)
        present, rows, seg = _by_site(sites)
        offsets = np.zeros(sites.size + 1, dtype=np.int64)
        np.cumsum(per_row, out=offsets[1:])
        sizes = np.add.reduceat(per_row[rows], seg[:-1]).tolist() if rows.size else []
        scratch = np.empty(max(sizes, default=0), np.uint64)
        hist = np.empty(1 << 16, np.int64)
        crossed: dict[int, np.ndarray] = {}
        for site, a, b, size in zip(present, seg[:-1], seg[1:], sizes, strict=True):
            code = self._table(site)
            if not size:
                continue
            self._reserve(code, size)
            keys = self._keys[code]
            bits = min(16, max(1, keys.shape[0].bit_length() - _REGION_BITS))
            added, m, _ = _count_rows(keys, self._counts[code], uniq, offsets, rows[a:b],
                                   self.min_pages, scratch, hist, bits)
            self._used[code] += added
            if m:
                crossed[site] = hit = np.sort(scratch[:m])
                self._set_insert(code, hit)
        return crossed

    def _table(self, site: int) -> int:
        """Number of ``site``'s tables (new, small, empty ones for a new site)."""
        code = self._code.get(site)
        if code is None:
            code = self._code[site] = len(self._sites)
            self._sites.append(site)
            self._keys.append(np.zeros(_MIN_SLOTS, np.uint64))
            self._counts.append(np.zeros(_MIN_SLOTS, self._count_dtype))
            self._used.append(0)
            self._set_keys.append(np.zeros(0, np.uint64))
            self._set_used.append(np.zeros(0, np.uint8))
            self._set_size.append(0)
        return code

    def _reserve(self, code: int, more: int) -> None:
        """Grow count table ``code`` if ``more`` new entries could fill it beyond ``_MAX_LOAD``."""
        need = self._used[code] + more
        if need <= _MAX_LOAD * self._keys[code].shape[0]:
            return
        cap = max(_MIN_SLOTS, int(need / _GROWN_LOAD) + 1)
        keys, counts = np.zeros(cap, np.uint64), np.zeros(cap, self._count_dtype)
        _rehash(self._keys[code], self._counts[code], keys, counts)
        self._keys[code], self._counts[code] = keys, counts

    def _set_insert(self, code: int, hashes: np.ndarray) -> None:
        """Add new boilerplate shingles to site ``code``'s set (kept at most half full)."""
        size = self._set_size[code] + hashes.size
        if 2 * size > self._set_keys[code].shape[0]:
            cap = max(_MIN_SLOTS, 1 << (3 * size).bit_length())
            keys, used = np.zeros(cap, np.uint64), np.zeros(cap, np.uint8)
            _rehash(self._set_keys[code], self._set_used[code], keys, used)
            self._set_keys[code], self._set_used[code] = keys, used
        _set_add(self._set_keys[code], self._set_used[code], hashes)
        self._set_size[code] = size
        self._boiler = None

    def mask(self, site: int, hashes: np.ndarray) -> np.ndarray:
        """True where a shingle of a page of ``site`` is boilerplate."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        return self.masks(np.asarray([site]), hashes, np.asarray([0, hashes.shape[0]]))

    def masks(self, sites: np.ndarray, hashes: np.ndarray, doc_sh: np.ndarray) -> np.ndarray:
        """Masks of many rows at once, concatenated like ``hashes``."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        doc_sh = np.asarray(doc_sh, dtype=np.int64)
        out = np.zeros(hashes.shape[0], dtype=bool)
        present, rows, seg = _by_site(np.asarray(sites, dtype=np.int64))
        for site, a, b in zip(present, seg[:-1], seg[1:], strict=True):
            code = self._code.get(site)
            if code is not None and self._set_size[code]:
                _set_masks(self._set_keys[code], self._set_used[code], hashes, doc_sh, rows[a:b],
                           out)
        return out
