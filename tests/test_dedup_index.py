"""DedupIndex: incremental == rebuild, persistence round-trip, pinned parameters."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dedup import ALGORITHM_VERSION, DedupConfig, DedupIndex, IndexMismatch, deduplicate
from tests.fixtures.dedup.persist import held, reopened
from tests.fixtures.dedup.synth import doc, paragraph, story


def _corpus():
    base, other = story(80, 10), story(81, 9)
    footer = paragraph(999, 30)
    return [
        doc(1, "a.test", [*base, footer]),
        doc(2, "b.test", ["UPDATED: " + base[0], *base[1:5]], hours=3),
        doc(3, "a.test", [*other, footer], hours=1),
        doc(4, "c.test", [*story(82, 3), *base[-2:]], hours=50),
        doc(5, "d.test", other[:6], hours=7),
        doc(6, "a.test", [*story(83, 6), footer], hours=2),
        doc(7, "brief.test", ["In brief.", base[0], other[0], story(83)[0]], hours=20),
    ]


def test_incremental_batches_equal_a_rebuild(tmp_path) -> None:
    docs = _corpus()
    rebuilt = deduplicate(docs)
    index = DedupIndex()
    index.add(docs[:2])
    index.add(docs[2:5])
    restored = reopened(index, tmp_path / "passage")
    restored.add(docs[5:])
    assert restored.result() == rebuilt
    assert {m for s in rebuilt.stories for m in s.members} == {d.id for d in docs}


def test_round_trip_keeps_everything_and_matches_new_docs_against_stored(tmp_path) -> None:
    docs = _corpus()
    index = DedupIndex()
    index.add(docs[:4])
    loaded = reopened(index, tmp_path / "passage", DedupConfig())
    assert held(loaded) == held(index)
    assert loaded.result() == index.result()
    loaded.add([doc(50, "z.test", story(80, 10)[:4], hours=9)])  # a late copy of doc 1
    assert any({1, 50} <= set(s.members) for s in loaded.result().stories)


@pytest.mark.parametrize(("field", "value"), [("seed", 2), ("num_perm", 64),
                                              ("scheme", "oph"), ("shingle_size", 4)])
def test_index_built_with_other_parameters_is_refused(field: str, value: object,
                                                     tmp_path) -> None:
    index = DedupIndex()
    index.add(_corpus()[:2])
    index.save(tmp_path)
    changes = {field: value}
    if field == "num_perm":
        changes |= {"lsh_bands": 16}
    other = dataclasses.replace(DedupConfig(), **changes)
    with pytest.raises(IndexMismatch, match=field):
        DedupIndex.open(tmp_path, other, index.documents)


def test_decision_thresholds_may_change_without_rebuild(tmp_path) -> None:
    index = DedupIndex()
    index.add(_corpus())
    looser = dataclasses.replace(DedupConfig(), copy_containment=0.4)
    assert reopened(index, tmp_path / "passage", looser).config.copy_containment == 0.4


def test_garbage_and_algorithm_version_are_detected(tmp_path) -> None:
    index = DedupIndex()
    index.add(_corpus()[:1])
    index.save(tmp_path)
    header = tmp_path / "index.json"
    head = json.loads(header.read_text())
    assert head["params"]["algorithm"] == ALGORITHM_VERSION
    head["params"]["algorithm"] = "old"
    header.write_text(json.dumps(head))
    with pytest.raises(IndexMismatch, match="algorithm"):
        DedupIndex.open(tmp_path, documents=index.documents)
    header.write_text("not an index")
    with pytest.raises(IndexMismatch):
        DedupIndex.open(tmp_path, documents=index.documents)


def test_re_adding_a_document_is_a_no_op_but_changed_content_is_an_error() -> None:
    docs = _corpus()
    index = DedupIndex()
    index.add(docs)
    index.add(docs[:2])
    assert len(index) == len(docs)
    with pytest.raises(ValueError, match="other content"):
        index.add([dataclasses.replace(docs[0], text="changed")])


def test_cached_alignments_are_redone_when_boilerplate_grows(tmp_path) -> None:
    # the footer of a.test becomes boilerplate with doc 6, after docs 1 and 3 were verified
    docs = _corpus()
    rebuilt = deduplicate(docs)
    index = DedupIndex()
    index.add(docs[:3])
    index.result()
    restored = reopened(index, tmp_path / "first")
    assert restored._aligned == index._aligned
    restored.add(docs[3:5])
    restored.result()
    restored.add(docs[5:])
    assert restored.result() == rebuilt
    assert reopened(restored, tmp_path / "second").result() == rebuilt


def test_incremental_result_verifies_only_pairs_of_new_documents(monkeypatch, tmp_path) -> None:
    docs = _corpus()
    index = DedupIndex()
    index.add(docs[:6])
    index.result()
    calls: list[tuple[int, int]] = []
    import dedup.index as mod

    real = mod.align_many

    def counting(ids_a, rows_a, ids_b, rows_b, *rest):
        calls.extend(zip(ids_a.tolist(), ids_b.tolist(), strict=True))
        return real(ids_a, rows_a, ids_b, rows_b, *rest)

    monkeypatch.setattr(mod, "align_many", counting)
    loaded = reopened(index, tmp_path / "passage")
    loaded.add(docs[6:])
    result = loaded.result()
    verified = list(calls)
    assert result == deduplicate(docs)
    assert verified and all(7 in pair for pair in verified)


def test_other_alignment_thresholds_drop_the_cache(tmp_path) -> None:
    docs = _corpus()
    index = DedupIndex()
    index.add(docs)
    index.result()
    other = dataclasses.replace(DedupConfig(), max_gap=0, boilerplate_min_pages=2)
    assert reopened(index, tmp_path / "passage", other).result() == deduplicate(docs, other)


def test_saved_files_round_trip_append_shingles_and_drop_an_unsaved_tail(tmp_path) -> None:
    docs = _corpus()
    by_id = {d.id: d for d in docs}
    folder = tmp_path / "passage"
    index = DedupIndex()
    index.add(docs[:4])
    index.result()
    index.save(folder)
    loaded = DedupIndex.open(folder, documents=by_id)
    assert held(loaded) == held(index)
    (shingles,) = folder.glob("shingles.*.u64")
    before = shingles.read_bytes()
    loaded.add(docs[4:])
    expected = loaded.result()
    loaded.save(folder)
    after = shingles.read_bytes()
    assert len(after) > len(before) and after.startswith(before)  # appended, not rewritten
    assert {p.name for p in folder.glob("*.npy")} == {p.name for p in folder.glob("*.2.npy")}
    with shingles.open("ab") as f:  # what a save killed before its header leaves
        f.write(b"\x01" * 24)
    (folder / "doc_id.3.npy").write_bytes(b"half")
    reopened = DedupIndex.open(folder, documents=by_id)
    assert shingles.read_bytes() == after and not (folder / "doc_id.3.npy").exists()
    assert reopened.result() == expected == deduplicate(docs)


def test_a_reader_changes_nothing_and_a_new_index_replaces_the_folder(tmp_path) -> None:
    docs = _corpus()
    by_id = {d.id: d for d in docs}
    folder = tmp_path / "passage"
    assert DedupIndex.open(folder) is None  # nothing saved: the caller rebuilds
    index = DedupIndex()
    index.add(docs)
    index.result()
    index.save(folder)
    (shingles,) = folder.glob("shingles.*.u64")
    with shingles.open("ab") as f:
        f.write(b"\x01" * 8)
    listing = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert DedupIndex.open(folder, documents=by_id, recover=False).result() == deduplicate(docs)
    assert {p.name: p.stat().st_size for p in folder.iterdir()} == listing
    # a replacement (a rebuild) killed before its header: its new files go, the old index stays
    (folder / "shingles.9.u64").write_bytes(b"\x02" * 64)
    (folder / "doc_id.9.npy").write_bytes(b"half")
    assert DedupIndex.open(folder, documents=by_id).result() == deduplicate(docs)
    assert sorted(p.name for p in folder.glob("shingles.*")) == [shingles.name]
    assert not (folder / "doc_id.9.npy").exists()
    fresh = DedupIndex()
    fresh.add(docs[:2])
    fresh.result()
    fresh.save(folder)  # not opened from this folder: a new shingle file, the old one gone
    (replaced,) = folder.glob("shingles.*.u64")
    assert replaced != shingles
    assert DedupIndex.open(folder, documents=by_id).result() == deduplicate(docs[:2])
    other = dataclasses.replace(DedupConfig(), shingle_size=DedupConfig().shingle_size + 1)
    with pytest.raises(IndexMismatch, match="other parameters"):
        DedupIndex.open(folder, other, documents=by_id)
    replaced.write_bytes(b"")
    with pytest.raises(IndexMismatch, match="corrupt index"):
        DedupIndex.open(folder, documents=by_id)


def _saved(folder, docs) -> DedupIndex:
    """An index of ``docs``, decided and saved in ``folder``."""
    index = DedupIndex()
    index.add(docs)
    index.result()
    index.save(folder)
    return index


def _listing(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_save_appends_columns_and_band_runs_and_rewrites_nothing_saved(tmp_path) -> None:
    """Every save after the first writes only new files and tails of append-only ones: what
    a save wrote stays byte for byte until a merge of band runs or a rewrite replaces it as a
    whole, and the folder reopens, save after save, to the index in memory (arrays equal)."""
    docs = _corpus()
    by_id = {d.id: d for d in docs}
    folder = tmp_path / "passage"
    index = _saved(folder, docs[:2])
    for end in range(3, len(docs) + 1):
        before = _listing(folder)
        index.add(docs[end - 1:end])
        index.result()
        index.save(folder)
        after = _listing(folder)
        for name, data in before.items():
            kept = after.get(name)
            if name == "index.json" or (name.endswith(".npy") and not name.startswith("bands/")):
                continue  # the header and the generation's small result arrays are replaced
            assert kept is None or kept.startswith(data), name  # appended or gone, not changed
        assert any(n.startswith("bands/") and n not in before for n in after)  # a new run
        loaded = DedupIndex.open(folder, documents=by_id)
        assert held(loaded) == held(index)
        index = loaded  # the next save extends what it opened
    assert index.result() == deduplicate(docs)
    runs = sorted(n for n in after if n.startswith("bands/") and n.endswith(".keys.npy"))
    assert 1 < len(runs) < 6  # runs of one size class were merged: not a run a save


def test_band_runs_give_the_candidates_of_one_sorted_array() -> None:
    """Batches of any size, merged into runs or not, find the same candidate pairs as one
    batch (the LSH's runs are a storage choice)."""
    docs = _corpus() + [doc(60 + i, "z.test", story(80 + i % 4, 10)[i % 3:], hours=i)
                        for i in range(12)]
    one = DedupIndex()
    one.add(docs)
    many = DedupIndex()
    for d in docs:
        many.add([d])
    assert len(many._bands.runs) > 1
    assert np.array_equal(many.candidate_pairs(), one.candidate_pairs())
    assert many.result() == one.result()
    keys, _ = many._bands.merged()
    assert np.all(keys[1:] >= keys[:-1]) and len(keys) == len(one._bands)


def test_alignments_dropped_by_new_boilerplate_are_saved_again(tmp_path) -> None:
    """Alignments redone when a site's boilerplate grows override their stored entries in
    the appended alignment columns: the reopened index holds exactly the new ones."""
    docs = [*_corpus(), doc(8, "a.test", [*story(84, 5), paragraph(999, 30)], hours=4)]
    by_id = {d.id: d for d in docs}
    folder = tmp_path / "passage"
    _saved(folder, docs[:3])
    first = DedupIndex.open(folder, documents=by_id)
    first.add(docs[3:])  # docs 6 and 8 make a.test's footer boilerplate: 1-3 aligned again
    first.result()
    assert len(first._dropped)
    first.save(folder)
    head = json.loads((folder / "index.json").read_text())
    assert head["logs"]["al.ok"][1] > len(first._aligned)  # appended: stale entries kept
    again = DedupIndex.open(folder, documents=by_id)
    assert again._aligned == first._aligned
    assert again.result() == deduplicate(docs)
    # a save without result(): pairs verified later are still saved by the next save
    late = DedupIndex.open(folder, documents=by_id)
    late.add([doc(50, "z.test", story(80, 10)[:4], hours=9)])
    late.save(folder)
    verified = DedupIndex.open(folder, documents={**by_id, 50: late.documents[50]})
    expected = verified.result()
    verified.save(folder)
    final = DedupIndex.open(folder, documents={**by_id, 50: late.documents[50]})
    assert final._aligned == verified._aligned and final.result() == expected


def test_an_index_of_the_previous_format_is_refused_and_a_rebuild_replaces_it(tmp_path) -> None:
    """A folder saved by format 3 (every array a whole ``.npy`` per generation; written by
    ed790d9 for tests/fixtures/dedup/index-format3) also holds an earlier algorithm's decisions
    (``passages-9``): opening it is ``IndexMismatch`` naming the rebuild; a rebuild saved into
    the same folder opens to the rebuild's result and leaves none of the old files."""
    import shutil
    from pathlib import Path

    docs = _corpus()
    by_id = {d.id: d for d in docs}
    folder = tmp_path / "passage"
    shutil.copytree(Path(__file__).parent / "fixtures" / "dedup" / "index-format3", folder)
    old_files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(IndexMismatch, match="rebuild"):
        DedupIndex.open(folder, documents=by_id)
    _saved(folder, docs)
    assert DedupIndex.open(folder, documents=by_id).result() == deduplicate(docs)
    names = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert json.loads((folder / "index.json").read_text())["format"] == 4
    assert not names & (old_files - {"index.json"})


def _mapped(arr: np.ndarray) -> bool:
    """Whether ``arr``'s memory is a file mapping (``np.load(mmap_mode=...)``)."""
    import mmap

    while arr is not None and not isinstance(arr, mmap.mmap):
        arr = getattr(arr, "base", None)
    return arr is not None


def test_an_opened_index_reads_its_saved_rows_and_runs_from_the_files(tmp_path) -> None:
    """Memory by size: an opened index holds no shingle hash of a saved row (they are read
    back by offset when a pair or a site's boilerplate needs them) and maps its band runs;
    rows added later stay in memory until the next save. Results stay a rebuild's."""
    docs = _corpus()
    by_id = {d.id: d for d in docs}
    folder = tmp_path / "passage"
    built = _saved(folder, docs[:4])
    assert built._sh.tail.size == 0 and all(_mapped(r.keys) for r in built._bands.runs)
    index = DedupIndex.open(folder, documents=by_id)
    assert index._sh.tail.size == 0 and index._sh.offsets[-1] > 0
    assert index._bands.runs and all(_mapped(r.keys) and _mapped(r.rows)
                                     for r in index._bands.runs)
    index.add(docs[4:])
    assert index._sh.tail.size == index._sh.offsets[-1] - index._sh.offsets[4] > 0
    assert index.result() == deduplicate(docs)
    index.save(folder)
    assert index._sh.tail.size == 0
    assert held(DedupIndex.open(folder, documents=by_id)) == held(index)
