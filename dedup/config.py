"""DedupConfig: the one home of every dedup parameter."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

#: Bumped whenever fingerprints, windows or decisions change meaning; stored in every index.
ALGORITHM_VERSION = "passages-11"  # 2: CJK shingle size per shingle; 3: rights lines skipped;
#: 4: shingle hashes combine token hashes (no xxHash64 per shingle); 5: a block (a line of
#: > 150 tokens) is windowed by sentences; copy rule: headlines support, never veto; 6: a block
#: is a line of > 100 tokens; 7: teasers (other pages' openings) above a copy are no foreign
#: opening; a source whose copies were cut before a passage is not its quoter; notes found a
#: sentence at a time in lines of > 30 words (a credit glued into a block); the wire's rights
#: sentence and a truncated copy's "Read more at X" are notes; a new lede (<= 50 shingles)
#: may push a copy's shared text past its lead; 8: one passage set inside one page's text and
#: opening or ending the other, or ending one and opening the other, was quoted by the first
#: (before its weight decides); a copy's containment is measured after its new lede; 9: a
#: passage the story's canonical page lacks gives its copies no support (a boxed teaser); a
#: compilation quotes two stories in separate places; passages in one place of either page count as one;
#: a passage inside both pages was quoted from the page whose lead holds it
#: 10: teasers (other pages' openings, < other_story_share) boxed above a copy are not its own
#: text before it (lead, new lede and containment measured without them); template at 4 pages
#: 11: a new lede is measured in content shingles (template text above it does not count);
#: a canonical page whose copies (whatever they added) were cut before a passage is its source
#: Signature schemes of the ``numpy`` backend (``dedup.minhash``); the others are datasketch's.
NUMPY_SCHEMES = ("kperm32", "kperm64", "oph")


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Parameters of shingling, MinHash LSH and the copy/passage decisions.

    Text units:
        shingle_size: words per shingle for alphabetic scripts. 5 words: chance 5-grams shared
            by unrelated news pages are rare, and a copy-edit (one inserted or changed word)
            breaks at most 5 consecutive shingles, which ``max_gap`` bridges.
        cjk_shingle_size: characters per shingle starting on a Chinese, Japanese or Korean
            character (CJK is tokenised by character: no reliable word spaces). A CJK word is 1-3
            characters, so 8 characters carry about as much as 4-5 words. Chosen per shingle,
            not per page, so quoted CJK text matches its source inside a Latin-script page.

    Candidates (MinHash LSH over passages, i.e. paragraphs, and sentences inside a block of
    > 100 tokens, merged up to ``min_window_shingles``: a story as one block or as paragraphs
    is a candidate either way):
        num_perm, seed, scheme, signature_backend: MinHash parameters, pinned in every index
            (an index built with other values is refused). Default: backend ``numpy``, scheme
            ``kperm32``: classic k-permutation MinHash over hashes folded to 32 bits, affine
            permutations mod 2**32 (``dedup.minhash``); its compiled loop runs 8 lanes per AVX2
            multiply, ~9x faster than ``kperm64`` (the same over 64 bits; AVX2 has no 64-bit
            vector multiply) with the same accuracy on 20-60-shingle windows. ``oph``
            (one permutation, optimal densification, ~150x datasketch) suits whole documents but
            not 20-60-shingle paragraph windows, whose bins it mostly fills by copying. Backend
            ``datasketch`` with scheme ``affine32``/``affine64``/``legacy`` is the reference
            (datasketch 2.0 changed its default scheme, hence pinned).
        lsh_bands x lsh_rows must equal num_perm. With 32 x 4 a window pair becomes a candidate
            with probability 1-(1-J^4)^32: 0.988 at Jaccard 0.6, 0.998 at 0.65 (a copy-edited
            paragraph), 0.23 at 0.3, ~0 for unrelated text. Candidates are verified exactly, so the low
            threshold only costs time.

    Verification (exact shingle alignment of a candidate pair):
        min_passage_shingles: a shared passage has at least this many matching shingles
            (8 shingles = a 12-word sentence); shorter overlaps are stock phrases.
        max_gap: unmatched shingles bridged inside one passage (a copy-edit breaks
            ``shingle_size`` shingles; two edits close together break up to 10).
        copy_containment: a page is a copy when at least this share of its text (after a new
            lede: own text of ``min_passage_shingles`` to ``new_lede_shingles`` before the
            shared text, so two short paragraphs under a longer lede still count) is contained in
            the other page (majority: abridged copies keep >= 0.5 of their own text from the
            source, a digest quotes <= 0.45 of itself from any one story, see bench notes).
        lead_share: the shared text must start within this leading share of the containing page.
            Copies are cut from the bottom (inverted pyramid) and at most re-lede the top
            (measured <= 0.19 on syndication-dev); a follow-up re-uses background from the end of
            a story (>= 0.29). The same lead directs a passage lying inside two pages of
            different stories: the page whose lead holds it is the source of one that has it
            past its lead (others quote a story's lede or nut graf inside their own body).
        new_lede_shingles: a page whose shared text starts past ``lead_share`` of itself (but in
            the other page's lead) is still a copy when no more than this many shingles precede
            that text (content shingles: template text masked as boilerplate above the lede does
            not count): a republisher's new lede is one paragraph (20-45 words), and on a copy cut
            to two paragraphs it is a third of the page. More own text than a lede before the
            source's top (an original that a follow-up re-uses whole: 100 shingles) is a page
            of its own. 35 to 80 give the same stories on syndication-dev and the layouts bench.
        min_title_overlap: headlines share at least this share of the shorter one's words when
            they agree (syndicated copies keep the headline, at most adding "(analysis)" or
            dropping a word: >= 0.93 measured; pages merely quoting another story have their
            own: <= 0.29). Agreeing headlines support a copy whose shared text starts past
            ``lead_share`` (a copy wrapped below other stories, or missing its top); a
            rewritten headline never vetoes one (republishers rewrite them).
        other_story_share: unless the headlines agree, a page holding at least this share of
            other stories (pages sharing nothing with the candidate source) besides the shared
            text quotes several rather than copying one (syndication-dev's copy 62: 0.29 of a
            calendar page around a 0.66 quote; generated digests: >= 0.3 of other stories'
            ledes around one long lede; a credit line, a teaser or a template scrap shared
            with another page: <= 0.12 on the generated real-layout corpora).
        edge_share: the only passage (one place on either page: a source repeating its own
            sentence shares it twice) shared by two pages of different stories opens a page
            (at most this share of its content before it), ends it (at most this share after)
            or lies inside it; a page it opens is the source of a page it ends or lies inside,
            a page it ends the source of one it lies inside: a story's lede or closing
            background is what others quote, set into their own text or boxed below it.
            Sources quoted the wrong way on layouts seeds 1-3 opened or ended at <= 0.04 of
            themselves; 5 % leaves room for a dateline or kicker line before a lede.
        boilerplate_min_pages: a shingle on at least this many pages of one site is template
            text (footer, teaser, newsletter pitch) and never links pages. An outlet carries a
            story's text on up to three pages (its copy, an update or follow-up, a page quoting
            it; or a passage quoted by three of its pages): at 3 such text was learned as the
            outlet's template (its copies split from the story, its quotes never linked: layouts
            tuning seeds 1 and 101); templates repeat on every page, so 4 learns them a page later.
    """

    shingle_size: int = 5
    cjk_shingle_size: int = 8
    num_perm: int = 128
    lsh_bands: int = 32
    lsh_rows: int = 4
    seed: int = 1
    scheme: Literal["kperm32", "kperm64", "oph", "affine32", "affine64", "legacy"] = "kperm32"
    signature_backend: Literal["numpy", "datasketch"] = "numpy"
    min_window_shingles: int = 8
    min_passage_shingles: int = 8
    max_gap: int = 10
    copy_containment: float = 0.5
    lead_share: float = 0.25
    new_lede_shingles: int = 50
    min_title_overlap: float = 0.5
    other_story_share: float = 0.25
    edge_share: float = 0.05
    boilerplate_min_pages: int = 4

    def __post_init__(self) -> None:
        if self.lsh_bands * self.lsh_rows != self.num_perm:
            raise ValueError(
                f"lsh_bands * lsh_rows must equal num_perm: {self.lsh_bands} * {self.lsh_rows}"
                f" != {self.num_perm}"
            )
        if (self.scheme in NUMPY_SCHEMES) != (self.signature_backend == "numpy"):
            raise ValueError(f"scheme {self.scheme!r} does not belong to backend "
                             f"{self.signature_backend!r}")
        if not 0.0 < self.copy_containment <= 1.0 or not 0.0 < self.lead_share <= 1.0:
            raise ValueError("copy_containment and lead_share must lie in (0, 1]")
        if min(self.shingle_size, self.cjk_shingle_size, self.min_passage_shingles) < 1:
            raise ValueError("shingle sizes and min_passage_shingles must be >= 1")

    def fingerprint_params(self) -> dict[str, object]:
        """Parameters that change stored fingerprints/signatures: an index pins these."""
        keys = ("shingle_size", "cjk_shingle_size", "num_perm", "lsh_bands", "lsh_rows", "seed",
                "scheme", "signature_backend", "min_window_shingles")
        params = asdict(self)
        return {k: params[k] for k in keys} | {"algorithm": ALGORITHM_VERSION}

    def pinned_changes(self, stored: object) -> str:
        """How the pinned parameters an index or archive stored (``fingerprint_params``) differ
        from this config's, e.g. "algorithm: 'passages-9' stored, 'passages-10' now" ("" when
        they do not)."""
        want = self.fingerprint_params()
        got = stored if isinstance(stored, dict) else {}
        return ", ".join(f"{k}: {got.get(k)!r} stored, {want.get(k)!r} now"
                         for k in sorted(want.keys() | got.keys()) if want.get(k) != got.get(k))


def built_by(stored: object) -> str:
    """The algorithm version named by the pinned parameters an index or archive stored."""
    found = stored.get("algorithm") if isinstance(stored, dict) else None
    return str(found) if found else "an unknown version"


class Outdated(Exception):
    """Stored state (an index, an archive) that is whole and readable but was built by another
    version (its storage format, ``ALGORITHM_VERSION``) or with other pinned parameters: it
    cannot be extended, only rebuilt from the documents. ``reason`` says what differs."""

    def __init__(self, reason: str, advice: str) -> None:
        super().__init__(f"{reason}; {advice}")
        self.reason = reason
