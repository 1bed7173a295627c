"""Real article bodies for the speed benches, and a generated syndication-like archive.

Bodies come from ../shared/data (syndication-dev manifest, giveme5w1h-news-cluster,
multinews-longbench). ``archive(n)`` makes ``n`` articles from them: fresh originals (each a
real body with paragraphs re-sampled from the pool, so originals differ) and copies with the
edits syndication makes (new lede, cut tail, copy-edited words, a dropped paragraph). Nothing is
written to disk.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def bodies() -> list[str]:
    """Real article bodies (paragraphs separated by newlines), at least 100 words each."""
    out = []
    manifest = json.loads((DATA / "syndication-dev" / "manifest.json").read_text())
    out += [p["body"] for p in manifest["pages"] if p.get("body")]
    for name in ("giveme5w1h-news-cluster", "multinews-longbench"):
        with (DATA / name / "articles.jsonl").open() as fh:
            out += [json.loads(line)["text"] for line in fh]
    return [b for b in dict.fromkeys(out) if len(b.split()) >= 100]


def words_doc(pool: list[str], rng: random.Random, n_words: int) -> str:
    """A document of about ``n_words`` words: real paragraphs drawn from the pool."""
    paras = [p for b in pool for p in b.split("\n") if len(p.split()) >= 12]
    out, total = [], 0
    while total < n_words:
        p = rng.choice(paras)
        out.append(p)
        total += len(p.split())
    return "\n".join(out)


def _edit(text: str, rng: random.Random, vocab: list[str]) -> str:
    paras = text.split("\n")
    kind = rng.random()
    if kind < 0.4:  # new lede, last tenth cut
        lede = " ".join(rng.choice(vocab) for _ in range(40))
        paras = [lede.capitalize() + ".", *paras[: max(1, int(len(paras) * 0.9))]]
    elif kind < 0.7:  # copy-edited words
        paras = [" ".join(rng.choice(vocab) if rng.random() < 0.02 else w for w in p.split())
                 for p in paras]
    elif kind < 0.85 and len(paras) > 3:  # a paragraph dropped
        del paras[rng.randrange(1, len(paras))]
    else:  # cut to the first half (abridged)
        paras = paras[: max(2, len(paras) // 2)]
    return "\n".join(paras)


class Babbler:
    """Word-bigram model of the real bodies: fresh originals that read like news text.

    Generated text shares only stock phrases with other generated text (as unrelated real
    articles do); vectorised over many documents at once.
    """

    def __init__(self, pool: list[str]) -> None:
        words = [w for b in pool for w in b.split()]
        self.vocab, ids = np.unique(np.asarray(words), return_inverse=True)
        order = np.argsort(ids[:-1], kind="stable")
        self.succ = ids[1:][order]
        counts = np.bincount(ids[:-1], minlength=self.vocab.size)
        self.start = np.concatenate(([0], np.cumsum(counts)))[:-1]
        self.count = np.maximum(counts, 1)

    def texts(self, n: int, n_words: int, para_words: int, rng: np.random.Generator) -> list[str]:
        state = rng.integers(0, self.vocab.size, n)
        out = np.empty((n, n_words), dtype=np.int64)
        for j in range(n_words):
            nxt = self.succ[np.minimum(self.start[state] + (rng.random(n) * self.count[state])
                                       .astype(np.int64), self.succ.size - 1)]
            jump = rng.random(n) < 0.02  # occasional restart: no long forced chains
            state = np.where(jump, rng.integers(0, self.vocab.size, n), nxt)
            out[:, j] = state
        words = self.vocab[out]
        return ["\n".join(" ".join(row[i:i + para_words]) for i in range(0, n_words, para_words))
                for row in words.tolist()]


def archive(n: int, seed: int = 0, copy_share: float = 0.3, n_words: int = 400,
            batch: int = 20000) -> Iterator[tuple[int, str, str, str]]:
    """(id, site, title, text) of ``n`` generated articles; ~``copy_share`` are copies.

    Originals: bigram text from the real bodies (~``n_words`` words, 40-60-word paragraphs);
    copies: an earlier original (or the real body it quotes) with a syndication edit.
    """
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    pool = bodies()
    babbler = Babbler(pool)
    vocab = babbler.vocab[:: max(1, babbler.vocab.size // 5000)].tolist()
    originals: list[tuple[str, str]] = []
    fresh: list[str] = []
    for i in range(n):
        site = f"site{rng.randrange(200)}.test"
        if originals and rng.random() < copy_share:
            title, text = rng.choice(originals[-5000:])
            yield i, site, title, _edit(text, rng, vocab)
            continue
        if not fresh:
            fresh = babbler.texts(min(batch, n), n_words, rng.randint(40, 60), nrng)[::-1]
        text = fresh.pop()
        title = " ".join(rng.choice(vocab) for _ in range(8))
        originals.append((title, text))
        yield i, site, title, text
