"""The compiled tokenizer reads every kind of str in place (1, 2 and 4 bytes a code point), in
chunks of joined documents, and drops title and note lines like ``dedup.text.tokenize``."""

from __future__ import annotations

import random

import numpy as np
import pytest

import dedup.tokenizer as tokenizer
from dedup import DedupConfig
from dedup.reference import shingle_hashes
from dedup.shingles import fingerprint_batch
from dedup.text import may_hold_note, tokenize
from tests.fingerprints import normalized_tokens

MIXED = (
    "Plain ASCII words, don't stop: 3.14 and 1,000.\r\n"
    "Latin-1 café naïve façade ½ µ ß ÿ ª º\n"
    "CJK 北京时间 2026年 서울 연합뉴스 カタカナ ｶﾀｶﾅ ㈱ ヿ\n"
    "Astral 𝐀𝐁 𠀀𠀁 emoji 😀👍🏽 and lone \ud800 surrogate \udfff here\r\n"
    "\n   \n\u00a0\u2003\tspaces\u2028sep\x1c\x1d\x85end"
)
# One of each string kind, and the same lines spread over documents of each kind.
KINDS = [
    "all ascii text\r\nsecond line here",
    "latin one ÿ café\nMORE Ünïcödé",
    "bmp ’quotes’ — 版权所有 line",
    "astral 😀 text\n𝐀𝐁𝐂 word",
]
NOTES = [
    "Originally published by The Verge.",
    "© 2026 Example Corp. All rights reserved.",
    "ORİGINALLY PUBLISHED BY X",
    "ſyndicated by Foo",
    "Ⓒ Foo 2026",
    "저작권자 ⓒ 연합뉴스 무단전재 및 재배포 금지",
    "版权所有 新华社",
    "The first time it ran, all rights were his.",
    "This article first appeared on Wired.",
    "copyright",
    "(C) 2024 Someone",
]

# Notes glued into a line of more than 30 words (a story extracted as one block): dropped a
# sentence at a time, the story's sentences around them kept.
_STORY = "The council met on Monday and voted on the plan for the river. "
BLOCKS = [
    _STORY * 3 + "(c) 2026 The Associated Press. All rights reserved. This material may not be "
    "published, broadcast, rewritten or redistributed." + _STORY,
    _STORY * 2 + "This story was originally published by The Verge.Then " + _STORY * 2,
    "版权所有 新华社。" + _STORY * 4 + "Copyright? … ",
    _STORY * 4 + "Was the copyright" + " word" * 30 + ". Originally published by X",
]


def _texts(rng: random.Random, n: int) -> tuple[list[str], list[str | None]]:
    lines = [*MIXED.split("\n"), *KINDS, *NOTES, *BLOCKS, "Title Line Here", "", "  ",
             "北京 新闻 标题"]
    texts, titles = [], []
    for _ in range(n):
        body = [rng.choice(lines) for _ in range(rng.randrange(0, 8))]
        title = rng.choice([None, "", "Title line here", "北京 新闻 标题", "Ünïcödé", body[0]
                            if body else "x"])
        texts.append("\n".join(body))
        titles.append(title)
    return texts, titles


def _assert_like_reference(texts: list[str], titles: list[str | None]) -> None:
    config = DedupConfig()
    got = normalized_tokens(texts, titles)
    batch = fingerprint_batch(texts, titles, config)
    for d, (text, title) in enumerate(zip(texts, titles, strict=True)):
        ref = tokenize(text, title)
        words, starts, ends, lines = got[d]
        assert words == list(ref.words), (text, title)
        assert (starts, ends) == (list(ref.starts), list(ref.ends))
        assert (np.diff(lines) != 0).tolist() == (np.diff(ref.paragraphs) != 0).tolist()
        hashes, last = shingle_hashes(ref.words, config.shingle_size, config.cjk_shingle_size,
                                      config.seed)
        assert batch.get(d).hashes.tolist() == hashes.tolist()
        assert batch.get(d).last_token.tolist() == last.tolist()


def test_every_string_kind_matches_the_reference() -> None:
    texts = [MIXED, *KINDS, "".join(KINDS), "\n".join(NOTES), *BLOCKS, "", "\n"]
    titles: list[str | None] = [None] * len(texts)
    _assert_like_reference(texts, titles)
    for text in texts:  # alone: the joined chunk has the text's own kind
        _assert_like_reference([text], [None])
        _assert_like_reference([text], [text.split("\n")[0]])


@pytest.mark.parametrize("chunk", [1, 40, 300, 1 << 17])
def test_chunks_titles_and_notes_match_the_reference(chunk: int, monkeypatch) -> None:
    monkeypatch.setattr(tokenizer, "_CHUNK_CHARS", chunk)
    texts, titles = _texts(random.Random(chunk), 300)
    _assert_like_reference(texts, titles)


def test_buffers_grow_for_cjk_and_many_note_lines(monkeypatch) -> None:
    statuses = []
    tokenize_chunk = tokenizer._tokenize

    def record(*args):
        got = tokenize_chunk(*args)
        statuses.append(got[0])
        return got

    monkeypatch.setattr(tokenizer, "_CHUNK_CHARS", 1 << 12)
    monkeypatch.setattr(tokenizer, "_tokenize", record)
    texts = ["a b c d e f g " * 20, "北京时间华为发布了新手机" * 200, "\n".join(NOTES * 30)]
    _assert_like_reference(texts * 3, [None, "Originally published by The Verge.", "a b"] * 3)
    _assert_like_reference([" ".join(BLOCKS * 30)], [None])  # many note sentences on one line
    assert {tokenizer._FULL_TOKENS, tokenizer._FULL_ASKS} <= set(statuses)


def test_compiled_note_check_holds_every_note_line() -> None:
    table = tokenizer._packed_table()
    hints, first = tokenizer._note_hints()
    rng = random.Random(7)
    pool = [*"abcdefghijklmnopqrstuvwxyz()© ", "İ", "ı", "ſ", "K", "Ⓒ", "ⓒ", "무단", "版权所有",
            "無断転載", "first ", "rights ", "COPYRIGHT", "Syndicated"]
    lines = [*NOTES, *MIXED.split("\n"), *KINDS]
    lines += ["".join(rng.choice(pool) for _ in range(rng.randrange(1, 40))) for _ in range(3000)]
    for line in lines:
        cps = np.frombuffer(line.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        got = tokenizer._may_hold_note(cps, 0, cps.shape[0], table, hints, first)
        low = line.lower()
        assert got >= may_hold_note(line), line
        assert got <= (may_hold_note(line) or "first" in low or "rights" in low), line
