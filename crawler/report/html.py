"""The HTML report: one self-contained page rendered with Jinja2 (autoescaping always on)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from jinja2 import Environment, PackageLoader, StrictUndefined

from crawler.report.passages import covered_fraction, excerpt, segments, shared_spans
from crawler.report.queries import MemberView, PassageView, Report, StoryView
from crawler.report.text import html_text, safe_href, visible_controls
from crawler.report.timeline import Timeline, build_timeline, format_duration, format_lag

Segments = list[tuple[str, bool]]


@dataclass(frozen=True)
class Comparison:
    """The canonical article and one copy side by side, shared runs of words highlighted."""

    member: MemberView
    canonical_segments: Segments
    member_segments: Segments
    shared: float  # share of the copy's text found in the canonical article


@dataclass(frozen=True)
class Quote:
    """A passage one article quotes from this story: both places, side by side."""

    link: PassageView
    source_segments: Segments
    source_cut: tuple[bool, bool]
    quoting_segments: Segments
    quoting_cut: tuple[bool, bool]


@dataclass(frozen=True)
class StoryPage:
    story: StoryView
    canonical: MemberView | None
    timeline: Timeline | None
    comparisons: list[Comparison]
    quotes: list[Quote]
    spread_seconds: int | None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("crawler.report", "templates"),
        autoescape=True,  # every template, whatever its name: article text is hostile input
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(t=html_text, plain=visible_controls, href=safe_href, when=_when, lag=format_lag,
                       duration=format_duration)
    return env


def _comparisons(story: StoryView, texts: dict[int, str]) -> list[Comparison]:
    canonical_text = texts.get(story.canonical_article_id, "")
    out = []
    for member in story.members:
        if member.is_canonical or member.article_id not in texts:
            continue
        text = texts[member.article_id]
        spans_c, spans_m = shared_spans(canonical_text, text)
        out.append(Comparison(member, segments(canonical_text, spans_c), segments(text, spans_m),
                              covered_fraction(text, spans_m)))
    return out


def _quotes(story: StoryView, texts: dict[int, str]) -> list[Quote]:
    out = []
    for link in story.passages:
        source, quoting = texts.get(link.source_article_id), texts.get(link.article_id)
        if source is None or quoting is None:
            continue
        s_text, s_span, s_lo, s_hi = excerpt(source, (link.source_start, link.source_end))
        q_text, q_span, q_lo, q_hi = excerpt(quoting, (link.article_start, link.article_end))
        out.append(Quote(link, segments(s_text, [s_span]), (s_lo, s_hi),
                         segments(q_text, [q_span]), (q_lo, q_hi)))
    return out


def story_page(story: StoryView, texts: dict[int, str]) -> StoryPage:
    canonical = next((m for m in story.members if m.is_canonical), None)
    dates = [m.published for m in story.members if m.published]
    spread = round((max(dates) - min(dates)).total_seconds()) if dates else None
    return StoryPage(story, canonical, build_timeline(story.members), _comparisons(story, texts),
                     _quotes(story, texts), spread)


def render_html(report: Report, out: TextIO, env: Environment | None = None) -> None:
    """Write the report as one HTML page that needs no network to view."""
    env = env or make_environment()
    pages = [story_page(s, report.texts) for s in report.stories]
    out.write(env.get_template("report.html.j2").render(report=report, pages=pages))
