"""DedupIndex.result() decided incrementally (per alignment component, cached between calls)
equals a rebuild on the same documents: same stories, same links, same order."""

from __future__ import annotations

import dataclasses
import random
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from dedup import DedupIndex, Document, deduplicate
from tests.fixtures.dedup.persist import reopened
from tests.fixtures.dedup.synth import doc, paragraph, story

ROOT = Path(__file__).resolve().parents[1]
_T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _generated(n: int) -> list[Document]:
    """``n`` articles of ``bench/corpus.archive`` (real bodies with syndication edits), dated;
    synthetic stories and copies when the shared data is absent."""
    rng = random.Random(7)
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        from corpus import archive

        rows = list(archive(n, seed=3))
    except (ImportError, OSError):
        rows = []
        for i in range(n):
            src = rng.randrange(max(1, i)) if i and rng.random() < 0.3 else i
            paras = story(500 + src, 8)
            if src != i:
                paras = paras[: rng.randrange(4, 9)]
            rows.append((i, f"site{rng.randrange(12)}.test", f"title {src}", "\n".join(paras)))
    finally:
        if sys.path[0] == str(ROOT / "bench"):
            sys.path.pop(0)
    return [Document(id=1000 + i, url=f"https://{site}/a/{i}", site=site, text=text,
                     title=title, published=_T0 + timedelta(hours=rng.randrange(48))
                     if rng.random() < 0.8 else None)
            for i, site, title, text in rows]


def _handmade() -> list[Document]:
    """Copies declaring rel=canonical, provenance notes, wire copies, a digest quoting several
    stories, follow-ups quoting one, and a site footer that becomes boilerplate late."""
    base, other, third = story(70, 10), story(71, 9), story(72, 8)
    footer = paragraph(990, 30)
    return [
        doc(1, "origin.test", [*base, footer], title="Storm hits the coast"),
        doc(2, "copy.test", base[:7], hours=2, title="Storm hits the coast",
            canonical_url="https://origin.test/1.html"),
        doc(3, "wire.test", ["By AP wire reports.", *base[:8]], hours=1, author="AP",
            title="Storm hits coast"),
        doc(4, "notes.test", [*other, "Originally published by Origin."], hours=5,
            title="Council votes on budget"),
        doc(5, "origin.test", [*other[:7], footer], hours=6, title="Council votes on budget"),
        doc(6, "digest.test", ["Today in brief.", base[0], other[0], third[0]], hours=20,
            title="Morning digest"),
        doc(7, "follow.test", [*story(73, 5), *base[-2:]], hours=50, title="After the storm"),
        doc(8, "origin.test", [*third, footer], hours=3, title="Plant opens"),
        doc(9, "copy.test", third[:6], hours=4, title="Plant opens"),
        doc(10, "origin.test", [*story(74, 6), footer], hours=8, title="Bank loans"),
        doc(11, "digest.test", ["Evening brief.", other[1], third[1], footer], hours=30,
            title="Evening digest"),
        doc(12, "follow.test", [*story(75, 4), other[-1], third[-1]], hours=60,
            title="Round-up of the week"),
    ]


def _batches(docs: list[Document]) -> list[list[Document]]:
    """Four batches in an order unrelated to ids (later batches hold lower ids too)."""
    order = sorted(docs, key=lambda d: (d.id * 7919) % 104729)
    cut = [0, len(order) // 3, len(order) // 2, 3 * len(order) // 4, len(order)]
    return [order[a:b] for a, b in pairwise(cut)]


@pytest.fixture(scope="module")
def corpus() -> list[Document]:
    return _generated(300) + _handmade()


def test_batches_with_results_between_equal_a_rebuild(corpus: list[Document], tmp_path) -> None:
    index = DedupIndex()
    seen: list[Document] = []
    for i, batch in enumerate(_batches(corpus)):
        if i == 2:  # the stored index (with its decided stories) continues the run
            index.save(tmp_path)
            index = DedupIndex.open(tmp_path, documents={d.id: d for d in seen})
        index.add(batch)
        seen += batch
        got = index.result()
        want = deduplicate(seen)
        assert got.stories == want.stories
        assert got.links == want.links
        assert got == want
    assert sum(len(s.members) > 1 for s in got.stories) >= 10
    assert got.links


def _spy_decide(monkeypatch: pytest.MonkeyPatch) -> list[set[int]]:
    """Record the pages each ``DedupIndex._decide`` call is asked to decide again."""
    decided: list[set[int]] = []
    real = DedupIndex._decide

    def spy(self: DedupIndex, dirty: set[int]):
        decided.append(set(dirty))
        return real(self, dirty)

    monkeypatch.setattr(DedupIndex, "_decide", spy)
    return decided


def test_a_second_call_decides_nothing_and_results_are_independent(
        corpus: list[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    index = DedupIndex()
    index.add(corpus)
    first = index.result()
    first.stories.clear()
    first.links.clear()
    decided = _spy_decide(monkeypatch)
    again = index.result()
    assert decided == [set()]
    assert again == deduplicate(corpus)


def test_new_pages_redecide_only_their_component(corpus: list[Document],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    index = DedupIndex()
    index.add(corpus)
    index.result()
    decided = _spy_decide(monkeypatch)
    new = [doc(13, "late.test", story(77, 8), hours=9, title="Late news"),
           doc(14, "copy.test", story(77, 8)[:6], hours=10, title="Late news")]
    index.add(new)
    got = index.result()
    assert decided == [{13, 14}]
    assert got == deduplicate([*corpus, *new])


def test_a_stored_index_keeps_its_decided_result(corpus: list[Document],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path) -> None:
    index = DedupIndex()
    index.add(corpus[:-3])
    before = index.result()
    decided_folder = tmp_path / "decided"
    index.save(decided_folder)
    index.add(corpus[-3:])  # not decided yet: stored without a result, decided on load
    pending = reopened(index, tmp_path / "pending")
    decided = _spy_decide(monkeypatch)
    loaded = DedupIndex.open(decided_folder, documents={d.id: d for d in corpus})
    assert loaded.result() == before
    assert decided == [set()]
    assert pending.result() == deduplicate(corpus)
    other = DedupIndex.open(decided_folder, dataclasses.replace(index.config, lead_share=0.3),
                            documents={d.id: d for d in corpus})
    other.result()
    assert len(decided[-1]) > 10  # other decision thresholds: the stored result is not used
