"""Scoring against the tiny fixture corpus, with hand-computed expected values.

Fixture (tests/fixtures/evalcorpus), 8 pages, n = 8, C(8, 2) = 28 pairs:
  A1 alpha original  chips      B2 beta  original quantum     A3 alpha original battery
  B1 beta  copy      chips      A2 alpha copy     quantum     B3 beta  followup (passages: chips)
  G1 gamma copy      chips                                    G2 gamma digest (passages: quantum,
                                                                          battery; source null)
True clusters {A1,B1,G1} {B2,A2} {A3} {B3} {G2}: 5 clusters, true pairs = C(3,2)+C(2,2) = 3+1 = 4.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from crawler.evaluation.corpus import Corpus, load_corpus
from crawler.evaluation.metrics import (
    adjusted_rand_index,
    pair_counts,
    shingle_precision_recall,
    shingles,
)
from crawler.evaluation.score import (
    PagePrediction,
    format_table,
    predictions_to_json,
    same_day,
    score,
    score_clusters,
    score_clusters_file,
)

FIXTURE = Path(__file__).parent / "fixtures" / "evalcorpus"
A1 = "http://alpha-news.test/2026/03/01/chip-shortage-eases.html"
B1 = "http://beta-wire.test/2026/03/01/chip-shortage-eases-wire.html"
G1 = "http://gamma-brief.test/2026/03/02/chip-shortage-roundup.html"
B2 = "http://beta-wire.test/2026/03/03/quantum-start-up-raises-48-million.html"
A2 = "http://alpha-news.test/2026/03/03/qubitworks-raises-48-million.html"
A3 = "http://alpha-news.test/2026/03/04/sodium-ion-battery-lasts-5000-cycles.html"
B3 = "http://beta-wire.test/2026/03/05/what-comes-next-for-carmakers.html"
G2 = "http://gamma-brief.test/2026/03/06/morning-briefing-1.html"
ALL = (A1, B1, G1, B2, A2, A3, B3, G2)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(FIXTURE)


def perfect(corpus: Corpus) -> dict[str, PagePrediction]:
    """The ideal prediction for every page, keyed by URL."""
    return {
        p.url: PagePrediction(
            url=p.url,
            cluster=p.source or p.url,
            is_canonical=p.role != "copy",
            text=p.body,
            title=p.title,
            author=p.author,
            published=p.published,
        )
        for p in corpus.pages
    }


def clusters(groups: list[list[str]]) -> dict[str, str]:
    return {url: f"c{i}" for i, group in enumerate(groups) for url in group}


# --- clustering -------------------------------------------------------------------------------


def test_perfect_prediction_scores_one(corpus: Corpus) -> None:
    s = score(corpus, list(perfect(corpus).values()), requests=[])
    assert s["pages"] == s["crawled"] == 8
    assert s["missing"] == s["extra"] == 0
    assert s["clusters_true"] == s["clusters_pred"] == 5
    for key in ("ari", "pair_precision", "pair_recall", "pair_f1"):
        assert s[key] == 1.0, key
    for key in ("extraction_f1", "title_accuracy", "date_accuracy", "author_accuracy"):
        assert s[key] == 1.0, key
    assert s["canonical_accuracy"] == 1.0
    assert s["robots_violations"] == 0


def test_everything_merged(corpus: Corpus) -> None:
    # pred pairs = C(8,2) = 28, both = 4. expected = 4*28/28 = 4, max = (4+28)/2 = 16
    # ARI = (4-4)/(16-4) = 0. P = 4/28 = 1/7, R = 4/4 = 1, F1 = 2*(1/7)*1/(8/7) = 0.25.
    s = score_clusters(corpus, dict.fromkeys(ALL, "one"))
    assert s["clusters_pred"] == 1
    assert s["ari"] == pytest.approx(0.0)
    assert s["pair_precision"] == pytest.approx(1 / 7)
    assert s["pair_recall"] == 1.0
    assert s["pair_f1"] == pytest.approx(0.25)


def test_everything_split(corpus: Corpus) -> None:
    # pred pairs = 0: expected = 0, max = (4+0)/2 = 2, index = 0 → ARI = 0.
    # P = 1.0 by convention (no pair claimed), R = 0/4 = 0, F1 = 0.
    s = score_clusters(corpus, {url: url for url in ALL})
    assert s["clusters_pred"] == 8
    assert s["ari"] == 0.0
    assert (s["pair_precision"], s["pair_recall"], s["pair_f1"]) == (1.0, 0.0, 0.0)


def test_wrong_merges(corpus: Corpus) -> None:
    # followup joins chips, digest joins quantum: {A1,B1,G1,B3} {B2,A2,G2} {A3}
    # pred pairs = C(4,2)+C(3,2) = 6+3 = 9, both = 3+1 = 4 → P = 4/9, R = 1, F1 = 8/13.
    # expected = 4*9/28 = 9/7, max = (4+9)/2 = 13/2 → ARI = (4-9/7)/(13/2-9/7) = (19/7)/(73/14)
    #          = 38/73.
    s = score_clusters(corpus, clusters([[A1, B1, G1, B3], [B2, A2, G2], [A3]]))
    assert s["pair_precision"] == pytest.approx(4 / 9)
    assert s["pair_recall"] == 1.0
    assert s["pair_f1"] == pytest.approx(8 / 13)
    assert s["ari"] == pytest.approx(38 / 73)


def test_missing_pages_are_singletons(corpus: Corpus) -> None:
    # B1 and A2 not crawled; the rest perfect. Pred clusters {A1,G1} {B2} {A3} {B3} {G2} + B1, A2
    # singletons → 7 clusters. both = C(2,2) = 1 (A1-G1), pred pairs = 1 → P = 1, R = 1/4,
    # F1 = 2*(1/4)/(5/4) = 0.4. expected = 4*1/28 = 1/7, max = (4+1)/2 = 5/2
    # → ARI = (1-1/7)/(5/2-1/7) = (6/7)/(33/14) = 12/33 = 4/11.
    preds = [p for url, p in perfect(corpus).items() if url not in (B1, A2)]
    s = score(corpus, preds)
    assert (s["pages"], s["crawled"], s["missing"]) == (8, 6, 2)
    assert s["clusters_pred"] == 7
    assert s["pair_precision"] == 1.0
    assert s["pair_recall"] == pytest.approx(0.25)
    assert s["pair_f1"] == pytest.approx(0.4)
    assert s["ari"] == pytest.approx(4 / 11)
    assert s["robots_violations"] is None  # no request log given


def test_cluster_ids_are_opaque_and_urls_normalised(corpus: Corpus) -> None:
    # Same partition with other ids, upper-case host, default port and a fragment: still perfect.
    preds = [
        PagePrediction(
            url=A1.replace("alpha-news.test", "ALPHA-NEWS.test:80") + "#top",
            cluster="x",
            is_canonical=True,
        ),
        *[PagePrediction(url=u, cluster="x", is_canonical=False) for u in (B1, G1)],
        *[PagePrediction(url=u, cluster="y", is_canonical=u == B2) for u in (B2, A2)],
        *[
            PagePrediction(url=u, cluster=str(i), is_canonical=True)
            for i, u in enumerate((A3, B3, G2))
        ],
        PagePrediction(url="http://alpha-news.test/index.html", cluster="x", is_canonical=False),
        PagePrediction(url=B1, cluster="z", is_canonical=False),  # duplicate: ignored
    ]
    s = score(corpus, preds)
    assert s["ari"] == 1.0
    assert (s["crawled"], s["extra"], s["duplicate_predictions"]) == (8, 1, 1)


def test_ari_degenerate_cases() -> None:
    # All singletons vs all singletons, one cluster vs one cluster, and n < 2: identical → 1.0.
    assert adjusted_rand_index(pair_counts([1, 2, 3], ["a", "b", "c"])) == 1.0
    assert adjusted_rand_index(pair_counts([1, 1, 1], ["a", "a", "a"])) == 1.0
    assert adjusted_rand_index(pair_counts([1], ["a"])) == 1.0
    assert adjusted_rand_index(pair_counts([], [])) == 1.0
    # Singletons vs one cluster: index 0, expected 0*3/3 = 0, max 3/2 → 0.
    assert adjusted_rand_index(pair_counts([1, 2, 3], ["a", "a", "a"])) == 0.0


def test_ari_textbook_example() -> None:
    # truth [0,0,0,1,1,1], pred [0,0,1,1,2,2]: n_ij = {(0,0):2,(0,1):1,(1,1):1,(1,2):2}
    # index = 1+1 = 2; a = 3+3 = 6; b = 1+1+1 = 3; C(6,2) = 15; expected = 18/15 = 1.2;
    # max = 4.5 → ARI = 0.8/3.3 = 8/33.
    counts = pair_counts([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])
    assert adjusted_rand_index(counts) == pytest.approx(8 / 33)


# --- passages ---------------------------------------------------------------------------------


def test_passage_precision_recall(corpus: Corpus) -> None:
    # Truth: (B3,chips) (G2,quantum) (G2,battery) = 3 pairs.
    # Pred: B3 quotes A1 and B1 → both chips → 1 pair (correct, deduplicated);
    #       G2 quotes B2 → quantum (correct) and alpha's index page → not a manifest page (FP);
    #       A2 quotes G2 → a digest has no source (FP).
    # 4 predicted pairs, 2 hits → P = 2/4 = 0.5, R = 2/3.
    preds = perfect(corpus)
    preds[B3] = replace(preds[B3], passage_sources=(A1, B1))
    preds[G2] = replace(preds[G2], passage_sources=(B2, "http://alpha-news.test/index.html"))
    preds[A2] = replace(preds[A2], passage_sources=(G2,))
    s = score(corpus, list(preds.values()))
    assert (s["passage_pairs_true"], s["passage_pairs_pred"]) == (3, 4)
    assert s["passage_precision"] == pytest.approx(0.5)
    assert s["passage_recall"] == pytest.approx(2 / 3)


def test_passages_of_uncrawled_pages_are_misses(corpus: Corpus) -> None:
    # Only B3 crawled, quoting chips: 1 hit of 3 true pairs; 1 predicted pair → P = 1, R = 1/3.
    preds = perfect(corpus)
    s = score(corpus, [replace(preds[B3], passage_sources=(G1,))])
    assert s["passage_precision"] == 1.0
    assert s["passage_recall"] == pytest.approx(1 / 3)


# --- extraction -------------------------------------------------------------------------------


def test_shingles_of_short_and_long_text() -> None:
    assert shingles("a b c d e") == {("a", "b", "c", "d"): 1, ("b", "c", "d", "e"): 1}
    assert shingles("a b") == {("a", "b"): 1}  # shorter than 4 tokens: one shingle
    assert shingles("  ") == {}


def test_shingle_precision_recall_known_text() -> None:
    # truth "a b c d e f" → abcd bcde cdef (3); pred "a b c d e x" → abcd bcde cdex (3):
    # overlap 2 → P = 2/3, R = 2/3.
    assert shingle_precision_recall("a b c d e f", "a b c d e x") == pytest.approx((2 / 3, 2 / 3))
    # pred is truth plus 2 tokens: truth 3 shingles all found; pred 5 shingles → P = 3/5, R = 1.
    assert shingle_precision_recall("a b c d e f", "a b c d e f g h") == pytest.approx((0.6, 1.0))
    # whitespace and punctuation do not matter (Zyte tokens are runs of word characters)
    assert shingle_precision_recall("a b\n\nc d e", "a b, c\nd. e") == (1.0, 1.0)
    # undefined sides are None and left out of the corpus means, as in Zyte's evaluate.py
    assert shingle_precision_recall("", "") == (None, None)
    assert shingle_precision_recall("a b c d", "") == (None, 0.0)
    assert shingle_precision_recall("", "a b c d") == (0.0, None)


def test_extraction_f1_of_means(corpus: Corpus) -> None:
    # Crawl only A1 (alpha) and B2 (beta). A1 text = its body + 4 extra tokens: truth has N-3
    # shingles, all found; pred has N+4-3 = N+1 → P = (N-3)/(N+1), R = 1. B2 text empty → R = 0,
    # P undefined (Zyte leaves it out of the mean). mean P = (N-3)/(N+1), mean R = 1/2.
    preds = perfect(corpus)
    body = corpus.page(A1).body
    n = len(re.findall(r"\w+", body))  # Zyte's tokens
    a1 = replace(preds[A1], text=body + "\nSubscribe to our newsletter")
    b2 = replace(preds[B2], text=None)
    s = score(corpus, [a1, b2])
    p_a1 = (n - 3) / (n + 1)
    mean_p, mean_r = p_a1, 0.5
    assert s["extraction_precision"] == pytest.approx(mean_p)
    assert s["extraction_recall"] == pytest.approx(mean_r)
    assert s["extraction_f1"] == pytest.approx(2 * mean_p * mean_r / (mean_p + mean_r))
    by_site = s["extraction_f1_by_site"]
    assert by_site["alpha-news"] == pytest.approx(2 * p_a1 / (p_a1 + 1))
    assert by_site["beta-wire"] == 0.0
    assert by_site["gamma-brief"] is None  # nothing crawled there


# --- metadata ---------------------------------------------------------------------------------


def test_same_day_in_the_truths_own_offset() -> None:
    truth = "2026-03-01T23:30:00-05:00"  # B1: 1 March locally, 2 March in UTC
    assert same_day(truth, "2026-03-02T04:30:00+00:00")  # → 23:30 -05:00 on 1 March
    assert same_day(truth, "2026-03-01T20:30:00-08:00")  # → 23:30 -05:00
    assert same_day(truth, "2026-03-01")  # a bare date is taken as stated
    assert not same_day(truth, "2026-03-02")
    assert not same_day(truth, "2026-03-02T05:00:00Z")  # → 00:00 -05:00 on 2 March
    truth_g1 = "2026-03-02T06:15:00+01:00"
    assert same_day(truth_g1, "2026-03-01T23:15:00-06:00")  # → 06:15 +01:00 on 2 March
    assert not same_day(truth_g1, "2026-03-01T22:00:00Z")  # → 23:00 +01:00 on 1 March
    assert not same_day(truth_g1, None)
    assert not same_day(truth_g1, "yesterday")


def test_metadata_accuracies(corpus: Corpus) -> None:
    # Crawl A1, B1, G1, B2 (4 pages, all labelled):
    #   titles: A1 exact up to whitespace ✓, B1 ✓, G1 wrong case ✗, B2 None ✗  → 2/4
    #   authors: A1 lower-case ✓, B1 ✓, G1 wrong ✗, B2 ✓                      → 3/4
    #   dates: A1 ✓, B1 UTC instant of the same local day ✓, G1 previous day ✗, B2 date ✓ → 3/4
    preds = perfect(corpus)
    a1 = replace(
        preds[A1],
        title="  Chip shortage eases\nfor the first time in two years ",
        author="dana  reyes",
    )
    b1 = replace(preds[B1], published="2026-03-02T04:30:00+00:00")
    g1 = replace(
        preds[G1],
        title=preds[G1].title.upper(),
        author="Dana Reyes",
        published="2026-03-01T22:00:00Z",
    )
    b2 = replace(preds[B2], title=None, published="2026-03-03")
    s = score(corpus, [a1, b1, g1, b2])
    assert s["title_accuracy"] == pytest.approx(2 / 4)
    assert s["author_accuracy"] == pytest.approx(3 / 4)
    assert s["date_accuracy"] == pytest.approx(3 / 4)


def test_nothing_crawled_gives_none_not_zero_division(corpus: Corpus) -> None:
    s = score(corpus, [])
    assert s["crawled"] == 0 and s["clusters_pred"] == 8
    assert s["ari"] == 0.0 and s["pair_recall"] == 0.0
    for key in ("extraction_f1", "title_accuracy", "date_accuracy", "author_accuracy"):
        assert s[key] is None, key
    assert s["canonical_accuracy"] == 0.0  # 2 eligible clusters, originals not crawled
    assert s["passage_recall"] == 0.0 and s["passage_precision"] == 1.0


# --- canonical choice -------------------------------------------------------------------------


def test_canonical_copy_chosen_instead_of_original(corpus: Corpus) -> None:
    # Eligible clusters: chips (original A1) and quantum (original B2) → 2.
    # quantum marks the copy A2 canonical and B2 not → only chips correct → 1/2.
    preds = perfect(corpus)
    preds[B2] = replace(preds[B2], is_canonical=False)
    preds[A2] = replace(preds[A2], is_canonical=True)
    s = score(corpus, list(preds.values()))
    assert s["canonical_clusters"] == 2
    assert s["canonical_accuracy"] == pytest.approx(0.5)


def test_canonical_needs_the_majority_cluster(corpus: Corpus) -> None:
    # chips split {A1} {B1,G1}: A1 is canonical of a cluster holding 1 of 3 pages while another
    # holds 2 → chips fails; quantum fine → 1/2.
    preds = perfect(corpus)
    preds[A1] = replace(preds[A1], cluster="lonely")
    assert score(corpus, list(preds.values()))["canonical_accuracy"] == pytest.approx(0.5)


def test_canonical_tie_with_uncrawled_pages_fails(corpus: Corpus) -> None:
    # Only A1 and B2 crawled, both canonical: each holds 1 page of its cluster and each uncrawled
    # page is a singleton holding 1 too → tie → both fail → 0/2.
    preds = perfect(corpus)
    assert score(corpus, [preds[A1], preds[B2]])["canonical_accuracy"] == 0.0


def test_canonical_two_canonicals_in_one_cluster_fails(corpus: Corpus) -> None:
    # chips marks both A1 and B1 canonical → ambiguous → chips fails → 1/2.
    preds = perfect(corpus)
    preds[B1] = replace(preds[B1], is_canonical=True)
    assert score(corpus, list(preds.values()))["canonical_accuracy"] == pytest.approx(0.5)


# --- robots -----------------------------------------------------------------------------------


def test_robots_violations(corpus: Corpus) -> None:
    requests = [
        ("alpha-news.test", "/private/internal-memo.html", 200),  # violation
        ("beta-wire.test", "/private/", 404),  # violation, whatever the status
        ("alpha-news.test", "/robots.txt", 200),
        ("gamma-brief.test", "/2026/03/06/morning-briefing-1.html", 200),
        ("gamma-brief.test", "/privateer.html", 404),  # not under /private/
        ("elsewhere.test", "/private/x", 404),  # unknown host: not counted
    ]
    s = score(corpus, list(perfect(corpus).values()), requests=requests)
    assert s["robots_violations"] == 2


# --- predictions file, table, manifest validation ---------------------------------------------


def test_predictions_json_round_trip(corpus: Corpus, tmp_path: Path) -> None:
    preds = list(perfect(corpus).values())
    data = predictions_to_json(preds)
    assert data == {"clusters": {p.url: p.cluster for p in preds}}
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(data))
    from_file = score_clusters_file(corpus, path)
    direct = score(corpus, preds)
    for key in ("ari", "pair_precision", "pair_recall", "pair_f1", "clusters_pred", "crawled"):
        assert from_file[key] == direct[key], key
    path.write_text(json.dumps({"clusters": [1, 2]}))
    with pytest.raises(ValueError, match="bad predictions file"):
        score_clusters_file(corpus, path)


def test_format_table(corpus: Corpus) -> None:
    s = score(corpus, list(perfect(corpus).values())[:2])
    table = format_table(s)
    lines = table.splitlines()
    assert any(line.split() == ["Copy", "clusters:", "ARI", f"{s['ari']:.3f}"] for line in lines)
    assert any(line.split() == ["gamma-brief", "n/a"] for line in lines)
    assert any(line.split() == ["Robots", "violations", "n/a"] for line in lines)
    value_columns = {len(line) - len(line.split()[-1]) for line in lines[2:]}
    assert len(value_columns) == 1  # values are aligned in one column


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.pop("pages"), "'pages'"),
        (lambda m: m["sites"][0].pop("host"), r"sites\[0\] is missing key 'host'"),
        (lambda m: m["pages"][3].pop("source"), r"pages\[3\] is missing key 'source'"),
        (lambda m: m["pages"][1].update(role="rewrite"), r"pages\[1\]\.role 'rewrite'"),
        (lambda m: m["pages"][2].update(site="nowhere"), r"pages\[2\]\.site 'nowhere'"),
        (lambda m: m["pages"][0].update(passages_from="chips"), r"pages\[0\]\.passages_from"),
        (lambda m: m["pages"].append(dict(m["pages"][0])), "duplicate page"),
    ],
)
def test_load_corpus_rejects_bad_manifests(tmp_path: Path, mutate, message: str) -> None:
    manifest = json.loads((FIXTURE / "manifest.json").read_text(encoding="utf-8"))
    mutate(manifest)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_corpus(tmp_path)


def test_load_corpus_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no manifest"):
        load_corpus(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="bad manifest"):
        load_corpus(tmp_path)


def test_load_corpus_reads_the_fixture(corpus: Corpus) -> None:
    assert [s.host for s in corpus.sites] == [
        "alpha-news.test",
        "beta-wire.test",
        "gamma-brief.test",
    ]
    assert [p.url for p in corpus.pages] == list(ALL)
    assert corpus.page(G2).source is None and corpus.page(B3).passages_from == ("chips",)
