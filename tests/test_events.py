"""The event layer (dedup.events): seeds, teasers, window, amounts, CJK, rebuild == increments."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import permutations

import numpy as np
import pytest

from dedup import Document, deduplicate, events, reference
from dedup.events import (
    DocumentFrequency,
    EventConfig,
    EventIndex,
    EventStory,
    compare,
    terms,
)
from tests.conftest import shared_dataset


def cluster_events(stories: list[EventStory], config: EventConfig | None = None) -> list[events.Event]:
    """Events of a set of stories in one batch: what a rebuild computes."""
    return EventIndex.of(stories, config).events()


def _seed_stories() -> tuple[list[str], list[EventStory]]:
    files = sorted(shared_dataset("seeds").glob("*.txt"))
    docs = [Document(id=i, url=f"seed:{f.name}", site=f"seed-{i}", text=f.read_text(encoding="utf-8"))
            for i, f in enumerate(files)]
    stories = [EventStory(key=s.canonical, title=None, text=docs[s.canonical].text, published=None,
                          sites=tuple(docs[m].site for m in s.members))
               for s in deduplicate(docs).stories]
    return [f.name[:3] for f in files], stories


def test_seeds_give_the_two_events_of_their_labels() -> None:
    names, stories = _seed_stories()
    events = cluster_events(stories)
    assert sorted(sorted(names[k] for k in e.stories) for e in events) == [
        ["000", "001"], ["002", "003", "004"]]
    for event in events:  # every story in exactly one event, labelled by one of its own
        assert event.central in event.stories
    assert sorted(k for e in events for k in e.stories) == sorted(s.key for s in stories)


def test_seeds_give_the_same_events_in_every_arrival_order() -> None:
    """The events are a function of the set of stories: every one of the 120 orders of the five
    seeds, one story at a time, gives the rebuild's events (greedy joining got 70 right)."""
    names, stories = _seed_stories()
    df = DocumentFrequency.count(stories, EventConfig())
    rebuild = _groups(cluster_events(stories))
    for order in permutations(stories):
        index = EventIndex(df=df)
        for story in order:
            index.add([story])
        assert _groups(index.events()) == rebuild
    assert sorted(sorted(names[k] for k in g) for g in rebuild) == [["000", "001"], ["002", "003", "004"]]


def test_teasers_at_the_end_of_000_do_not_pull_it_into_the_alibaba_event() -> None:
    """000's "Related News" block (three Meituan items) is read, but a page's teasers weigh
    little against its body: 000 stays with 001 with or without them."""
    names, stories = _seed_stories()
    tsai = next(s for s in stories if names[s.key] == "000")
    body, teasers = tsai.text.split("Related News", 1)
    assert "Meituan" in teasers and "meituan" in terms(tsai, EventConfig())
    without = [replace(s, text=body) if s is tsai else s for s in stories]
    assert _groups(cluster_events(stories)) == _groups(cluster_events(without))
    assert frozenset({0, 1}) in _groups(cluster_events(stories))


def _story(key: int, text: str, day: float, title: str | None = None) -> EventStory:
    return EventStory(key=key, title=title, text=text,
                      published=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=day))


QUAKE = ("A magnitude 6.8 earthquake struck off Hokkaido on Tuesday, Japan's Meteorological Agency "
         "said, shaking buildings in Sapporo and halting Shinkansen services while officials "
         "checked the Tomari nuclear plant for damage.")
QUAKE_2 = ("Officials inspected the Tomari nuclear plant after a 6.8 magnitude quake hit near "
           "Hokkaido, with Shinkansen trains stopped and Sapporo residents describing strong "
           "shaking, the Meteorological Agency reported.")


def test_window_closes_an_event_and_a_near_story_joins_it() -> None:
    assert compare(_story(1, QUAKE, 0), _story(2, QUAKE_2, 1)).similar
    near = cluster_events([_story(1, QUAKE, 0), _story(2, QUAKE_2, 1)])
    far = cluster_events([_story(1, QUAKE, 0), _story(2, QUAKE_2, 20)])
    assert [e.stories for e in near] == [(1, 2)]
    assert [e.stories for e in far] == [(1,), (2,)]
    assert near[0].first < near[0].last


def test_amounts_are_one_feature_however_written() -> None:
    a = terms(_story(1, "Alibaba will invest 380 billion yuan in cloud computing.", 0),
              EventConfig())
    b = terms(_story(2, "The group pledged 380bn yuan for its cloud arm.", 0), EventConfig())
    assert sorted(k for k in a if k[0].isdigit() and k in b) == ["3.8e+11"]
    # Chinese, Japanese and Korean glue the number to the words around it
    for language, text in [("zh", "阿里巴巴宣布未来三年投入3800亿元建设云计算。"),
                           ("ja", "アリババは3800億元をクラウドに投資する。"),
                           ("ko", "알리바바는 클라우드에 3800억위안을 투자한다.")]:
        assert "3.8e+11" in terms(replace(_story(3, text, 0), language=language), EventConfig()), language


def test_chinese_stories_are_compared_by_character_bigrams() -> None:
    config = EventConfig()
    invest = _story(1, "阿里巴巴宣布未来三年投入三千八百亿元建设云计算和人工智能基础设施。", 0)
    invest_2 = _story(2, "阿里巴巴集团表示将在三年内投资三千八百亿元用于云计算与人工智能硬件。", 0)
    football = _story(3, "中国男子足球队在世界杯预选赛中以二比零战胜对手，球迷在体育场庆祝胜利。", 0)
    assert "云计" in terms(invest, config)
    assert compare(invest, invest_2).similarity > 2 * compare(invest, football).similarity
    assert sorted(e.stories for e in cluster_events([invest, invest_2, football])) == [(1, 2), (3,)]


@pytest.mark.parametrize(("language", "text"), [
    ("ko", "삼성전자는 2024년 반도체 공장에 380억 달러를 투자한다고 밝혔다."),
    ("ja", "ソフトバンクは2024年に380億円を人工知能に投資すると発表した。"),
    ("zh", "阿里巴巴宣布2024年投入380亿元建设云计算。"),
    ("th", "บริษัทประกาศลงทุน 380 ล้านบาทในปี 2024"),
])
def test_pages_in_any_language_are_read_without_optional_tokenizers(language: str, text: str) -> None:
    """wordfreq reads Chinese numbers with jieba and Japanese and Korean ones with MeCab (extras
    not installed) and has no list for Thai: such a page once stopped the dedup job."""
    story = replace(_story(1, text, 0), language=language)
    read = terms(story, EventConfig())
    assert "2024" in read  # a number, read with the digit model
    assert compare(story, replace(_story(2, text, 0), language=language)).similarity > 0.99


def _giveme_stories() -> list[EventStory]:
    path = shared_dataset("giveme5w1h-news-cluster") / "articles.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [EventStory(key=i, title=r["title"], text=r["text"], sites=(r["source"],),
                       published=datetime.fromisoformat(r["date"]).replace(tzinfo=UTC))
            for i, r in enumerate(rows)]


#: Text the compiled reading must read as the patterns do: non-ASCII letters, digits and
#: characters that lower-case to letters (Kelvin sign, ²), quotes and dashes around words,
#: apostrophes and hyphens that join or do not, numbers glued to words and scales, CJK, an
#: amount too long for a float ("inf", also a word here), empty text.
ODD_TEXTS = ["Café naïve 380bn", "A 5\u212a run, x² and 3²", "“Quoted” 12,5 million — it’s 2024",
             "Ünïcode-only words", "under_score 7_up 9b ９bn", "Straße ß 3万 and 4亿", "İstanbul İ",
             "mp3s covid19 1,000,000x 5mn 5m 3.5bn 2.5 Billion 4\tbillion rock'n'roll 'quoted' a'-b "
             "--dash-- it’s x-- -y a''b 12.34.56 7,,8", "中国的云计算 380亿 and 日本 カタカナ 한국어",
             "taxes " + "1" + "0" * 400 + " inf inf", "", "   ", "\ud800 lone surrogate 42"]


@pytest.mark.parametrize("dataset", ["giveme5w1h-news-cluster", "multinews-longbench", "seeds"])
def test_the_compiled_reading_gives_the_reference_terms(dataset: str) -> None:
    """``terms`` (one compiled pass over ASCII words) reads what the patterns read
    (``reference.event_terms``): the same terms, in the same order, the same floats."""
    if dataset == "seeds":
        stories = _seed_stories()[1]
    else:
        path = shared_dataset(dataset) / "articles.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        stories = [EventStory(key=i, title=r["title"], text=r["text"], published=None)
                   for i, r in enumerate(rows)]
    stories += [EventStory(key=-i, title=None, text=t, published=None) for i, t in enumerate(ODD_TEXTS)]
    config = EventConfig()
    for story in stories:
        assert list(terms(story, config).items()) == list(reference.event_terms(story, config).items())
    assert list(terms(stories[-4], config)) == ["taxes", "inf"]  # the amount in the word's place
    assert sum(s.text.isascii() for s in stories) < len(stories) / 2  # most take the check


@pytest.mark.parametrize("dataset", ["giveme5w1h-news-cluster", "seeds", "fixture"])
def test_the_index_links_the_reference_pairs(dataset: str) -> None:
    """The window's compiled dot products give every pair the reference gives, with the same
    floats (so the events, their centres and labels are those of the reference pairs)."""
    if dataset == "seeds":
        stories = _seed_stories()[1]
    elif dataset == "fixture":
        stories = [_story(1, QUAKE, 0), _story(2, QUAKE_2, 1), _story(3, QUAKE + " " + QUAKE_2, 30),
                   _story(4, ODD_TEXTS[7], 2), _story(5, ODD_TEXTS[2] + " " + QUAKE, 3),
                   *(_story(6 + i, t, 4) for i, t in enumerate(ODD_TEXTS))]
    else:
        stories = _giveme_stories()
    config = EventConfig()
    index = EventIndex.of(stories, config)
    assert {k: v for k, v in index._pairs.items() if v} == reference.event_pairs(stories, index.df, config)


def test_the_compiled_average_link_decides_as_numpy() -> None:
    """``_agglomerate`` gives the labels of the NumPy reference on real groups and on random
    ones (pairs near the threshold, many tied, clusters past NumPy's 8- and 128-element summing
    blocks)."""
    config = EventConfig()
    least = config.leave_one_out * config.threshold - 1e-12
    index = EventIndex.of(_giveme_stories(), config)
    groups = [sorted(m, key=lambda k: events._order(index._stories[k]))
              for m in index._members.values() if len(m) > 1]
    matrices = [np.array([[index._pairs[a].get(b, 0.0) for b in g] for a in g]) for g in groups]
    rng = np.random.default_rng(18)
    for n in range(300):  # its sums are NumPy's, to the last bit
        row = rng.random(n) * rng.choice([1e-3, 1.0, 1e3], n)
        assert 0.0 + events._pairwise_sum(row) == row.sum()
    for n in [*range(2, 40), 150, 300]:
        upper = np.triu(rng.random((n, n)) * 2 * config.threshold * (rng.random((n, n)) < 0.6), 1)
        if n % 2:  # few distinct values: ties decided by order
            upper = np.round(upper / config.threshold * 4) * config.threshold / 4
        matrices.append(np.round(upper + upper.T, 12))
    merged = 0
    for pairs in matrices:
        labels = events._agglomerate(pairs, config.threshold, least)
        assert labels.tolist() == reference.average_link(pairs, config.threshold, least).tolist()
        merged += len(set(labels.tolist())) < len(pairs)
    assert merged > len(matrices) / 2


def _groups(events: list) -> set[frozenset[int]]:
    return {frozenset(e.stories) for e in events}


def test_increments_in_any_order_and_batches_equal_a_rebuild() -> None:
    stories = _giveme_stories()
    config = EventConfig()
    df = DocumentFrequency.count(stories, config)
    rebuild = _groups(cluster_events(stories, config))
    assert len(rebuild) < len(stories) - 40  # real events with several stories
    rng = random.Random(7)
    for shuffled in (False, True):
        order = sorted(stories, key=lambda s: (s.published, s.key))
        if shuffled:  # arrival out of publication order, by up to a few days (a window is 14)
            order.sort(key=lambda s: s.published + timedelta(days=rng.uniform(0, 3)))
        index = EventIndex(config, df)
        i = 0
        while i < len(order):
            step = rng.randint(1, 25)
            index.add(order[i: i + step])
            i += step
        assert _groups(index.events()) == rebuild


def test_a_story_is_added_once() -> None:
    index = EventIndex()
    index.add([_story(1, QUAKE, 0)])
    with pytest.raises(ValueError, match="already assigned"):
        index.add([_story(1, QUAKE, 0)])


def test_embeddings_blend_into_the_average_link() -> None:
    """Two leads in different words sharing one word: the lexical score alone keeps them
    apart, the same embedding (recentred above the floor) brings them together; a far embedding does not."""
    import numpy as np

    config = EventConfig()
    a = _story(1, "Regulators in Brussels fined the carmaker heavily over emissions software hidden "
                  "inside diesel engines sold across Europe for six years.", 0)
    b = _story(2, "Washington authorities penalised the automaker after investigators found emissions "
                  "cheating devices fitted to motors shipped to American dealers.", 0)
    assert compare(a, b, config).similarity < config.threshold
    assert [e.stories for e in cluster_events([a, b], config)] == [(1,), (2,)]
    same = np.ones(4) / 2.0
    other = np.array([1.0, 0.0, 0.0, 0.0]) @ np.eye(4)  # cosine 0.5 with ``same``: below the floor
    with_same = [replace(a, embedding=same), replace(b, embedding=same)]
    assert [e.stories for e in cluster_events(with_same, config)] == [(1, 2)]
    with_far = [replace(a, embedding=same), replace(b, embedding=other)]
    assert [e.stories for e in cluster_events(with_far, config)] == [(1,), (2,)]



CHIPS = ("Harbor Labs switched on the first production line of its chip plant in the port of "
         "Rotterdam on Monday, the Dutch company said, with 400 engineers making power chips for "
         "electric buses and wind turbines from next spring.")
BUSES = ("Tallinn published every bus and tram timetable of the Estonian capital through an open "
         "API on Tuesday, and the city's transport board said journey planners can read the feed "
         "in the GTFS format without a licence fee.")
DIGEST = ("Morning round-up. Harbor Labs opened its Rotterdam chip plant, with 400 engineers "
          "making power chips for electric buses. Tallinn put every bus and tram timetable behind "
          "an open API in the GTFS format that journey planners read.")


FERRY = ("A battery-powered ferry will take over the busiest island crossing near Bergen from "
         "Monday, the Norwegian operator said, carrying 300 passengers and 80 cars on each trip "
         "and charging at both quays in ten minutes.")
DIGEST_3 = ("Morning round-up. Harbor Labs opened its Rotterdam chip plant, with 400 engineers making "
            "power chips for electric buses. Tallinn put every bus and tram timetable behind an open "
            "API that journey planners read. A battery ferry takes over the busiest crossing near "
            "Bergen, charging at both quays.")


def test_a_digest_of_two_happenings_joins_one_event_without_welding_them() -> None:
    """A round-up story as similar to two events as a member is does not chain them: average
    link needs the events to resemble each other as a whole."""
    stories = [_story(1, CHIPS, 0), _story(2, BUSES, 0.5), _story(3, DIGEST, 1)]
    config = EventConfig()
    df = DocumentFrequency.count(stories, config)
    assert compare(stories[2], stories[0], config, df).similar
    assert compare(stories[2], stories[1], config, df).similar
    events = cluster_events(stories)
    assert not any({1, 2} <= set(e.stories) for e in events)
    assert sorted(k for e in events for k in e.stories) == [1, 2, 3]


def test_a_digest_of_three_happenings_bridges_none_of_them() -> None:
    """The demo's case: with the digest, the chip plant and the ferry average above the
    threshold (0.05 between them, 0.24-0.36 with the digest), but not without the digest."""
    stories = [_story(1, CHIPS, 0), _story(2, BUSES, 0.5), _story(3, FERRY, 0.7), _story(4, DIGEST_3, 1)]
    config = EventConfig()
    df = DocumentFrequency.count(stories, config)
    assert all(compare(stories[3], s, config, df).similarity > 2 * config.threshold for s in stories[:3])
    events = _groups(cluster_events(stories, config))
    assert sorted(sorted(g) for g in events) == [[1, 4], [2], [3]]
    welding = EventConfig(leave_one_out=0.0)  # average link alone
    assert frozenset({1, 3, 4}) in _groups(cluster_events(stories, welding))


QUAKE_3 = ("Sapporo residents felt strong shaking when the magnitude 6.8 quake hit Hokkaido; Shinkansen "
           "services were halted and the Tomari nuclear plant was checked, the Meteorological Agency said.")
BRIEFING = ("Your morning briefing. A 6.8 quake shook Hokkaido and stopped Shinkansen trains near Sapporo. "
            "Harbor Labs opened its Rotterdam chip plant. Tallinn opened its bus timetables.")


def test_an_event_is_labelled_by_its_most_central_story_not_a_digest() -> None:
    stories = [_story(1, QUAKE, 0, "Magnitude 6.8 earthquake strikes off Hokkaido"),
               _story(2, QUAKE_2, 0.2, "Tomari plant inspected after Hokkaido quake"),
               _story(3, QUAKE_3, 0.3, "Hokkaido quake halts Shinkansen"),
               _story(4, BRIEFING, 0.4, "Morning briefing: quake, chips, buses"),
               _story(5, CHIPS, 0.1, "Harbor Labs opens chip plant"),
               _story(6, BUSES, 0.2, "Tallinn opens timetables")]
    events = {e.stories[0]: e for e in cluster_events(stories)}
    assert set(events[1].stories) == {1, 2, 3}
    digest_event = next(e for e in events.values() if 4 in e.stories)
    assert len(digest_event.stories) == 2  # the briefing joined one event ...
    assert digest_event.label != "Morning briefing: quake, chips, buses"  # ... and labels none
    assert all(e.label == next(s.title for s in stories if s.key == e.central) for e in events.values())
