"""`newsdedup eval` end to end on the tiny labelled corpus: the real spider, store, dedup, scorer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.evaluation.corpus import load_corpus
from crawler.evaluation.score import score_clusters_file

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "fixtures" / "evalcorpus"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("eval")
    predictions = tmp / "predictions.json"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "eval", str(CORPUS), "--json",
         "--predictions", str(predictions)],
        capture_output=True, text=True, timeout=300, cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"stdout": proc.stdout, "predictions": predictions}


def test_prints_exactly_one_json_object_with_every_figure(evaluated: dict) -> None:
    lines = [line for line in evaluated["stdout"].splitlines() if line.strip()]
    assert len(lines) == 1
    scores = json.loads(lines[0])
    for key in ("pages", "crawled", "ari", "pair_precision", "pair_recall", "pair_f1",
                "passage_precision", "passage_recall", "extraction_f1", "title_accuracy",
                "date_accuracy", "author_accuracy", "canonical_accuracy", "robots_violations",
                "seconds"):
        assert key in scores, key
    assert scores["pages"] == 8
    assert scores["crawled"] == 8  # discovered from feeds and sitemaps only
    assert scores["robots_violations"] == 0  # /private/ is linked from every index page


def test_scores_of_the_product_on_the_tiny_corpus(evaluated: dict) -> None:
    scores = json.loads(evaluated["stdout"])
    # the two copy clusters are found and nothing else is merged
    assert scores["ari"] == 1.0 and scores["pair_precision"] == 1.0
    assert scores["extraction_f1"] > 0.95  # windows-1252 and meta-only charsets decoded
    assert scores["title_accuracy"] == 1.0


def test_predictions_file_scores_the_same_independently(evaluated: dict) -> None:
    doc = json.loads(evaluated["predictions"].read_text())
    corpus = load_corpus(CORPUS)
    assert set(doc["clusters"]) == {page.url for page in corpus.pages}
    independent = score_clusters_file(corpus, evaluated["predictions"])
    scores = json.loads(evaluated["stdout"])
    assert independent["ari"] == pytest.approx(scores["ari"])
    assert independent["pair_f1"] == pytest.approx(scores["pair_f1"])


def test_document_level_is_scored_through_the_same_crawl(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "eval", str(CORPUS), "--json", "--level", "document"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads(proc.stdout)
    assert scores["level"] == "document"
    assert scores["ari"] == 1.0 and scores["pair_precision"] == 1.0  # the two copy clusters
    assert scores["passage_pairs_pred"] == 0  # the document level makes no passage links
    assert not list(tmp_path.iterdir())  # the archive lived in the eval's temporary directory
