"""The event layer (dedup.events): seeds, teasers, window, amounts, CJK, rebuild == increments."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dedup import Document, deduplicate
from dedup.events import EventConfig, EventIndex, EventStory, cluster_events, compare, features
from tests.conftest import shared_dataset


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


def test_teasers_at_the_end_of_000_do_not_pull_it_into_the_alibaba_event() -> None:
    names, stories = _seed_stories()
    tsai = next(s for s in stories if names[s.key] == "000")
    body, teasers = tsai.text.split("Related News", 1)
    assert "Meituan" in teasers
    # Only the lead describes a story: the teaser block changes nothing ...
    config = EventConfig()
    assert features(tsai, config) == features(EventStory(0, None, body, None), config)
    # ... while the same teasers at the top would have been read.
    moved = EventStory(0, None, "Related News" + teasers + "\n" + body, None)
    assert features(moved, config) != features(tsai, config)


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
    a = features(_story(1, "Alibaba will invest 380 billion yuan in cloud computing.", 0),
                 EventConfig())
    b = features(_story(2, "The group pledged 380bn yuan for its cloud arm.", 0), EventConfig())
    amount = [k for k in a if k.startswith("\x00") and k in b]
    assert amount == ["\x00" + "3.8e+11"]


def test_chinese_stories_are_compared_by_character_bigrams() -> None:
    config = EventConfig()
    invest = _story(1, "阿里巴巴宣布未来三年投入三千八百亿元建设云计算和人工智能基础设施。", 0)
    invest_2 = _story(2, "阿里巴巴集团表示将在三年内投资三千八百亿元用于云计算与人工智能硬件。", 0)
    football = _story(3, "中国男子足球队在世界杯预选赛中以二比零战胜对手，球迷在体育场庆祝胜利。", 0)
    assert "云计" in features(invest, config)
    assert compare(invest, invest_2).similarity > 2 * compare(invest, football).similarity
    assert sorted(e.stories for e in cluster_events([invest, invest_2, football])) == [(1, 2), (3,)]


def _giveme_stories() -> list[EventStory]:
    path = shared_dataset("giveme5w1h-news-cluster") / "articles.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [EventStory(key=i, title=r["title"], text=r["text"], sites=(r["source"],),
                       published=datetime.fromisoformat(r["date"]).replace(tzinfo=UTC))
            for i, r in enumerate(rows)]


def _groups(events: list) -> set[frozenset[int]]:
    return {frozenset(e.stories) for e in events}


def test_increments_in_publication_order_equal_a_rebuild() -> None:
    stories = sorted(_giveme_stories(), key=lambda s: (s.published, s.key))
    rebuild = _groups(cluster_events(stories))
    assert len(rebuild) < len(stories) - 40  # real events with several stories
    rng = random.Random(7)
    for _ in range(3):
        index = EventIndex()
        i = 0
        while i < len(stories):
            step = rng.randint(1, 25)
            index.add(stories[i: i + step])
            i += step
        assert _groups(index.events()) == rebuild


def test_restored_open_events_continue_like_the_rebuild() -> None:
    """What the job does: events stored after a first run come back as they are, open ones
    only, and the next stories are clustered against them."""
    stories = sorted(_giveme_stories(), key=lambda s: (s.published, s.key))
    config = EventConfig()
    cut = len(stories) * 2 // 3
    first = cluster_events(stories[:cut], config)
    since = stories[cut].published - timedelta(hours=config.window_hours)
    by_key = {s.key: s for s in stories}
    still_open = [e for e in first if e.last >= since]
    closed = [e for e in first if e.last < since]
    assert still_open and closed
    index = EventIndex(config)
    index.restore([[by_key[k] for k in e.stories] for e in still_open])
    index.add(stories[cut:])
    assert _groups(closed) | _groups(index.events()) == _groups(cluster_events(stories, config))


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


def test_a_digest_of_two_happenings_joins_one_event_without_welding_them() -> None:
    """A round-up story resembling two events is a bridge only if the events resemble each
    other without it: otherwise one weak story would chain two unrelated happenings."""
    stories = [_story(1, CHIPS, 0), _story(2, BUSES, 0.5), _story(3, DIGEST, 1)]
    index = EventIndex()
    index.add(stories[:2])
    bridge = EventConfig().threshold / 2
    scores = index.scores(stories[2])
    assert len(scores) == 2 and min(scores.values()) >= bridge  # it is a candidate bridge
    events = cluster_events(stories)
    assert not any({1, 2} <= set(e.stories) for e in events)
    assert sorted(k for e in events for k in e.stories) == [1, 2, 3]
