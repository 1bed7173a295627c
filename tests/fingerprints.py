"""Test views of the compiled fingerprint path."""

from __future__ import annotations

from dedup.config import DedupConfig
from dedup.shingles import Fingerprint, fingerprint_batch
from dedup.text import char_tables
from dedup.tokenizer import _slow_words, _tokens


def normalized_tokens(texts: list[str], titles: list[str | None]) -> list[tuple[list[str], ...]]:
    """Per text: (words, starts, ends, lines) as the compiled path sees them (for tests): the
    tables' mapping of each character, or ``normalize_token`` for the tokens they do not map."""
    start, end, line, flag, doc_tok, _ = _tokens(texts, titles)
    slow, words = _slow_words(texts, start, end, flag, doc_tok)
    by_token = dict(zip(slow.tolist(), words, strict=True))
    mapped = char_tables()[1]
    out = []
    for d, text in enumerate(texts):
        a, b = int(doc_tok[d]), int(doc_tok[d + 1])
        got = [by_token[t] if t in by_token
               else "".join(chr(mapped[ord(c)]) for c in text[start[t]:end[t]])
               for t in range(a, b)]
        out.append((got, start[a:b].tolist(), end[a:b].tolist(), line[a:b].tolist()))
    return out



def fingerprint(text: str, title: str | None, config: DedupConfig) -> Fingerprint:
    """Tokenise, shingle and window one document."""
    return fingerprint_batch([text], [title], config).get(0)
