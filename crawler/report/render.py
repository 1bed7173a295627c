"""Render report views as a terminal table or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from crawler.report.queries import ReportTotals, StoryView


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_json(totals: ReportTotals, stories: list[StoryView], out: TextIO) -> None:
    """One JSON document: totals and stories with members and passages."""
    doc = {"totals": asdict(totals), "stories": [asdict(s) for s in stories]}
    json.dump(doc, out, default=_jsonable, ensure_ascii=False, indent=2)
    out.write("\n")


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(totals: ReportTotals, stories: list[StoryView], out: TextIO) -> None:
    """Human-readable report: one table per story. Text is printed literally (no markup)."""
    console = Console(file=out, width=120, markup=False, highlight=False, emoji=False)
    if totals.articles == 0:
        console.print("The database holds no articles yet: run `newsdedup crawl` first.")
        return
    console.print(
        f"{totals.articles} articles, {totals.stories} stories, {totals.multi_stories} with copies "
        f"({totals.duplicates} duplicates), {totals.passage_links} passage links"
    )
    if not stories:
        console.print("No story has copies or quoted passages.")
        return
    for story in stories:
        table = Table(
            title=f"Story {story.id}: {_clip(story.canonical_title, 80)}",
            caption=f"canonical: {story.reason}",
            title_justify="left",
            caption_justify="left",
            expand=True,
        )
        table.add_column("", width=1)
        table.add_column("site", max_width=24)
        table.add_column("published", width=16)
        table.add_column("sim", justify="right", width=5)
        table.add_column("title / url", ratio=1)
        for m in story.members:
            table.add_row("*" if m.is_canonical else "", m.site, _date(m.published),
                          f"{m.similarity:.2f}", f"{_clip(m.title, 70)}\n{m.url}")
        for p in story.passages:
            table.add_row("q", p.article_site, "", f"{p.similarity:.2f}",
                          f"quotes: “{_clip(p.passage, 90)}”\n{p.article_url}")
        console.print(table)
