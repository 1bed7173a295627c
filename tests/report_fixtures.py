"""Hand-made stores for the report, view and SQL-doc tests: rows inserted through the models."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from crawler.store.models import Article, DedupRun, PassageLink, Story, StoryMember
from crawler.store.repo import content_hash

FAB = ("Chipmaker Ferrox will open a new semiconductor fab in Arizona next year, the company said on "
       "Monday, adding two thousand jobs.\nThe plant will make chips for cars and phones and is backed "
       "by federal grants worth four billion dollars.\nAnalysts expect the first wafers in late 2027.")
PHONES = ("Global smartphone shipments fell for the third quarter in a row, a market tracker said, "
          "while foldable phones were up 40% on the year.\nPrices rose in most regions as memory got "
          "dearer.")
ROUNDUP = ("Our weekly roundup of the news.\nThe plant will make chips for cars and phones and is backed "
           "by federal grants worth four billion dollars.\nElsewhere, a new tablet arrived.")


def when(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def add_article(session: Session, url: str, site: str, title: str | None, text: str,
                published: datetime | None, source: str | None = None) -> Article:
    row = Article(
        url=url, fetched_url=url, source=source or site.split(".")[0], site=site, title=title,
        author=None, published=published, sitename=None, language="en", declared_canonical=None,
        text=text, content_hash=content_hash(text), word_count=len(text.split()), encoding="utf-8",
        repairs="", raw_html_gz=gzip.compress(text.encode()), http_status=200,
        fetched_at=when(20, 0), updated_at=when(20, 0),
    )
    session.add(row)
    session.flush()
    return row


def add_story(session: Session, canonical: Article, copies: list[tuple[Article, float]],
              reason: str = "earliest publication") -> Story:
    members = [canonical, *(a for a, _ in copies)]
    dates = sorted(a.published for a in members if a.published)
    story = Story(canonical_article_id=canonical.id, canonical_reason=reason, size=len(members),
                  first_published=dates[0] if dates else None,
                  last_published=dates[-1] if dates else None)
    story.members = [StoryMember(article_id=canonical.id, similarity=1.0, is_canonical=True)] + [
        StoryMember(article_id=a.id, similarity=sim, is_canonical=False) for a, sim in copies]
    session.add(story)
    session.flush()
    return story


@dataclass
class Sample:
    """Ids of the sample store (see ``seed_sample``)."""

    stories: dict[str, int] = field(default_factory=dict)
    articles: dict[str, int] = field(default_factory=dict)


def seed_sample(session: Session) -> Sample:
    """A wire story copied twice and quoted once, a second wire story copied once, two singletons.

    fab:    wire.example 1 Mar 08:00 (canonical) -> daily.example +2 h, mirror.example +26 h;
            blog.example quotes one paragraph of it on 3 Mar 09:00
    phones: wire.example 5 Mar 12:00 (canonical) -> daily.example +30 min
    """
    s = Sample()
    a = {
        "fab": add_article(session, "https://wire.example/fab", "wire.example",
                           "Ferrox to open Arizona chip fab", FAB, when(1, 8)),
        "fab_daily": add_article(session, "https://daily.example/fab", "daily.example",
                                 "Ferrox opens Arizona fab", FAB + "\nMore soon.", when(1, 10)),
        "fab_mirror": add_article(session, "https://mirror.example/fab", "mirror.example",
                                  "Ferrox to open Arizona chip fab", FAB, when(2, 10)),
        "roundup": add_article(session, "https://blog.example/roundup", "blog.example",
                               "Weekly roundup", ROUNDUP, when(3, 9)),
        "phones": add_article(session, "https://wire.example/phones", "wire.example",
                              "Smartphone shipments fall again", PHONES, when(5, 12)),
        "phones_daily": add_article(session, "https://daily.example/phones", "daily.example",
                                    "Phone shipments fall", PHONES, when(5, 12, 30)),
        "tablet": add_article(session, "https://other.example/tablet", "other.example",
                              "A new tablet", "A new tablet arrived with a bigger screen.", when(6, 9)),
    }
    s.articles = {k: v.id for k, v in a.items()}
    fab = add_story(session, a["fab"], [(a["fab_daily"], 0.95), (a["fab_mirror"], 0.9)])
    s.stories = {
        "fab": fab.id,
        "roundup": add_story(session, a["roundup"], []).id,
        "phones": add_story(session, a["phones"], [(a["phones_daily"], 0.97)]).id,
        "tablet": add_story(session, a["tablet"], []).id,
    }
    passage = FAB.split("\n")[1]
    session.add(PassageLink(
        article_id=a["roundup"].id, source_article_id=a["fab"].id, story_id=fab.id, passage=passage,
        article_start=ROUNDUP.index(passage), article_end=ROUNDUP.index(passage) + len(passage),
        source_start=FAB.index(passage), source_end=FAB.index(passage) + len(passage), similarity=1.0,
    ))
    session.add(DedupRun(mode="rebuild", params='{"level": "passage"}', articles=len(a), stories=4,
                         links=1, started_at=when(6, 10), finished_at=when(6, 10)))
    session.commit()
    from crawler.events_job import assign_events

    assign_events(session, {})  # the event stage runs after every dedup
    return s


#: Hostile inputs: each would leave ``data-pwned`` on <html> if the page ran it.
PWN = "document.documentElement.setAttribute('data-pwned','{}')"
HOSTILE_TITLE = f"<script>{PWN.format('script')}</script> Breaking"
HOSTILE_ATTR = f'"><img src=x onerror="{PWN.format("img")}">'
HOSTILE_URL = f"javascript:{PWN.format('js')}"
RLO_TITLE = "Invoice \u202egpj.exe"  # U+202E RIGHT-TO-LEFT OVERRIDE


def seed_hostile(session: Session) -> int:
    """A two-article story whose titles, bodies, site and URL carry markup, script and bidi tricks."""
    body = (f"{HOSTILE_ATTR} The leaked memo says the merger closes in May.\n<b>bold</b> "
            f"<a href=\"{HOSTILE_URL}\">click</a> {RLO_TITLE} and the rest of the shared paragraph "
            "is long enough to be highlighted as a passage.")
    first = add_article(session, HOSTILE_URL, "evil.example", HOSTILE_TITLE, body, when(7, 9),
                        source="evil")
    second = add_article(session, "https://copy.example/x", f"copy.example{HOSTILE_ATTR}", RLO_TITLE,
                         body + "\nExtra.", when(7, 11), source="copy")
    story = add_story(session, first, [(second, 0.93)], reason=f"earliest {HOSTILE_ATTR}")
    session.commit()
    return story.id
