"""Events: stories about the same happening in different words, one level above copies.

A story is a set of copies (shared text). An event groups stories that report one happening
however they are written. Pure and offline: no Scrapy, no SQLAlchemy, no model weights.

How two stories are compared: each story becomes one sparse, L2-normalised vector of

* terms of its headline and lead (the first ``lead_words`` words): lowercased words, character
  bigrams of Chinese, Japanese and Korean runs (no word spaces there), each weighted by its
  inverse document frequency from ``wordfreq``'s general-language frequencies, once however
  often it occurs (a page repeating "Alibaba" ten times is not more about a given Alibaba event
  than one naming it once: measured, counting repeats merged the seeds' two Alibaba events).
  The weights do not depend on which stories were seen before, so a rebuild and any
  sequence of increments see the same vectors; the lead, not the body, because the body drifts
  into background and page chrome (teasers of unrelated news sit at the end of a page);
* names, numbers and amounts of the lead (capitalised words that do not open a sentence,
  numerals with their scale: "380 billion" and "380bn" are one amount), in their own block with
  a share ``entity_weight`` of the squared norm, so sharing "Tsai" or "380bn" counts apart
  from sharing ordinary words.

Clustering is a single pass in publication order (incremental by nature): a story joins the open
event whose members it is most similar to on average (average link: its dot product with the sum
of the members' vectors over their number) when that mean is at least ``threshold``, else it
starts an event; then open events whose average link to the grown event reaches the threshold
are merged into it when they are at least half that similar without the story (it bridged two
halves of one happening; a round-up naming two happenings joins one, it does not weld them).
This is average-link agglomeration done incrementally: unlike single link, a chain of weak
neighbours does not merge unrelated events, a story or event must resemble the other event as a
whole. Measured with bench/events.py on giveme5w1h and multinews (tune halves and whole sets,
mean ARI): average link 0.85, cosine to the event's centroid 0.82 (with term counts, before the
binary weights). An event stays open for ``window_hours`` after its latest story.

Optionally stories carry sentence embeddings (``EventStory.embedding``, from ``dedup.embed``,
the ``.[semantic]`` extra); the recentred mean cosine is then blended into the same average
link (``EventConfig.semantic_weight``). Candidates still come from the lexical index.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

import numpy as np

from dedup.text import _CJK

#: Sparse vector: feature -> weight. Term features are plain strings; entity features start "\x00".
Vector = dict[str, float]

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_KANA = re.compile(r"[\u3040-\u30ff]")
# Words of alphabetic scripts (with inner apostrophes and hyphens), in the first group when they
# follow a word (not a sentence end: capitalised there, a name); runs of CJK characters; numbers
# with a glued scale ("380bn", "3.8B") or the next word (a scale such as "billion", or anything).
_WORD = re.compile(r"(?:(?<=[^\W_] )|(?<=[,)] ))([^\W\d_]+(?:['’\-][^\W\d_]+)*)"
                   r"|([^\W\d_]+(?:['’\-][^\W\d_]+)*)")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_NUMBER = re.compile(rf"(\d+(?:[.,]\d+)*)(bn|b|m|mn|k|tn|万|亿|億)?(?![^\W_{_CJK}])[ \t]*(\w*)")
#: Multipliers of amount words and their abbreviations (English, Chinese, Japanese, Korean).
_SCALES: dict[str, float] = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9,
    "b": 1e9, "trillion": 1e12, "tn": 1e12, "万": 1e4, "亿": 1e8, "億": 1e8, "만": 1e4, "억": 1e8,
}
_IDF_CACHE: dict[str, dict[str, float]] = {}
#: Idf of a feature wordfreq has never seen: as rare as its rarest listed words (1e-9).
_UNSEEN_IDF = 9.0


@dataclass(frozen=True, slots=True)
class EventConfig:
    """Every parameter of the event layer (one fixed setting for every corpus).

    window_hours: an event takes new stories up to this long after its latest story. Two weeks:
        giveme5w1h's events carry stories dated up to weeks apart (follow-ups, late reprints);
        72 h split them (ARI 0.87 vs 0.92 on the whole dev set), and the window mostly keeps
        recurring topics (quarterly results, yearly launches) apart.
    lead_words: words of the text after the headline that describe the story (the who/what/
        where of an inverted-pyramid lead; further down a page drifts into background, FAQs and
        teasers of unrelated news).
    min_idf: features more common than this (-log10 of their frequency, e.g. "the" 1.3,
        "said" 3.0) carry no event: dropped, which also keeps the inverted index short.
    entity_weight: share of the vector's squared norm given to names, numbers and amounts.
    threshold: least average-link similarity for a story to join an event.
    language: wordfreq language for texts whose language is not known.
    semantic_weight, semantic_floor: when stories carry sentence embeddings (the optional
        ``.[semantic]`` signal, ``dedup.embed``), the score is (1 - weight) x the lexical score
        + weight x (mean embedding cosine - floor) / (1 - floor). The floor recentres the
        embedding: multilingual-e5-small gives any two news leads a cosine of 0.80-0.90
        (measured: 0.85-0.95 for the five seeds, two events). Averages of an affine function
        are the function of the average, so average link still runs on sums.
    """

    window_hours: float = 336.0
    lead_words: int = 200
    min_idf: float = 4.0
    entity_weight: float = 0.3
    threshold: float = 0.12
    language: str = "en"
    semantic_weight: float = 0.5
    semantic_floor: float = 0.85

    def __post_init__(self) -> None:
        if not 0.0 <= self.entity_weight < 1.0:
            raise ValueError("entity_weight must lie in [0, 1)")
        if self.window_hours <= 0 or self.lead_words < 1:
            raise ValueError("window_hours and lead_words must be positive")


@dataclass(frozen=True, slots=True)
class EventStory:
    """What the event layer needs of a story (its canonical article's headline and text).

    ``key`` identifies the story to the caller (e.g. its canonical article id); ``sites`` are the
    outlets of all its copies; ``published`` is tz-aware or None (then no window applies).
    """

    key: int
    title: str | None
    text: str
    published: datetime | None
    sites: tuple[str, ...] = ()
    language: str | None = None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)  # unit length


@dataclass(frozen=True, slots=True)
class Event:
    """Stories about one happening, in the order they joined; ``central`` labels it."""

    stories: tuple[int, ...]
    central: int
    label: str
    first: datetime | None
    last: datetime | None
    outlets: tuple[str, ...]


# -- features ------------------------------------------------------------------------------

@cache
def _frequencies(language: str) -> Mapping[str, float]:
    """wordfreq's word -> frequency table for a language (loaded once, ~0.4 s)."""
    import wordfreq

    return wordfreq.get_frequency_dict(language)


@cache
def _number_idf(token: str, language: str) -> float:
    """Numbers: wordfreq's digit model (years and round numbers are common, 380 is not)."""
    import wordfreq

    return -math.log10(max(wordfreq.word_frequency(token, language), 1e-9))


def _idf(term: str, language: str) -> float:
    """-log10 of the term's frequency in general text of ``language`` (cached per term)."""
    cache = _IDF_CACHE.setdefault(language, {})
    idf = cache.get(term)
    if idf is None:
        freq = _frequencies(language).get(term)
        idf = cache[term] = -math.log10(freq) if freq else _UNSEEN_IDF
    return idf


def _cjk_language(run: str, default: str) -> str:
    if _HANGUL.search(run):
        return "ko"
    if _KANA.search(run):
        return "ja"
    return "zh" if default not in ("zh", "ja", "ko") else default


def _amount(number: str, scale: str | None) -> str:
    """A canonical spelling of a number and its scale: "380 billion" == "380bn" == "380,000m"."""
    digits = number.replace(",", "")
    try:
        value = float(digits) * _SCALES.get(scale or "", 1.0)
    except ValueError:
        return digits
    return f"{value:.6g}"


def _lead(text: str, lead_words: int) -> str:
    """The first ``lead_words`` whitespace-separated words; text written without spaces
    (Chinese, Japanese) is cut at twice as many characters instead."""
    words = text[: 12 * lead_words].split(maxsplit=lead_words)
    if len(words) * 4 < lead_words and len(text) > 2 * lead_words:
        return text[: 2 * lead_words]
    return " ".join(words[:lead_words])


def features(story: EventStory, config: EventConfig) -> Vector:
    """The story's normalised vector: headline + lead terms, and names/numbers/amounts."""
    language = story.language or config.language
    min_idf = config.min_idf
    cache = _IDF_CACHE.setdefault(language, {})
    vector: Vector = {}
    ents: Vector = {}
    for part, names in ((story.title or "", False), (_lead(story.text, config.lead_words), True)):
        part = unicodedata.normalize("NFKC", part)
        matches = set(_WORD.findall(part))
        for word in {(inner or first).lower() for inner, first in matches}:
            if not word.isascii() and _CJK_RUN.search(word):
                continue  # bigrams below
            idf = cache.get(word)
            if idf is None:
                idf = _idf(word, language)
            if idf >= min_idf:
                vector[word] = idf
        if names:
            for word in {inner.lower() for inner, _ in matches if inner and inner[0].isupper()}:
                if word in vector:
                    ents["\x00" + word] = vector[word]
        for run in () if part.isascii() else _CJK_RUN.findall(part):
            lang = _cjk_language(run, language)
            for gram in {run[i: i + 2] for i in range(len(run) - 1)} or {run}:
                idf = _idf(gram, lang)
                if idf >= min_idf:
                    vector[gram] = idf
        for number, glued, following in _NUMBER.findall(part):
            scale = glued or following.lower()
            amount = _amount(number, scale if scale in _SCALES else None)
            idf = _number_idf(number.replace(",", ""), language)
            if idf >= min_idf:
                vector[amount] = idf
                ents["\x00" + amount] = idf
    _normalise(vector, 1.0 - config.entity_weight)
    _normalise(ents, config.entity_weight)
    vector.update(ents)
    return vector


def _normalise(vector: Vector, squared_norm: float) -> None:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    if norm:
        scale = math.sqrt(squared_norm) / norm
        for key in vector:
            vector[key] *= scale


def _dot(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(k, 0.0) for k, w in a.items())


# -- incremental clustering ---------------------------------------------------------------

@dataclass(slots=True)
class _Open:
    """An event being built: member keys, the sum of member vectors, times and outlets."""

    members: list[int] = field(default_factory=list)
    total: Vector = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    outlets: dict[str, None] = field(default_factory=dict)
    dense: np.ndarray | None = None  # sum of the members' embeddings


class EventIndex:
    """Incremental event clustering: ``add`` stories in publication order, read ``events()``.

    Adding stories in publication order in any number of batches gives the same events as one
    batch (a rebuild). Events closed by the window leave the inverted index, so the cost of a
    story depends on the news of the last ``window_hours``, not on the history. Stories without
    a date are compared with every open event and close none.
    """

    def __init__(self, config: EventConfig | None = None) -> None:
        self.config = config or EventConfig()
        self._window = timedelta(hours=self.config.window_hours)
        self._events: list[_Open] = []
        self._open: dict[int, None] = {}
        self._latest: datetime | None = None
        self._postings: dict[str, dict[int, float]] = defaultdict(dict)
        self._vectors: dict[int, Vector] = {}
        self._stories: dict[int, EventStory] = {}

    def __len__(self) -> int:
        return len(self._stories)

    def __contains__(self, key: object) -> bool:
        return key in self._stories

    def add(self, stories: Iterable[EventStory]) -> None:
        """Assign stories (sorted here by publication time, then key) to events."""
        for story in sorted(stories, key=_order):
            if story.key in self._stories:
                raise ValueError(f"story {story.key} is already assigned to an event")
            self._close_before(story.published)
            vector = features(story, self.config)
            scores = self._scores(vector, story.embedding)
            best = max(scores, key=lambda e: (scores[e], -e)) if scores else None
            if best is None or scores[best] < self.config.threshold:
                best = len(self._events)
                self._events.append(_Open())
                self._open[best] = None
            self._join(best, story, vector)
            bridge = self.config.threshold / 2
            self._merge_into(best, vector, [e for e, v in scores.items() if e != best and v >= bridge])

    def restore(self, events: Iterable[Iterable[EventStory]]) -> None:
        """Re-create stored events as they are (no clustering): the state an incremental run
        continues from. Give them in order of creation, each story in one event."""
        for members in events:
            event = len(self._events)
            self._events.append(_Open())
            self._open[event] = None
            for story in sorted(members, key=_order):
                self._join(event, story, features(story, self.config))
        self._close_before(self._latest)

    def scores(self, story: EventStory) -> dict[int, float]:
        """Average-link similarity of a story to every open event sharing a feature with it
        (keys: positions in ``events()``'s creation order, merged events included)."""
        return self._scores(features(story, self.config), story.embedding)

    def _scores(self, vector: Vector, embedding: np.ndarray | None) -> dict[int, float]:
        dots: dict[int, float] = defaultdict(float)
        for feature, weight in vector.items():
            postings = self._postings.get(feature)
            if postings:
                for event, total in postings.items():
                    dots[event] += weight * total
        events = self._events
        return {e: self._mix(dot / len(events[e].members), embedding, events[e].dense,
                             len(events[e].members)) for e, dot in dots.items()}

    def _mix(self, lexical: float, a: np.ndarray | None, b: np.ndarray | None, pairs: int) -> float:
        """The lexical average, blended with the recentred mean embedding cosine when both
        sides carry embeddings (``pairs``: how many story pairs the sums span)."""
        if a is None or b is None:
            return lexical
        c = self.config
        semantic = (float(a @ b) / pairs - c.semantic_floor) / (1.0 - c.semantic_floor)
        return (1.0 - c.semantic_weight) * lexical + c.semantic_weight * semantic

    def _close_before(self, published: datetime | None) -> None:
        """Take events whose window ended before ``published`` out of the inverted index."""
        if published is None or (self._latest is not None and published <= self._latest):
            return
        self._latest = published
        closed = [e for e in self._open
                  if (last := self._events[e].last) is not None and published - last > self._window]
        for event in closed:
            del self._open[event]
            for feature in self._events[event].total:
                postings = self._postings[feature]
                del postings[event]
                if not postings:
                    del self._postings[feature]

    def _join(self, event: int, story: EventStory, vector: Vector) -> None:
        ev = self._events[event]
        ev.members.append(story.key)
        total = ev.total
        for feature, weight in vector.items():
            total[feature] = value = total.get(feature, 0.0) + weight
            self._postings[feature][event] = value
        if story.published is not None:
            ev.first = story.published if ev.first is None else min(ev.first, story.published)
            ev.last = story.published if ev.last is None else max(ev.last, story.published)
            self._latest = story.published if self._latest is None else max(self._latest,
                                                                             story.published)
        for site in story.sites:
            ev.outlets.setdefault(site, None)
        if story.embedding is not None:
            ev.dense = story.embedding.copy() if ev.dense is None else ev.dense + story.embedding
        self._vectors[story.key] = vector
        self._stories[story.key] = story

    def _merge_into(self, event: int, vector: Vector, candidates: list[int]) -> None:
        """Merge open events whose average link to ``event`` (which just grew by the story of
        ``vector``) reaches the threshold: the new story bridged two halves of one happening.
        Candidates are the events the story is at least half as similar to as needed to join
        them (no bridge without that), and the halves must be that similar without the story: a
        digest or round-up naming two happenings joins one of them, it does not weld them."""
        while candidates:
            ev = self._events[event]
            pairs = {f: len(ev.members) * len(self._events[f].members) for f in candidates}
            link = {f: self._mix(_dot(ev.total, self._events[f].total) / pairs[f], ev.dense,
                                 self._events[f].dense, pairs[f]) for f in candidates}
            other = max(link, key=lambda e: (link[e], -e))
            if link[other] < self.config.threshold:
                return
            gone = self._events[other]
            without = (len(ev.members) - 1) * len(gone.members)
            if not without or ((_dot(ev.total, gone.total) - _dot(vector, gone.total)) / without
                               < self.config.threshold / 2):
                candidates = [f for f in candidates if f != other]
                continue
            self._absorb(event, other)
            candidates = [f for f in candidates if f != other]

    def _absorb(self, event: int, other: int) -> None:
        ev, gone = self._events[event], self._events[other]
        ev.members.extend(gone.members)
        for feature, weight in gone.total.items():
            ev.total[feature] = value = ev.total.get(feature, 0.0) + weight
            postings = self._postings[feature]
            del postings[other]
            postings[event] = value
        for when in (gone.first, gone.last):
            if when is not None:
                ev.first = when if ev.first is None else min(ev.first, when)
                ev.last = when if ev.last is None else max(ev.last, when)
        ev.outlets.update(gone.outlets)
        if gone.dense is not None:
            ev.dense = gone.dense if ev.dense is None else ev.dense + gone.dense
        gone.members, gone.total, gone.dense = [], {}, None
        del self._open[other]

    def events(self) -> list[Event]:
        """Every event so far, in order of creation (each story in exactly one)."""
        out = []
        for ev in self._events:
            if not ev.members:  # merged into another
                continue
            central = max(ev.members, key=lambda k: (_dot(self._vectors[k], ev.total), -k))
            story = self._stories[central]
            out.append(Event(stories=tuple(ev.members), central=central,
                             label=event_label(story.title, story.text),
                             first=ev.first, last=ev.last, outlets=tuple(ev.outlets)))
        return out


def event_label(title: str | None, text: str) -> str:
    """An event is labelled by its central story's headline, or lacking one its opening words."""
    return title or _lead(text, 12)


def _order(story: EventStory) -> tuple[bool, datetime | float, int]:
    """Publication order; undated stories after dated ones, by key."""
    if story.published is None:
        return True, 0.0, story.key
    return False, story.published, story.key


def cluster_events(stories: Iterable[EventStory], config: EventConfig | None = None) -> list[Event]:
    """Events of a set of stories in one batch (what a rebuild computes)."""
    index = EventIndex(config)
    index.add(stories)
    return index.events()


# -- explanation ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EventComparison:
    """Why two stories are or are not one event, feature by feature.

    ``similarity`` is the pair's score (the same measure the clustering averages); ``shared``
    lists the features both have with their contribution to it, largest first (names, numbers
    and amounts marked); ``hours_apart`` is None when a date is missing.
    """

    similarity: float
    threshold: float
    shared: tuple[tuple[str, float], ...]
    hours_apart: float | None
    window_hours: float

    @property
    def within_window(self) -> bool:
        return self.hours_apart is None or self.hours_apart <= self.window_hours

    @property
    def similar(self) -> bool:
        return self.similarity >= self.threshold and self.within_window


def compare(a: EventStory, b: EventStory, config: EventConfig | None = None,
            top: int = 8) -> EventComparison:
    """The pairwise view of the event decision for two stories."""
    config = config or EventConfig()
    va, vb = features(a, config), features(b, config)
    by_feature: dict[str, float] = defaultdict(float)  # a name's word and entity parts together
    names: set[str] = set()
    for key, weight in va.items():
        if key in vb:
            base = key.removeprefix("\x00")
            by_feature[base] += weight * vb[key]
            if base != key:
                names.add(base)
    ranked = sorted(by_feature.items(), key=lambda kv: (-kv[1], kv[0]))
    shared = tuple((f"{k} (name/number)" if k in names else k, round(c, 4)) for k, c in ranked[:top])
    hours = (abs((a.published - b.published).total_seconds()) / 3600
             if a.published is not None and b.published is not None else None)
    return EventComparison(similarity=sum(by_feature.values()), threshold=config.threshold,
                           shared=shared, hours_apart=hours, window_hours=config.window_hours)
