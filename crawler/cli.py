"""The ``newsdedup`` command line: crawl, dedup, report, run (the main job), eval, extract."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click
from sqlalchemy.exc import SQLAlchemyError

from crawler.config import (
    ARCHIVE_ENV,
    DB_URL_ENV,
    DEFAULT_STATE_HOME,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    LEVEL_ENV,
    LEVELS,
    LOCK_HEARTBEAT_SECONDS,
    LOCK_TTL_SECONDS,
    SOURCES_ENV,
    default_db_url,
    default_level,
    default_sources_path,
    sqlite_path,
)
from crawler.frontier import FRONTIER_ENV
from crawler.launch import stopped
from crawler.sources import SourcesError, adhoc_sources, load_sources
from crawler.store.db import DatabaseError, make_engine, make_sessionmaker, one_line

#: Exit statuses (README "Exit status"): 0 done; 1 nothing reachable, a FAILING source or a page
#: that could not be extracted; 2 bad input (usage, files, database); 3 and 130 in crawler.config.
EXIT_USAGE = 2


def _fail(message: str) -> NoReturn:
    """One error line on stderr and exit status 2: how every user error ends."""
    click.echo(f"newsdedup: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


#: Formats of the listing commands; ``report`` and ``run`` also render html.
FORMATS = ("table", "json", "csv")

#: After this many seconds of a dedup, one line says why it may take long (a first run compiles).
DEDUP_NOTICE_SECONDS = 15.0


def output_options(formats: tuple[str, ...] = FORMATS) -> Callable[..., Any]:
    """--format, -o FILE and the deprecated --json alias: one contract for every listing command."""
    def json_alias(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:  # deprecated (README), hidden from --help, kept working for scripts
            ctx.meta["json_alias"] = True
        return value

    def fmt(ctx: click.Context, _param: click.Parameter, value: str) -> str:
        return "json" if ctx.meta.get("json_alias") else value

    options = [
        click.option("--json", "json_alias", is_flag=True, hidden=True, expose_value=False,
                     is_eager=True, callback=json_alias),
        click.option("--format", "fmt", type=click.Choice(formats), default="table", show_default=True,
                     callback=fmt, help="Output format."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write to this file instead of stdout."),
    ]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@contextmanager
def opened_output(output: Path | None) -> Iterator[TextIO]:
    """stdout, or ``output`` opened for writing (a path that cannot be written: one error line).

    A reader that stops early (``newsdedup report | head``) is no error: the rest of the output
    goes nowhere and the command ends with its own status, as for a reader that read it all."""
    if output is None:
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    try:
        out = output.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    with out:
        yield out


def emit(fmt: str, output: Path | None, data: Any, table: Callable[[], str],
         rows: Callable[[], list[dict[str, Any]]]) -> None:
    """Write ``data`` as JSON (one line), ``rows()`` as CSV or ``table()`` as text, to ``output``
    or stdout."""
    import csv
    import json

    with opened_output(output) as out:
        if fmt == "json":
            out.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")  # one line
        elif fmt == "csv":
            records = rows()
            columns = list(dict.fromkeys(k for r in records for k in r))
            writer = csv.DictWriter(out, columns, lineterminator="\n")
            writer.writeheader()
            for record in records:
                writer.writerow({k: json.dumps(v, default=str) if isinstance(v, list | dict) else v
                                 for k, v in record.items()})
        else:
            text = table()
            out.write(text + ("\n" if text and not text.endswith("\n") else ""))


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
                     help="Fetch stored articles again and feeds/sitemaps unconditionally "
                     "(default: only new articles; feeds/sitemaps revalidated)."),
        click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
                     help="Override a Scrapy setting, e.g. -s DOWNLOAD_DELAY=2 (repeatable)."),
        click.option("--stats", "stats_file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="Write the crawl's counters as JSON to this file."),
        click.option("--warc", "warc_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=None, help="Also write every fetched response to a WARC file in this "
                     "directory (read back with `newsdedup import-warc`)."),
        click.option("--frontier", envvar=FRONTIER_ENV, default=None, metavar="redis://HOST:PORT/DB",
                     show_envvar=True,
                     help="Crawl as one worker of a crawl shared through this Redis: every worker "
                     "started with the same frontier and sources takes part in one crawl."),
        click.option("--idle-exit", type=click.FloatRange(min=0), default=5.0, show_default=True,
                     metavar="SECONDS", help="With --frontier: stop once the frontier has been empty "
                     "and no worker busy this long."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


#: --archive: where this database's dedup state lives (``crawler.statedir``).
archive_option = click.option(
    "--archive", "archive_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    show_default=f"${ARCHIVE_ENV}, else beside a SQLite file (news.db: news-archive), else "
    f"one per database in {DEFAULT_STATE_HOME}",
    help="The dedup state directory of this database, both levels (made if missing; rebuilt "
    "from the articles when empty; another database's is refused).")


def dedup_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--level and --archive: which dedup the job runs, and where its state lives."""
    level = click.option(
        "--level", type=click.Choice(LEVELS), default=default_level,
        show_default=f"${LEVEL_ENV} or passage",
        help="passage: copies, quotes and digests, with the shared passages (the index in memory "
        "while it runs). document: copies only, through an on-disk archive, for stores of "
        "millions of articles.")
    return level(archive_option(func))


def _engine(db_url: str, migrate: bool = True, read_only: bool = False) -> Any:
    """An engine, or one clear error line and exit status 2 (also for a driver not installed)."""
    try:
        return make_engine(db_url, migrate=migrate, read_only=read_only)
    except DatabaseError as exc:
        _fail(str(exc))
    except ImportError as exc:
        _fail(f"the database driver for {db_url.split(':', 1)[0]!r} is not installed ({exc}); "
              "for PostgreSQL: pip install -e '.[postgres]'")


def open_store(db_url: str):
    """Engine and sessionmaker (the schema created or migrated), or one error line and exit status 2."""
    engine = _engine(db_url)
    return engine, make_sessionmaker(engine)


def _shown(db_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db_url).render_as_string(hide_password=True)


def _sqlite_file(db_url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite_path``); an unparsable URL is one error line."""
    from crawler.store.db import parse_url

    try:
        return sqlite_path(parse_url(db_url))
    except DatabaseError as exc:
        _fail(str(exc))


def open_existing(db_url: str):
    """Engine and sessionmaker of an existing newsdedup database, never creating or migrating one:
    read-only commands say "no database at ..." (exit status 2) instead."""
    from crawler.store.db import schema_revision

    path = _sqlite_file(db_url)
    if path is not None and not path.is_file():
        _fail(f"no database at {path} (`newsdedup run --db {db_url}` or `newsdedup demo --db "
              f"{db_url}` fills one)")
    engine = _engine(db_url, migrate=False, read_only=True)
    try:
        current, head = schema_revision(engine)
    except DatabaseError as exc:
        _fail(str(exc))
    if current is None:
        engine.dispose()
        _fail(f"no database at {_shown(db_url)}: it holds no newsdedup schema "
              "(`newsdedup db upgrade` creates one or adopts an older one)")
    if current != head:
        engine.dispose()
        _fail(f"the database at {_shown(db_url)} is at schema {current}, this version needs {head}: "
              "run `newsdedup db upgrade`")
    return engine, make_sessionmaker(engine)


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            _fail(f"-s expects NAME=VALUE, got {pair!r}")
        out[name.strip()] = value
    return out


def check_crawl_options(sources_file: Path | None, feeds: tuple[str, ...], sitemaps: tuple[str, ...],
                        urls: tuple[str, ...], stats_file: Path | None = None,
                        overrides: tuple[str, ...] = (), **_: Any) -> None:
    """The sources file or ad-hoc URLs and the -s values are valid and the --stats file can be
    written (checked before the crawl, not after it), or one error line and exit status 2; a -s
    setting nothing reads (a typo) is a warning."""
    from crawler.crawl import bad_setting_value, unknown_setting

    check_writable(stats_file)
    for name, value in _parse_overrides(overrides).items():
        warning = unknown_setting(name)
        if warning:
            click.echo(f"newsdedup: warning: {warning}", err=True)
        elif error := bad_setting_value(name, value):
            _fail(error)
    try:
        if feeds or sitemaps or urls:
            adhoc_sources(feeds, sitemaps, urls)
        else:
            load_sources(sources_file or default_sources_path())
    except SourcesError as exc:
        _fail(str(exc))


@dataclass
class SharedCrawl:
    """This process as one worker of a crawl shared through a Redis frontier (``--frontier``)."""

    url: str
    prefix: str  #: the crawl's Redis keys (crawler.frontier.crawl_prefix)
    client: Any
    idle_exit: float
    last: bool = False  #: the last worker to end: it ends the run, runs the dedup, frees the lock
    lost: bool = False  #: the frontier went away: the crawl cannot go on, its lock is freed

    def keeps_lock(self) -> bool:
        """Whether the lock stays held for the other workers when this one ends."""
        return not (self.last or self.lost)

    @property
    def owner(self) -> str:
        """Who holds the lock: the crawl, shared by its workers."""
        return f"crawl {self.prefix}"


def shared_crawl(frontier: str | None, idle_exit: float, sources_file: Path | None,
                 feeds: tuple[str, ...], sitemaps: tuple[str, ...], urls: tuple[str, ...],
                 **_: Any) -> SharedCrawl | None:
    """The crawl ``--frontier`` joins (its identity: the sources), or one error line and exit
    status 2 when its Redis does not answer."""
    if not frontier:
        return None
    import redis

    from crawler.frontier import connect, crawl_prefix

    try:
        client = connect(frontier)
    except (redis.RedisError, ValueError) as exc:
        _fail(f"the frontier {frontier} does not answer: {exc}")
    if feeds or sitemaps or urls:
        identity = "\n".join(["feeds", *feeds, "sitemaps", *sitemaps, "urls", *urls])
    else:
        identity = (sources_file or default_sources_path()).read_text(encoding="utf-8")
    return SharedCrawl(frontier, crawl_prefix(identity), client, idle_exit)


@dataclass(frozen=True)
class RecordedRun:
    """A crawl run holding the database lock, recorded in ``crawl_runs``."""

    id: int
    sessions: Any
    shared: SharedCrawl | None = None


@contextmanager
def run_lock(engine: Any, owner: str | None = None,
             keep: Callable[[], bool] | None = None) -> Iterator[Any]:
    """Hold the database lock every crawl, run, dedup and import takes; exit status 3 when
    another run holds it. ``keep()`` true at the end: left held (for the other workers of a
    shared crawl)."""
    from crawler.lock import CRAWL_LOCK, LockHeld, held_lock

    with ExitStack() as stack:
        try:
            beat = stack.enter_context(held_lock(engine, CRAWL_LOCK, owner, LOCK_TTL_SECONDS,
                                                 LOCK_HEARTBEAT_SECONDS, keep=keep))
        except LockHeld as exc:
            click.echo(f"newsdedup: {exc}", err=True)
            sys.exit(EXIT_LOCKED)
        yield beat


def failed_midway(exc: SQLAlchemyError | OSError) -> NoReturn:
    """How a job the database or the disk failed half-way ends: one line, exit status 1. What
    was committed stays; a dedup's previous state is whole, the next run takes up the rest."""
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        what = f"a file could not be written during the run ({exc.strerror or exc}{where})"
    else:
        what = f"the database failed during the run ({one_line(exc)})"
    click.echo(f"newsdedup: error: {what}; what was stored is kept and the next run takes up "
               "the rest", err=True)
    sys.exit(EXIT_FAILED)


@contextmanager
def recorded_run(db_url: str, command: str, shared: SharedCrawl | None = None) -> Iterator[RecordedRun]:
    """Take the crawl lock (exit status 3 when another run holds it), record the run, and end it
    as ``failed`` if the block raises before it was recorded as finished. The workers of a shared
    crawl share its lock and its run record."""
    from crawler.lock import default_owner
    from crawler.runs import (
        abandon_stale_runs,
        discard_run,
        fail_run,
        note_run_error,
        run_running,
        start_run,
    )

    engine, sessions = open_store(db_url)
    owner = default_owner() if shared is None else shared.owner
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        beat = stack.enter_context(run_lock(engine, owner, keep=shared.keeps_lock if shared else None))
        with sessions() as session:
            if shared is None:
                abandon_stale_runs(session)
                run_id = start_run(session, command, owner)
            else:
                from crawler.frontier import shared_run

                run_id = shared_run(shared.client, shared.prefix,
                                    lambda: start_run(session, command, owner),
                                    lambda wasted: discard_run(session, wasted),
                                    lambda known: run_running(session, known))
                abandon_stale_runs(session, keep=run_id)
        try:
            yield RecordedRun(run_id, sessions, shared)
        except BaseException as exc:
            status, error = (("interrupted", "stopped by SIGINT/SIGTERM outside the crawl")
                             if isinstance(exc, KeyboardInterrupt)
                             else ("failed", f"{type(exc).__name__}: {one_line(exc)}"))
            try:
                with sessions() as session:
                    fail_run(session, run_id, status, error)
            except SQLAlchemyError:
                pass  # still unreachable: the next run marks this one abandoned
            if not isinstance(exc, SQLAlchemyError | OSError):
                raise
            failed_midway(exc)
        if beat.lost:
            with sessions() as session:
                note_run_error(session, run_id, "the lock expired during the run and was taken over")


def progress_mode() -> str:
    """A live display when stdout is a terminal, plain progress lines (on stderr) otherwise."""
    return "live" if sys.stdout.isatty() else "plain"


def do_crawl(run: RecordedRun, db_url: str, sources_file: Path | None, feeds: tuple[str, ...],
             sitemaps: tuple[str, ...], urls: tuple[str, ...], refetch: bool,
             overrides: tuple[str, ...], stats_file: Path | None = None,
             warc_dir: Path | None = None, **_: Any) -> tuple[Any, str]:
    """Crawl in this process, record the run per source, print the summary; (summary, status)."""
    from crawler.crawl import project_settings, run_crawl
    from crawler.frontier import frontier_settings
    from crawler.runs import source_rows

    log_level = _log_level()
    shared = run.shared
    settings = project_settings({
        **(frontier_settings(shared.url, shared.prefix, shared.idle_exit) if shared else {}),
        "NEWSDEDUP_DB_URL": db_url,
        "NEWSDEDUP_SKIP_SEEN": not refetch,
        "NEWSDEDUP_REVALIDATE": not refetch,
        "NEWSDEDUP_PROGRESS": progress_mode(),
        "NEWSDEDUP_WARC_DIR": str(warc_dir or ""),
        **({"LOG_LEVEL": log_level} if log_level else {}),
        **_parse_overrides(overrides),
    })
    quiet_loggers(settings)
    summary = run_crawl(
        settings,
        sources_file=str(sources_file) if sources_file else None,
        feeds=list(feeds), sitemaps=list(sitemaps), urls=list(urls),
    )
    rows = source_rows(summary.stats, summary.sources, summary.requested, summary.reached,
                       summary.failures)
    status = _record_crawl(run, summary, rows)
    click.echo(format_crawl_summary(summary), err=True)
    click.echo(f"run {run.id}: {status}", err=True)
    if stats_file:
        import json

        doc = {"stats": summary.stats, "sources": summary.sources, "reached": sorted(summary.reached),
               "failures": summary.failures, "run": run.id, "status": status}
        stats_file.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    return summary, status


def _record_crawl(run: RecordedRun, summary: Any, rows: list[dict[str, Any]]) -> str:
    """Store the crawl's counters in its run; the status it ends with. A worker of a shared crawl
    adds its counters to the crawl's run; the last one to end sets the run's status."""
    from crawler.runs import add_worker, end_shared_run, finish_crawl, left_over, run_status

    shared = run.shared
    if shared is None:
        with run.sessions() as session:
            return finish_crawl(session, run.id, summary.stats, rows, summary.finish_reason)
    import redis

    from crawler.frontier import leave, worker_name
    from crawler.runs import FRONTIER_LOST

    worker = worker_name()
    with run.sessions() as session:
        add_worker(session, run.id, worker, summary.stats, rows, summary.finish_reason)
    lost = summary.stats.get("newsdedup/frontier_lost")
    if not lost:
        try:
            shared.last = leave(shared.client, shared.prefix, worker)
        except redis.RedisError as exc:
            lost = summary.stats["newsdedup/frontier_lost"] = str(exc)
    if lost:
        summary.finish_reason, shared.lost = FRONTIER_LOST, True
        with run.sessions() as session:
            return end_shared_run(session, run.id, f"the frontier {shared.url} went away ({lost})")
    if shared.last:
        with run.sessions() as session:
            return end_shared_run(session, run.id)
    return run_status(summary.finish_reason, rows, left_over(summary.stats))


def _drop(_record: Any) -> bool:
    return False


def quiet_loggers(settings: Any) -> None:
    """At the default log level, per-request errors are left to the crawl summary (which names
    every failure): the loggers in NEWSDEDUP_QUIET_LOGGERS only speak with -v / --log-level.
    A filter, not a level: Scrapy's logging set-up resets the levels of its loggers."""
    import logging

    from scrapy.settings import SETTINGS_PRIORITIES

    if settings.getpriority("LOG_LEVEL") == SETTINGS_PRIORITIES["project"]:  # not overridden
        for name in settings.getlist("NEWSDEDUP_QUIET_LOGGERS"):
            logger = logging.getLogger(name)
            if _drop not in logger.filters:
                logger.addFilter(_drop)


def _log_level() -> str | None:
    """The log level given to the group (-v, --log-level), if any."""
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().obj.get("log_level") if ctx and ctx.find_root().obj else None


def format_crawl_summary(summary) -> str:
    """Plain per-source lines and a total; sources that failed are named with what happened."""
    from crawler.runs import FRONTIER_LOST

    lines = []
    for name in summary.sources:
        counts = {k: summary.source_count(name, k)
                  for k in ("stored", "changed", "unchanged", "dropped", "skipped_seen", "failed")}
        state = ("ok" if name in summary.reached
                 else "FAILED" if name in summary.requested else "not due")
        lines.append(f"  {name:<28} {state:<12} new {counts['stored']:>4}  changed {counts['changed']:>3}"
                     f"  unchanged {counts['unchanged']:>3}  dropped {counts['dropped']:>3}"
                     f"  already seen {counts['skipped_seen']:>4}  failed {counts['failed']:>3}")
    total = (f"crawl: {summary.count('stored')} new, {summary.count('changed')} changed, "
             f"{summary.count('unchanged')} unchanged, {summary.count('dropped')} dropped, "
             f"{summary.count('failed')} failed requests, "
             f"{summary.count('skipped_seen')} already stored (not refetched)")
    out = [total, *lines]
    if summary.unreachable:
        out.append("failed (nothing answered): " + ", ".join(summary.unreachable))
        for name in summary.unreachable:
            for failure in summary.failures.get(name, [])[:3]:
                out.append(f"  {name}: {failure}")
    if summary.finish_reason not in (None, "finished", FRONTIER_LOST):  # that one: _exit_for
        out.append(f"crawl stopped: {summary.finish_reason}")
    return "\n".join(out)


class OneLineErrors(click.Group):
    """Usage errors as one line on stderr (click prints usage, a hint and the error: three)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("standalone_mode", None)
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            if isinstance(exc, click.NoSuchOption) and ctx is not None and \
                    exc.option_name in ("-v", "--verbose", "--log-level"):
                command = ctx.command_path.split(" ", 1)[-1]
                hint = f" (-v and --log-level go before the command: newsdedup -v {command} ...)"
            click.echo(f"newsdedup: error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):  # SIGINT, or SIGTERM (see main)
                stopped()
            click.echo("newsdedup: aborted", err=True)
            sys.exit(1)


def check_writable(*paths: Path | None) -> None:
    """Output files can be created (their directory exists), checked before a crawl, not after."""
    for path in paths:
        if path is not None and not path.parent.is_dir():
            _fail(f"cannot write {path}: no directory {path.parent}")


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsdedup")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log (INFO level).")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                                               case_sensitive=False), default=None,
              help="Log level of the crawl (default WARNING: the progress line, warnings and the "
              "summary only).")
@click.pass_context
def main(ctx: click.Context, verbose: bool, log_level: str | None) -> None:
    """newsdedup: crawl tech news and collapse syndicated copies into canonical stories.

    \b
    Try it offline: newsdedup demo           (bundled sample sites, served on 127.0.0.1)
    The main job:   newsdedup run            (crawl + dedup + report)
    Step by step:   newsdedup crawl; newsdedup dedup; newsdedup report
    Measure:        newsdedup eval CORPUS_DIR --format json

    \b
    Exit status: 0 done; 1 something left to the next run (run, crawl: no source answered, a
    fault failed a request, an article could not be stored or a page read), a FAILING source (sources) or a
    page that could not be extracted (extract); 2 bad input (usage, a file, the database); 3
    another run holds the database lock; 130 stopped by SIGINT/SIGTERM.
    """
    # SIGTERM stops a command as Ctrl-C does (exit status 130), unwinding its transactions and
    # the lock; the crawl itself has Scrapy's graceful handlers meanwhile (crawler.crawl).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ctx.obj = {"log_level": (log_level or ("INFO" if verbose else None))}
    if ctx.obj["log_level"]:
        ctx.obj["log_level"] = ctx.obj["log_level"].upper()


@main.command()
@db_option
@crawl_options
def crawl(db_url: str, **kwargs: Any) -> None:
    """Fetch new articles from the sources, repair, extract and store them.

    Articles already stored are not fetched again (use --refetch to override); feeds, sitemaps and
    start pages are revalidated (ETag / Last-Modified). Takes the database lock (exit status 3 when
    another run holds it); SIGINT/SIGTERM stop it cleanly (exit status 130). Exit status 1 when no
    source could be reached, a fault of the network or a server (timeout, reset, cut body, 5xx,
    429) failed a request, or an article could not be stored or a page read: the next run
    fetches them again.
    """
    check_crawl_options(**kwargs)
    with recorded_run(db_url, "crawl", shared_crawl(**kwargs)) as recorded:
        summary, status = do_crawl(recorded, db_url, **kwargs)
    _exit_for(summary, status)


def _exit_for(summary: Any, status: str) -> None:
    """Exit with the status a crawl's outcome calls for (``crawler.runs.exit_status``), saying
    why on stderr."""
    from crawler.runs import FRONTIER_LOST, exit_status, left_over

    if summary.finish_reason == FRONTIER_LOST:
        click.echo(f"newsdedup: error: the frontier went away ({summary.stats['newsdedup/frontier_lost']}):"
                   " this worker stopped; what it stored is kept, the rest is fetched by the next run",
                   err=True)
        sys.exit(EXIT_FAILED)
    lost, faults = summary.count("store_failed"), summary.count("faults")
    if lost:
        click.echo(f"newsdedup: {lost} article(s) could not be stored; the next run fetches them "
                   "again", err=True)
    if unread := summary.count("spider_errors"):
        click.echo(f"newsdedup: {unread} page(s) or document(s) could not be read (see the "
                   "warnings above); the next run reads them again", err=True)
    if status == "failed":
        click.echo("newsdedup: no source answered (see the failures above)", err=True)
    elif faults:
        click.echo(f"newsdedup: {faults} request(s) failed by a fault of the network or the server "
                   "(timeout, reset, cut body, 5xx, 429; see the failures above); the next run "
                   "fetches them again", err=True)
    code = exit_status(status, left_over(summary.stats))
    if code:
        sys.exit(code)


@main.command()
@db_option
@dedup_options
@click.option("--rebuild", is_flag=True, help="Recompute every story from scratch.")
def dedup(db_url: str, level: str, archive_dir: Path, rebuild: bool) -> None:
    """Group stored articles into canonical stories (MinHash LSH).

    New articles are matched against every stored one through the persisted index; --rebuild
    recomputes it from scratch and gives the same stories.

    \b
    --level passage (default): copies, quotes, follow-ups and digests told apart, with the
      passages they share; the index is kept in DIR/passage of the --archive directory and
      in memory while the job runs (about 20 KB an article).
    --level document: copies only (no passage links), for archives of millions of articles;
      the archive is kept in the --archive directory (about 9 KB an article on disk), only new
      articles are read, only stories that changed are rewritten. An archived article that
      was changed or deleted makes the next run rebuild the archive.

    The --archive directory belongs to this database (job.json): another database's is
    refused; a missing or empty one is rebuilt from the articles (as --rebuild), and so is an
    index or archive that another version or other parameters built (after an upgrade; one
    line says which version it found), without stopping `run` or `schedule`. An index that
    cannot be read is refused.

    Takes the database lock crawls take (exit status 3 when another run holds it).
    """
    engine, _ = open_store(db_url)
    try:
        with run_lock(engine):
            do_dedup(db_url, rebuild, level, archive_dir)
    except (SQLAlchemyError, OSError) as exc:
        failed_midway(exc)
    finally:
        engine.dispose()


def do_dedup(db_url: str, rebuild: bool = False, level: str = LEVELS[0],
             archive_dir: Path | None = None) -> None:
    """Run the dedup job at ``level``, then assign events, and print a summary line for each;
    state an earlier version built is rebuilt (one line says so), state that cannot be used is
    one clear error."""
    from crawler.archive_job import run_level
    from crawler.dedup_job import DedupStateError
    from crawler.events_job import article_events, assign_events
    from crawler.progress import notice_if_slow

    _, sessions = open_store(db_url)
    with sessions() as session:
        previous = article_events(session)  # before the dedup rewrites the stories
        try:
            with notice_if_slow(DEDUP_NOTICE_SECONDS, lambda: click.echo(
                    "dedup: still matching; the first run on a machine also compiles the "
                    "matching code (about a minute, longer on a busy machine; cached after)",
                    err=True)):
                s = run_level(session, level, db_url, archive_dir, rebuild,
                              say=lambda line: click.echo(f"dedup: {line}", err=True))
        except DedupStateError as exc:
            _fail(str(exc))
        e = assign_events(session, previous, rebuild=rebuild)
    links = (f"{s.links} passage links (one per copy quoted)" if level == "passage"
             else "document level, no passage links")
    click.echo(f"dedup ({s.mode}): {s.articles} articles ({s.new} new) -> {s.stories} stories "
               f"({s.multi_stories} with copies), {links}", err=True)
    click.echo(f"events ({e.mode}): {e.stories} stories ({e.new} placed) -> {e.events} events "
               f"({e.multi_events} of several stories)", err=True)


def _write_report(sessions: Any, fmt: str, flt: Any, output: Path | None,
                  by: str = "story") -> None:
    """Load the report for ``flt`` (stories, or events with ``by="event"``) and write it in
    ``fmt`` to ``output`` or stdout."""
    from crawler.report.events import load_event_report, render_events
    from crawler.report.queries import load_report
    from crawler.report.render import EMPTY_DATABASE, render

    with sessions() as session:
        if by == "event":
            report: Any = load_event_report(session, flt)
            count, noun, write = len(report.events), "events", render_events
        else:
            report = load_report(session, flt, with_texts=fmt == "html")
            count, noun, write = len(report.stories), "stories", render
    with opened_output(output) as out:
        write(fmt, report, out)
    if output is not None:
        click.echo(f"report: {count} {noun} written to {output}", err=True)
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


def report_filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """What the report shows: the options of ``report``, taken by ``run`` too."""
    for option in reversed(REPORT_FILTERS):
        func = option(func)
    return func


REPORT_FILTERS = [
    click.option("--min-size", type=click.IntRange(min=1), default=2, show_default=True,
                 help="Only stories with at least this many articles (or a quoted passage)."),
    click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many stories."),
    _when_option("--since", False, "Only stories with an article published at or after DATE "
                 "(ISO 8601, UTC unless an offset is given)."),
    _when_option("--until", True, "Only stories with an article published at or before DATE "
                 "(a bare date includes that whole day)."),
    click.option("--site", default=None,
                 help="Only stories with an article from this site (host) or source."),
    click.option("--story", "story_id", type=int, default=None, help="Only this story (any size)."),
    click.option("--search", default=None, metavar="TEXT",
                 help="Only stories with an article whose title or text contains TEXT "
                 "(case-insensitive)."),
]
#: ``report`` renders html too (one self-contained page).
REPORT_FORMATS = (*FORMATS, "html")


@main.command()
@db_option
@output_options(REPORT_FORMATS)
@report_filter_options
@click.option("--by", type=click.Choice(["story", "event"]), default="story", show_default=True,
              help="event: group stories about the same happening (events, with a timeline); "
              "--min-size then counts an event's articles, --limit its events.")
def report(db_url: str, fmt: str, output: Path | None, by: str, **filters: Any) -> None:
    """Print stories (or events: --by event) with their members and shared passages (read-only:
    a database that does not exist is an error, never created).

    \b
    newsdedup report --since 2026-03-01 --site wire.example
    newsdedup report --format html -o report.html
    newsdedup report --by event --format html -o events.html
    """
    from crawler.report.queries import ReportFilter

    engine, sessions = open_existing(db_url)
    try:
        _write_report(sessions, fmt, ReportFilter(**filters), output, by)
    finally:
        engine.dispose()


@main.group()
def db() -> None:
    """The database schema: apply and inspect migrations."""


@db.command("upgrade")
@db_option
def db_upgrade(db_url: str) -> None:
    """Apply pending migrations. An existing database is upgraded in place, never dropped."""
    from crawler.store.db import migrate_schema

    engine = _engine(db_url, migrate=False)
    try:
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

    path = _sqlite_file(db_url)
    if path is not None and not path.is_file():
        _fail(f"no database at {path}")
    engine = _engine(db_url, migrate=False, read_only=True)
    try:
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
@dedup_options
@output_options(REPORT_FORMATS)
@report_filter_options
@click.option("--no-report", is_flag=True, help="Crawl and deduplicate only (what `schedule` runs).")
def run(db_url: str, level: str, archive_dir: Path, fmt: str, output: Path | None, no_report: bool,
        min_size: int, limit: int | None, since: Any, until: Any, site: str | None,
        story_id: int | None, search: str | None, **kwargs: Any) -> None:
    """The main job: crawl, deduplicate, then print the report (options as `report`'s).

    Crawl and dedup hold the database lock together (exit status 3 when another run holds it);
    the run is recorded with the duplicates each source brought (`newsdedup runs`). Exit status 1
    when no source answered, a fault failed a request or an article could not be stored or a page
    read (the next run fetches them again), 130 when stopped by SIGINT/SIGTERM (no dedup then).
    """
    from crawler.report.queries import ReportFilter

    flt = ReportFilter(since, until, site, min_size, story_id, search, limit)
    check_writable(output)
    summary, status = main_job(db_url, "run", level, archive_dir, kwargs)
    if not no_report:
        engine, sessions = open_store(db_url)
        with ExitStack() as stack:
            stack.callback(engine.dispose)
            _write_report(sessions, fmt, flt, output)
    _exit_for(summary, status)


def main_job(db_url: str, command: str, level: str, archive_dir: Path | None,
             crawl: dict[str, Any]) -> tuple[Any, str]:
    """Crawl and dedup under one lock, recorded as ``command``: `run`'s and `demo`'s job; the
    crawl summary and the run's status (for ``_exit_for``, once the report is out)."""
    from crawler.runs import record_duplicates

    check_crawl_options(**crawl)
    with recorded_run(db_url, command, shared_crawl(**{"frontier": None, "idle_exit": 0, **crawl})) \
            as recorded:
        summary, status = do_crawl(recorded, db_url, **crawl)
        if status != "interrupted" and (recorded.shared is None or recorded.shared.last):
            do_dedup(db_url, level=level, archive_dir=archive_dir)
            with recorded.sessions() as session:
                record_duplicates(session, recorded.id)
    if status == "interrupted":
        sys.exit(EXIT_INTERRUPTED)
    return summary, status


#: Where `newsdedup demo` writes its HTML report (in the working directory).
DEMO_HTML = "newsdedup-demo.html"


@main.command()
@click.option("--db", "db_url", default=None,
              help="Keep the demo's articles in this database (default: a temporary SQLite file, "
              "removed afterwards; ./newsdedup.db is never touched).")
@output_options()
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(DEMO_HTML), show_default=True, help="Write the HTML report here.")
def demo(db_url: str | None, fmt: str, output: Path | None, html_file: Path) -> None:
    """The whole product offline, on a bundled sample of news sites.

    Four invented outlets (feeds, sitemaps, robots.txt; a wire story copied under a rewritten
    headline, a quoted paragraph, a digest, one page of mojibake) are served on 127.0.0.1 and
    crawled by the real spider as the HTTP proxy of this process; the articles are repaired,
    extracted, deduplicated and reported: the report's table on stdout, the HTML report in
    newsdedup-demo.html. Nothing leaves the machine.
    """
    import tempfile

    from crawler.demo import served_demo
    from crawler.evaluation.server import LOOPBACK_SETTINGS
    from crawler.report.queries import ReportFilter

    check_writable(output, html_file)
    with tempfile.TemporaryDirectory(prefix="newsdedup-demo-") as tmp, \
            served_demo(Path(tmp)) as sources_file:
        url = db_url or f"sqlite:///{Path(tmp) / 'demo.db'}"
        crawl = {"sources_file": sources_file, "feeds": (), "sitemaps": (), "urls": (),
                 "refetch": False, "overrides": tuple(f"{k}={v}" for k, v in LOOPBACK_SETTINGS.items())}
        summary, status = main_job(url, "demo", LEVELS[0], Path(tmp) / "archive", crawl)
        engine, sessions = open_store(url)
        with ExitStack() as stack:
            stack.callback(engine.dispose)
            _write_report(sessions, fmt, ReportFilter(), output)
            _write_report(sessions, "html", ReportFilter(), html_file)
    _exit_for(summary, status)


@main.command("eval")
@click.argument("corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@output_options()
@click.option("--predictions", "predictions_file", type=click.Path(dir_okay=False, path_type=Path),
              help='Write {"clusters": {"<page url>": "<cluster id>"}} for every crawled page.')
@click.option("--db", "db_url", default=None,
              help="Crawl into this database instead of a fresh temporary SQLite file.")
@click.option("--level", type=click.Choice(LEVELS), default=LEVELS[0], show_default=True,
              help="The dedup level scored (document: an archive in a temporary directory; "
              "it makes no passage links, so passage recall is 0).")
def eval_(corpus_dir: Path, fmt: str, output: Path | None, predictions_file: Path | None,
          db_url: str | None, level: str) -> None:
    """Serve a labelled corpus on 127.0.0.1, crawl it with the real spider, dedup, and score.

    CORPUS_DIR holds manifest.json and sites/<outlet>/ (the demo's is crawler/demo/corpus).
    """
    import json

    from crawler.evaluation.runner import run_eval
    from crawler.evaluation.score import format_table, predictions_to_json

    try:
        scores, predictions = run_eval(corpus_dir, db_url, level=level)
    except (ValueError, RuntimeError, DatabaseError) as exc:
        _fail(str(exc))
    if predictions_file:
        with opened_output(predictions_file) as out:
            out.write(json.dumps(predictions_to_json(predictions), indent=1) + "\n")
    emit(fmt, output, scores, lambda: format_table(scores),
         lambda: [{"metric": k, "value": json.dumps(v) if isinstance(v, dict | list) else v}
                  for k, v in sorted(scores.items())])


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
@output_options()
@click.option("--content-type", default=None,
              help="Content-Type to assume for saved files (e.g. 'text/html; charset=gbk').")
def extract(targets: tuple[str, ...], fmt: str, output: Path | None, content_type: str | None) -> None:
    """Decode, repair and extract saved pages (.html, .html.gz) or URLs: the crawl's own code path.

    Exit status 1 when a page could not be read or is not an article (it is listed with why).
    """
    from dataclasses import asdict

    from crawler.content.page import NotAnArticle, process_page

    records: list[dict[str, Any]] = []
    for target in targets:
        record: dict[str, Any] = {"source": target}
        try:
            body, url, served_type = _read_page(target)
            result = process_page(body, url, served_type or content_type)
            record |= asdict(result)
            record["repaired"] = list(result.repaired)
        except NotAnArticle as exc:
            record |= {"error": "not an article", "reason": exc.reason}
        except (OSError, ValueError) as exc:
            record |= {"error": str(exc)}
        records.append(record)

    def table() -> str:
        lines = []
        for record in records:
            lines.append(f"== {record['source']}")
            for key in ("title", "author", "published", "sitename", "language", "canonical_url",
                        "encoding", "repaired", "error", "reason"):
                if record.get(key) not in (None, [], ""):
                    lines.append(f"{key:>13}: {record[key]}")
            if "text" in record:
                lines.append(record["text"])
            lines.append("")
        return "\n".join(lines)

    emit(fmt, output, records, table, lambda: records)
    if any("error" in r for r in records):
        sys.exit(1)


@main.command()
@click.argument("first", metavar="URL1")
@click.argument("second", metavar="URL2")
@db_option
@archive_option
@output_options()
def explain(first: str, second: str, db_url: str, archive_dir: Path | None, fmt: str,
            output: Path | None) -> None:
    """Why two stored articles are, or are not, one story: containment both ways (the report's
    "contained"), the Jaccard of their texts, shared passages and the rule that decided; and
    whether their stories are one event."""
    import re
    from dataclasses import asdict

    from sqlalchemy import select

    from crawler.dedup_job import DedupStateError, find_document, load_index
    from crawler.events_job import explain_events
    from crawler.store.models import Article
    from dedup import DedupConfig
    from dedup.explain import explain as explain_pair

    engine, sessions = open_existing(db_url)
    with sessions() as session:
        docs = [find_document(session, url) for url in (first, second)]
        missing = [url for url, doc in zip((first, second), docs, strict=True) if doc is None]
        if missing:
            _fail("not a stored article: " + ", ".join(missing))
        a, b = docs
        assert a is not None and b is not None
        if a.id == b.id:
            data: dict[str, Any] = {
                "a": {"url": a.url, "title": a.title}, "b": {"url": b.url, "title": b.title},
                "verdict": "same article", "same_story": True,
                "reason": "both URLs name one stored article", "passages": []}
        else:
            try:
                index = load_index(session, DedupConfig(), archive_dir)
            except DedupStateError as exc:
                _fail(str(exc))
            result = asdict(explain_pair(a, b, DedupConfig(), context=index))
            reason = (result["reason"].replace(f"{a.id} in {b.id}:", "A in B:")
                      .replace(f"{b.id} in {a.id}:", "B in A:"))
            reason = re.sub(r"\bdoc (\d+)\b", lambda m: (
                session.scalar(select(Article.url).where(Article.id == int(m.group(1))))
                or m.group()), reason)
            data = {"a": {"url": a.url, "title": a.title}, "b": {"url": b.url, "title": b.title},
                    "containment_a_in_b": result["containment_a_in_b"],
                    "containment_b_in_a": result["containment_b_in_a"],
                    "jaccard": result["similarity"], "verdict": result["verdict"],
                    "same_story": result["same_story"], "reason": reason,
                    "passages": result["passages"]}
        data["event"] = explain_events(session, a.id, b.id)
    engine.dispose()

    def table() -> str:
        lines = [f"A: {data['a']['title'] or '(untitled)'}\n   {data['a']['url']}",
                 f"B: {data['b']['title'] or '(untitled)'}\n   {data['b']['url']}"]
        if "jaccard" in data:
            lines += [f"containment A in B: {data['containment_a_in_b']:.3f}  (share of A's text found in B)",
                      f"containment B in A: {data['containment_b_in_a']:.3f}  (share of B's text found in A)",
                      f"Jaccard:            {data['jaccard']:.3f}  (shared text / all text of both)"]
        lines.append(f"verdict: {data['verdict']}; same story: {'yes' if data['same_story'] else 'no'}")
        lines.append(f"why: {data['reason']}")
        for i, p in enumerate(data["passages"], 1):
            lines.append(f"passage {i} (A {p['a_start']}-{p['a_end']}, B {p['b_start']}-{p['b_end']}): "
                         f"{' '.join(p['text'].split())[:300]}")
        lines.append(f"event: {data['event']['summary']}")
        return "\n".join(lines)

    emit(fmt, output, data, table,
         lambda: [{k: v for k, v in data.items() if k not in ("a", "b", "passages", "event")}
                  | {"a_url": data["a"]["url"], "b_url": data["b"]["url"],
                     "passages": len(data["passages"]), "event": data["event"]["summary"]}])


def _crawl_argv(sources_file: Path | None, feeds: tuple[str, ...], sitemaps: tuple[str, ...],
                urls: tuple[str, ...], refetch: bool, overrides: tuple[str, ...],
                stats_file: Path | None, warc_dir: Path | None, frontier: str | None = None,
                idle_exit: float | None = None) -> list[str]:
    """The crawl options again, as arguments of the child ``newsdedup run``."""
    argv: list[str] = []
    if sources_file:
        argv += ["--sources", str(sources_file)]
    for flag, values in (("--feed", feeds), ("--sitemap", sitemaps), ("--url", urls)):
        for value in values:
            argv += [flag, value]
    if refetch:
        argv.append("--refetch")
    if stats_file:
        argv += ["--stats", str(stats_file)]
    if warc_dir:
        argv += ["--warc", str(warc_dir)]
    if frontier:
        argv += ["--frontier", frontier, "--idle-exit", str(idle_exit)]
    argv += ["-s", "NEWSDEDUP_ONLY_DUE=True"]
    for pair in overrides:
        argv += ["-s", pair]
    return argv


#: What the scheduler says about a child's exit status.
_CHILD_STATUS = {0: "ok", EXIT_FAILED: "failed or incomplete (see `newsdedup runs`)",
                 EXIT_LOCKED: "skipped: another run holds the lock",
                 EXIT_INTERRUPTED: "interrupted"}


@main.command()
@db_option
@crawl_options
@click.option("--every", default=None, metavar="DURATION",
              help="Start a run every DURATION (90s, 30m, 1h30m, 1d); the first at once.")
@click.option("--cron", default=None, metavar="EXPR",
              help="Start runs at the times of this cron expression (UTC), e.g. '*/30 * * * *'.")
@click.option("--max-runs", type=click.IntRange(min=1), default=None,
              help="Stop after this many runs (default: run until SIGINT/SIGTERM).")
@dedup_options
def schedule(db_url: str, every: str | None, cron: str | None, max_runs: int | None, level: str,
             archive_dir: Path | None, **kwargs: Any) -> None:
    """Run crawl + dedup repeatedly in the foreground, each run in a child process.

    \b
    newsdedup schedule --every 30m
    newsdedup schedule --cron '*/30 * * * *' --sources my-sources.toml

    Each run is `newsdedup run --no-report` with the same options, fetching only the feeds,
    sitemaps and start pages that are due (their interval adapts to how often they change).
    Runs never overlap (the database lock); a run that finds it held is skipped. SIGINT/SIGTERM:
    the current run stops cleanly (what it fetched is stored, it is recorded `interrupted`),
    then the scheduler exits with status 0. With --max-runs it exits with status 1 when a run
    failed or left something to the next one (exit status 1 of `run`), else 0.
    """
    import threading
    from datetime import UTC, datetime

    from crawler.schedule import Cron, Every, Stopper, parse_every, run_child, run_schedule

    if (every is None) == (cron is None):
        _fail("give exactly one of --every DURATION or --cron EXPR")
    try:
        plan = Every(parse_every(every)) if every is not None else Cron(str(cron))
    except ValueError as exc:
        _fail(str(exc))
    check_crawl_options(**kwargs)
    engine, _ = open_store(db_url)
    engine.dispose()
    log_level = _log_level()
    argv = [sys.executable, "-m", "crawler", *(["--log-level", log_level] if log_level else []),
            "run", "--no-report", "--db", db_url,
            "--level", level, *(["--archive", str(archive_dir.resolve())] if archive_dir else []),
            *_crawl_argv(**kwargs)]
    stopper = Stopper(threading.Event())
    stopper.install()

    def job(n: int) -> int:
        click.echo(f"schedule: turn {n} starting at {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z", err=True)
        code = run_child(argv, stopper)
        click.echo(f"schedule: turn {n} ended: {_CHILD_STATUS.get(code, f'failed (exit status {code})')}",
                   err=True)
        return code

    def waiting(due: datetime) -> None:
        click.echo(f"schedule: next run at {due:%Y-%m-%d %H:%M:%S}Z ({plan})", err=True)

    statuses = run_schedule(job, plan, stopper.event, max_runs=max_runs, on_wait=waiting)
    if stopper.signals:
        click.echo(f"schedule: stopped by signal after {len(statuses)} turn(s)", err=True)
        return
    # --max-runs reached: the exit status says whether every turn did its work (a turn skipped
    # because another run held the lock did nothing wrong)
    bad = [code for code in statuses if code not in (0, EXIT_LOCKED)]
    click.echo(f"schedule: done after {len(statuses)} turn(s)"
               + (f", {len(bad)} failed or incomplete (see `newsdedup runs`)" if bad else ""), err=True)
    if bad:
        sys.exit(EXIT_FAILED)


def _fmt_time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


@main.command()
@click.argument("run_id", type=int, required=False)
@db_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the newest runs to list.")
@output_options()
def runs(run_id: int | None, db_url: str, limit: int, fmt: str, output: Path | None) -> None:
    """The recorded crawl runs, newest first; with RUN_ID, that run per source.

    Per source: pages fetched, articles new/changed/unchanged, failed requests, pages dropped
    (with reasons), feeds/sitemaps not modified (304) or not due, duplicates found by the dedup.
    """
    from crawler.runs import one_run, recent_runs

    engine, sessions = open_existing(db_url)
    with sessions() as session:
        data: Any = one_run(session, run_id) if run_id is not None else recent_runs(session, limit)
    engine.dispose()
    if run_id is not None and data is None:
        _fail(f"no run {run_id}")
    if run_id is None:
        emit(fmt, output, data, lambda: _runs_table(data),
             lambda: [{k: v for k, v in r.items() if k not in ("totals", "sources")} | r["totals"]
                      for r in data])
    else:
        emit(fmt, output, data, lambda: _run_table(data),
             lambda: [{"run": data["id"], **src} for src in data["sources"]])


def _runs_table(data: list[dict[str, Any]]) -> str:
    lines = [] if data else ["no runs recorded yet"]
    lines.append(f"{'id':>5}  {'started (UTC)':<19}  {'secs':>6}  {'command':<8} {'status':<11}"
                 f"{'fetched':>8}{'new':>6}{'changed':>8}{'unchgd':>7}{'failed':>7}{'dropped':>8}"
                 f"{'304':>5}{'dups':>6}")
    for r in data:
        t = r["totals"]
        dups = "-" if t["duplicates"] is None else t["duplicates"]
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.0f}"
        lines.append(f"{r['id']:>5}  {_fmt_time(r['started_at']):<19}  {secs:>6}  {r['command']:<8} "
                     f"{r['status']:<11}{t['fetched']:>8}{t['new']:>6}{t['changed']:>8}"
                     f"{t['unchanged']:>7}{t['failed']:>7}{t['dropped']:>8}{t['not_modified']:>5}"
                     f"{dups:>6}")
    return "\n".join(lines)


def _run_table(data: dict[str, Any]) -> str:
    lines = [f"run {data['id']} ({data['command']}, {data['owner']}): {data['status']}, "
             f"{_fmt_time(data['started_at'])} to {_fmt_time(data['finished_at'])}"]
    if data["workers"]:
        lines.append(f"workers: {', '.join(data['workers'])}")
    if data["error"]:
        lines.append(f"error: {data['error']}")
    for src in data["sources"]:
        reasons = ", ".join(f"{k} {v}" for k, v in src["dropped_reasons"].items())
        dups = "-" if src["duplicates"] is None else src["duplicates"]
        lines.append(f"  {src['source']:<24} {src['status']:<7} fetched {src['fetched']:>4}"
                     f"  new {src['new']:>4}  changed {src['changed']:>3}"
                     f"  unchanged {src['unchanged']:>3}  failed {src['failed']:>3}"
                     f"  dropped {src['dropped']:>3}{f' ({reasons})' if reasons else ''}"
                     f"  304 {src['not_modified']:>2}  not due {src['not_due']:>2}  duplicates {dups}")
        lines.extend(f"      {error}" for error in src["errors"][:3])
    return "\n".join(lines)


@main.command()
@db_option
@output_options()
def sources(db_url: str, fmt: str, output: Path | None) -> None:
    """Health of every source seen in a run: last status, failing streak, feeds due next.

    A source that failed (nothing of it answered) in the last 5 runs or more in a row is marked
    FAILING, and the command exits with status 1.
    """
    from dataclasses import asdict

    from crawler.config import FAILING_RUNS
    from crawler.runs import source_health

    engine, sessions = open_existing(db_url)
    with sessions() as session:
        health = source_health(session)
    engine.dispose()
    data = [{**asdict(h), "failing": h.failing_streak >= FAILING_RUNS} for h in health]

    def table() -> str:
        lines = [] if health else ["no sources recorded yet (`newsdedup run` records them)"]
        lines.append(f"  {'source':<26} {'runs':>5} {'last':<7} {'streak':>6} {'new':>6} {'docs':>5} "
                     f"{'last ok (UTC)':<19}  {'next due (UTC)':<19}")
        for h in health:
            mark = "!" if h.failing_streak >= FAILING_RUNS else " "
            lines.append(f"{mark} {h.source:<26} {h.runs:>5} {h.last_status or '-':<7} "
                         f"{h.failing_streak:>6} {h.new_total:>6} {h.documents:>5} "
                         f"{_fmt_time(h.last_ok):<19}  {_fmt_time(h.next_due):<19}")
            if mark == "!":
                lines.append(f"    FAILING {h.failing_streak} runs in a row; last error: {h.last_error}")
        return "\n".join(lines)

    emit(fmt, output, data, table, lambda: data)
    if any(d["failing"] for d in data):
        sys.exit(1)


@main.command("import-warc")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@click.option("--source", default=None,
              help="Source name for records that do not carry one (default: the page's host).")
def import_warc_cmd(files: tuple[Path, ...], db_url: str, source: str | None) -> None:
    """Extract and store the article pages of WARC files (e.g. written by `crawl --warc DIR`).

    Pages go through the crawl's own decode/repair/extract and store code; feeds, sitemaps, start
    pages, robots.txt, revisits, redirects and other non-2xx responses are skipped and counted by
    reason. Exit status 1 if a page failed unexpectedly. Run `newsdedup dedup` afterwards.
    """
    from crawler.warc_import import UnreadableWarc, import_warc, summary_line

    for path in files:
        with path.open("rb") as fh:
            head = fh.read(5)
        if not (head.startswith(b"\x1f\x8b") or head == b"WARC/"):
            _fail(f"{path}: not a readable WARC file (it starts with neither WARC/ nor gzip)")
    engine, sessions = open_store(db_url)
    failed = 0
    try:
        with run_lock(engine):
            for path in files:
                with sessions() as session:
                    try:
                        counts = import_warc(session, path, source)
                    except UnreadableWarc as exc:
                        click.echo(f"{path}: {summary_line(exc.counts)}")
                        _fail(f"{path}: not a readable WARC file ({exc}); the pages counted "
                              "before the damage are stored")
                click.echo(f"{path}: {summary_line(counts)}")
                failed += counts["failed"]
    finally:
        engine.dispose()
    if failed:
        sys.exit(EXIT_FAILED)
