"""Events: stories about the same happening in different words, one level above copies.

A story is a set of copies (shared text). An event groups stories that report one happening
however they are written. Pure and offline: no Scrapy, no SQLAlchemy, no model weights.

How two stories are compared: each story becomes one sparse, L2-normalised vector of the terms
of its headline and its first ``lead_words`` words (lowercased words; character bigrams of
Chinese, Japanese and Korean runs, which have no word spaces; numbers with their scale, so
"380 billion" and "380bn" are one amount), weighted by

* (1 + log of the term's count): a page naming "Alibaba" ten times is a little more about it;
* the term's rarity in general language (``wordfreq``): "said" or "the" carry no event;
* its rarity in the store (``DocumentFrequency``, smoothed idf over the stories): what every
  story of this store talks about ("Trump" in a politics archive, "AI" in tech news) tells its
  events apart less than what few stories share. Measured (bench/events.py, batch average
  link): multinews 0.63 -> 0.83 with the store's idf on top of wordfreq's, giveme5w1h 0.90 -> 0.99.

The text well past the lead counts too (1,000 words: multinews' same-event articles open in
different ways and meet further down); teasers of unrelated news at the end of a long page
(seed 000's "Related News") weigh less than its whole body.

Clustering is average-link agglomeration at ``threshold`` over every story, two stories more
than ``window_hours`` apart counting as unrelated: a story or event joins another only if it
resembles it as a whole, so a chain of weak neighbours does not merge unrelated events, and a
round-up naming two happenings does not weld them. The result is a function of the set of
stories, not of their arrival order. Incrementally, stories are linked to the stories they reach
the threshold with (an inverted index over the stories of the last window); only the groups of
linked stories a new story touches are clustered again, which gives exactly the rebuild's events
(average link never merges clusters with no pair at the threshold).

Optionally stories carry sentence embeddings (``EventStory.embedding``, from ``dedup.embed``,
the ``.[semantic]`` extra); the recentred cosine is then blended into each pair's similarity
(``EventConfig.semantic_weight``). Candidates still come from the lexical index.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache

import numpy as np
from numba import njit

from dedup.text import _CJK

#: Sparse vector: term -> weight.
Vector = dict[str, float]

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_CJK_RUN = re.compile(rf"[{_CJK}]+")


#: Words of alphabetic scripts, with inner apostrophes and hyphens (``_ascii_words`` reads the
#: same in one compiled pass when every word character is ASCII).
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def _number_reader(digit: str, word: str, glued: str) -> re.Pattern[str]:
    """Numbers with a glued scale and the word after them (the scale when it is one), over the
    given classes of digits, word characters that may follow (not CJK: Chinese, Japanese and
    Korean glue a number to the next word, "投入380亿元", and that word is not a scale) and word
    characters that may not follow a number (all but _ and CJK)."""
    scale = "bn|b|m|mn|k|tn|万|亿|億|만|억"
    return re.compile(rf"({digit}+(?:[.,]{digit}+)*)({scale})?(?!{glued})[ \t]*({word}*)")


_NUMBER = _number_reader(r"\d", rf"[^\W{_CJK}]", rf"[^\W_{_CJK}]")
#: The same for text whose word characters are all ASCII (most news: its only other characters
#: are quotes and dashes): classes of ASCII ranges match as Unicode categories do there, faster.
_ASCII_NUMBER = _number_reader("[0-9]", "[a-zA-Z0-9_]", "[a-zA-Z0-9]")
_ASCII_RUN = re.compile(r"[\x00-\x7f]+")
#: Multipliers of amount words and their abbreviations (English, Chinese, Japanese, Korean).
_SCALES: dict[str, float] = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9,
    "b": 1e9, "trillion": 1e12, "tn": 1e12, "万": 1e4, "亿": 1e8, "億": 1e8, "만": 1e4, "억": 1e8,
}
_IDF_CACHE: dict[str, dict[str, float]] = {}
#: wordfreq language for what a page's own language cannot be looked up in.
_FALLBACK_LANGUAGE = "en"
#: Every term read so far (words, character bigrams, amounts) -> its id, process-wide: the
#: window's rows and the rarity tables are indexed by it, so a story's terms are looked up once.
_TERM_ID: dict[str, int] = {}
_TERMS: list[str] = []
#: (language, min_idf) -> a word's idf by term id if at least min_idf, else 0 (nan: not looked up)
_KEPT: dict[tuple[str, float], np.ndarray] = {}
#: 1 + log(count): a term's weight for its count in the text (counts below the words read).
_TF = np.array([0.0] + [1.0 + math.log(n) for n in range(1, 1 << 15)])
#: Idf of a term wordfreq has never seen: as rare as its rarest listed words (1e-9).
_UNSEEN_IDF = 9.0


@dataclass(frozen=True, slots=True)
class EventConfig:
    """Every parameter of the event layer (one fixed setting for every corpus).

    window_hours: two stories further apart than this are not compared. Two weeks:
        giveme5w1h's events carry stories dated up to weeks apart (follow-ups, late reprints);
        72 h split them, and the window mostly keeps recurring topics (quarterly results,
        yearly launches) apart.
    lead_words: words of the text after the headline that are read (1,000: 200 gave multinews
        0.75 vs 0.83, both with the store's idf; a page's end drifts into teasers and FAQs).
    min_idf: terms more common than this in general language (-log10 of their frequency,
        e.g. "the" 1.3, "of" 1.5) carry no event: dropped, which keeps the index short.
    threshold: least average-link similarity for two stories or events to be one event.
    leave_one_out: two clusters merge only if their average link without any one of their
        stories is still this share of the threshold: a round-up resembling several events
        joins one, it does not bridge them (the demo's morning digest welded a chip plant, a
        bus timetable and a ferry into one event at 0.6; 0.75 keeps them apart and changes
        neither giveme5w1h nor multinews; 1.0 costs multinews 0.863 -> 0.788).
    language: wordfreq language for texts whose language is not known.
    semantic_weight, semantic_floor: when both stories carry sentence embeddings (the optional
        ``.[semantic]`` signal, ``dedup.embed``), their similarity is (1 - weight) x the
        lexical one + weight x (embedding cosine - floor) / (1 - floor). The floor recentres
        the embedding: multilingual-e5-small gives any two news leads 0.80-0.90.
    semantic_words: words of the lead the embedding reads (e5 stops at 512 tokens; ~300 here).
    """

    window_hours: float = 336.0
    lead_words: int = 1000
    min_idf: float = 2.0
    threshold: float = 0.12
    leave_one_out: float = 0.75
    language: str = "en"
    semantic_weight: float = 0.5
    semantic_floor: float = 0.85
    semantic_words: int = 200

    def __post_init__(self) -> None:
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
    """Stories about one happening, in publication order; ``central`` labels it."""

    stories: tuple[int, ...]
    central: int
    label: str
    first: datetime | None
    last: datetime | None
    outlets: tuple[str, ...]


# -- features ------------------------------------------------------------------------------

@cache
def _frequencies(language: str) -> Mapping[str, float]:
    """wordfreq's word -> frequency table for a language (loaded once, ~0.4 s); English's for a
    language wordfreq has no list of (Thai, say): the page's English words still weigh right,
    its other words count as rare."""
    import wordfreq

    try:
        return wordfreq.get_frequency_dict(language)
    except LookupError:
        return wordfreq.get_frequency_dict(_FALLBACK_LANGUAGE)


@cache
def _number_idf(token: str, language: str) -> float:
    """Numbers: wordfreq's digit model (years and round numbers are common, 380 is not)."""
    import wordfreq

    return -math.log10(max(wordfreq.word_frequency(token, _number_language(language)), 1e-9))


@cache
def _number_language(language: str) -> str:
    """The language whose digit model reads ``language``'s numbers: its own where wordfreq can
    tokenize it here, else English. wordfreq tokenizes Chinese with jieba and Japanese and Korean
    with MeCab, optional extras not installed, and has no list for some languages (Thai); a
    number is read alike in all of them, and a page in one of them must not stop the job."""
    import wordfreq

    try:
        wordfreq.word_frequency("2024", language)
    except (ImportError, LookupError):
        return _FALLBACK_LANGUAGE
    return language


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


@lru_cache(maxsize=1 << 16)
def _amount_idf(number: str, glued: str, following: str, language: str) -> tuple[str, float]:
    """A number's canonical spelling with its scale ("380 billion" == "380bn" == "380,000m")
    and the number's idf (cached: the same numbers recur across stories)."""
    digits = number.replace(",", "")
    scale = glued or following
    try:
        value = float(digits) * _SCALES.get(scale, 1.0)
    except ValueError:
        return digits, _number_idf(digits, language)
    return f"{value:.6g}", _number_idf(digits, language)


def _lead(text: str, lead_words: int) -> str:
    """The first ``lead_words`` whitespace-separated words; text written without spaces
    (Chinese, Japanese) is cut at twice as many characters instead."""
    words = text[: 12 * lead_words].split(maxsplit=lead_words)
    if len(words) * 4 < lead_words and len(text) > 2 * lead_words:
        return text[: 2 * lead_words]
    return " ".join(words[:lead_words])


#: A story's terms as read: (term ids, weights by count and general-language rarity), in the
#: order of ``terms`` (words by first occurrence, then bigrams, then amounts).
Read = tuple[np.ndarray, np.ndarray]


def _ids(terms: Collection[str]) -> np.ndarray:
    """The terms' ids (new terms get the next ids)."""
    try:
        return np.fromiter(map(_TERM_ID.__getitem__, terms), np.int64, len(terms))
    except KeyError:  # terms met for the first time
        for term in terms:
            if term not in _TERM_ID:
                _TERM_ID[term] = len(_TERMS)
                _TERMS.append(term)
        return np.fromiter(map(_TERM_ID.__getitem__, terms), np.int64, len(terms))


def _grown(table: np.ndarray | None) -> np.ndarray:
    """A table of a value per term id (nan: not looked up yet) that covers every term met so
    far: ``table`` itself, else a copy with room for as many terms again (grown rarely)."""
    if table is not None and len(table) >= len(_TERMS):
        return table
    grown = np.full(2 * len(_TERMS) + 1024, np.nan)
    if table is not None:
        grown[: len(table)] = table
    return grown


def _kept(ids: np.ndarray, words: list[str], language: str, min_idf: float) -> np.ndarray:
    """The words' general-language idf, 0 below ``min_idf`` and for words of CJK characters
    (read as bigrams instead); looked up once per word and language."""
    table = _KEPT[language, min_idf] = _grown(_KEPT.get((language, min_idf)))
    idf = table[ids]
    for i in np.flatnonzero(np.isnan(idf)).tolist():  # words met for the first time
        word = words[i]
        cjk = not word.isascii() and _CJK_RUN.search(word)
        found = 0.0 if cjk else _idf(word, language)
        idf[i] = table[ids[i]] = found if found >= min_idf else 0.0
    return idf


@njit(cache=True)
def _ascii_words(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``Counter(_WORD.findall(text))`` gives on text whose word characters are all ASCII,
    in one pass over its code points: the distinct words in order of first occurrence (joined
    by spaces), their counts; and the positions of its digits (where numbers can start)."""
    n = chars.shape[0]
    size = 64
    while size < n + 2:  # at least twice as many slots as words (a word and a separator each)
        size *= 2
    slots = np.full(size, -1, np.int64)
    starts = np.empty(n // 2 + 1, np.int64)
    ends = np.empty(n // 2 + 1, np.int64)
    counts = np.zeros(n // 2 + 1, np.int64)
    digits = np.empty(n, np.int64)
    m = nd = length = 0
    i = 0
    while i < n:
        c = chars[i]
        if 48 <= c <= 57:
            digits[nd] = i
            nd += 1
        if not (97 <= c <= 122 or 65 <= c <= 90):
            i += 1
            continue
        start = i
        h = np.uint64(14695981039346656037)
        while True:  # letters, then (apostrophe or hyphen, letters) while a letter follows
            while i < n and (97 <= chars[i] <= 122 or 65 <= chars[i] <= 90):
                h = (h ^ np.uint64(chars[i])) * np.uint64(1099511628211)
                i += 1
            if i + 1 < n and (chars[i] == 39 or chars[i] == 0x2019 or chars[i] == 45) and (
                    97 <= chars[i + 1] <= 122 or 65 <= chars[i + 1] <= 90):
                h = (h ^ np.uint64(chars[i])) * np.uint64(1099511628211)
                i += 1
            else:
                break
        slot = np.int64(h & np.uint64(size - 1))
        while True:
            j = slots[slot]
            if j < 0:
                slots[slot] = m
                starts[m], ends[m], counts[m] = start, i, 1
                length += i - start + 1
                m += 1
                break
            if ends[j] - starts[j] == i - start:
                k = 0
                while k < i - start and chars[starts[j] + k] == chars[start + k]:
                    k += 1
                if k == i - start:
                    counts[j] += 1
                    break
            slot = (slot + 1) & (size - 1)
    joined = np.empty(max(length - 1, 0), np.uint32)
    p = 0
    for j in range(m):
        if j:
            joined[p] = 32
            p += 1
        for k in range(starts[j], ends[j]):
            joined[p] = chars[k]
            p += 1
    return joined, counts[:m], digits[:nd]


def _read(story: EventStory, config: EventConfig) -> Read:
    """The story's terms (see ``terms``) as term ids and weights."""
    language = story.language or config.language
    min_idf = config.min_idf
    log = math.log
    part = unicodedata.normalize("NFKC", f"{story.title or ''}\n{_lead(story.text, config.lead_words)}")
    lower = part.lower()
    rest = _ASCII_RUN.sub("", part)  # its other characters, those of ``lower`` among their lower()
    # word characters (alnum, _) all ASCII: ASCII words and numbers, at the same places in both
    if len(lower) == len(part) and not any(map(str.isalnum, rest + rest.lower())):
        chars = np.frombuffer(lower.encode("utf-32-le", "surrogatepass"), np.uint32)
        joined, counts, digits = _ascii_words(chars)
        words = joined.tobytes().decode("utf-32-le").split(" ") if counts.size else []
        found, end, number_at = [], 0, _ASCII_NUMBER.match
        for at in digits.tolist():  # findall: a match tried at each digit after the last one
            if at >= end and (number := number_at(part, at)):
                found.append(number.groups(""))
                end = number.end()
    else:
        counted = Counter(_WORD.findall(lower))
        words = list(counted)
        counts = np.fromiter(counted.values(), np.int64, len(words))
        found = _NUMBER.findall(part)
    ids = _ids(words)
    general = _kept(ids, words, language, min_idf)
    tf = _TF
    if counts.size and (most := int(counts.max())) >= len(tf):
        tf = np.concatenate([tf, [1.0 + log(n) for n in range(len(tf), most + 1)]])
    kept = general != 0.0
    ids, weights = ids[kept], general[kept] * tf[counts[kept]]
    out: Vector = {}  # bigrams and amounts
    if _CJK_RUN.search(rest):  # CJK characters are not ASCII
        grams: Counter[str] = Counter()
        for run in _CJK_RUN.findall(part):
            lang = _cjk_language(run, language)
            for gram in [run[i: i + 2] for i in range(len(run) - 1)] or [run]:
                grams[gram] += 1
                if gram not in out and (idf := _idf(gram, lang)) >= min_idf:
                    out[gram] = idf
        for gram, n in grams.items():
            if n > 1 and gram in out:
                out[gram] *= 1.0 + log(n)
    amounts: Counter[str] = Counter()
    for match, n in Counter(found).items():
        amount, idf = _amount_idf(*match, language)
        if idf >= min_idf:
            out[amount] = idf
            amounts[amount] += n
    for amount, n in amounts.items():
        if n > 1:
            out[amount] *= 1.0 + log(n)
    if not out:
        return ids, weights
    more = _ids(out)
    extra = np.fromiter(out.values(), np.float64, len(out))
    if any(map(str.isalpha, amounts)):  # an amount spelled like a word ("inf") takes its place
        at = {term_id: i for i, term_id in enumerate(ids.tolist())}
        clash = np.array([term_id in at for term_id in more.tolist()], dtype=bool)
        weights[[at[term_id] for term_id in more[clash].tolist()]] = extra[clash]
        more, extra = more[~clash], extra[~clash]
    return np.concatenate([ids, more]), np.concatenate([weights, extra])


def terms(story: EventStory, config: EventConfig) -> Vector:
    """The story's terms weighted by count and general-language rarity (not normalised; the
    store's idf is applied by ``DocumentFrequency.vector``)."""
    return _vector(_read(story, config))


def _vector(read: Read) -> Vector:
    ids, weights = read
    return dict(zip(map(_TERMS.__getitem__, ids.tolist()), weights.tolist(), strict=True))


@dataclass(frozen=True, slots=True)
class DocumentFrequency:
    """The store-specific half of the idf: log((1 + stories) / (1 + stories with the term)) + 1,
    over the store's stories (``count``).

    Fixed while an index clusters: a rebuild and any sequence of increments see the same vectors.
    """

    idf: Mapping[str, float]
    unseen: float  #: the idf of a term no story of the store has
    #: ``idf`` by term id (nan: not looked up yet), filled as stories are read
    _by_id: list[np.ndarray] = field(default_factory=lambda: [np.empty(0)], init=False,
                                     compare=False, repr=False)

    @classmethod
    def count(cls, stories: Iterable[EventStory], config: EventConfig) -> DocumentFrequency:
        return cls.of(terms(story, config) for story in stories)

    @classmethod
    def of(cls, found: Iterable[Vector]) -> DocumentFrequency:
        """Counted over the stories' ``terms``."""
        df: Counter[str] = Counter()
        n = 0
        for story_terms in found:
            df.update(story_terms.keys())
            n += 1
        by_count = {c: math.log((1 + n) / (1 + c)) + 1.0 for c in set(df.values())}
        return cls({t: by_count[c] for t, c in df.items()}, math.log(1 + n) + 1.0)

    def weights(self, read: Read) -> np.ndarray:
        """The read terms' weights times the store idf, L2-normalised, in their order."""
        ids, out = read
        table = self._by_id[0] = _grown(self._by_id[0])
        idf = table[ids]
        for i in np.flatnonzero(np.isnan(idf)).tolist():
            idf[i] = table[ids[i]] = self.idf.get(_TERMS[ids[i]], self.unseen)
        out = out * idf
        norm = math.sqrt(float(out @ out))
        if norm:
            out /= norm
        return out

    def vector(self, read: Read) -> Vector:
        return _vector((read[0], self.weights(read)))


def _dot(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(k, 0.0) for k, w in a.items())


# -- clustering ----------------------------------------------------------------------------

@njit(cache=True)
def _window_dots(query: np.ndarray, ids: np.ndarray, weights: np.ndarray, starts: np.ndarray,
                 ends: np.ndarray, out: np.ndarray) -> None:
    """Dot product of a dense query with every story of the window (sparse rows)."""
    for row in range(out.shape[0]):
        acc = 0.0
        for p in range(starts[row], ends[row]):
            acc += query[ids[p]] * weights[p]
        out[row] = acc


@njit(cache=True)
def _pairwise_sum(a: np.ndarray) -> float:
    """NumPy's sum of a contiguous run (pairwise, 8 partial sums): the same float as
    ``a.sum()``, so the compiled clustering decides exactly as NumPy's did."""
    n = a.shape[0]
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r = a[:8].copy()
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise_sum(a[:half]) + _pairwise_sum(a[half:])


@njit(cache=True)
def _bridged(pairs: np.ndarray, label: np.ndarray, a: int, b: int, least: float) -> bool:
    """Whether clusters ``a`` and ``b`` stay linked without any one of their stories: their
    average link without it reaches ``least`` (sums in NumPy's order: rows pairwise, columns
    one row after another, a single column pairwise)."""
    in_a, in_b = np.flatnonzero(label == a), np.flatnonzero(label == b)
    na, nb = in_a.shape[0], in_b.shape[0]
    cross = np.empty((na, nb))
    for i in range(na):
        for j in range(nb):
            cross[i, j] = pairs[in_a[i], in_b[j]]
    to_b = np.empty(na)  # each story's sum to the other side
    for i in range(na):
        to_b[i] = 0.0 + _pairwise_sum(cross[i])
    to_a = np.empty(nb)
    if nb == 1:
        to_a[0] = 0.0 + _pairwise_sum(cross[:, 0].copy())
    else:
        to_a[:] = cross[0]
        for i in range(1, na):
            to_a += cross[i]
    total = 0.0 + _pairwise_sum(to_b)
    if na > 1:
        for i in range(na):
            if (total - to_b[i]) / ((na - 1) * nb) < least:
                return False
    if nb > 1:
        for j in range(nb):
            if (total - to_a[j]) / (na * (nb - 1)) < least:
                return False
    return True


@njit(cache=True)
def _agglomerate(pairs: np.ndarray, threshold: float, least: float) -> np.ndarray:
    """Average-link agglomeration of stories in publication order (``pairs``: their similarity
    matrix): merge the most similar pair of clusters (ties: the earliest stories) while their
    mean pairwise similarity reaches ``threshold`` and stays at ``least`` without any one of
    their stories (``_bridged``). Each story's cluster: the position of its earliest story."""
    n = pairs.shape[0]
    label = np.arange(n)
    sums = pairs.copy()  # cluster x cluster sums of pair similarities
    sizes = np.ones(n)
    upper = np.zeros((n, n), np.bool_)
    for i in range(n):
        upper[i, i + 1:] = True
    link = np.empty(n * n)
    while True:
        for i in range(n):
            for j in range(n):
                link[i * n + j] = sums[i, j] / (sizes[i] * sizes[j]) if upper[i, j] else -1.0
        merged = False
        for flat in np.argsort(-link, kind="mergesort"):  # most similar first, ties: the first
            if link[flat] < threshold:
                break
            a, b = flat // n, flat % n
            if _bridged(pairs, label, a, b, least):
                merged = True
                break
        if not merged:
            return label
        sums[a] += sums[b]
        sums[:, a] += sums[:, b]
        sizes[a] += sizes[b]
        label[label == b] = a
        upper[b, :] = False
        upper[:, b] = False


class _Window:
    """The stories of the last window as sparse rows in flat arrays (term ids, weights), so the
    similarity of a new story to all of them is one compiled pass (a Python inverted index
    cost 2-3 ms a story over 1,000-word texts)."""

    def __init__(self) -> None:
        self.query = np.zeros(1024)  # dense by term id, zero between calls
        self.ids = np.zeros(4096, dtype=np.int64)
        self.weights = np.zeros(4096)
        self.used = 0
        self.dead = 0  # elements of removed stories' rows, not yet compacted
        self.rows = 0
        self.keys = np.zeros(256, dtype=np.int64)
        self.times = np.zeros(256)  # publication timestamps (nan: undated)
        self.starts = np.zeros(256, dtype=np.int64)
        self.ends = np.zeros(256, dtype=np.int64)

    def dots(self, ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Dot products of the window's stories (in ``keys`` order) with a story's vector."""
        if len(_TERMS) > len(self.query):
            self.query = np.zeros(2 * len(_TERMS))
        query = self.query
        query[ids] = weights
        n = self.rows
        out = np.empty(n)
        _window_dots(query, self.ids, self.weights, self.starts[:n], self.ends[:n], out)
        query[ids] = 0.0
        return out

    def append(self, key: int, when: datetime | None, ids: np.ndarray, weights: np.ndarray) -> None:
        end = self.used + len(ids)
        if end > len(self.ids):
            self.ids = np.resize(self.ids, 2 * end)
            self.weights = np.resize(self.weights, 2 * end)
        self.ids[self.used: end] = ids
        self.weights[self.used: end] = weights
        row = self.rows
        if row == len(self.keys):
            self.keys, self.times, self.starts, self.ends = (
                np.resize(a, 2 * row) for a in (self.keys, self.times, self.starts, self.ends))
        self.keys[row] = key
        self.times[row] = math.nan if when is None else when.timestamp()
        self.starts[row], self.ends[row] = self.used, end
        self.rows, self.used = row + 1, end

    def remove(self, gone: set[int]) -> None:
        """Drop stories: their rows become empty (a dot product of 0, never a candidate); the
        arrays are compacted once empty rows hold half of them."""
        n = self.rows
        starts, ends = self.starts[:n], self.ends[:n]
        drop = np.isin(self.keys[:n], np.fromiter(gone, np.int64, len(gone)))
        self.dead += int((ends[drop] - starts[drop]).sum())
        ends[drop] = starts[drop]
        if 2 * self.dead <= self.used:
            return
        keep = np.flatnonzero(ends > starts)
        lengths = ends[keep] - starts[keep]
        parts = [np.arange(a, b) for a, b in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True)]
        order = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        self.ids[: len(order)] = self.ids[order]
        self.weights[: len(order)] = self.weights[order]
        m = len(keep)
        self.keys[:m], self.times[:m] = self.keys[keep], self.times[keep]
        self.ends[:m] = np.cumsum(lengths)
        self.starts[:m] = self.ends[:m] - lengths
        self.rows, self.used, self.dead = m, len(order), 0


class EventIndex:
    """Events of a growing set of stories: ``add`` stories in any order and batches, read
    ``events()``: always the average-link clustering of every story added (a rebuild).

    Pairs below ``threshold / 4`` count as unrelated (the clustering's averages ignore them), so
    the index keeps only pairs worth averaging. Stories older than the latest by more than the
    window leave the compared window: a story arriving later than that is compared only with
    the stories of its own window that are still in it.
    """

    def __init__(self, config: EventConfig | None = None, df: DocumentFrequency | None = None) -> None:
        self.config = config or EventConfig()
        self.df = df or DocumentFrequency({}, 1.0)
        self._window_span = timedelta(hours=self.config.window_hours)
        self._window = _Window()
        self._stories: dict[int, EventStory] = {}
        self._latest: datetime | None = None
        self._dated: list[tuple[datetime, int]] = []  # heap of the window's dated stories
        self._pairs: dict[int, dict[int, float]] = defaultdict(dict)  # similarity >= threshold / 4
        self._group: dict[int, int] = {}  # story -> root of its linked group (union-find)
        self._members: dict[int, list[int]] = {}  # group root -> its stories
        self._clusters: dict[int, list[list[int]]] = {}  # group root -> its events

    def __len__(self) -> int:
        return len(self._stories)

    def __contains__(self, key: object) -> bool:
        return key in self._stories

    def vector(self, story: EventStory) -> Vector:
        return self.df.vector(_read(story, self.config))

    @classmethod
    def of(cls, stories: Iterable[EventStory], config: EventConfig | None = None) -> EventIndex:
        """The index of a store's stories, its idf counted over them (each story read once)."""
        config = config or EventConfig()
        stories = list(stories)
        found = {story.key: _read(story, config) for story in stories}
        index = cls(config, DocumentFrequency.of(map(_vector, found.values())))
        index._add(stories, found)
        return index

    def add(self, stories: Iterable[EventStory]) -> None:
        """Cluster stories in with every story added before (any order gives the same events)."""
        self._add(stories, {})

    def _add(self, stories: Iterable[EventStory], found: Mapping[int, Read]) -> None:
        touched: set[int] = set()
        floor, threshold = self.config.threshold / 4, self.config.threshold
        for story in sorted(stories, key=_order):
            if story.key in self._stories:
                raise ValueError(f"story {story.key} is already assigned to an event")
            self._prune(story.published)
            read = found[story.key] if story.key in found else _read(story, self.config)
            ids, weights = read[0], self.df.weights(read)
            key = story.key
            self._stories[key] = story
            self._group[key] = key
            self._members[key] = [key]
            for other, score in self._similar(story, ids, weights, floor):
                self._pairs[key][other] = self._pairs[other][key] = score
                if score >= threshold:
                    self._union(key, other)
            self._window.append(key, story.published, ids, weights)
            if story.published is not None:
                heapq.heappush(self._dated, (story.published, key))
            touched.add(key)
        for root in {self._root(k) for k in touched}:
            self._clusters[root] = self._average_link(self._members[root])

    def _root(self, key: int) -> int:
        group = self._group
        while group[key] != key:
            group[key] = group[group[key]]
            key = group[key]
        return key

    def _union(self, a: int, b: int) -> None:
        a, b = self._root(a), self._root(b)
        if a != b:
            keep, gone = min(a, b), max(a, b)
            self._group[gone] = keep
            self._members[keep].extend(self._members.pop(gone))
            self._clusters.pop(gone, None)

    def _similar(self, story: EventStory, ids: np.ndarray, weights: np.ndarray,
                 floor: float) -> list[tuple[int, float]]:
        """(key, similarity) of the window's stories within the story's window reaching
        ``floor``."""
        window = self._window
        dots = window.dots(ids, weights)
        rows = np.flatnonzero(dots >= floor - 1e-9 if story.embedding is None else dots > 0.0)
        if story.published is not None and rows.size:  # undated stories (nan) are never apart
            apart = np.abs(window.times[rows] - story.published.timestamp())
            rows = rows[~(apart > self._window_span.total_seconds())]
        keys = window.keys[rows].tolist()
        scores = dots[rows]
        if story.embedding is not None:
            scores = np.array([self._mix(float(d), story.embedding, self._stories[k].embedding)
                               for d, k in zip(scores.tolist(), keys, strict=True)])
        # rounded: the sum runs over one story's terms, whichever came first
        scores = np.round(scores, 12)
        return [(k, v) for k, v in zip(keys, scores.tolist(), strict=True) if v >= floor]

    def _mix(self, lexical: float, a: np.ndarray | None, b: np.ndarray | None) -> float:
        """The lexical similarity, blended with the recentred embedding cosine when both sides
        carry embeddings."""
        if a is None or b is None:
            return lexical
        c = self.config
        semantic = (float(a @ b) - c.semantic_floor) / (1.0 - c.semantic_floor)
        return (1.0 - c.semantic_weight) * lexical + c.semantic_weight * semantic

    def _prune(self, published: datetime | None) -> None:
        """Take stories more than a window older than ``published`` out of the window."""
        if published is None or (self._latest is not None and published <= self._latest):
            return
        self._latest = published
        gone = set()
        while self._dated and published - self._dated[0][0] > self._window_span:
            gone.add(heapq.heappop(self._dated)[1])
        if gone:
            self._window.remove(gone)

    def _average_link(self, keys: list[int]) -> list[list[int]]:
        """The events of one linked group (``_agglomerate``), stories in publication order."""
        keys = sorted(keys, key=lambda k: _order(self._stories[k]))
        if len(keys) == 1:
            return [keys]
        # looked up pair by pair: a story has many more pairs (down to threshold / 4, in the
        # whole window) than its group has stories
        pairs = np.array([[row.get(k, 0.0) for k in keys] for row in map(self._pairs.__getitem__, keys)])
        c = self.config
        label = _agglomerate(pairs, c.threshold, c.leave_one_out * c.threshold - 1e-12)
        return [[keys[i] for i in np.flatnonzero(label == cluster)] for cluster in np.unique(label)]

    def events(self) -> list[Event]:
        """Every event, in order of its first story (each story in exactly one)."""
        groups = sorted((sorted(c, key=lambda k: _order(self._stories[k]))
                         for clusters in self._clusters.values() for c in clusters),
                        key=lambda c: _order(self._stories[c[0]]))
        return [self._event(members) for members in groups]

    def _event(self, members: list[int]) -> Event:
        """The event of some stories (in publication order), labelled by its most central one:
        the most similar to the other stories of the event less its similarity to stories of
        other events (a digest resembles several events: it does not label the one it joined)."""
        inside = set(members)

        def centrality(key: int) -> float:
            return sum(score if other in inside else -score
                       for other, score in self._pairs.get(key, {}).items())
        central = max(members, key=centrality)  # ties: the earliest story
        story = self._stories[central]
        dates = [d for k in members if (d := self._stories[k].published) is not None]
        outlets = dict.fromkeys(site for k in members for site in self._stories[k].sites)
        return Event(stories=tuple(members), central=central, label=event_label(story.title, story.text),
                     first=min(dates) if dates else None, last=max(dates) if dates else None,
                     outlets=tuple(outlets))


def event_label(title: str | None, text: str) -> str:
    """An event is labelled by its central story's headline, or lacking one its opening words."""
    return title or _lead(text, 12)


def _order(story: EventStory) -> tuple[bool, datetime | float, int]:
    """Publication order; undated stories after dated ones, by key."""
    if story.published is None:
        return True, 0.0, story.key
    return False, story.published, story.key


# -- explanation ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EventComparison:
    """Why two stories are or are not one event, term by term.

    ``similarity`` is the pair's score (the same measure the clustering averages); ``shared``
    lists the terms both have with their contribution to it, largest first (numbers and
    amounts marked); ``hours_apart`` is None when a date is missing.
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
            df: DocumentFrequency | None = None, top: int = 8) -> EventComparison:
    """The pairwise view of the event decision for two stories (``df``: the store's)."""
    config = config or EventConfig()
    index = EventIndex(config, df)
    va, vb = index.vector(a), index.vector(b)
    ranked = sorted(((k, w * vb[k]) for k, w in va.items() if k in vb), key=lambda kv: (-kv[1], kv[0]))
    shared = tuple((f"{k} (number)" if k[0].isdigit() else k, round(c, 4)) for k, c in ranked[:top])
    hours = (abs((a.published - b.published).total_seconds()) / 3600
             if a.published is not None and b.published is not None else None)
    return EventComparison(similarity=index._mix(_dot(va, vb), a.embedding, b.embedding),
                           threshold=config.threshold, shared=shared, hours_apart=hours,
                           window_hours=config.window_hours)
