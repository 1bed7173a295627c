"""The ``newsdedup`` command line: crawl, dedup, report, run (the main job), eval, extract."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from crawler.config import DB_URL_ENV, SOURCES_ENV, default_db_url, default_sources_path
from crawler.sources import SourcesError, adhoc_sources, load_sources
from crawler.store.db import DatabaseError, make_engine, make_sessionmaker


def _fail(message: str) -> None:
    click.echo(f"newsdedup: error: {message}", err=True)
    sys.exit(2)


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db", "db_url", default=default_db_url, show_default=f"${DB_URL_ENV} or sqlite:///newsdedup.db",
        help="Database URL (any SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db).",
    )(func)


def crawl_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--sources", "sources_file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None,
                     help=f"Sources file (TOML). Default: ${SOURCES_ENV} or the shipped list."),
        click.option("--feed", "feeds", multiple=True, metavar="URL",
                     help="Crawl this RSS/Atom/JSON feed instead of the sources file (repeatable)."),
        click.option("--sitemap", "sitemaps", multiple=True, metavar="URL",
                     help="Crawl this sitemap or sitemap index (repeatable)."),
        click.option("--url", "urls", multiple=True, metavar="URL",
                     help="Fetch this page and the article links on it (repeatable)."),
        click.option("--refetch", is_flag=True,
                     help="Fetch articles again even if already stored (default: only new ones)."),
        click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
                     help="Override a Scrapy setting, e.g. -s DOWNLOAD_DELAY=2 (repeatable)."),
        click.option("--stats", "stats_file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="Write the crawl's counters as JSON to this file."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def open_store(db_url: str):
    """Engine and sessionmaker, or one clear error line and exit status 2."""
    try:
        engine = make_engine(db_url)
    except DatabaseError as exc:
        _fail(str(exc))
    return engine, make_sessionmaker(engine)


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            _fail(f"-s expects NAME=VALUE, got {pair!r}")
        out[name.strip()] = value
    return out


def do_crawl(db_url: str, sources_file: Path | None, feeds: tuple[str, ...],
             sitemaps: tuple[str, ...], urls: tuple[str, ...], refetch: bool,
             overrides: tuple[str, ...], stats_file: Path | None = None):
    """Validate inputs, then crawl in this process and print the per-source summary."""
    from crawler.crawl import project_settings, run_crawl

    try:
        if feeds or sitemaps or urls:
            adhoc_sources(feeds, sitemaps, urls)
        else:
            load_sources(sources_file or default_sources_path())
    except SourcesError as exc:
        _fail(str(exc))
    engine, _ = open_store(db_url)
    engine.dispose()
    settings = project_settings({
        "NEWSDEDUP_DB_URL": db_url,
        "NEWSDEDUP_SKIP_SEEN": not refetch,
        **_parse_overrides(overrides),
    })
    summary = run_crawl(
        settings,
        sources_file=str(sources_file) if sources_file else None,
        feeds=list(feeds), sitemaps=list(sitemaps), urls=list(urls),
    )
    click.echo(format_crawl_summary(summary))
    if stats_file:
        import json

        doc = {"stats": summary.stats, "sources": summary.sources, "reached": sorted(summary.reached),
               "failures": summary.failures}
        stats_file.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    return summary


def format_crawl_summary(summary) -> str:
    """Plain per-source lines and a total; unreachable sources are named."""
    lines = []
    for name in summary.sources:
        counts = {k: summary.source_count(name, k)
                  for k in ("stored", "changed", "unchanged", "dropped", "skipped_seen", "failed")}
        state = "ok" if name in summary.reached else "UNREACHABLE"
        lines.append(f"  {name:<28} {state:<12} new {counts['stored']:>4}  changed {counts['changed']:>3}"
                     f"  unchanged {counts['unchanged']:>3}  dropped {counts['dropped']:>3}"
                     f"  already seen {counts['skipped_seen']:>4}  failed {counts['failed']:>3}")
    total = (f"crawl: {summary.count('stored')} new, {summary.count('changed')} changed, "
             f"{summary.count('unchanged')} unchanged, {summary.count('dropped')} dropped, "
             f"{summary.count('failed')} failed requests, "
             f"{summary.count('skipped_seen')} already stored (not refetched)")
    out = [total, *lines]
    if summary.unreachable:
        out.append("could not reach: " + ", ".join(summary.unreachable))
        for name in summary.unreachable:
            for failure in summary.failures.get(name, [])[:3]:
                out.append(f"  {name}: {failure}")
    if summary.finish_reason and summary.finish_reason != "finished":
        out.append(f"crawl stopped: {summary.finish_reason}")
    return "\n".join(out)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsdedup")
def main() -> None:
    """newsdedup: crawl tech news and collapse syndicated copies into canonical stories.

    \b
    The main job:   newsdedup run            (crawl + dedup + report)
    Step by step:   newsdedup crawl; newsdedup dedup; newsdedup report
    Measure:        newsdedup eval CORPUS_DIR --json
    """


@main.command()
@db_option
@crawl_options
def crawl(db_url: str, **kwargs: Any) -> None:
    """Fetch new articles from the sources, repair, extract and store them.

    Articles already stored are not fetched again (use --refetch to override).
    """
    do_crawl(db_url, **kwargs)


@main.command()
@db_option
@click.option("--rebuild", is_flag=True, help="Recompute every story from scratch.")
def dedup(db_url: str, rebuild: bool) -> None:
    """Group stored articles into canonical stories (MinHash LSH over passages).

    New articles are matched against every stored one through the persisted index; --rebuild
    recomputes it from scratch and gives the same stories.
    """
    do_dedup(db_url, rebuild)


def do_dedup(db_url: str, rebuild: bool = False) -> None:
    """Run the dedup job and print one summary line; a stale index is one clear error."""
    from crawler.dedup_job import DedupStateError, run_dedup

    _, sessions = open_store(db_url)
    with sessions() as session:
        try:
            s = run_dedup(session, rebuild=rebuild)
        except DedupStateError as exc:
            _fail(str(exc))
    click.echo(f"dedup ({s.mode}): {s.articles} articles ({s.new} new) -> {s.stories} stories "
               f"({s.multi_stories} with copies), {s.links} passage links")


def _report(db_url: str, fmt: str, min_size: int, limit: int | None) -> None:
    from crawler.report.queries import ReportFilter

    _write_report(db_url, fmt, ReportFilter(min_size=min_size, limit=limit), None)


def _write_report(db_url: str, fmt: str, flt: Any, output: Path | None) -> None:
    """Load the report for ``flt`` and write it in ``fmt`` to ``output`` or stdout."""
    from crawler.report.queries import load_report
    from crawler.report.render import EMPTY_DATABASE, render

    _, sessions = open_store(db_url)
    with sessions() as session:
        report = load_report(session, flt, with_texts=fmt == "html")
    if output is None:
        render(fmt, report, sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            render(fmt, report, out)
        click.echo(f"report: {len(report.stories)} stories written to {output}", err=True)
    if report.totals.articles == 0 and (fmt == "csv" or output is not None):
        click.echo(f"newsdedup: {EMPTY_DATABASE}", err=True)


def _when_option(name: str, end_of_day: bool, help_text: str) -> Callable[..., Any]:
    def convert(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
        from crawler.report.queries import parse_when

        if value is None:
            return None
        try:
            return parse_when(value, end_of_day=end_of_day)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc

    return click.option(name, metavar="DATE", callback=convert, help=help_text)


report_options = [
    click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                 show_default=True, help="Output format."),
    click.option("--min-size", type=int, default=2, show_default=True,
                 help="Only stories with at least this many articles (or quoted passages)."),
    click.option("--limit", type=int, default=None, help="At most this many stories."),
]


def with_report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(report_options):
        func = option(func)
    return func


@main.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table",
              show_default=True, help="Output format (html: one self-contained page).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              default=None, help="Write to this file instead of stdout.")
@click.option("--min-size", type=click.IntRange(min=1), default=2, show_default=True,
              help="Only stories with at least this many articles (or quoted passages).")
@_when_option("--since", False, "Only stories with an article published at or after DATE "
              "(ISO 8601, UTC unless an offset is given).")
@_when_option("--until", True, "Only stories with an article published at or before DATE "
              "(a bare date includes that whole day).")
@click.option("--site", default=None, help="Only stories with an article from this site (host) or source.")
@click.option("--story", "story_id", type=int, default=None, help="Only this story (any size).")
@click.option("--search", default=None, metavar="TEXT",
              help="Only stories with an article whose title or text contains TEXT (case-insensitive).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many stories.")
def report(db_url: str, fmt: str, output: Path | None, **filters: Any) -> None:
    """Print stories with their members and shared passages.

    \b
    newsdedup report --since 2026-03-01 --site wire.example
    newsdedup report --format html -o report.html
    """
    from crawler.report.queries import ReportFilter

    _write_report(db_url, fmt, ReportFilter(**filters), output)


@main.group()
def db() -> None:
    """The database schema: apply and inspect migrations."""


@db.command("upgrade")
@db_option
def db_upgrade(db_url: str) -> None:
    """Apply pending migrations. An existing database is upgraded in place, never dropped."""
    from crawler.store.db import migrate_schema

    try:
        engine = make_engine(db_url, migrate=False)
        result = migrate_schema(engine)
    except DatabaseError as exc:
        _fail(str(exc))
    engine.dispose()
    if result.adopted:
        click.echo(f"db: adopted the existing schema (kept all data) and upgraded it to {result.after}")
    elif result.changed:
        click.echo(f"db: upgraded from {result.before or 'an empty database'} to {result.after}")
    else:
        click.echo(f"db: already at the newest revision {result.after}")


@db.command("current")
@db_option
def db_current(db_url: str) -> None:
    """Show the database's schema revision and the newest one available."""
    from crawler.store.db import schema_revision

    try:
        engine = make_engine(db_url, migrate=False)
        current, head = schema_revision(engine)
    except DatabaseError as exc:
        _fail(str(exc))
    engine.dispose()
    if current == head:
        click.echo(f"{current} (newest)")
    else:
        click.echo(f"{current or 'not initialised'} (newest is {head}: run `newsdedup db upgrade`)")


@main.command()
@db_option
@crawl_options
@with_report_options
def run(db_url: str, fmt: str, min_size: int, limit: int | None, **kwargs: Any) -> None:
    """The main job: crawl, deduplicate, then print the report."""
    summary = do_crawl(db_url, **kwargs)
    do_dedup(db_url)
    _report(db_url, fmt, min_size, limit)
    if summary.sources and not summary.reached:
        click.echo("newsdedup: no source could be reached (offline?)", err=True)
        sys.exit(1)


@main.command("eval")
@click.argument("corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--predictions", "predictions_file", type=click.Path(dir_okay=False, path_type=Path),
              help='Write {"clusters": {"<page url>": "<cluster id>"}} for every crawled page.')
@click.option("--db", "db_url", default=None,
              help="Crawl into this database instead of a fresh temporary SQLite file.")
def eval_(corpus_dir: Path, as_json: bool, predictions_file: Path | None, db_url: str | None) -> None:
    """Serve a labelled corpus on 127.0.0.1, crawl it with the real spider, dedup, and score.

    CORPUS_DIR holds manifest.json and sites/<outlet>/ (see ../shared/data/syndication-dev).
    """
    import json

    from crawler.evaluation.runner import run_eval
    from crawler.evaluation.score import format_table, predictions_to_json

    try:
        scores, predictions = run_eval(corpus_dir, db_url)
    except (ValueError, RuntimeError, DatabaseError) as exc:
        _fail(str(exc))
    if predictions_file:
        predictions_file.write_text(json.dumps(predictions_to_json(predictions), indent=1) + "\n")
    if as_json:
        click.echo(json.dumps(scores, sort_keys=True))
    else:
        click.echo(format_table(scores))


def _read_page(target: str) -> tuple[bytes, str, str | None]:
    """Bytes, URL and Content-Type of a saved page (.html / .html.gz) or a URL fetched now."""
    import gzip
    import urllib.request

    if target.startswith(("http://", "https://")):
        request = urllib.request.Request(target, headers={"User-Agent": "newsdedup-extract/0.1"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read(), response.geturl(), response.headers.get("Content-Type")
    path = Path(target)
    body = path.read_bytes()
    if path.suffix == ".gz":
        body = gzip.decompress(body)
    return body, path.resolve().as_uri(), None


@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="PATH_OR_URL...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per page (JSON lines).")
@click.option("--content-type", default=None,
              help="Content-Type to assume for saved files (e.g. 'text/html; charset=gbk').")
def extract(targets: tuple[str, ...], as_json: bool, content_type: str | None) -> None:
    """Decode, repair and extract saved pages (.html, .html.gz) or URLs: the crawl's own code path."""
    import json
    from dataclasses import asdict

    from crawler.content.page import NotAnArticle, process_page

    failed = 0
    for target in targets:
        record: dict[str, Any] = {"source": target}
        try:
            body, url, served_type = _read_page(target)
            result = process_page(body, url, served_type or content_type)
            record |= asdict(result)
            record["repaired"] = list(result.repaired)
        except NotAnArticle as exc:
            record |= {"error": "not an article", "reason": exc.reason}
            failed += 1
        except (OSError, ValueError) as exc:
            record |= {"error": str(exc)}
            failed += 1
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        click.echo(f"== {target}")
        for key in ("title", "author", "published", "sitename", "language", "canonical_url",
                    "encoding", "repaired", "error", "reason"):
            if record.get(key) not in (None, [], ""):
                click.echo(f"{key:>13}: {record[key]}")
        if "text" in record:
            click.echo(record["text"])
        click.echo("")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("first", metavar="URL1")
@click.argument("second", metavar="URL2")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON object.")
def explain(first: str, second: str, db_url: str, as_json: bool) -> None:
    """Why two stored articles are, or are not, one story: similarity, containment both ways,
    shared passages and the rule that decided."""
    import json
    from dataclasses import asdict

    from crawler.dedup_job import DedupStateError, find_document, load_index
    from dedup import DedupConfig
    from dedup.explain import explain as explain_pair

    _, sessions = open_store(db_url)
    with sessions() as session:
        docs = [find_document(session, url) for url in (first, second)]
        missing = [url for url, doc in zip((first, second), docs, strict=True) if doc is None]
        if missing:
            _fail("not a stored article: " + ", ".join(missing))
        try:
            index = load_index(session, DedupConfig())
        except DedupStateError as exc:
            _fail(str(exc))
    a, b = docs
    result = explain_pair(a, b, DedupConfig(), context=index)
    if as_json:
        click.echo(json.dumps({"a": a.url, "b": b.url, **asdict(result)}, ensure_ascii=False))
        return
    click.echo(f"A: {a.url}\nB: {b.url}")
    click.echo(f"similarity (Jaccard): {result.similarity:.3f}")
    click.echo(f"containment A in B:   {result.containment_a_in_b:.3f}")
    click.echo(f"containment B in A:   {result.containment_b_in_a:.3f}")
    click.echo(f"verdict: {result.verdict}; same story: {'yes' if result.same_story else 'no'}")
    click.echo(f"why: {result.reason}")
    for i, p in enumerate(result.passages, 1):
        click.echo(f"passage {i} (A {p.a_start}-{p.a_end}, B {p.b_start}-{p.b_end}): "
                   f"{' '.join(p.text.split())[:300]}")
