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
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dedup import Document

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
        vocab = sorted(set(words))  # the order of np.unique on the strings
        code = {w: i for i, w in enumerate(vocab)}
        self.vocab = np.asarray(vocab)
        ids = np.fromiter(map(code.__getitem__, words), dtype=np.int64, count=len(words))
        order = np.argsort(ids[:-1], kind="stable")
        self.succ = ids[1:][order]
        counts = np.bincount(ids[:-1], minlength=self.vocab.size)
        self.start = np.concatenate(([0], np.cumsum(counts)))[:-1]
        self.count = np.maximum(counts, 1)
        encoded = [w.encode() + b" " for w in self.vocab.tolist()]  # each word with a space
        self._blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        self._len = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        self._off = np.concatenate(([0], np.cumsum(self._len)))[:-1]

    def texts(self, n: int, n_words: int, para_words: int, rng: np.random.Generator) -> list[str]:
        state = rng.integers(0, self.vocab.size, n)
        out = np.empty((n, n_words), dtype=np.int64)
        for j in range(n_words):
            nxt = self.succ[np.minimum(self.start[state] + (rng.random(n) * self.count[state])
                                       .astype(np.int64), self.succ.size - 1)]
            jump = rng.random(n) < 0.02  # occasional restart: no long forced chains
            state = np.where(jump, rng.integers(0, self.vocab.size, n), nxt)
            out[:, j] = state
        return [t for lo in range(0, n, 2000) for t in self._join(out[lo:lo + 2000], para_words)]

    def _join(self, out: np.ndarray, para_words: int) -> list[str]:
        """Texts of word-id rows. Bytes of all words back to back (each with its space),
        gathered at once; the space after a paragraph's last word becomes a newline, the
        document's last one is cut."""
        n, n_words = out.shape
        ids = out.ravel()
        lens = self._len[ids]
        ends = np.cumsum(lens)
        idx = np.repeat((self._off[ids] - (ends - lens)).astype(np.int32), lens)
        idx += np.arange(int(ends[-1]), dtype=np.int32)
        blob = self._blob[idx]
        col = np.tile(np.arange(n_words), n)
        blob[ends[(col + 1) % para_words == 0] - 1] = ord("\n")
        doc_end = ends[n_words - 1::n_words]
        doc_start = np.concatenate(([0], doc_end[:-1]))
        raw = blob.tobytes()
        return [raw[a:b - 1].decode() for a, b in zip(doc_start.tolist(), doc_end.tolist(),
                                                      strict=True)]


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
    originals: deque[tuple[str, str]] = deque(maxlen=5000)  # copies quote recent originals
    fresh: list[str] = []
    for i in range(n):
        site = f"site{rng.randrange(200)}.test"
        if originals and rng.random() < copy_share:
            title, text = rng.choice(originals)
            yield i, site, title, _edit(text, rng, vocab)
            continue
        if not fresh:
            fresh = babbler.texts(min(batch, n), n_words, rng.randint(40, 60), nrng)[::-1]
        text = fresh.pop()
        title = " ".join(rng.choice(vocab) for _ in range(8))
        originals.append((title, text))
        yield i, site, title, text


def documents(n: int, seed: int = 0) -> list[Document]:
    """``archive(n, seed)`` as dedup ``Document`` objects (ids 0 .. n - 1)."""
    from dedup import Document

    return [Document(id=i, url=f"http://{site}/a/{i}", site=site, text=text, title=title)
            for i, site, title, text in archive(n, seed)]
