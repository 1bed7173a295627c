"""The compiled dedup path equals the Python reference: tokens, shingle hashes, windows, band keys,
MinHash, alignment; and the columnar index behaves like the old one."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xxhash

from dedup import DedupConfig, DedupIndex, Document, deduplicate
from dedup.align import Alignment, Passage, align_many
from dedup.lsh import band_keys
from dedup.minhash import kperm_ranges, kperm_signatures
from dedup.reference import _union_content, align, shingle_hashes
from dedup.shingles import _BLOCK_TOKENS, fingerprint_batch
from dedup.text import (
    RIGHTS_NOTE,
    SYNDICATION_NOTE,
    Tokens,
    is_note_line,
    may_hold_note,
    normalize_token,
    tokenize,
)
from tests.fingerprints import normalized_tokens
from tests.fixtures.dedup.persist import held, reopened

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TRICKY = [
    "ﬁnancial ＡＢＣ１２３ café cafe\u0301 Straße İstanbul ıi ſyndicated K\u212a ½ ① ㊀",
    "서울 연합뉴스 기자 = 삼성전자가 3분기 실적을 발표했다.\n저작권자 ⓒ 연합뉴스 무단전재 및 재배포 금지",
    "北京时间 2026年11月23日，华为发布了新手机。版权所有\n东京 ｶﾀｶﾅ ｱ カタカナ ㈱ 〜 ・ ー 々",
    "Hangul jamo ᄀ ᅡ ㄱ ㅏ ﾡﾂ and halfwidth ﾡ\u3099 ゛゙",
    "Title Line Here\n\nThe body starts here with twelve words of text in one line.",
    "Originally published by The Verge.\nThis article first appeared on Wired and is republished"
    " with permission from Wired.\n© 2026 Example Corp. All rights reserved.\nBody text goes on.",
    "x_y snake_case 3.14 1,000 e-mail U.S. don't \u00a0nbsp\u2003em\r\nCRLF line\n\n\n   \n",
    "lone \ud800 surrogate and \U0001d400\U0001d401 math letters 𠀀𠀁 ext-b",
    "Ünïcödé deçomposed: u\u0308ber A\u030a e\u0301\u0301 \u1e9b\u0323 ǅ ǈ ﬀ ﬃ",
    "",
    "\n\n",
    "one",
]
TITLES = [None, "서울 연합뉴스", None, None, "Title line here", None, None, None, "Ünïcödé", "x",
          None, "one"]


def _real_texts(limit: int = 400) -> tuple[list[str], list[str | None]]:
    texts: list[str] = []
    titles: list[str | None] = []
    manifest = json.loads((DATA / "syndication-dev" / "manifest.json").read_text())
    for page in manifest["pages"]:
        if page.get("body"):
            texts += [page["body"], f"{page.get('title') or ''}\n{page['body']}"]
            titles += [page.get("title"), page.get("title")]
    for name in ("giveme5w1h-news-cluster", "multinews-longbench"):
        with (DATA / name / "articles.jsonl").open() as fh:
            for i, line in enumerate(fh):
                if i >= limit:
                    break
                row = json.loads(line)
                texts.append(row["text"])
                titles.append(row.get("title"))
    return texts, titles


def _reference_windows(ref: Tokens, n_shingles: int, min_size: int) -> list[tuple]:
    """Lines, and sentences inside lines of more than _BLOCK_TOKENS tokens, merged forward to
    ``min_size`` shingles; a short tail joins the previous window."""
    if n_shingles == 0:
        return []
    line_len = Counter(ref.paragraphs)
    out: list[tuple[int, int]] = []
    cur = 0
    for i in range(n_shingles):
        size = i - cur + 1
        line_end = i + 1 < len(ref) and ref.paragraphs[i + 1] != ref.paragraphs[i]
        block = line_len[ref.paragraphs[i]] > _BLOCK_TOKENS
        if size >= min_size and (i == n_shingles - 1 or line_end or (block and ref.stops[i])):
            out.append((cur, i))
            cur = i + 1
    if cur < n_shingles:
        if out:
            out[-1] = (out[-1][0], n_shingles - 1)
        else:
            out.append((cur, n_shingles - 1))
    return out


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str | None]]:
    if not (DATA / "syndication-dev" / "manifest.json").exists():
        pytest.skip("no shared corpora")
    texts, titles = _real_texts()
    return TRICKY + texts, TITLES + titles


def test_tokens_hashes_and_windows_equal_the_python_reference(corpus) -> None:
    texts, titles = corpus
    config = DedupConfig()
    got = normalized_tokens(texts, titles)
    batch = fingerprint_batch(texts, titles, config)
    assert any(tokenize(t).cjk for t in texts)  # CJK pages are covered
    for d, (text, title) in enumerate(zip(texts, titles, strict=True)):
        ref = tokenize(text, title)
        words, starts, ends, lines = got[d]
        assert words == list(ref.words), text[:80]
        assert (starts, ends) == (list(ref.starts), list(ref.ends))
        assert (np.diff(lines) != 0).tolist() == (np.diff(ref.paragraphs) != 0).tolist()
        hashes, last = shingle_hashes(ref.words, config.shingle_size, config.cjk_shingle_size,
                                      config.seed)
        fp = batch.get(d)
        assert fp.hashes.tolist() == hashes.tolist()
        assert fp.last_token.tolist() == last.tolist()
        assert list(fp.windows) == _reference_windows(ref, fp.n, config.min_window_shingles)


def test_batches_do_not_change_fingerprints(corpus) -> None:
    texts, titles = corpus
    config = DedupConfig()
    whole = fingerprint_batch(texts, titles, config)
    for d in (0, 3, 17, len(texts) - 1):
        one = fingerprint_batch([texts[d]], [titles[d]], config).get(0)
        assert one.hashes.tolist() == whole.get(d).hashes.tolist()
        assert one.windows == whole.get(d).windows


def test_random_character_soup_tokenises_like_the_regex() -> None:
    rng = random.Random(4)
    pool = [chr(c) for c in [*range(0x20, 0x250), *range(0x370, 0x3ff), *range(0x400, 0x4ff),
                             *range(0x1100, 0x1112), *range(0x3040, 0x30ff),
                             *range(0xac00, 0xac40), *range(0xff01, 0xffdc),
                             *range(0x300, 0x370), 0x2460, 0x3280, 0xfb01, 0x212a, 0x17f]]
    pool += ["\n"] * 10 + [" "] * 30
    texts = ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 300))) for _ in range(300)]
    got = normalized_tokens(texts, [None] * len(texts))
    for text, (words, starts, ends, _) in zip(texts, got, strict=True):
        ref = tokenize(text)
        assert (words, starts, ends) == (list(ref.words), list(ref.starts), list(ref.ends))


def test_note_line_prefilter_agrees_with_the_regexes(corpus) -> None:
    texts, _ = corpus
    lines = [ln for t in texts for ln in t.split("\n")]
    lines += ["ORIGINALLY PUBLISHED BY X", "ſyndicated by Foo", "orİginally published by X",
              "(C) 2026 Foo", "ⒸFoo", "Copyright Foo", "all   rights reserved"]
    for line in lines:
        want = bool(SYNDICATION_NOTE.search(line) or RIGHTS_NOTE.search(line))
        assert is_note_line(line) == want, line
    for text in [*texts, *lines]:
        if SYNDICATION_NOTE.search(text) or RIGHTS_NOTE.search(text):
            assert may_hold_note(text)
    assert not may_hold_note("The first time it ran, all rights were his.")


def test_compiled_minhash_and_band_keys_equal_the_references() -> None:
    rng = np.random.default_rng(2)
    hashes = rng.integers(0, 2**63, 5000, dtype=np.uint64)
    offsets = np.asarray([0, 1, 9, 60, 700, 2000, 5000])
    config = DedupConfig()
    sig = kperm_ranges(hashes, offsets[:-1], offsets[1:], 128, 1)
    assert (sig == kperm_signatures(hashes, offsets, 128, 1)).all()
    keys = band_keys(sig, config)
    r = config.lsh_rows
    ref = [[xxhash.xxh64_intdigest(b.to_bytes(2, "little") + s[b * r:(b + 1) * r].tobytes())
            for b in range(config.lsh_bands)] for s in sig]
    assert keys.tolist() == ref


def _reference_align(a_id, fa, bp_a, b_id, fb, bp_b, config):
    """The Python alignment the compiled one replaced (commit e241cce), verbatim in logic."""
    if a_id > b_id:
        a_id, fa, bp_a, b_id, fb, bp_b = b_id, fb, bp_b, a_id, fa, bp_a
    content_a, content_b = ~bp_a, ~bp_b
    set_a = np.unique(fa.hashes[content_a])
    set_b = np.unique(fb.hashes[content_b])
    if set_a.size == 0 or set_b.size == 0:
        return None
    m_a = np.isin(fa.hashes, set_b) & content_a
    m_b = np.isin(fb.hashes, set_a) & content_b
    min_matched = min(config.min_passage_shingles, set_a.size, set_b.size)

    def segments(mask):
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return []
        cuts = np.flatnonzero(np.diff(idx) > config.max_gap + 1) + 1
        return [(int(g[0]), int(g[-1])) for g in np.split(idx, cuts) if g.size >= min_matched]

    seg_a, seg_b = segments(m_a), segments(m_b)
    if not seg_a or not seg_b:
        return None
    seg_of_b = np.full(fb.n, -1, dtype=np.int64)
    for i, (first, last) in enumerate(seg_b):
        seg_of_b[first:last + 1] = i
    positions: dict[int, list[int]] = {}
    for pos in np.flatnonzero(m_b).tolist():
        positions.setdefault(int(fb.hashes[pos]), []).append(pos)
    passages = []
    for first, last in seg_a:
        groups: dict[int, tuple[list[int], list[int]]] = {}
        for pos in range(first, last + 1):
            if not m_a[pos]:
                continue
            for hit in positions.get(int(fa.hashes[pos]), ()):
                seg = int(seg_of_b[hit])
                if seg >= 0:
                    a_pos, b_pos = groups.setdefault(seg, ([], []))
                    if not a_pos or a_pos[-1] != pos:
                        a_pos.append(pos)
                    b_pos.append(hit)
        for _, (a_pos, b_pos) in sorted(groups.items()):
            if len(a_pos) >= min_matched:
                passages.append(Passage(a_pos[0], a_pos[-1], min(b_pos), max(b_pos), len(a_pos)))
    if not passages:
        return None
    cum_a = np.concatenate(([0], np.cumsum(content_a)))
    cum_b = np.concatenate(([0], np.cumsum(content_b)))
    n_a, n_b = int(cum_a[-1]), int(cum_b[-1])
    ra = [(p.a_first, p.a_last) for p in passages]
    rb = [(p.b_first, p.b_last) for p in passages]
    inter = np.intersect1d(set_a, set_b).size
    return Alignment(a_id, b_id, tuple(passages), min(_union_content(cum_a, ra) / n_a, 1.0),
                     min(_union_content(cum_b, rb) / n_b, 1.0),
                     int(cum_a[min(r[0] for r in ra)]) / n_a,
                     int(cum_b[min(r[0] for r in rb)]) / n_b,
                     inter / (set_a.size + set_b.size - inter))


def test_compiled_alignment_equals_the_python_reference(corpus) -> None:
    texts, _ = corpus
    rng = random.Random(9)
    config = DedupConfig()
    base = [t for t in texts if len(t.split()) > 150][:60]
    edited = []
    for t in base:  # syndication-like edits: re-ordered, abridged, copy-edited, repeated text
        paras = t.split("\n")
        rng.shuffle(paras)
        words = " ".join(paras[: max(2, len(paras) // 2)]).split()
        words = [rng.choice(words) if rng.random() < 0.03 else w for w in words]
        edited.append("\n".join([" ".join(words), paras[0], paras[0]]))
    batch = fingerprint_batch(base + edited, [None] * (2 * len(base)), config)
    n = len(base)
    checked = 0
    for i in range(n):
        for j in (i + n, (i + 1) % n + n, (i + 7) % n):
            fa, fb = batch.get(i), batch.get(j)
            for trial in range(3):
                ma = np.asarray([rng.random() < 0.1 * trial for _ in range(fa.n)], dtype=bool)
                mb = np.asarray([rng.random() < 0.1 * trial for _ in range(fb.n)], dtype=bool)
                got = align(i, fa, ma, j, fb, mb, config)
                assert got == _reference_align(i, fa, ma, j, fb, mb, config)
                checked += got is not None
    assert checked > n  # most copy pairs share passages
    ids = np.arange(2 * n)
    rows_a, rows_b = np.repeat(ids, 2 * n), np.tile(ids, 2 * n)
    keep = rows_a < rows_b
    rows_a, rows_b = rows_a[keep], rows_b[keep]
    mask = np.asarray([rng.random() < 0.05 for _ in range(batch.hashes.size)], dtype=bool)
    many = align_many(rows_a, rows_a, rows_b, rows_b, batch.hashes, mask, batch.doc_sh, config)
    cut = batch.doc_sh
    for a, b, got in zip(rows_a.tolist(), rows_b.tolist(), many, strict=True):
        assert got == align(a, batch.get(a), mask[cut[a]:cut[a + 1]], b, batch.get(b),
                            mask[cut[b]:cut[b + 1]], config)


def _docs(n: int = 60) -> list[Document]:
    rng = random.Random(1)
    texts, _ = _real_texts(limit=40)
    out = []
    for i in range(n):
        src = texts[rng.randrange(len(texts))]
        paras = src.split("\n")
        if i % 3 == 1:
            paras = paras[: max(2, len(paras) // 2)]
        out.append(Document(id=1000 - 7 * i, url=f"http://s{i % 5}.test/{i}", site=f"s{i % 5}.test",
                            text="\n".join([*paras, "Subscribe to our newsletter for more news"
                                            " every single morning of the week"]),
                            title=paras[0][:40]))
    return out


def test_add_in_any_batches_equals_one_rebuild(tmp_path) -> None:
    if not (DATA / "syndication-dev" / "manifest.json").exists():
        pytest.skip("no shared corpora")
    docs = _docs()
    rebuilt = deduplicate(docs)
    assert any(len(s.members) > 1 for s in rebuilt.stories)
    index = DedupIndex()
    index.add(docs[:7], batch=3)
    index.result()
    index = reopened(index, tmp_path / "first")
    index.add(docs[7:40], batch=5)
    index = reopened(index, tmp_path / "second")
    index.add(docs[40:])
    assert index.result() == rebuilt
    parallel = DedupIndex()
    parallel.add(docs, batch=9, workers=2)  # batches signed in two processes
    assert parallel.result() == rebuilt
    assert len(index.candidate_pairs()) == len(np.unique(index.candidate_pairs(), axis=0))


def test_normalisation_table_composes_like_whole_tokens() -> None:
    from dedup.text import char_tables

    cls, mapped, _ = char_tables()
    word = np.flatnonzero((cls == 1) & (mapped > 0))
    rng = np.random.default_rng(0)
    for a, b, c in rng.choice(word, (20000, 3)).tolist():
        assert normalize_token(chr(a) + chr(b) + chr(c)) == chr(mapped[a]) + chr(mapped[b]) + \
            chr(mapped[c])


def test_an_index_stored_without_texts_takes_them_back(tmp_path) -> None:
    from dedup.index import StaleDocuments

    if not (DATA / "syndication-dev" / "manifest.json").exists():
        pytest.skip("no shared corpora")
    docs = _docs(20)
    index = DedupIndex()
    index.add(docs)
    result = index.result()
    index.save(tmp_path)
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert docs[0].text[:60].encode() not in stored
    by_id = {d.id: d for d in docs}
    loaded = DedupIndex.open(tmp_path, documents=by_id)
    assert held(loaded) == held(index)
    assert loaded.result() == result
    with pytest.raises(StaleDocuments):
        DedupIndex.open(tmp_path)
    changed = dict(by_id)
    changed[docs[3].id] = dataclasses.replace(docs[3], text=docs[3].text + " More.")
    with pytest.raises(StaleDocuments):
        DedupIndex.open(tmp_path, documents=changed)


def test_boilerplate_counts_and_masks_equal_a_plain_count() -> None:
    from collections import Counter

    from dedup.boilerplate import BoilerplateModel

    rng = np.random.default_rng(3)
    pool = rng.integers(0, 2**64 - 1, 300, dtype=np.uint64)
    model, counts = BoilerplateModel(3), Counter()
    rows: list[tuple[int, np.ndarray]] = []
    for _ in range(4):  # batches
        sites = rng.integers(0, 5, 40)
        pages = [pool[rng.integers(0, 300, rng.integers(0, 30))] for _ in sites]
        doc_sh = np.concatenate(([0], np.cumsum([p.size for p in pages])))
        flat = np.concatenate(pages)
        crossed = model.add(sites, flat, doc_sh)
        before = {k for k, c in counts.items() if c >= 3}
        for site, page in zip(sites.tolist(), pages, strict=True):
            counts.update((site, h) for h in set(page.tolist()))
            rows.append((site, page))
        now = {k for k, c in counts.items() if c >= 3}
        assert {(s, h) for s, hs in crossed.items() for h in hs.tolist()} == now - before
        all_sites = np.asarray([s for s, _ in rows])
        all_sh = np.concatenate(([0], np.cumsum([p.size for _, p in rows])))
        got = model.masks(all_sites, np.concatenate([p for _, p in rows]), all_sh)
        want = [(s, h) in now for s, p in rows for h in p.tolist()]
        assert got.tolist() == want


def test_threaded_window_keys_equal_one_thread() -> None:
    from dedup.lsh import window_keys

    rng = np.random.default_rng(6)
    hashes = rng.integers(0, 2**63, 300000, dtype=np.uint64)
    lo = np.sort(rng.integers(0, 299000, 25000))
    hi = lo + rng.integers(1, 60, lo.size)
    config = DedupConfig()
    assert (window_keys(hashes, lo, hi, config, 2) == window_keys(hashes, lo, hi, config, 1)).all()


def test_shingle_hashes_tell_order_seed_and_words_apart() -> None:
    from dedup.hashing import token_hash
    from dedup.reference import combine_tokens

    words = [f"w{i}" for i in range(50000)] + ["ünïcode", "日", "本", "", "a" * 300]
    hashes = {token_hash(w) for w in words}
    assert len(hashes) == len(words)  # no collision among 50k distinct tokens
    toks = [token_hash(w) for w in ("stock", "market", "rally", "ends", "today")]
    base = combine_tokens(toks, 1)
    assert combine_tokens(toks[::-1], 1) != base  # order matters
    assert combine_tokens(toks, 2) != base  # the seed matters
    assert combine_tokens(toks[:4], 1) != combine_tokens([*toks[:4], token_hash("")], 1)
    shingles = {combine_tokens([token_hash(w) for w in words[i:i + 5]], 1)
                for i in range(0, 40000)}
    assert len(shingles) == 40000


def test_char_spans_of_many_ranges_equal_each_fingerprints_char_span(corpus) -> None:
    """``FingerprintBatch.char_spans`` (what passage links are cut by, many at once) equals
    ``Fingerprint.char_span`` range by range, CJK shingles (shorter, so a range's last token is
    not its last shingle's) and ranges ending a batch included."""
    texts, titles = corpus
    batch = fingerprint_batch(texts, titles, DedupConfig())
    rng = random.Random(4)
    rows, first, last = [], [], []
    for r in list(range(len(batch))) * 3:
        n = int(batch.doc_sh[r + 1] - batch.doc_sh[r])
        if n:
            f = rng.randrange(n)
            rows.append(r)
            first.append(f)
            last.append(rng.randrange(f, n) if rng.random() < 0.8 else n - 1)
    starts, ends = batch.char_spans(np.asarray(rows), np.asarray(first), np.asarray(last))
    want = [batch.get(r).char_span(f, lt) for r, f, lt in zip(rows, first, last, strict=True)]
    assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == want


def _carries_spec(ranges: list[tuple[int, int]], first: int, last: int) -> bool:
    """Whether ``ranges`` (any order, overlapping) cover at least half of ``first..last``:
    shingle by shingle."""
    inside = {i for f, lt in ranges for i in range(max(f, first), min(lt, last) + 1)}
    return 2 * len(inside) >= last - first + 1


def test_carries_over_merged_blocks_equals_counting_shingle_by_shingle() -> None:
    """The relations' ``_carries`` (over ``_blocks``, merged once per alignment side) equals
    counting the covered shingles of the region one by one."""
    from dedup.relations import _blocks, _carries

    rng = random.Random(3)
    for _ in range(3000):
        ranges = []
        for _ in range(rng.randrange(6)):
            f = rng.randrange(60)
            ranges.append((f, f + rng.randrange(12)))
        first = rng.randrange(60)
        last = first + rng.randrange(15)
        assert _carries(_blocks(ranges), first, last) == _carries_spec(ranges, first, last)
