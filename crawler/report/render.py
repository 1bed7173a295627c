"""Render report views as a terminal table, JSON, CSV or HTML (see ``html.py``)."""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
from dataclasses import asdict
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from crawler.report.queries import Report, ReportTotals, StoryView
from crawler.report.text import spreadsheet_safe, visible_controls

FORMATS = ("table", "json", "csv", "html")
EMPTY_DATABASE = "The database holds no articles yet: `newsdedup run` crawls the sources into it."
NO_MATCH = "No story matches these filters."


def date_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_json(totals: ReportTotals, stories: list[StoryView], out: TextIO) -> None:
    """One JSON document: totals and stories with members and passages."""
    doc: dict[str, Any] = {"totals": asdict(totals), "stories": [asdict(s) for s in stories]}
    if totals.articles == 0:
        doc["message"] = EMPTY_DATABASE
    json.dump(doc, out, default=jsonable, ensure_ascii=False, indent=2)
    out.write("\n")


def clip(text: str | None, width: int) -> str:
    text = " ".join(visible_controls(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def terminal_width() -> int:
    """The terminal's width ($COLUMNS, else stdout's terminal), 100 when there is none."""
    return shutil.get_terminal_size((100, 24)).columns


class TextConsole(Console):
    """Rich's console for plain text: printed literally (no markup), and a reader that stops
    early (``| head``) is left to the caller (``opened_output``), where Rich would exit 1."""

    def __init__(self, out: TextIO, width: int) -> None:
        super().__init__(file=out, width=width, markup=False, highlight=False, emoji=False)

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def summary_line(totals: ReportTotals) -> str:
    return (f"{totals.articles} articles, {totals.stories} stories ({totals.multi_stories} with copies, "
            f"{totals.duplicates} duplicates), {totals.passage_links} pages quoting a story")


def render_table(totals: ReportTotals, stories: list[StoryView], out: TextIO) -> None:
    """Human-readable report: one table per story. Text is printed literally (no markup)."""
    console = TextConsole(out, terminal_width())
    if totals.articles == 0:
        console.print(EMPTY_DATABASE)
        return
    console.print(summary_line(totals))
    console.print("contained: share of the copy's text found in the canonical article (*)")
    if not stories:
        console.print(NO_MATCH)
        return
    for story in stories:
        table = Table(
            title=f"Story {story.id}: {clip(story.canonical_title, 80)}",
            caption=f"canonical: {clip(story.reason, 300)}",
            title_justify="left",
            caption_justify="left",
            expand=True,
        )
        table.add_column("", width=1)
        table.add_column("site / published", max_width=24, overflow="fold")
        table.add_column("contained", justify="right", width=9)
        table.add_column("title / url", ratio=1, overflow="fold")
        for m in story.members:
            table.add_row("*" if m.is_canonical else "", f"{clip(m.site, 40)}\n{date_text(m.published)}",
                          f"{m.similarity:.2f}", f"{clip(m.title, 70)}\n{clip(m.url, 500)}")
        for p in story.passages:
            table.add_row("q", clip(p.article_site, 40), "",
                          f"quotes: “{clip(p.passage, 90)}”\n{clip(p.article_url, 500)}")
        console.print(table)


CSV_COLUMNS = ("story_id", "story_size", "role", "site", "published", "lag_seconds", "similarity",
               "title", "url", "canonical_reason", "passage")


def render_csv(totals: ReportTotals, stories: list[StoryView], out: TextIO) -> None:
    """One row per story member (role canonical/copy) and per quoting article (role quotes).

    Text cells that a spreadsheet would run as a formula are prefixed with a quote.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in stories:
        for m in s.members:
            writer.writerow([s.id, s.size, "canonical" if m.is_canonical else "copy",
                             spreadsheet_safe(m.site), m.published.isoformat() if m.published else "",
                             "" if m.lag_seconds is None else m.lag_seconds, f"{m.similarity:.4f}",
                             spreadsheet_safe(m.title), spreadsheet_safe(m.url),
                             spreadsheet_safe(s.reason) if m.is_canonical else "", ""])
        for p in s.passages:
            writer.writerow([s.id, s.size, "quotes", spreadsheet_safe(p.article_site), "", "",
                             f"{p.similarity:.4f}", spreadsheet_safe(p.article_title),
                             spreadsheet_safe(p.article_url), "", spreadsheet_safe(p.passage)])


def render(fmt: str, report: Report, out: TextIO) -> None:
    """Write ``report`` in ``fmt`` (one of ``FORMATS``)."""
    if fmt == "html":
        from crawler.report.html import render_html

        render_html(report, out)
    elif fmt == "json":
        render_json(report.totals, report.stories, out)
    elif fmt == "csv":
        render_csv(report.totals, report.stories, out)
    elif fmt == "table":
        render_table(report.totals, report.stories, out)
    else:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
