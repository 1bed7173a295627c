"""The report grouped by event (``report --by event``): events with their stories, in every format.

An event is the level above a story: stories about one happening told in different words
(``dedup.events``). Filters are the story report's (``ReportFilter``): ``min_size`` counts the
event's articles, ``since``/``until`` its publication span, ``site``/``search`` its articles.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from rich.table import Table
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, aliased

from crawler.report.html import make_environment
from crawler.report.queries import MemberView, ReportFilter, ReportTotals, StoryOutlets, totals
from crawler.report.render import EMPTY_DATABASE, TextConsole, clip, date_text, jsonable
from crawler.report.text import counted, spreadsheet_safe
from crawler.report.timeline import Timeline, build_timeline
from crawler.store.models import Article, Event, Story, StoryMember

NO_EVENT = "No event matches these filters (run `newsdedup dedup` to assign events)."


@dataclass
class EventStoryView(StoryOutlets):
    id: int
    size: int
    canonical_article_id: int
    canonical_title: str | None
    canonical_url: str
    first_published: Any
    members: list[MemberView] = field(default_factory=list)


@dataclass
class EventView:
    id: int
    label: str
    central_article_id: int | None
    first_published: Any
    last_published: Any
    story_count: int
    article_count: int
    site_count: int
    stories: list[EventStoryView] = field(default_factory=list)

    @property
    def outlets(self) -> list[str]:
        return list(dict.fromkeys(s for story in self.stories for s in story.sites))


@dataclass
class EventReport:
    totals: ReportTotals
    events: list[EventView]
    event_total: int  # events stored (all sizes)
    filters: ReportFilter


def _has_article(condition: Any) -> Any:
    """Some article of the event's stories satisfies ``condition`` (given the article alias)."""
    art = aliased(Article)
    return exists(select(StoryMember.article_id)
                  .join(Story, Story.id == StoryMember.story_id)
                  .join(art, art.id == StoryMember.article_id)
                  .where(Story.event_id == Event.id, condition(art)))


def select_events(flt: ReportFilter) -> Select[tuple[Event]]:
    """Events for ``flt``, largest and newest first (every value a bound parameter)."""
    stmt = select(Event)
    if flt.story_id is not None:
        stmt = stmt.where(Event.id.in_(select(Story.event_id).where(Story.id == flt.story_id)))
    else:
        stmt = stmt.where(Event.article_count >= flt.min_size)
    if flt.since is not None:
        stmt = stmt.where(Event.last_published >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Event.first_published <= flt.until)
    if flt.site:
        site, source = flt.site.strip().lower(), flt.site.strip()
        stmt = stmt.where(_has_article(lambda a: (a.site == site) | (a.source == source)))
    if flt.search:
        needle = flt.search
        stmt = stmt.where(_has_article(lambda a: a.title.icontains(needle, autoescape=True)
                                       | a.text.icontains(needle, autoescape=True)))
    stmt = stmt.order_by(Event.story_count.desc(), Event.article_count.desc(),
                         Event.last_published.desc(), Event.id)
    return stmt.limit(flt.limit) if flt.limit else stmt


def load_event_report(session: Session, flt: ReportFilter) -> EventReport:
    """Matching events with their stories (earliest first) and the stories' articles."""
    events = {e.id: EventView(e.id, e.label, e.central_article_id, e.first_published,
                              e.last_published, e.story_count, e.article_count, e.site_count)
              for e in session.scalars(select_events(flt))}
    stories: dict[int, EventStoryView] = {}
    if events:
        canonical = aliased(Article)
        rows = session.execute(
            select(Story, canonical).join(canonical, canonical.id == Story.canonical_article_id)
            .where(Story.event_id.in_(events))
            .order_by(Story.first_published, Story.id))
        event_of: dict[int, EventView] = {}
        for story, art in rows:
            view = EventStoryView(story.id, story.size, art.id, art.title, art.url,
                                  story.first_published)
            stories[story.id] = view
            event_of[story.id] = events[story.event_id]  # type: ignore[index]
            event_of[story.id].stories.append(view)
        members = session.execute(
            select(StoryMember, Article).join(Article, Article.id == StoryMember.article_id)
            .where(StoryMember.story_id.in_(stories))
            .order_by(StoryMember.is_canonical.desc(), Article.published, Article.id))
        for member, art in members:
            stories[member.story_id].members.append(MemberView(
                art.id, art.url, art.site, art.title, art.published, member.similarity,
                art.id == event_of[member.story_id].central_article_id))
    total = session.scalar(select(func.count()).select_from(Event)) or 0
    return EventReport(totals(session), list(events.values()), total, flt)


def timeline(event: EventView) -> Timeline | None:
    """Outlets × publication time over all the event's articles; the central article marked."""
    return build_timeline([m for s in event.stories for m in s.members])


# -- renderers ----------------------------------------------------------------------------

def _header(report: EventReport) -> str:
    t = report.totals
    return (f"{t.articles} articles, {t.stories} stories, {report.event_total} events; "
            f"{len(report.events)} shown")


def render_events_table(report: EventReport, out: TextIO) -> None:
    console = TextConsole(out, 120)
    if report.totals.articles == 0:
        console.print(EMPTY_DATABASE)
        return
    console.print(_header(report))
    if not report.events:
        console.print(NO_EVENT)
        return
    for event in report.events:
        table = Table(title=f"Event {event.id}: {clip(event.label, 80)}", title_justify="left",
                      caption=f"{counted(event.story_count, 'story', 'stories')}, "
                      f"{counted(event.article_count, 'article')}, "
                      f"{counted(event.site_count, 'outlet')}, {date_text(event.first_published)} → "
                      f"{date_text(event.last_published)}", caption_justify="left", expand=True)
        table.add_column("story", width=6, justify="right")
        table.add_column("size", width=4, justify="right")
        table.add_column("published", width=16)
        table.add_column("outlets", max_width=30)
        table.add_column("headline / url", ratio=1)
        for s in event.stories:
            table.add_row(str(s.id), str(s.size), date_text(s.first_published),
                          clip(", ".join(s.sites), 60),
                          f"{clip(s.canonical_title, 70)}\n{clip(s.canonical_url, 500)}")
        console.print(table)


def render_events_json(report: EventReport, out: TextIO) -> None:
    doc: dict[str, Any] = {
        "totals": {**asdict(report.totals), "events": report.event_total},
        "events": [{**{k: v for k, v in asdict(e).items() if k != "stories"},
                    "outlets": e.outlets,
                    "stories": [{**asdict(s), "sites": s.sites} for s in e.stories]}
                   for e in report.events]}
    if report.totals.articles == 0:
        doc["message"] = EMPTY_DATABASE
    json.dump(doc, out, default=jsonable, ensure_ascii=False, indent=2)
    out.write("\n")


EVENT_CSV_COLUMNS = ("event_id", "event_label", "event_first_published", "event_last_published",
                     "story_id", "story_size", "role", "site", "published", "title", "url")


def render_events_csv(report: EventReport, out: TextIO) -> None:
    """One row per article: its event, its story, and whether it is the event's central one."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_CSV_COLUMNS)
    for e in report.events:
        for s in e.stories:
            for m in s.members:
                writer.writerow([
                    e.id, spreadsheet_safe(e.label), _iso(e.first_published), _iso(e.last_published),
                    s.id, s.size, "central" if m.is_canonical else "member", spreadsheet_safe(m.site),
                    _iso(m.published), spreadsheet_safe(m.title), spreadsheet_safe(m.url)])


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""


def render_events_html(report: EventReport, out: TextIO) -> None:
    env = make_environment()
    pages = [(e, timeline(e)) for e in report.events]
    out.write(env.get_template("events.html.j2").render(report=report, pages=pages,
                                                        no_event=NO_EVENT, empty=EMPTY_DATABASE))


def render_events(fmt: str, report: EventReport, out: TextIO) -> None:
    """Write the event report in ``fmt`` (table, json, csv or html)."""
    renderers = {"table": render_events_table, "json": render_events_json,
                 "csv": render_events_csv, "html": render_events_html}
    if fmt not in renderers:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(renderers)}")
    renderers[fmt](report, out)
