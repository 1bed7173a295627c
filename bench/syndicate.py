"""A second syndication corpus, generated from other real bodies, scored like syndication-dev.

``newsdedup``'s dedup rules were read off ``syndication-dev``; this bench checks they hold on a
corpus of the same kind built from different text. Originals are real article bodies from
``../shared/data/giveme5w1h-news-cluster`` and ``multinews-longbench`` (one per event cluster,
so no two originals cover one event; paragraphs sharing an 8-word run with another body are
dropped, so the labels are the whole truth). Outlets republish them the way syndication-dev's
SOURCE.md describes wire copy: cut from the bottom or abridged, lightly copy-edited, with a new
lede, an editor's note, paragraphs of the outlet's own; some pages quote one paragraph of another
story, follow-ups re-use background paragraphs, a briefing outlet stitches first paragraphs of
several stories (what any page quotes is a paragraph of a lede's length, >= 15 words: the
bodies' shorter lines are headlines, bullets, photo credits and widget text, which no page quotes
as a story's passage); every outlet puts its promo line and footer on every page. New text (ledes,
promos, follow-ups' own paragraphs) is drawn word by word from the bodies' vocabulary, so it
shares no 5-word run with anything. Labels follow the syndication-dev manifest (role, source,
passages_from); scores come from ``bench/dedup_quality.py`` (the ``newsdedup eval`` metrics),
next to whole-document datasketch LSH in the same run. Dates are causal (a quote is published
after its source), unlike syndication-dev's, where 20 of 87 quoting pages predate their source.

With ``--layouts`` every page is published the way real sites publish: rendered into the
template of a real page (one per outlet, drawn from ``../shared/data/trafilatura-eval`` and the
Zyte ``article-extraction-benchmark`` at run time, never stored: their navigation, tables,
comments, scripts before ``<html>``; the article container emptied), as ``<p>`` paragraphs,
``<br>`` breaks, one block or table cells, and read back by the product's extraction
(``process_page``). Wire copies get real copy edits: a rewritten headline, a credit line, a
dateline variant ("WASHINGTON (AP) —" / "WASHINGTON (AP) -" / "WASHINGTON (AP)"), teasers of
other wire stories in the same box (above or below the copy: passages of those stories), and
truncation with "Read more at ...".

    python bench/syndicate.py [--seed 1] [--seeds 3] [--layouts] [--misses]

Last line: one JSON object with the figures per seed and their mean.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import TRAFEVAL, ZYTE, read_gz  # noqa: E402
from dedup_quality import DATA, evaluate  # noqa: E402
from lxml import etree, html  # noqa: E402

from dedup import DedupConfig, Document  # noqa: E402

OUTLETS = 9  # plus one briefing outlet
QUOTABLE_WORDS = 15  # a quoted passage is a lede-length paragraph (``Page.quotable``)
T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


@dataclass
class Page:
    site: str
    title: str
    paragraphs: list[str]
    published: datetime
    role: str
    source: str | None
    passages_from: list[str] = field(default_factory=list)
    own: list[str] = field(default_factory=list)  # the story's own paragraphs
    style: str = "p"  # how a layout renders the body: p, br, block, table

    def quotable(self) -> list[str]:
        """The story's own paragraphs that others quote: sentences of a lede's length (>= 15
        words). The scraped bodies' shorter lines are headlines, bullets, photo credits and
        widget text ("Click to share on Google+ (Opens in new window)"): no page quotes them
        as a story's passage, and no 5-word-shingle matcher can tell them from stock lines."""
        return [p for p in self.own if len(p.split()) >= QUOTABLE_WORDS] or self.own


def real_bodies() -> list[tuple[str | None, list[str]]]:
    """(title, paragraphs) of the longest article of every event cluster (>= 150 words)."""
    best: dict[str, dict] = {}
    for name in ("giveme5w1h-news-cluster", "multinews-longbench"):
        path = DATA / name / "articles.jsonl"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            row = json.loads(line)
            paras = [p.strip() for p in row["text"].split("\n") if len(p.split()) >= 8]
            if len(paras) < 4 or sum(len(p.split()) for p in paras) < 150:
                continue
            key = f"{name}:{row['cluster']}"
            if key not in best or len(row["text"]) > len(best[key]["text"]):
                best[key] = row | {"paras": paras}
    chosen = [(r.get("title"), r["paras"]) for _, r in sorted(best.items())]
    # Scraped bodies carry some shared widget text ("Please verify you're not a robot"): keep
    # only paragraphs with no 8-word run found in another body, so labels are the whole truth.
    owner: dict[tuple[str, ...], set[int]] = {}
    for i, (_, paras) in enumerate(chosen):
        for p in paras:
            words = tuple(p.lower().split())
            for j in range(max(1, len(words) - 7)):
                owner.setdefault(words[j:j + 8], set()).add(i)
    out = []
    for i, (title, paras) in enumerate(chosen):
        mine = [p for p in paras if all(
            owner[w[j:j + 8]] == {i} for w in [tuple(p.lower().split())]
            for j in range(max(1, len(w) - 7)))]
        if len(mine) >= 4:
            out.append((title, mine))
    return out


class Writer:
    """Fresh text: words drawn from the bodies' vocabulary (no shared 5-word runs)."""

    def __init__(self, bodies: list[tuple[str | None, list[str]]], rng: random.Random) -> None:
        self.words = sorted({w for _, paras in bodies for p in paras for w in p.split()
                             if w.isalpha()})
        self.rng = rng

    def sentence(self, n: int) -> str:
        text = " ".join(self.rng.choice(self.words) for _ in range(n))
        return text[0].upper() + text[1:] + "."

    def paragraph(self, lo: int = 25, hi: int = 60) -> str:
        return self.sentence(self.rng.randint(lo, hi))


def _copy_edit(paras: list[str], rng: random.Random, writer: Writer) -> list[str]:
    out = []
    for p in paras:
        words = p.split()
        for _ in range(max(0, round(len(words) * 0.02))):
            words[rng.randrange(len(words))] = rng.choice(writer.words)
        out.append(" ".join(words))
    return out


CITIES = ("WASHINGTON", "TORONTO", "LONDON", "SAN FRANCISCO", "NEW YORK", "BEIJING")
CREDIT = ("(c) 2026 The Associated Press. All rights reserved. This material may not be "
          "published, broadcast, rewritten or redistributed.")
DATELINES = ("{} (AP) \u2014 ", "{} (AP) - ", "{} (AP) ", "{}, (AP) -- ")


def generate(seed: int, wire: bool = False) -> list[Page]:
    """Pages of one generated corpus (deterministic per seed). ``wire``: also the real copy
    edits and render styles of ``--layouts`` (drawn from a second generator, so the corpus is
    otherwise the same)."""
    rng = random.Random(seed)
    bodies = real_bodies()
    rng.shuffle(bodies)
    writer = Writer(bodies, rng)
    edits = random.Random(seed * 7919 + 1) if wire else None
    rewriter = Writer(bodies, edits) if edits else None
    sites = [f"outlet{i}" for i in range(OUTLETS)]
    footer = {s: f"{writer.paragraph(25, 35)} (c) {s}." for s in sites}
    promo = {s: writer.sentence(14) for s in sites}
    names = {s: s.capitalize() + " News" for s in sites}
    pages: list[Page] = []
    stories: list[tuple[str, Page]] = []  # (story key, original page)

    def publish(page: Page) -> None:
        pages.append(page)

    for i, (title, paras) in enumerate(bodies):
        key = f"story{i}"
        site = rng.choice(sites)
        when = T0 + timedelta(hours=3 * i)
        headline = title or writer.sentence(9).rstrip(".")
        city = edits.choice(CITIES) if edits and edits.random() < 0.5 else None
        body = list(paras)
        if city:  # a wire story: its copies vary the dateline's punctuation
            body[0] = DATELINES[0].format(city) + body[0]
        passages = []
        if stories and rng.random() < 0.1:  # an original quoting one paragraph of another story
            other_key, other = rng.choice(stories[-20:])
            body.insert(rng.randrange(2, len(body) + 1), rng.choice(other.quotable()[:2]))
            passages.append(other_key)
        original = Page(site, headline, body, when, "original", key, passages, list(paras))
        publish(original)
        stories.append((key, original))
        if rng.random() < 0.45:  # syndicated: one to three copies on other outlets
            for _ in range(rng.randint(1, 3)):
                copy_site = rng.choice([s for s in sites if s != site])
                cut = max(2, round(len(paras) * rng.uniform(0.3, 1.0)))
                text = list(paras[:cut])
                if rng.random() < 0.5:
                    text = _copy_edit(text, rng, writer)
                if rng.random() < 0.4:
                    text.insert(0, writer.paragraph(20, 40))  # a new lede
                if rng.random() < 0.2:
                    text.insert(len(text) - 1, writer.paragraph())  # the outlet's own paragraph
                if rng.random() < 0.2:
                    text.append(f"This story was originally published by {names[site]}.")
                copy_passages = []
                if len(stories) > 1 and rng.random() < 0.15:
                    other_key, other = rng.choice(stories[-20:-1])
                    text.insert(rng.randrange(1, len(text) + 1), other.quotable()[0])
                    copy_passages.append(other_key)
                suffix = rng.choice(["", "", "", " (analysis)", " | " + names[copy_site]])
                copy_title = headline + suffix
                if edits and rewriter:
                    dateline = city and text[0].split()[:4] == paras[0].split()[:4]
                    copy_title, text = _wire_edits(copy_title, text, city if dateline else None,
                                                   edits, rewriter, names[site], stories,
                                                   copy_passages)
                    # a truncated copy ("Read more at") may have lost the paragraph it quoted
                    copy_passages = [k for k, p in stories
                                     if k in copy_passages and any(q in text for q in p.own)]
                publish(Page(copy_site, copy_title, text,
                             when + timedelta(hours=rng.uniform(1, 48)), "copy", key,
                             copy_passages))
        if len(stories) > 5 and rng.random() < 0.1:  # a follow-up re-using background
            earlier_key, earlier = rng.choice(stories[-15:-1])
            own = [writer.paragraph() for _ in range(rng.randint(3, 6))]
            background = earlier.quotable()[-rng.randint(1, 2):]
            at = rng.randrange(1, len(own))
            publish(Page(rng.choice(sites), writer.sentence(9).rstrip("."),
                         own[:at] + background + own[at:],
                         when + timedelta(hours=rng.uniform(24, 72)), "followup",
                         f"followup{i}", [earlier_key]))
        if i % 16 == 15:  # the briefing outlet's digest of recent stories
            picked = rng.sample(stories[-12:], rng.randint(3, 5))
            greeting = "Good morning. Here is what you need to know today."
            publish(Page("briefing", f"Morning briefing no. {i // 16 + 1}",
                         [greeting] + [p.quotable()[0] for _, p in picked],
                         when + timedelta(hours=2), "digest", None, [k for k, _ in picked]))
    for page in pages:  # the outlet's template: an inline promo and the footer
        if edits:
            page.style = edits.choice(("p", "p", "br", "block", "table"))
        if page.site in footer:
            paras = page.paragraphs
            at = min(len(paras), 3)
            page.paragraphs = [*paras[:at], promo[page.site], *paras[at:], footer[page.site]]
    return pages


def _wire_edits(title: str, text: list[str], city: str | None, edits: random.Random,
                rewriter: Writer, source_name: str, stories: list[tuple[str, Page]],
                passages: list[str]) -> tuple[str, list[str]]:
    """A republisher's edits of a wire copy: its own headline, the dateline (``city``: the copy
    opens with the dateline's first paragraph) with its own punctuation,
    truncation with "Read more at", the credit line, teasers of other wire stories in the
    same box (their keys join ``passages``)."""
    if edits.random() < 0.3:
        title = rewriter.sentence(edits.randint(5, 10)).rstrip(".")
    if city:  # the copy opens with the wire story's first paragraph
        text = [edits.choice(DATELINES).format(city) + text[0], *text[1:]]
    if edits.random() < 0.2 and len(text) > 4:
        text = [*text[:3], f"Read more at {source_name}"]
        return title, text if edits.random() < 0.5 else [*text, CREDIT]
    if edits.random() < 0.3:
        text = [*text, CREDIT]
    others = [(k, p) for k, p in stories[-10:-1] if k not in passages]
    if edits.random() < 0.2 and len(others) >= 2:
        picked = edits.sample(others, 2)
        teasers = [p.quotable()[0] for _, p in picked]
        if 3 * sum(len(t.split()) for t in teasers) <= sum(len(t.split()) for t in text):
            # the copy stays >= 3/4 of the page: the page's own story
            text = [*teasers, *text] if edits.random() < 0.5 else [*text, *teasers]
            passages.extend(k for k, _ in picked)
    return title, text


# -- real page layouts -----------------------------------------------------------------------

_HEAD_DROP = ("//meta[@property or @name or @http-equiv or @charset or @itemprop]",
              "//script[@type='application/ld+json']", "//link[@rel='canonical']", "//title")


_NOT_ARTICLE = ("figure", "table", "aside", "blockquote")


def _container(root: html.HtmlElement) -> html.HtmlElement | None:
    """The element whose own ``<p>`` children hold the most text (the template's article), not
    inside a figure, table, aside or quote: a site puts its article in its article container,
    not in a table of its article's outro (a round-up's comparison table held more ``<p>``
    text than its intro: the story went into the figure, the template's intro stayed)."""
    best, score = None, 0
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in _NOT_ARTICLE or \
                any(a.tag in _NOT_ARTICLE for a in el.iterancestors()):
            continue
        size = sum(len(c.text_content()) for c in el if c.tag == "p")
        if size > score and sum(c.tag == "p" for c in el) >= 3:
            best, score = el, size
    return best if score >= 500 else None


def _template_files() -> list[tuple[Path, str]]:
    """(page file, its publisher: the host's first label) of trafilatura-eval and Zyte."""
    out = []
    for root, labels, name in ((TRAFEVAL, "annotations.json", None),
                               (ZYTE, "ground-truth.json", "{}.html.gz")):
        for key, item in sorted(json.loads((root / labels).read_text()).items()):
            path = root / "html" / name.format(key) if name else root / key
            host = urlsplit(item.get("url") or "").netloc.lower().removeprefix("www.")
            out.append((path, host.split(".")[0]))  # bbc.com and bbc.co.uk: one publisher
    return out


def templates(rng: random.Random, n: int, probe: list[str]) -> list[tuple[str, str]]:
    """``n`` page templates (text before ``<html>``, the document) of real pages from distinct
    publishers, drawn from trafilatura-eval and the Zyte benchmark: pages with an article
    container that, holding ``probe`` as ``<p>`` paragraphs, is the article the extraction
    reads (>= 80 % of the probe's words, < 1.5x as many: not another article of the page), and
    so is it holding the probe's first 100 words (a short copy or a digest: where the
    container is one of several parts of the template's own article, its other parts won
    over a short body)."""
    from crawler.content.page import NotAnArticle, process_page

    files = _template_files()
    rng.shuffle(files)
    out, hosts = [], set()
    short = next(probe[:k] for k in range(1, len(probe) + 1)
                 if sum(len(p.split()) for p in probe[:k]) >= 100)
    probes = [Page("probe", "Probe", body, T0, "original", None) for body in (probe, short)]
    for f, host in files:
        if host in hosts or not f.exists():
            continue
        text = read_gz(f).decode("utf-8", errors="replace")
        at = text.lower().find("<html")
        try:
            root = html.document_fromstring(text)
        except (etree.ParserError, ValueError):
            continue
        if _container(root) is None or root.find("head") is None:
            continue
        template = (text[:max(at, 0)], text)
        if all(_reads(page, template, process_page, NotAnArticle) for page in probes):
            out.append(template)
            hosts.add(host)
        if len(out) == n:
            break
    return out


def _reads(page: Page, template: tuple[str, str], process_page, not_article) -> bool:
    """Whether the extraction of ``page`` rendered in ``template`` is ``page``'s body."""
    words = sum(len(p.split()) for p in page.paragraphs)
    try:
        got = process_page(render(page, template), "http://probe.test/", "text/html")
    except not_article:
        return False
    found = set(got.text.split())
    return sum(w in found for p in page.paragraphs for w in p.split()) >= 0.8 * words and \
        len(got.text.split()) < 1.5 * words


def _body(paragraphs: list[str], style: str) -> list[html.HtmlElement]:
    if style == "block":
        return [html.Element("p")] if not paragraphs else [_p(" ".join(paragraphs))]
    if style == "br":
        el = _p(paragraphs[0] if paragraphs else "")
        for para in paragraphs[1:]:
            etree.SubElement(el, "br")
            etree.SubElement(el, "br").tail = para
        return [el]
    if style == "table":
        table = html.Element("table")
        for para in paragraphs:
            etree.SubElement(etree.SubElement(table, "tr"), "td").text = para
        return [table]
    return [_p(para) for para in paragraphs]


def _p(text: str) -> html.HtmlElement:
    el = html.Element("p")
    el.text = text
    return el


def render(page: Page, template: tuple[str, str]) -> bytes:
    """``page`` inside a real page: its article container emptied and given the page's body (in
    the page's style), its headline in ``<title>``, ``og:title`` and ``<h1>``, its date in
    ``article:published_time``; the template's own metadata dropped."""
    prefix, doc = template
    root = html.document_fromstring(doc)
    box = _container(root)
    assert box is not None
    for c in list(box):  # the template's own article goes, whatever its markup
        box.remove(c)
    box.text = None
    at = 0
    new = _body(page.paragraphs, page.style)
    h1s = root.findall(".//h1")
    if not h1s:
        heading = html.Element("h1")
        new.insert(0, heading)
        h1s = [heading]
    for j, el in enumerate(new):
        box.insert(at + j, el)
    for el in h1s[1:]:
        el.drop_tree()
    h1s[0].clear()
    h1s[0].text = page.title
    for path in _HEAD_DROP:
        for el in root.xpath(path):
            el.drop_tree()
    head = root.find("head")
    for tag, attrs, text in (("meta", {"charset": "utf-8"}, None), ("title", {}, page.title),
                             ("meta", {"property": "og:title", "content": page.title}, None),
                             ("meta", {"property": "og:type", "content": "article"}, None),
                             ("meta", {"property": "article:published_time",
                                       "content": page.published.isoformat()}, None)):
        el = etree.SubElement(head, tag, attrs)
        el.text = text
    return (prefix + html.tostring(root, encoding="unicode")).encode("utf-8")


def extracted_documents(pages: list[Page], seed: int) -> tuple[list[Document], list[dict], int]:
    """Each page rendered in its outlet's real template and extracted by ``process_page``;
    (documents, labels, pages the extraction refused)."""
    from crawler.content.page import NotAnArticle, process_page

    sites = sorted({p.site for p in pages})
    probe = real_bodies()[0][1]
    chosen = dict(zip(sites, templates(random.Random(seed), len(sites), probe), strict=True))
    docs, labels = to_documents(pages)
    refused = 0
    for i, page in enumerate(pages):
        url = docs[i].url
        try:
            got = process_page(render(page, chosen[page.site]), url, "text/html; charset=utf-8")
            text, title = got.text, got.title
        except NotAnArticle:
            text, title = "", None
            refused += 1
        docs[i] = Document(id=i, url=url, site=page.site, text=text, title=title,
                           published=page.published)
    return docs, labels, refused


def to_documents(pages: list[Page]) -> tuple[list[Document], list[dict]]:
    docs, labels = [], []
    for i, p in enumerate(pages):
        docs.append(Document(id=i, url=f"http://{p.site}.test/{i}.html", site=p.site,
                             text="\n".join(p.paragraphs), title=p.title,
                             published=p.published))
        labels.append({"role": p.role, "source": p.source if p.role != "digest" else None,
                       "passages_from": p.passages_from})
    return docs, labels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=3, help="corpora to generate (seed, seed+1, ...)")
    ap.add_argument("--layouts", action="store_true",
                    help="render pages in real page templates and extract them")
    ap.add_argument("--misses", action="store_true",
                    help="also print each seed's missed and false passage links (page, story) "
                         "and the pages whose predicted cluster is wrong")
    args = ap.parse_args()
    if not real_bodies():
        print(f"no bodies under {DATA}", file=sys.stderr)
        return 2
    if args.layouts and not (TRAFEVAL.exists() and ZYTE.exists()):
        print(f"no page templates under {DATA}", file=sys.stderr)
        return 2
    keys = ("ari", "pair_precision", "pair_recall", "passage_precision", "passage_recall",
            "canonical_accuracy")
    runs = {}
    for seed in range(args.seed, args.seed + args.seeds):
        pages = generate(seed, wire=args.layouts)
        refused = 0
        if args.layouts:
            docs, labels, refused = extracted_documents(pages, seed)
        else:
            docs, labels = to_documents(pages)
        m = evaluate(docs, labels, DedupConfig())
        roles = {r: sum(1 for p in pages if p.role == r)
                 for r in ("original", "copy", "followup", "digest")}
        runs[seed] = {k: round(m[k], 4) for k in keys} | {
            "pages": len(pages), **roles, "refused": refused,
            "lsh_0.5_ari": round(m["baseline_0.5"]["ari"], 4),
            "lsh_0.3_ari": round(m["baseline_0.3"]["ari"], 4)}
        r = runs[seed]
        print(f"seed {seed}: {len(pages)} pages ({roles}, refused {refused}); newsdedup ARI "
              f"{r['ari']:.3f} pairP {r['pair_precision']:.3f} pairR {r['pair_recall']:.3f} "
              f"passageP {r['passage_precision']:.3f} passageR {r['passage_recall']:.3f} "
              f"canonical {r['canonical_accuracy']:.3f} | datasketch LSH ARI @0.5 "
              f"{r['lsh_0.5_ari']:.3f} @0.3 {r['lsh_0.3_ari']:.3f}")
        if args.misses:
            print(f"  missed links {m['passage_fn']}\n  false links {m['passage_fp']}\n"
                  f"  cluster errors {m['errors']}")
    mean = {k: round(sum(r[k] for r in runs.values()) / len(runs), 4)
            for k in (*keys, "lsh_0.5_ari", "lsh_0.3_ari")}
    print("mean:", " ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    print(json.dumps({"layouts": args.layouts, "mean": mean, "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
