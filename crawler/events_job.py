"""The event stage as a job: after dedup, group the stored stories into events (``dedup.events``).

Stories are rewritten by every dedup run (new ids), so what an incremental run continues from is
the event of each *article*, read before the dedup (``article_events``). A story keeps the event
most of its articles had; stories of new articles are the new ones. The stories of events still
open for them (last story within the window before the oldest new story) are clustered again
with the new ones (``dedup.events`` gives the same events whatever the order the stories came
in); closed events stay as they are. An open event keeps its id when its stories stay together
(the first piece of a split keeps it), and an event merged into another one is deleted. The
store's document frequencies are counted over the stories clustered in the run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from crawler.store.models import Article, Event, Story, StoryMember, utcnow
from dedup.events import DocumentFrequency, EventConfig, EventIndex, EventStory, compare, event_label

_IN_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit


@dataclass(frozen=True)
class EventSummary:
    mode: str  #: "incremental" or "rebuild"
    stories: int
    new: int  #: stories clustered this run (all of them on a rebuild)
    events: int
    multi_events: int  #: events of more than one story


@dataclass
class _StoryRow:
    id: int
    canonical: int
    members: list[int] = field(default_factory=list)
    sites: dict[str, None] = field(default_factory=dict)
    published: datetime | None = None  # earliest member's publication (or fetch) time
    loaded: bool = False  # sites and published read (``_load_details``)


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i: i + _IN_CHUNK]


def article_events(session: Session) -> dict[int, int]:
    """Article id -> event id as stored (read it before a dedup run rewrites the stories)."""
    rows = session.execute(select(StoryMember.article_id, Story.event_id)
                           .join(Story, Story.id == StoryMember.story_id)
                           .where(Story.event_id.is_not(None)))
    return {article: event for article, event in rows}


def _load_members(session: Session) -> dict[int, _StoryRow]:
    """Stories keyed by canonical article id (stable across dedup runs, unlike story ids), with
    their members' ids only (``_load_details`` reads their outlets and dates)."""
    rows = session.execute(select(Story.id, Story.canonical_article_id, StoryMember.article_id)
                           .join(StoryMember, StoryMember.story_id == Story.id)
                           .order_by(Story.id, StoryMember.article_id))
    stories: dict[int, _StoryRow] = {}
    for story_id, canonical, article in rows:
        stories.setdefault(canonical, _StoryRow(story_id, canonical)).members.append(article)
    return stories


def _load_details(session: Session, rows: Iterable[_StoryRow]) -> None:
    """Fill in the stories' outlets (in member order) and earliest publication (or fetch) time."""
    story_of = {a: row for row in rows if not row.loaded for a in row.members}
    when = func.coalesce(Article.published, Article.fetched_at)
    for chunk in _chunks(sorted(story_of)):
        for article, site, published in session.execute(
                select(Article.id, Article.site, when).where(Article.id.in_(chunk)).order_by(Article.id)):
            row = story_of[article]
            row.sites.setdefault(site, None)
            if published is not None and (row.published is None or published < row.published):
                row.published = published
    for row in story_of.values():
        row.loaded = True


def _load_stories(session: Session) -> dict[int, _StoryRow]:
    """Every story with its members, outlets and dates."""
    stories = _load_members(session)
    _load_details(session, stories.values())
    return stories


def _event_stories(session: Session, rows: Iterable[_StoryRow]) -> Iterator[EventStory]:
    """What the event layer reads of each story: its canonical article's headline and text."""
    by_canonical = {row.canonical: row for row in rows}
    for chunk in _chunks(sorted(by_canonical)):
        for art in session.execute(select(Article.id, Article.title, Article.text, Article.language)
                                   .where(Article.id.in_(chunk))):
            row = by_canonical[art.id]
            yield EventStory(key=row.canonical, title=art.title, text=art.text,
                             published=row.published, sites=tuple(row.sites),
                             language=(art.language or "").split("-")[0].lower() or None)


def _kept_event(row: _StoryRow, previous: dict[int, int], alive: set[int]) -> int | None:
    """The event most of the story's articles were in (ties: the older event), if any."""
    votes = Counter(previous[a] for a in row.members if previous.get(a) in alive)
    return min(votes, key=lambda e: (-votes[e], e)) if votes else None


def assign_events(session: Session, previous: dict[int, int], config: EventConfig | None = None,
                  rebuild: bool = False) -> EventSummary:
    """Assign every stored story to an event and store the events, in one transaction.

    ``previous``: ``article_events`` as read before the dedup run. With ``rebuild`` (or nothing
    stored yet) every story is clustered from scratch. Incrementally, the outlets, dates and
    texts read are those of the new stories and of the events they may change: the open ones,
    and closed ones whose stories the dedup changed (new copies, merged or split stories, a new
    canonical article); other events stay as stored.
    """
    config = config or EventConfig()
    stories = _load_members(session)
    existing = {e.id: e for e in session.scalars(select(Event))}
    event_of: dict[int, int | None] = {}  # canonical -> event id (None: clustered now)
    if not rebuild and previous and existing:
        mode = "incremental"
        alive = set(existing)
        for canonical, row in stories.items():
            event_of[canonical] = _kept_event(row, previous, alive)
        changed = _changed_events(session, stories, event_of, previous, existing)
    else:
        mode = "rebuild"
        session.execute(update(Story).values(event_id=None))
        session.execute(delete(Event))
        existing = {}
        event_of = dict.fromkeys(stories)
        changed = set()
    new = [stories[c] for c, e in event_of.items() if e is None]
    _load_details(session, new)
    central: dict[int, int] = {}
    if new:
        dated = [r.published for r in new if r.published is not None]
        since = min(dated) - timedelta(hours=config.window_hours) if dated else None
        open_ids = {e.id for e in existing.values()
                    if since is None or e.last_published is None or e.last_published >= since}
        start_of = {c: e for c, e in event_of.items() if e in open_ids}  # reopened story -> event
        _load_details(session, [stories[c] for c in start_of])
        texts = list(_event_stories(session, [stories[c] for c in start_of] + new))
        index = EventIndex.of(texts, config)
        used: set[int] = set()
        for ev in index.events():
            olds = sorted({start_of[k] for k in ev.stories if k in start_of} - used)
            if olds:  # the oldest stored event it holds stories of; others merged into it go
                target = olds[0]
            else:
                row = Event(label=ev.label, story_count=0, article_count=0, site_count=0)
                session.add(row)
                session.flush()
                existing[row.id] = row
                target = row.id
            used.add(target)
            central[target] = ev.central
            for key in ev.stories:
                event_of[key] = target
        changed |= set(open_ids) | used
    session.flush()
    _write(session, stories, event_of, existing, central, None if mode == "rebuild" else changed)
    session.commit()
    sizes = Counter(event_of.values())
    return EventSummary(mode=mode, stories=len(stories), new=len(new), events=len(sizes),
                        multi_events=sum(1 for n in sizes.values() if n > 1))


def _changed_events(session: Session, stories: dict[int, _StoryRow], event_of: dict[int, int | None],
                    previous: dict[int, int], existing: dict[int, Event]) -> set[int]:
    """Stored events whose stories the dedup run changed (an article joined, left or moved, the
    number of stories differs, the central article no longer leads one of them) or whose
    articles were updated (refetched) since the event was written."""
    before: dict[int, set[int]] = defaultdict(set)
    for article, event in previous.items():
        before[event].add(article)
    after: dict[int, set[int]] = defaultdict(set)
    count: Counter[int] = Counter()
    canonicals: dict[int, set[int]] = defaultdict(set)
    for canonical, event in event_of.items():
        if event is not None:
            after[event].update(stories[canonical].members)
            count[event] += 1
            canonicals[event].add(canonical)
    changed = {e for e, row in existing.items()
               if before[e] != after[e] or count[e] != row.story_count
               or row.central_article_id not in canonicals[e]}
    now_in = {article: event for event, articles in after.items() for article in articles}
    oldest = min(row.updated_at for row in existing.values())
    for article, updated in session.execute(select(Article.id, Article.updated_at)
                                            .where(Article.updated_at > oldest)):
        for event in (previous.get(article), now_in.get(article)):
            if event in existing and updated > existing[event].updated_at:
                changed.add(event)
    return changed


def _write(session: Session, stories: dict[int, _StoryRow], event_of: dict[int, int | None],
           events: dict[int, Event], central: dict[int, int], changed: set[int] | None) -> None:
    """Point every story at its event; recompute the times, counts and label of each changed
    event (``None``: every event)."""
    by_event: dict[int, list[_StoryRow]] = defaultdict(list)
    for canonical, event in event_of.items():
        assert event is not None, "every story is in an event"
        by_event[event].append(stories[canonical])
    for event_id, rows in by_event.items():
        for chunk in _chunks([r.id for r in rows]):
            session.execute(update(Story).where(Story.id.in_(chunk)).values(event_id=event_id))
    for event_id in [e for e in events if e not in by_event]:
        session.delete(events.pop(event_id))
    redo = {e: rows for e, rows in by_event.items() if changed is None or e in changed}
    _load_details(session, [r for rows in redo.values() for r in rows])
    picks = {}
    for event_id, rows in redo.items():
        pick = central.get(event_id) or events[event_id].central_article_id
        if pick not in {r.canonical for r in rows}:  # its story is gone: the earliest one labels it
            pick = min(rows, key=lambda r: (r.published is None, r.published or 0, r.canonical)).canonical
        picks[event_id] = pick
    titles = _labels(session, list(picks.values()))
    for event_id, rows in redo.items():
        row = events[event_id]
        pick = picks[event_id]
        dates = [r.published for r in rows if r.published is not None]
        row.central_article_id = pick
        row.label = titles.get(pick, "")
        row.first_published = min(dates) if dates else None
        row.last_published = max(dates) if dates else None
        row.story_count = len(rows)
        row.article_count = sum(len(r.members) for r in rows)
        row.site_count = len({s for r in rows for s in r.sites})
        row.updated_at = utcnow()


def _labels(session: Session, article_ids: Sequence[int]) -> dict[int, str]:
    """The event label of each article (its headline, or its opening words)."""
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(set(article_ids))):
        for art_id, title, text in session.execute(
                select(Article.id, Article.title, func.substr(Article.text, 1, 400))
                .where(Article.id.in_(chunk))):
            out[art_id] = event_label(title, text or "")
    return out


def explain_events(session: Session, first: int, second: int,
                   config: EventConfig | None = None) -> dict[str, object]:
    """Whether the stories of two stored articles are one event, and why: the stored events,
    the pair's similarity (what the clustering averages over an event's stories), the features
    they share and their distance in time."""
    config = config or EventConfig()
    stories = _load_stories(session)
    of_article = {a: row for row in stories.values() for a in row.members}
    rows = [of_article.get(first), of_article.get(second)]
    if rows[0] is None or rows[1] is None:
        return {"same_event": None, "summary": "not in a story yet: run `newsdedup dedup`"}
    events = dict(session.execute(select(Story.id, Story.event_id)
                                  .where(Story.id.in_([r.id for r in rows]))).all())
    a_event, b_event = events.get(rows[0].id), events.get(rows[1].id)
    # the store's document frequencies as the clustering saw them: over both events' stories
    peers = {row.id for row in rows} | set(session.scalars(
        select(Story.id).where(Story.event_id.in_([e for e in (a_event, b_event) if e is not None]))))
    texts = {s.key: s for s in _event_stories(session, [r for r in stories.values() if r.id in peers])}
    cmp = compare(texts[rows[0].canonical], texts[rows[1].canonical], config,
                  DocumentFrequency.count(texts.values(), config))
    shared = ", ".join(name for name, _ in cmp.shared) or "nothing"
    apart = ("no date" if cmp.hours_apart is None else
             f"{cmp.hours_apart:.0f} h apart (window {config.window_hours:.0f} h)")
    if rows[0].id == rows[1].id:
        verdict = f"one story, so one event ({a_event})"
    elif a_event is None or b_event is None:
        verdict = "not assigned to events yet: run `newsdedup dedup`"
    elif a_event == b_event:
        verdict = f"same event {a_event}"
    else:
        verdict = f"different events ({a_event} and {b_event})"
    summary = (f"{verdict}; event similarity {cmp.similarity:.3f} (a story joins an event at an "
               f"average of {cmp.threshold:.2f} over its stories); {apart}; shared: {shared}")
    return {"same_event": a_event is not None and a_event == b_event, "event_a": a_event,
            "event_b": b_event, "similarity": cmp.similarity, "threshold": cmp.threshold,
            "hours_apart": cmp.hours_apart, "shared": [list(x) for x in cmp.shared],
            "summary": summary}
