"""The command line: every command from the click group, one output contract, one-line errors,
the README's command list, the main job offline."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crawler.cli import FORMATS, main

REPO = Path(__file__).resolve().parents[1]


def command_paths(group: click.Group = main,
                  prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    """Every command of the click group (sub-groups' commands too), by its words."""
    out: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out |= command_paths(command, (*prefix, name))
        else:
            out[(*prefix, name)] = command
    return out


COMMANDS = command_paths()


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help(words: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


def _readme_block(heading: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```\n", 2)[1]


def test_readme_command_list_is_the_click_group() -> None:
    listed = set()
    for line in _readme_block("Command line").splitlines():
        match = re.match(r"newsdedup (\S+)(?: (upgrade|current)\b)?", line)
        if match:
            listed.add(match.group(1))
    assert listed == set(main.commands)
    # each listing command's formats as the README states them
    for name, command in main.commands.items():
        fmt = next((p for p in command.params if p.name == "fmt"), None)
        if fmt is not None:
            line = next(x for x in _readme_block("Command line").splitlines()
                        if x.startswith(f"newsdedup {name} "))
            block_from_line = _readme_block("Command line").split(line, 1)[1].split("\nnewsdedup ", 1)[0]
            assert f"--format {'|'.join(fmt.type.choices)}" in line + block_from_line, name


def test_listing_commands_share_one_output_contract() -> None:
    """Every command that prints a listing takes --format table|json|csv (html where it renders)
    and -o FILE; --json survives only as a hidden, deprecated alias."""
    listing = {w: c for w, c in COMMANDS.items() if any(p.name == "fmt" for p in c.params)}
    assert {" ".join(w) for w in listing} == {"demo", "eval", "explain", "extract", "report", "run",
                                               "runs", "sources"}
    for words, command in listing.items():
        params = {p.name: p for p in command.params}
        assert set(FORMATS) <= set(params["fmt"].type.choices), words
        assert "output" in params and "-o" in params["output"].opts, words
        alias = next((p for p in command.params if "--json" in p.opts), None)
        assert alias is None or alias.hidden, words
    for words in (("report",), ("run",)):
        fmt = next(p for p in COMMANDS[words].params if p.name == "fmt")
        assert set(fmt.type.choices) == {*FORMATS, "html"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo crawled once into a database kept for the test."""
    work = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{work / 'demo.db'}"
    proc = subprocess.run([sys.executable, "-m", "crawler", "demo", "--db", url], cwd=work,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bad_inputs(tmp: Path, db_url: str) -> dict[tuple[str, ...], list[tuple[list[str], int, str]]]:
    """Per command: (arguments, documented exit status, words of the one error line)."""
    not_warc = tmp / "notes.warc"
    not_warc.write_text("these are notes, not a WARC file\n")
    binary_sources = tmp / "binary.toml"
    binary_sources.write_bytes(b"\xff\xfe\x00 not text")
    missing_db = f"sqlite:///{tmp / 'no-such.db'}"
    mysql = "mysql://user@127.0.0.1/news"
    typo = "sqlte:///newsdedup.db"
    refused = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/news"
    return {
        ("crawl",): [(["--sources", "/missing.toml", "--db", missing_db], 2, "cannot read sources file"),
                     (["--db", typo, "--feed", "http://127.0.0.1:1/f.xml"], 2, "invalid database URL"),
                     (["--sources", str(binary_sources)], 2, "not UTF-8 text"),
                     (["--url", "http://[::1/a.html"], 2, "not a valid URL")],
        ("run",): [(["--db", mysql, "--feed", "http://127.0.0.1:1/f.xml"], 2, "driver"),
                   (["--feed", "ftp://x/f.xml"], 2, "not an http(s) URL"),
                   (["-o", "/missing/dir/r.html", "--feed", "http://127.0.0.1:1/f.xml"], 2, "cannot write"),
                   (["--stats", "/missing/dir/s.json", "--feed", "http://127.0.0.1:1/f.xml"], 2,
                    "cannot write /missing/dir/s.json")],
        ("schedule",): [(["--every", "5x"], 2, "not a duration"), ([], 2, "exactly one of")],
        ("dedup",): [(["--db", typo], 2, "invalid database URL"),
                     (["--db", f"sqlite:///{tmp / 'no-dir' / 'n.db'}"], 2, "there is no directory"),
                     (["--db", refused], 2, "Connection refused")],
        ("report",): [(["--db", db_url, "-o", "/missing/dir/r.html"], 2, "cannot write"),
                      (["--db", missing_db], 2, "no database at"),
                      (["--db", "sqlite://news.db"], 2, "'news.db' is read as a host name, not a file"),
                      (["--db", mysql], 2, "driver"),
                      (["--db", db_url, "--since", "yesterday"], 2, "not an ISO 8601 date")],
        ("runs",): [(["--db", missing_db], 2, "no database at"), (["999", "--db", db_url], 2, "no run 999")],
        ("sources",): [(["--db", typo], 2, "invalid database URL"),
                       (["--db", "postgres://news@127.0.0.1/news"], 2, "start with postgresql+psycopg://"),
                       (["--db", "news.db"], 2, "a SQLite file is sqlite:///relative/path.db")],
        ("explain",): [(["http://nowhere.test/a", "http://nowhere.test/b", "--db", db_url], 2,
                        "not a stored article"),
                       (["a", "b", "--db", missing_db], 2, "no database at")],
        ("extract",): [([str(tmp / "missing.html")], 1, "No such file")],
        ("eval",): [([str(tmp / "missing-corpus")], 2, "does not exist"),
                    ([str(tmp)], 2, "no manifest")],
        ("import-warc",): [([str(not_warc), "--db", f"sqlite:///{tmp / 'w.db'}"], 2, "not a readable WARC")],
        ("demo",): [(["--html", "/missing/dir/demo.html"], 2, "cannot write")],
        ("db", "upgrade"): [(["--db", mysql], 2, "driver")],
        ("db", "current"): [(["--db", missing_db], 2, "no database at")],
    }


def test_every_command_with_bad_input_is_one_line(demo_db: str, tmp_path: Path) -> None:
    cases = bad_inputs(tmp_path, demo_db)
    assert set(cases) == set(COMMANDS), "add the bad input of a new command here"
    runner = CliRunner()
    for words, runs in cases.items():
        for args, status, words_of_error in runs:
            result = runner.invoke(main, [*words, *args])
            shown = f"{' '.join(words)} {args}: {result.output}"
            assert result.exception is None or isinstance(result.exception, SystemExit), shown
            assert "Traceback" not in result.output, shown
            assert result.exit_code == status, shown
            if status == 2:
                assert result.stderr.count("\n") == 1, shown
                assert result.stderr.startswith("newsdedup: error: "), shown
            assert words_of_error in result.output, shown
    assert not (tmp_path / "no-such.db").exists()


def test_usage_errors_and_scrapy_crawl_are_one_line(tmp_path: Path) -> None:
    for argv in (["-m", "crawler", "--log-level", "LOUD", "report"], ["-m", "crawler", "frobnicate"],
                 ["-m", "scrapy", "crawl", "news", "-a", "sources_file=/missing.toml"],
                 ["-m", "scrapy", "crawl", "news", "-a", "feeds=file:///etc/passwd"]):
        proc = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True,
                              timeout=120, check=False)
        assert "Traceback" not in proc.stdout + proc.stderr, argv
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("newsdedup: error: "), proc.stderr


def test_a_global_option_after_the_command_says_where_it_goes() -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "-v"])
    assert result.exit_code == 2 and result.stderr == (
        "newsdedup: error: No such option '-v'. (-v and --log-level go before the command: "
        "newsdedup -v db upgrade ...)\n")


def test_json_alias_and_csv(demo_db: str) -> None:
    runner = CliRunner()
    alias = runner.invoke(main, ["runs", "--db", demo_db, "--json"])
    assert alias.exit_code == 0 and "--json" not in runner.invoke(main, ["runs", "--help"]).stdout
    assert [r["command"] for r in json.loads(alias.stdout)] == ["demo"]
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, ["sources", "--db", demo_db, "--format",
                                                                "csv"]).stdout)))
    assert sorted(r["source"] for r in rows) == ["circuit-daily", "loopback-wire", "morning-digest",
                                                 "pacific-mirror"]


def test_explain_speaks_in_urls_and_titles(demo_db: str) -> None:
    runner = CliRunner()
    wire = "http://loopback-wire.test/2026/11/02/harbor-labs-opens-rotterdam-chip-plant.html"
    same = runner.invoke(main, ["explain", wire, wire, "--db", demo_db])
    assert same.exit_code == 0 and "same article" in same.stdout and "0.000" not in same.stdout
    copy = "http://circuit-daily.test/news/rotterdam-chip-plant-opens-harbor-labs.html"
    result = runner.invoke(main, ["explain", copy, wire, "--db", demo_db])
    assert result.exit_code == 0, result.output
    assert "Rotterdam chip plant opens as Harbor Labs starts production" in result.stdout
    assert "verdict: copy; same story: yes" in result.stdout
    why = next(line for line in result.stdout.splitlines() if line.startswith("why: "))
    assert why.startswith("why: A in B: ") and not re.search(r"\b\d+ in \d+\b", why)
    doc = json.loads(runner.invoke(main, ["explain", copy, wire, "--db", demo_db, "--format", "json"]).stdout)
    assert doc["a"]["url"] == copy and doc["containment_a_in_b"] > 0.5 and "similarity" not in doc
    # URLs as a browser shows them (a #fragment, tracking parameters) name the stored article
    pasted = runner.invoke(main, ["explain", f"{copy}?utm_source=rss&utm_medium=feed#comments",
                                  wire.replace("http://", "HTTP://"), "--db", demo_db])
    assert pasted.exit_code == 0 and pasted.stdout == result.stdout, pasted.output


@pytest.mark.slow
def test_demo_offline_quiet_and_in_its_own_database(tmp_path: Path) -> None:
    """The README's first command: bundled sites through the real spider, dedup and report."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env["NEWSDEDUP_DB"] = f"sqlite:///{tmp_path / 'mine.db'}"  # must not be touched
    proc = subprocess.run([sys.executable, "-m", "crawler", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (tmp_path / "mine.db").exists() and not (tmp_path / "newsdedup.db").exists()
    # the report's table: 10 pages, copies and quotes found
    assert proc.stdout.startswith("10 articles, 6 stories (3 with copies, 4 duplicates), "
                                  "4 pages quoting a story")
    # story ids follow the order pages were stored in, which the crawl does not fix
    assert re.search(r"Story \d+: Harbor Labs opens its first chip plant in Rotterdam", proc.stdout)
    # stderr: the crawl summary, the dedup line, the report file; no Scrapy or alembic log
    for noise in ("Overridden settings", "Enabled", "Context impl", "Telnet", "Dumping Scrapy stats",
                  "Traceback", "[scrapy"):
        assert noise not in proc.stderr, noise
    assert len(proc.stderr.splitlines()) <= 10, proc.stderr
    assert "crawl: 10 new" in proc.stderr and "run 1: ok" in proc.stderr
    page = (tmp_path / "newsdedup-demo.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<section class="story" id="story-\d+">', page)) == 4
    assert "Tallinn’s transport department" in page and "â€" not in page  # mojibake repaired
    assert "3 copies of the story carry it" in page  # the digest quotes the wire story once


def test_demo_report_shows_each_quotation_once(demo_db: str) -> None:
    result = CliRunner().invoke(main, ["report", "--db", demo_db, "--format", "json"])
    doc = json.loads(result.stdout)
    assert doc["totals"]["passage_links"] == 4
    by_title = {s["canonical_title"]: s for s in doc["stories"]}
    chips = by_title["Harbor Labs opens its first chip plant in Rotterdam"]
    (quote,) = chips["passages"]  # stored once per copy (3), shown once
    assert quote["article_url"] == "http://morning-digest.test/digest/2026-11-06.html"
    assert quote["copies"] == 3 and quote["source_url"] == chips["canonical_url"]
    pledge = by_title["Package registries agree on a shared security pledge"]
    assert [p["article_url"] for p in pledge["passages"]] == [
        "http://circuit-daily.test/news/maintainers-weigh-registry-pledge.html"]


def test_demo_digest_labels_no_event_and_bridges_none(demo_db: str) -> None:
    """The morning digest quotes the chip plant and names the timetables and the ferry: it joins
    one event, and the three happenings stay three events, none labelled by the digest."""
    result = CliRunner().invoke(main, ["report", "--db", demo_db, "--by", "event", "--format", "json",
                                       "--min-size", "1"])
    doc = json.loads(result.stdout)
    groups = {e["label"]: {s["canonical_title"] for s in e["stories"]} for e in doc["events"]}
    assert not any(label.startswith("Morning Digest") for label in groups)
    assert groups["Harbor Labs opens its first chip plant in Rotterdam"] == {
        "Harbor Labs opens its first chip plant in Rotterdam",
        "Morning Digest: chips, timetables and a quiet ferry"}
    assert len(groups["Tallinn puts every bus timetable behind an open API"]) == 1
    assert len(groups["Battery ferry to take over the busiest island crossing near Bergen"]) == 1


def test_table_fits_the_terminal(demo_db: str) -> None:
    for columns in (80, 150):
        result = CliRunner().invoke(main, ["report", "--db", demo_db], env={"COLUMNS": str(columns)})
        widths = {len(line) for line in result.stdout.splitlines()}
        assert max(widths) <= columns and columns in widths, (columns, sorted(widths)[-3:])


@pytest.mark.slow
def test_failed_feed_says_what_happened_quietly(tmp_path: Path) -> None:
    """A feed that answers 404 is named with its status, not as unreachable; -v brings the log."""
    from crawler.demo import CORPUS
    from crawler.evaluation.server import proxy_environment, serve_corpus

    db = f"sqlite:///{tmp_path / 'x.db'}"
    with serve_corpus(CORPUS) as server:
        env = proxy_environment(server.proxy_url, os.environ)
        args = ["crawl", "--db", db, "--feed", "http://loopback-wire.test/no-such-feed.xml",
                "-s", "RETRY_TIMES=0"]
        quiet = subprocess.run([sys.executable, "-m", "crawler", *args], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300, check=False)
        loud = subprocess.run([sys.executable, "-m", "crawler", "-v", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in quiet.stderr + loud.stderr
    assert "HTTP 404" in quiet.stderr and "FAILED" in quiet.stderr
    assert "UNREACHABLE" not in quiet.stderr and "offline" not in quiet.stderr
    assert len(quiet.stderr.splitlines()) <= 8, quiet.stderr
    assert "Overridden settings" in loud.stderr or "Enabled extensions" in loud.stderr


@pytest.mark.slow
def test_run_without_network_ends_with_a_plain_summary(tmp_path: Path) -> None:
    port = _closed_port()
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "down-outlet"\nfeeds = ["http://127.0.0.1:{port}/feed.xml"]\n'
        f'[[source]]\nname = "dead-sitemap"\nsitemaps = ["http://127.0.0.1:{port}/sm.xml"]\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "run", "--db", f"sqlite:///{tmp_path / 'x.db'}",
         "--sources", str(sources)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    # retries and download errors are the summary's, not one log line each
    assert "[scrapy" not in proc.stderr and "Gave up retrying" not in proc.stderr, proc.stderr
    assert proc.returncode == 1
    assert "failed (nothing answered): down-outlet, dead-sitemap" in proc.stderr
    assert "refused" in proc.stderr.lower()
    assert "no source answered" in proc.stderr


def test_demo_sites_are_package_data(tmp_path: Path) -> None:
    """A non-editable install has the demo's pages: setuptools' build copies every one of them."""
    lib = tmp_path / "lib"
    done = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                           "-d", str(lib)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    source = REPO / "crawler" / "demo" / "corpus"
    files = sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file())
    assert len(files) > 20
    built = lib / "crawler" / "demo" / "corpus"
    assert sorted(p.relative_to(built) for p in built.rglob("*") if p.is_file()) == files
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    for page in manifest["pages"]:
        assert (built / "sites" / page["site"] / page["path"].lstrip("/")).is_file(), page["path"]


def test_ctrl_c_after_a_crawl_is_not_swallowed(tmp_path: Path) -> None:
    """Scrapy's SIGINT/SIGTERM handlers stop its reactor; left installed after the crawl they
    swallowed both signals, so `run`'s dedup (and anything after a crawl) could not be stopped."""
    script = (
        "import os, signal, sys, time\n"
        "from crawler.crawl import project_settings, run_crawl\n"
        "signal.signal(signal.SIGTERM, signal.default_int_handler)  # as crawler.cli.main does\n"
        "run_crawl(project_settings({'NEWSDEDUP_DB_URL': sys.argv[1], 'NEWSDEDUP_PROGRESS': ''}),\n"
        f"          feeds=['http://127.0.0.1:{_closed_port()}/feed.xml'])\n"
        "for sig in (signal.SIGINT, signal.SIGTERM):\n"
        "    try:\n"
        "        os.kill(os.getpid(), sig)\n"
        "        time.sleep(5)\n"
        "        print('swallowed', sig.name)\n"
        "    except KeyboardInterrupt:\n"
        "        print('stopped', sig.name)\n")
    proc = subprocess.run([sys.executable, "-c", script, f"sqlite:///{tmp_path / 'c.db'}"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.stdout.split("\n")[:2] == ["stopped SIGINT", "stopped SIGTERM"], proc.stdout + proc.stderr


def test_sigterm_outside_the_crawl_stops_as_ctrl_c_does(sqlite_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal during the dedup: one line, exit status 130, and the lock is released."""
    def dedup_meets_sigterm(*_args: object, **_kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # not reached: the signal interrupts this process at once

    def unhandled(*_args: object) -> None:  # what the test process does unless main sets one
        raise RuntimeError("newsdedup left SIGTERM unhandled")

    previous = signal.signal(signal.SIGTERM, unhandled)
    monkeypatch.setattr("crawler.cli.do_dedup", dedup_meets_sigterm)
    try:
        result = CliRunner().invoke(main, ["dedup", "--db", sqlite_url])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == "newsdedup: stopped by SIGINT/SIGTERM"
    monkeypatch.undo()
    assert CliRunner().invoke(main, ["dedup", "--db", sqlite_url]).exit_code == 0  # lock released


def test_a_run_stopped_outside_the_crawl_is_recorded_interrupted(sqlite_url: str) -> None:
    from crawler.cli import recorded_run
    from crawler.runs import recent_runs

    with pytest.raises(KeyboardInterrupt), recorded_run(sqlite_url, "run") as recorded:
        raise KeyboardInterrupt  # e.g. Ctrl-C during the dedup that follows the crawl
    with recorded.sessions() as session:
        (run,) = recent_runs(session, 1)
    assert (run["status"], run["error"]) == ("interrupted", "stopped by SIGINT/SIGTERM outside the crawl")


def test_readme_command_list_names_every_option() -> None:
    """Each command's lines in the README's list name every option its --help shows (`crawl`'s
    "same crawl options" and `schedule`'s are `run`'s; `run`'s "report filters" are `report`'s)."""
    block = _readme_block("Command line")
    lines: dict[str, str] = {}
    current = ""
    for line in block.splitlines():
        match = re.match(r"newsdedup (\S+)", line)  # `db` has one line for its two commands
        current = match.group(1) if match else current
        lines[current] = lines.get(current, "") + line + "\n"
    borrowed = {"same crawl": "run", "report filters": "report"}
    missing = []
    for words, command in COMMANDS.items():
        text = lines[words[0]]
        text += "".join(lines[other] for phrase, other in borrowed.items() if phrase in text)
        for param in command.params:
            shown = isinstance(param, click.Option) and not param.hidden and "--help" not in param.opts
            if shown and not any(re.search(rf"(?<![\w-]){re.escape(n)}\b", text) for n in param.opts):
                missing.append(f"{' '.join(words)} {param.opts[-1]}")
    assert not missing, ", ".join(missing)


_SIGNAL_WHILE_LOADING = """
import builtins, importlib, os, runpy, signal, sys, tomllib
how, sig = sys.argv[1], getattr(signal, sys.argv[2])
real_import = builtins.__import__

def import_meets_signal(name, *args, **kwargs):  # the first import of click: mid-way in loading
    if name == "click":
        builtins.__import__ = real_import
        os.kill(os.getpid(), sig)
    return real_import(name, *args, **kwargs)

sys.argv = ["newsdedup", "report", "--help"]
builtins.__import__ = import_meets_signal
if how == "script":  # what the installed `newsdedup` script does with pyproject's entry point
    with open("pyproject.toml", "rb") as fh:
        module, _, func = tomllib.load(fh)["project"]["scripts"]["newsdedup"].partition(":")
    sys.exit(getattr(importlib.import_module(module), func)())
runpy.run_module("crawler", run_name="__main__")
"""


@pytest.mark.parametrize("how", ["script", "python -m crawler"])
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_command_line_loads_is_one_line(how: str, sig: str) -> None:
    """Ctrl-C (or SIGTERM) in the 1-3 s the command line takes to import its libraries stops it
    as at any other time: one line, exit status 130 (a KeyboardInterrupt traceback before)."""
    proc = subprocess.run([sys.executable, "-c", _SIGNAL_WHILE_LOADING, how.split()[0], sig],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.stderr == "newsdedup: stopped by SIGINT/SIGTERM\n", proc.stderr[-3000:]
    assert proc.returncode == 130 and proc.stdout == ""


def test_read_only_commands_read_a_database_on_a_read_only_mount(demo_db: str, tmp_path: Path) -> None:
    """report, runs, sources, explain and db current read a SQLite file on a read-only mount (a
    backup, a read-only volume) as they read it anywhere; before, WAL mode could not create its
    -shm file there and each said "cannot open database". A file left with unfinished writes
    (a -wal file without its -shm) is one clear line."""
    import shutil
    import sqlite3

    from tests.mounts import read_only, tmpfs

    source = Path(demo_db.removeprefix("sqlite:///"))
    with sqlite3.connect(source) as conn:
        first, second = [r[0] for r in conn.execute("SELECT url FROM articles ORDER BY id LIMIT 2")]
    commands = [["report"], ["report", "--by", "event", "--format", "json"], ["runs", "1"],
                ["sources", "--format", "csv"], ["explain", first, second], ["db", "current"]]
    runner = CliRunner()
    expected = [runner.invoke(main, [*c, "--db", demo_db]) for c in commands]
    assert all(r.exit_code == 0 for r in expected), [r.output for r in expected]
    with tmpfs(tmp_path / "ro", "8m") as disk:
        shutil.copy(source, disk / "news.db")
        unfinished = sqlite3.connect(source)
        unfinished.execute("PRAGMA wal_autocheckpoint=0")
        for command in ("demo again", "demo"):  # committed to the -wal file, not the database's
            unfinished.execute("UPDATE crawl_runs SET command = ?", (command,))
            unfinished.commit()
        (disk / "cut").mkdir()
        shutil.copy(source, disk / "cut" / "news.db")
        shutil.copy(f"{source}-wal", disk / "cut" / "news.db-wal")
        unfinished.close()
        read_only(disk)
        url = f"sqlite:///{disk / 'news.db'}"
        got = [runner.invoke(main, [*c, "--db", url]) for c in commands]
        cut = runner.invoke(main, ["report", "--db", f"sqlite:///{disk / 'cut' / 'news.db'}"])
    for command, want, result in zip(commands, expected, got, strict=True):
        assert result.exit_code == 0, (command, result.output)
        assert result.stdout == want.stdout, command
    assert cut.exit_code == 2 and cut.stderr.count("\n") == 1, cut.output
    assert "unfinished writes" in cut.stderr and "copy" in cut.stderr


_SIGNAL_WHILE_SCRAPY_BUILDS = """
import os, signal, sys
import pipelines.extract as extract
from crawler.cli import main

build = extract.ExtractPipeline.from_crawler.__func__

def signalled(cls, crawler):  # Scrapy builds the pipelines inside a Deferred, before the reactor
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    return build(cls, crawler)

extract.ExtractPipeline.from_crawler = classmethod(signalled)
main(sys.argv[2:])
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_while_scrapy_builds_the_crawl_stops_it_cleanly(sig: str, tmp_path: Path) -> None:
    """Ctrl-C while Scrapy builds the crawl (its pipelines and middlewares imported, 1-2 s after
    the run was recorded) printed "Unhandled error in Deferred" and a KeyboardInterrupt
    traceback; the signal is now held until Scrapy's handlers are in, and the crawl stops the
    Scrapy way: exit status 130, the run recorded interrupted, no traceback."""
    from crawler.runs import recent_runs
    from crawler.store.db import make_engine, make_sessionmaker

    db_url = f"sqlite:///{tmp_path / 'sig.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", _SIGNAL_WHILE_SCRAPY_BUILDS, sig, "run", "--no-report", "--db", db_url,
         "--feed", f"http://127.0.0.1:{_closed_port()}/feed.xml"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in proc.stderr and "Unhandled error" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 130, proc.stderr[-3000:]
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        assert [r["status"] for r in recent_runs(session, 5)] == ["interrupted"]
    engine.dispose()


def test_a_setting_nothing_reads_is_a_warning_with_the_nearest_name(tmp_path: Path) -> None:
    """`-s DOWNLOAD_DEALY=2` was taken in silence (Scrapy accepts any name): the crawl ran
    without the delay the user asked for. Now a warning names the setting meant; known names,
    Scrapy's, newsdedup's and the frontier's, pass quietly."""
    result = CliRunner().invoke(main, [
        "crawl", "--db", f"sqlite:///{tmp_path / 's.db'}", "--feed", f"http://127.0.0.1:{_closed_port()}/f.xml",
        "-s", "DOWNLOAD_DEALY=2", "-s", "NEWSDEDUP_STORE_BATHC=3", "-s", "DOWNLOAD_DELAY=0",
        "-s", "NEWSDEDUP_STORE_BATCH=3", "-s", "SCHEDULER_PERSIST=True", "-s", "LOG_LEVEL=ERROR"])
    warnings = [line for line in result.stderr.splitlines() if line.startswith("newsdedup: warning:")]
    assert warnings == [
        "newsdedup: warning: -s DOWNLOAD_DEALY: not a setting Scrapy or newsdedup reads "
        "(did you mean DOWNLOAD_DELAY?)",
        "newsdedup: warning: -s NEWSDEDUP_STORE_BATHC: not a setting Scrapy or newsdedup reads "
        "(did you mean NEWSDEDUP_STORE_BATCH?)"], result.stderr
    assert result.exit_code == 1  # the crawl ran (and reached nothing)


@pytest.mark.parametrize(("setting", "message"), [
    ("DOWNLOAD_TIMEOUT=abc", "-s DOWNLOAD_TIMEOUT=abc: DOWNLOAD_TIMEOUT takes a number"),
    ("AUTOTHROTTLE_ENABLED=maybe", "-s AUTOTHROTTLE_ENABLED=maybe: AUTOTHROTTLE_ENABLED takes true or false"),
])
def test_a_setting_value_that_cannot_work_is_one_line_before_the_crawl(tmp_path: Path, setting: str,
                                                                       message: str) -> None:
    """It was a Scrapy traceback mid-start, the run recorded `interrupted`, exit status 130."""
    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["crawl", "--db", f"sqlite:///{db}", "--feed",
                                       f"http://127.0.0.1:{_closed_port()}/f.xml", "-s", setting])
    assert (result.exit_code, result.stderr) == (2, f"newsdedup: error: {message}\n")
    assert not db.exists()


def test_a_slow_dedup_says_why_once(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dedup still running after DEDUP_NOTICE_SECONDS says why (a first run compiles for a
    minute or more, silent it looked hung); a quick one says nothing of it."""
    import crawler.cli as cli

    quick = CliRunner().invoke(main, ["dedup", "--db", demo_db])
    assert quick.exit_code == 0, quick.output
    assert "still matching" not in quick.stderr
    monkeypatch.setattr(cli, "DEDUP_NOTICE_SECONDS", 0.0)
    slow = CliRunner().invoke(main, ["dedup", "--db", demo_db, "--rebuild"])
    assert slow.exit_code == 0, slow.output
    assert slow.stderr.count("dedup: still matching; the first run on a machine also compiles") == 1
