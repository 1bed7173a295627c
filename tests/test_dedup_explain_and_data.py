"""explain(), and the shared labelled data when present (skipped otherwise)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from dedup import Document, deduplicate, explain
from tests.fixtures.dedup.synth import doc, story

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_explain_copy_and_follow_up() -> None:
    base = story(90, 10)
    original = doc(1, "a.test", base)
    copy = doc(2, "b.test", base[:5], hours=2)
    follow = doc(3, "c.test", [*story(91, 4), *base[-2:]], hours=60)
    e = explain(copy, original)
    assert e.verdict == "copy" and e.same_story
    assert e.containment_a_in_b > 0.95 and 0.3 < e.containment_b_in_a < 0.7
    assert 0 < e.similarity < 1 and e.passages
    f = explain(follow, original)
    assert f.verdict == "passage" and not f.same_story
    assert "contained" in f.reason
    assert all(follow.text[p.a_start:p.a_end] == p.text for p in f.passages)
    u = explain(doc(4, "d.test", story(92)), original)
    assert u.verdict == "unrelated" and u.passages == ()


@pytest.mark.skipif(not (DATA / "seeds" / "labels.json").exists(), reason="no shared data")
def test_seed_case_shared_chailianshe_passage_and_boilerplate_teasers() -> None:
    files = sorted((DATA / "seeds").glob("*.txt"))
    docs = [Document(id=i, url=f"seed:{f.name}", site=f"seed-{i}", text=f.read_text())
            for i, f in enumerate(files)]
    result = deduplicate(docs)
    by_name = {f.name[:3]: i for i, f in enumerate(files)}
    links = {(x.doc, x.source_doc) for x in result.links}
    a, b = by_name["003"], by_name["004"]
    assert (a, b) in links or (b, a) in links
    chailianshe = [x for x in result.links if {x.doc, x.source_doc} == {a, b}]
    assert any(x.text.startswith("According to Chinese economic media sources like Chailianshe")
               for x in chailianshe)
    assert all(by_name["000"] not in (x.doc, x.source_doc) for x in result.links)
    e = explain(docs[a], docs[b])
    assert e.similarity < 0.15 and e.verdict == "passage"


@pytest.mark.skipif(not (DATA / "syndication-dev" / "manifest.json").exists(),
                    reason="no shared data")
def test_syndication_dev_clean_bodies_meet_the_targets() -> None:
    manifest = json.loads((DATA / "syndication-dev" / "manifest.json").read_text())
    pages = manifest["pages"]
    docs = [Document(id=i, url=f"http://{p['site']}.test{p['path']}", site=p["site"],
                     text="\n".join(x for x in p["body"].split("\n") if x.strip()),
                     title=p["title"], published=datetime.fromisoformat(p["published"]))
            for i, p in enumerate(pages)]
    result = deduplicate(docs)
    story = result.story_of()
    truth = [p["source"] if p["role"] in ("original", "copy") else f"s{i}"
             for i, p in enumerate(pages)]
    pred_pairs = {(i, j) for i in range(len(docs)) for j in range(i + 1, len(docs))
                  if story[i] == story[j]}
    true_pairs = {(i, j) for i in range(len(docs)) for j in range(i + 1, len(docs))
                  if truth[i] == truth[j]}
    precision = len(pred_pairs & true_pairs) / len(pred_pairs)
    recall = len(pred_pairs & true_pairs) / len(true_pairs)
    assert precision >= 0.99 and recall >= 0.98
