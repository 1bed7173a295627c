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


def archive(n: int, seed: int = 0, copy_share: float = 0.3) -> Iterator[tuple[int, str, str, str]]:
    """(id, site, title, text) of ``n`` generated articles; ~``copy_share`` are copies."""
    rng = random.Random(seed)
    pool = bodies()
    paras = [p for b in pool for p in b.split("\n") if len(p.split()) >= 12]
    vocab = sorted({w for p in paras[:2000] for w in p.split()})
    originals: list[tuple[str, str]] = []
    for i in range(n):
        site = f"site{rng.randrange(200)}.test"
        if originals and rng.random() < copy_share:
            title, text = rng.choice(originals[-5000:])
            yield i, site, title, _edit(text, rng, vocab)
            continue
        base = rng.choice(pool).split("\n")
        k = rng.randint(4, 12)
        text = "\n".join(base[:2] + rng.sample(paras, k))
        title = " ".join(rng.choice(vocab) for _ in range(8))
        originals.append((title, text))
        yield i, site, title, text
