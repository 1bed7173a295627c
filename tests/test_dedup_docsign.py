"""The fused document signing (``sign_documents``: ``distinct_shingles`` + ``oph_band_keys``)
equals the archive's step by step path bit for bit: ``fingerprint_batch`` -> ``_doc_unique`` ->
``oph_signatures_numpy`` -> ``band_keys``."""

from __future__ import annotations

import random
import sys
from string import ascii_lowercase

import numpy as np
import pytest

from dedup import DedupConfig
from dedup.boilerplate import _doc_unique
from dedup.docsign import sign_documents
from dedup.hashing import _U_G, _U_M1, _U_M2, _X1, _weights
from dedup.lsh import band_keys, oph_band_keys
from dedup.minhash import _M1, mix64, mix_salt, oph_signatures
from dedup.reference import oph_signatures_numpy
from dedup.shingles import _distinct_kernel, _shingle, distinct_shingles, fingerprint_batch
from tests.conftest import REPO, shared_dataset

SHAPES = [(126, 42, 3), (128, 32, 4), (64, 64, 1), (100, 10, 10), (30, 15, 2)]


def _reference(texts: list[str], titles: list[str | None], config: DedupConfig, num_perm: int,
               bands: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``dedup.archive.sign`` computes, step by step."""
    fb = fingerprint_batch(texts, titles, config)
    uniq, sizes = _doc_unique(fb.hashes, fb.doc_sh)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    lsh = DedupConfig(num_perm=num_perm, lsh_bands=bands, lsh_rows=rows, scheme="oph",
                      seed=config.seed, shingle_size=config.shingle_size,
                      cjk_shingle_size=config.cjk_shingle_size)
    sig = oph_signatures_numpy(uniq, offsets, num_perm, config.seed)
    return uniq, sizes.astype(np.int64), band_keys(sig, lsh)


def _check(texts: list[str], titles: list[str | None], config: DedupConfig | None = None,
           shape: tuple[int, int, int] = (126, 42, 3)) -> tuple[np.ndarray, ...]:
    config = config or DedupConfig()
    want = _reference(texts, titles, config, *shape)
    num_perm, bands, rows = shape
    got = sign_documents(texts, titles, config, num_perm, config.seed, bands, rows)
    for w, g in zip(want, got, strict=True):
        assert g.dtype == w.dtype
        assert g.shape == w.shape
        assert np.array_equal(g, w)
    return got


def _words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choices(ascii_lowercase, k=rng.randint(2, 8))) for _ in range(n))


EDGE = [
    ("", None),  # empty
    ("   \n\t \n", "t"),  # blank lines only
    ("--- ... !!!", None),  # no token
    ("two words", None),  # shorter than a shingle: one shingle
    ("exactly five words here now", None),
    ("北京时间", None),  # CJK shorter than cjk_shingle_size
    ("北京时间2026年11月23日，华为发布了新手机。东京 カタカナ 서울 연합뉴스 기자", None),
    ("The report said 北京时间 华为发布了新手机 and the market rose sharply today.", None),
    ("the same five words again " * 40, None),  # duplicates within a document
    ("one two three four five six\n" * 12, "x"),
    ("Title Line Here\n\nThe body starts here with twelve words of text in one line.",
     "Title Line Here"),  # the title line dropped
    ("Title Line Here\nThe body starts here with twelve words of text in one line.",
     "Title Line Here."),
    ("Originally published by The Verge.\nBody text goes on for a few more words here.\n"
     "© 2026 Example Corp. All rights reserved.", None),  # note lines dropped
    ("ﬁnancial ＡＢＣ１２３ café cafe\u0301 Straße İstanbul ıi ſyndicated K\u212a ½ ① ㊀", None),
    ("Hangul jamo ᄀ ᅡ ㄱ ㅏ ﾡﾂ and halfwidth ﾡ\u3099 ゛゙ lone \ud800 𠀀𠀁", None),
]


def test_no_texts() -> None:
    uniq, sizes, keys = _check([], [])
    assert uniq.shape == (0,) and sizes.shape == (0,) and keys.shape == (0, 42)


@pytest.mark.parametrize("text,title", EDGE)
def test_edge_case_alone(text: str, title: str | None) -> None:
    _check([text], [title])


@pytest.mark.parametrize("shape", SHAPES)
def test_edge_cases_in_one_batch(shape: tuple[int, int, int]) -> None:
    rng = random.Random(5)
    texts, titles = [], []
    for text, title in EDGE:  # each between ordinary documents
        texts += [_words(rng, rng.randint(30, 300)), text]
        titles += [None, title]
    _check(texts, titles, shape=shape)


@pytest.mark.parametrize("config", [DedupConfig(shingle_size=3, cjk_shingle_size=4, seed=7),
                                    DedupConfig(shingle_size=1, cjk_shingle_size=1),
                                    DedupConfig(shingle_size=9, cjk_shingle_size=12, seed=3)])
def test_other_shingle_sizes_and_seeds(config: DedupConfig) -> None:
    rng = random.Random(9)
    texts = [t for t, _ in EDGE] + [_words(rng, rng.randint(1, 400)) for _ in range(50)]
    _check(texts, [None] * len(texts), config)


def test_large_batch_of_varied_lengths() -> None:
    rng = random.Random(3)
    texts = [_words(rng, rng.choice((0, 1, 4, 5, 6, 40, 400, 3000))) for _ in range(400)]
    texts += ["\n".join(texts[i] for i in range(4)) * 3]  # whole copies repeated
    _check(texts, [None] * len(texts))


def test_distinct_shingles_are_sorted_and_distinct() -> None:
    rng = random.Random(1)
    texts = [_words(rng, 200), "a b c d e " * 100, ""]
    uniq, sizes = distinct_shingles(texts, [None] * 3, DedupConfig())
    assert sizes.tolist()[1:] == [5, 0]
    for part in np.split(uniq, np.cumsum(sizes)[:-1]):
        assert (np.diff(part.astype(object)) > 0).all() if part.size > 1 else True


def _unshift(y: int, s: int) -> int:
    """x with ``x ^ (x >> s) == y``."""
    x = y
    for _ in range(64 // s + 1):
        x = y ^ (x >> s)
    return x


def _tokens_giving(shingles: list[int], seed: int) -> np.ndarray:
    """Token hashes whose one-token shingles (``k = 1``) hash to ``shingles``: the finaliser and
    the weighted sum undone."""
    mask = 2**64 - 1
    out = []
    for v in shingles:
        z = _unshift(v, 31) * pow(int(_U_M2), -1, 2**64) & mask
        z = _unshift(z, 27) * pow(int(_U_M1), -1, 2**64) & mask
        acc = _unshift(z, 30) ^ int(_U_G)
        out.append((acc - seed * int(_X1)) * pow(int(_weights(1)[0]), -1, 2**64) & mask)
    return np.asarray(out, np.uint64)


@pytest.mark.parametrize("values", [list(range(600, 0, -1)) * 2 + [0],  # one bucket: np.sort
                                    [2**63 + i for i in range(0, 3000, 7)][::-1],
                                    [5, 5, 5, 2**64 - 1, 3, 2**64 - 1]])
def test_distinct_kernel_on_shingles_that_are_not_uniform(values: list[int]) -> None:
    t_hash = _tokens_giving(values, 1)
    flag = np.zeros(len(values), np.uint8)
    doc_tok = np.asarray([0, 1, len(values) // 2, len(values)], np.int64)
    hashes, _, doc_sh = _shingle(t_hash, flag, doc_tok, 1, 1, np.uint64(1), _weights(1))
    assert hashes.tolist() == values
    want, sizes = _doc_unique(hashes, doc_sh)
    out = np.empty(len(values), np.uint64)
    used, counts = _distinct_kernel(t_hash, flag, doc_tok, 1, 1, np.uint64(1), _weights(1), out)
    assert np.array_equal(out[:used], want) and np.array_equal(counts, sizes)


def _mixed_to_empty(seed: int) -> np.uint64:
    """The hash ``mix64`` maps to ``2**64 - 1`` (the value an empty bin holds)."""
    mask = 2**64 - 1
    z = mask ^ (mask >> 29) ^ (mask >> 58)  # undoes z ^= z >> 29
    x = (z * pow(int(_M1), -1, 2**64)) & mask ^ int(mix_salt(seed))
    assert int(mix64(np.asarray([x], np.uint64), seed)[0]) == mask
    return np.uint64(x)


def test_oph_kernels_match_numpy() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.choice([0, 1, 2, 5, 30, 126, 500], size=300)
    hashes = rng.integers(0, 2**64, size=int(sizes.sum()), dtype=np.uint64)
    hashes[::97] = _mixed_to_empty(11)  # a bin whose minimum reads as empty
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    for num_perm, bands, rows in SHAPES:
        sig = oph_signatures_numpy(hashes, offsets, num_perm, 11)
        assert np.array_equal(oph_signatures(hashes, offsets, num_perm, 11), sig)
        config = DedupConfig(num_perm=num_perm, lsh_bands=bands, lsh_rows=rows, scheme="oph")
        assert np.array_equal(oph_band_keys(hashes, offsets, num_perm, 11, bands, rows),
                              band_keys(sig, config))
    with pytest.raises(ValueError):
        oph_band_keys(hashes, offsets, 16, 1, 8, 3)


def test_real_bodies_and_generated_archive() -> None:
    shared_dataset("syndication-dev")
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from corpus import bodies, documents
    finally:
        sys.path.remove(str(REPO / "bench"))
    real = bodies()[:300]
    _check(real, [b.split("\n", 1)[0] for b in real])  # first lines as titles: dropped
    docs = documents(600, 0)
    _check([d.text for d in docs], [d.title for d in docs])
