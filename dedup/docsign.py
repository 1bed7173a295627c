"""Whole-document signing: each document's distinct shingle hashes and the LSH band keys of
one OPH signature over them, in two compiled passes a document at a time.

Bit-exact with ``fingerprint_batch`` -> ``_doc_unique`` -> ``oph_signatures`` -> ``band_keys``
(xxHash64 keys of the 64-bit rows), without the batch's shingle, last-token and window arrays or
the signature matrix: shingles are hashed, sorted and deduplicated in buffers that stay in
cache (``distinct_shingles``), and each signature row is densified and cut into keys as soon as
it is made (``oph_band_keys``).
"""

from __future__ import annotations

import numpy as np

from dedup.config import DedupConfig
from dedup.lsh import oph_band_keys
from dedup.shingles import distinct_shingles


def sign_documents(texts: list[str], titles: list[str | None], config: DedupConfig,
                   num_perm: int, seed: int, bands: int,
                   rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each text's distinct shingle hashes, sorted, concatenated: uint64; how many each has:
    int64; the (texts, ``bands``) uint64 band keys of its ``num_perm``-bin OPH signature seeded
    with ``seed``, ``rows`` rows a band). Shingles follow ``config`` (sizes, seed, title and
    note lines dropped) as ``fingerprint_batch`` makes them."""
    uniq, sizes = distinct_shingles(texts, titles, config)
    offsets = np.zeros(sizes.shape[0] + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return uniq, sizes, oph_band_keys(uniq, offsets, num_perm, seed, bands, rows)
