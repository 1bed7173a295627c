"""Canonical choice: one total order, and a human-readable reason."""

from __future__ import annotations

from dedup import Document, deduplicate
from dedup.canonical import provenance_notes
from tests.fixtures.dedup.synth import doc, story


def _only_story(result):
    (multi,) = [s for s in result.stories if len(s.members) > 1]
    return multi


def test_earliest_publication_wins_with_reason() -> None:
    text = story(70)
    docs = [doc(1, "late.test", text[:6], hours=10), doc(2, "first.test", text, hours=1),
            doc(3, "mid.test", text[:5], hours=4)]
    s = _only_story(deduplicate(docs))
    assert s.canonical == 2
    assert s.reason.startswith("earliest published")
    assert "3.0 h before the next" in s.reason


def test_cross_domain_rel_canonical_beats_an_earlier_timestamp() -> None:
    text = story(71)
    origin = doc(1, "origin.test", text, hours=5, slug="story")
    docs = [origin,
            doc(2, "mirror.test", text[:6], hours=1, canonical_url=origin.url),
            doc(3, "copy.test", text[:5], hours=6, canonical_url=origin.url)]
    s = _only_story(deduplicate(docs))
    assert s.canonical == 1
    assert "rel=canonical" in s.reason and "2 of 2" in s.reason


def test_originally_published_by_note_names_the_original() -> None:
    text = story(72)
    note = "This story was originally published by Origin Daily and is republished here."
    docs = [doc(1, "origin-daily.test", text, hours=3),
            doc(2, "mirror.test", [note, *text[:6]], hours=1)]
    s = _only_story(deduplicate(docs))
    assert s.canonical == 1
    assert "Origin Daily" in s.reason
    assert "named as original publisher" in s.reason
    assert provenance_notes(note) == ["Origin Daily"]
    assert provenance_notes("Editor's note: this article first appeared on The Byte Ledger.") \
        == ["The Byte Ledger"]
    assert provenance_notes("Read more at Origin Daily") == ["Origin Daily"]  # truncated copy


def test_unknown_dates_sort_last_then_fullest_text() -> None:
    text = story(73)
    docs = [Document(id=1, url="https://a.test/1", site="a.test", text="\n".join(text[:6])),
            Document(id=2, url="https://b.test/2", site="b.test", text="\n".join(text))]
    s = _only_story(deduplicate(docs))
    assert s.canonical == 2
    assert s.reason.startswith("fullest text")
