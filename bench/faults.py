"""Fault injection against the served syndication-dev corpus: what an operator does to a running
crawler, and whether every article is stored exactly once after the next ordinary run.

    python bench/faults.py                      # this checkout
    python bench/faults.py --code /tmp/before   # another checkout's CLI (e.g. `git archive` of
                                                # an older commit), for a before/after table

Scenarios (each on a fresh database; "recovery" is the next ordinary `newsdedup crawl`):
  clean       one crawl: the articles expected (the baseline of the same run)
  hostile     every feed, sitemap and home page also links a local file (file://)
  bad-rows    PostgreSQL; three pages carry a NUL (JSON-LD author), three a canonical URL of
              2,100+ characters
  pg-outage   PostgreSQL (a cluster of our own) stopped for 21 s once a fifth of the articles
              were served, in a crawl at the default 1 s politeness (about 30 s long)
  full-disk   SQLite on a 6 MB tmpfs with room for about a third of the crawl; the ballast is
              removed before recovery
  kill-9      the crawl is killed (SIGKILL) after a third of the articles; recovery starts at once
  busy        a second crawl while another process holds SQLite's write lock for 35 s

Prints a table (scenario, articles expected, stored after recovery, lost, duplicates, exit
statuses of the faulty run and of the recovery, local files read, orphan processes) and one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from _common import ROOT, SYNDICATION

from crawler.evaluation.corpus import load_corpus
from crawler.evaluation.runner import EVAL_SETTINGS, sources_toml
from crawler.evaluation.server import CorpusServer, serve_corpus
from tests import pgcluster
from tests.procs import alive, descendants

MARKER = "CANARY-local-file-7f3a"


@dataclass
class Outcome:
    scenario: str
    expected: int
    stored: int  #: distinct articles stored after recovery
    lost: int
    duplicates: int  #: rows beyond one per fetched page
    exit_fault: int | None  #: exit status of the run the fault hit
    exit_recovery: int | None
    local_reads: int  #: local files whose content was stored or whose URL was fetched
    orphans: int  #: processes of the killed crawl still alive 5 s later
    seconds: float


class Bench:
    def __init__(self, code: Path, work: Path) -> None:
        self.code, self.work = code, work
        self.corpus_dir = SYNDICATION

    # -- running the CLI of the checkout under test ----------------------------------------------
    def _env(self, proxy: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy")}
        return env | {"http_proxy": proxy, "HTTP_PROXY": proxy, "PYTHONPATH": str(self.code)}

    def crawl_cmd(self, db_url: str, sources: Path, *extra: str) -> list[str]:
        cmd = [sys.executable, "-m", "crawler", "crawl", "--db", db_url, "--sources", str(sources)]
        for key, value in EVAL_SETTINGS.items():
            cmd += ["-s", f"{key}={value}"]
        return [*cmd, *extra]

    def crawl(self, server: CorpusServer, db_url: str, sources: Path, *extra: str) -> int:
        return subprocess.run(self.crawl_cmd(db_url, sources, *extra), env=self._env(server.proxy_url),
                              cwd=self.code, capture_output=True, timeout=1800).returncode

    def start_crawl(self, server: CorpusServer, db_url: str, sources: Path, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(self.crawl_cmd(db_url, sources, *extra), env=self._env(server.proxy_url),
                                cwd=self.code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sources(self, corpus_dir: Path, name: str) -> Path:
        path = self.work / f"{name}.toml"
        path.write_text(sources_toml(load_corpus(corpus_dir)))
        return path

    # -- reading what was stored ------------------------------------------------------------------
    @staticmethod
    def rows(db_url: str) -> tuple[list[str], list[str], list[str]]:
        """(fetched URLs of the articles, their texts, seen URLs)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                arts = conn.execute(text("SELECT fetched_url, text FROM articles")).all()
                seen = [r[0] for r in conn.execute(text("SELECT url FROM seen_urls"))]
        finally:
            engine.dispose()
        return [a[0] for a in arts], [a[1] for a in arts], seen

    def outcome(self, scenario: str, expected: set[str], db_url: str, exit_fault: int | None,
                exit_recovery: int | None, started: float, orphans: int = 0) -> Outcome:
        urls, texts, seen = self.rows(db_url)
        local = len({u for u in urls + seen if not u.startswith("http")}) or \
            int(any(MARKER in t for t in texts))
        got = set(urls) & expected
        return Outcome(scenario, len(expected), len(got), len(expected - got),
                       len(urls) - len(set(urls)), exit_fault, exit_recovery, local, orphans,
                       round(time.monotonic() - started, 1))

    # -- derived corpora (temporary copies, never in the repository) ------------------------------
    def derived(self, name: str, edit: Callable[[Path, dict], None]) -> Path:
        dest = self.work / name
        shutil.copytree(self.corpus_dir, dest)
        manifest = json.loads((dest / "manifest.json").read_text())
        edit(dest, manifest)
        return dest

    # -- scenarios --------------------------------------------------------------------------------
    def clean(self) -> tuple[set[str], Outcome]:
        started = time.monotonic()
        db_url = f"sqlite:///{self.work / 'clean.db'}"
        with serve_corpus(self.corpus_dir) as server:
            code = self.crawl(server, db_url, self.sources(self.corpus_dir, "clean"))
        urls, _, _ = self.rows(db_url)
        self.clean_bytes = (self.work / "clean.db").stat().st_size
        expected = set(urls)
        return expected, self.outcome("clean", expected, db_url, code, None, started)

    def hostile(self, expected: set[str]) -> Outcome:
        started = time.monotonic()
        local = self.work / "local"
        local.mkdir(exist_ok=True)
        page = local / "secret.html"
        page.write_text("<html><head><title>Local secret</title></head><body><article>"
                        + "".join(f"<p>{MARKER} paragraph {i} of a file on the crawling machine that no"
                                  " remote feed may make the crawler read, ever.</p>" for i in range(12))
                        + "</article></body></html>")
        uri = page.as_uri().encode()

        def edit(root: Path, manifest: dict) -> None:
            for site in manifest["sites"]:
                folder = root / site["dir"]
                for name, end, entry in (
                        ("feed.xml", b"</channel>", b"<item><title>x</title><link>%s</link></item>"),
                        ("sitemap.xml", b"</urlset>", b"<url><loc>%s</loc></url>")):
                    data = (folder / name).read_bytes()
                    (folder / name).write_bytes(data.replace(end, entry % uri + end, 1))

        corpus = self.derived("hostile", edit)
        db_url = f"sqlite:///{self.work / 'hostile.db'}"
        with serve_corpus(corpus) as server:
            code = self.crawl(server, db_url, self.sources(corpus, "hostile"))
        return self.outcome("hostile", expected, db_url, code, None, started)

    def bad_rows(self, expected: set[str], cluster: pgcluster.Cluster) -> Outcome:
        started = time.monotonic()

        def edit(root: Path, manifest: dict) -> None:
            by_site: dict[str, list[dict]] = {}
            for p in manifest["pages"]:
                by_site.setdefault(p["site"], []).append(p)
            for site in sorted(by_site)[:3]:
                nul, long = by_site[site][:2]
                host = next(s["host"] for s in manifest["sites"] if s["name"] == site)
                folder = root / next(s["dir"] for s in manifest["sites"] if s["name"] == site)
                path = folder / nul["path"].lstrip("/")
                data = path.read_bytes()
                data = re.sub(rb'"name": "([^"]*)"', rb'"name": "\\u0000\1"', data, count=1)
                path.write_bytes(data)
                path = folder / long["path"].lstrip("/")
                data = path.read_bytes()
                canonical = f'<link rel="canonical" href="http://{host}/{"x" * 2100}.html">'.encode()
                data = re.sub(rb'<link rel="canonical"[^>]*>', canonical, data, count=1)
                path.write_bytes(data)

        corpus = self.derived("bad-rows", edit)
        db_url = cluster.reset()
        with serve_corpus(corpus) as server:
            sources = self.sources(corpus, "bad-rows")
            code = self.crawl(server, db_url, sources)
            again = self.crawl(server, db_url, sources)
        return self.outcome("bad-rows", expected, db_url, code, again, started)

    def _when_served(self, server: CorpusServer, share: float, total: int, action: Callable[[], None],
                     stop: threading.Event) -> threading.Thread:
        """Run ``action`` once ``share`` of the ``total`` article pages were served."""

        def watch() -> None:
            while not stop.is_set():
                pages = sum(1 for _, path, _ in server.requests if re.search(r"/\d{4}/", path))
                if pages >= share * total:
                    action()
                    return
                time.sleep(0.02)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        return thread

    def pg_outage(self, expected: set[str], cluster: pgcluster.Cluster) -> Outcome:
        started = time.monotonic()
        db_url = cluster.reset()
        polite = ("-s", "DOWNLOAD_DELAY=1")

        def outage() -> None:
            cluster.stop()
            time.sleep(21)
            cluster.start()

        with serve_corpus(self.corpus_dir) as server:
            sources = self.sources(self.corpus_dir, "pg")
            stop = threading.Event()
            watcher = self._when_served(server, 0.2, len(expected), outage, stop)
            code = self.crawl(server, db_url, sources, *polite)
            stop.set()
            watcher.join()
            again = self.crawl(server, db_url, sources, *polite)
        return self.outcome("pg-outage", expected, db_url, code, again, started)

    def full_disk(self, expected: set[str]) -> Outcome | None:
        started = time.monotonic()
        disk = self.work / "disk"
        disk.mkdir()
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)],
                               capture_output=True, text=True)
        if mount.returncode != 0:
            print(f"full-disk skipped: cannot mount a tmpfs ({mount.stderr.strip()})", file=sys.stderr)
            return None
        try:
            db_url = f"sqlite:///{disk / 'full.db'}"
            with serve_corpus(self.corpus_dir) as server:
                sources = self.sources(self.corpus_dir, "disk")
                stat = os.statvfs(disk)
                room = self.clean_bytes // 3
                (disk / "ballast").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - room))
                code = self.crawl(server, db_url, sources)
                (disk / "ballast").unlink()
                again = self.crawl(server, db_url, sources)
            return self.outcome("full-disk", expected, db_url, code, again, started)
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)

    def kill_9(self, expected: set[str]) -> Outcome:
        started = time.monotonic()
        db_url = f"sqlite:///{self.work / 'kill.db'}"
        with serve_corpus(self.corpus_dir) as server:
            sources = self.sources(self.corpus_dir, "kill")
            proc = self.start_crawl(server, db_url, sources, "-s", "NEWSDEDUP_EXTRACT_WORKERS=1")
            stop = threading.Event()
            killed = threading.Event()
            family: set[int] = set()

            def kill() -> None:
                family.update(descendants(proc.pid))
                proc.send_signal(signal.SIGKILL)
                killed.set()

            self._when_served(server, 1 / 3, len(expected), kill, stop).join(timeout=600)
            proc.wait()
            time.sleep(5)
            orphans = [p for p in family if alive(p)]
            again = self.crawl(server, db_url, sources)
            for pid in orphans:  # ours: started by this bench
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        return self.outcome("kill-9", expected, db_url, -9 if killed.is_set() else proc.returncode,
                            again, started, orphans=len(orphans))

    def busy(self, expected: set[str]) -> Outcome:
        started = time.monotonic()
        path = self.work / "busy.db"
        db_url = f"sqlite:///{path}"
        with serve_corpus(self.corpus_dir) as server:
            sources = self.sources(self.corpus_dir, "busy")
            subprocess.run([sys.executable, "-m", "crawler", "db", "upgrade", "--db", db_url],
                           cwd=self.code, env=self._env(server.proxy_url), capture_output=True, check=True)
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # as a first run writing for longer than 30 s
            held = time.monotonic()
            code = self.crawl(server, db_url, sources)
            time.sleep(max(0.0, 35.0 - (time.monotonic() - held)))
            holder.execute("ROLLBACK")
            holder.close()
            again = self.crawl(server, db_url, sources)
        return self.outcome("busy", expected, db_url, code, again, started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="checkout whose `newsdedup` runs (default: this one)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scenarios")
    args = parser.parse_args()
    if not (SYNDICATION / "manifest.json").exists():
        sys.exit(f"{SYNDICATION} is absent")
    wanted = set(args.only or ["hostile", "bad-rows", "pg-outage", "full-disk", "kill-9", "busy"])
    with tempfile.TemporaryDirectory(prefix="newsdedup-faults-") as tmp:
        bench = Bench(args.code.resolve(), Path(tmp))
        expected, baseline = bench.clean()
        results = [baseline]
        pg_reason = pgcluster.can_run()
        for name in ("hostile", "bad-rows", "pg-outage", "full-disk", "kill-9", "busy"):
            if name not in wanted:
                continue
            if name in ("bad-rows", "pg-outage") and pg_reason:
                print(f"{name} skipped: {pg_reason}", file=sys.stderr)
                continue
            if name in ("bad-rows", "pg-outage"):
                with pgcluster.own_cluster() as cluster:
                    result = getattr(bench, name.replace("-", "_"))(expected, cluster)
            else:
                result = getattr(bench, name.replace("-", "_"))(expected)
            if result is not None:
                results.append(result)
            print(f"  {name}: done in {result.seconds if result else 0} s", file=sys.stderr)
    print(f"code: {args.code}")
    header = (f"{'scenario':<10} {'expected':>8} {'stored':>7} {'lost':>5} {'dups':>5} "
              f"{'exit':>5} {'exit2':>6} {'local':>6} {'orphans':>8} {'secs':>6}")
    print(header)
    for r in results:
        print(f"{r.scenario:<10} {r.expected:>8} {r.stored:>7} {r.lost:>5} {r.duplicates:>5} "
              f"{_code(r.exit_fault):>5} {_code(r.exit_recovery):>6} {r.local_reads:>6} "
              f"{r.orphans:>8} {r.seconds:>6}")
    print("(stored/lost after the recovery run; exit: the run the fault hit; exit2: the recovery "
          "run; local: local files read)")
    print(json.dumps({"bench": "faults", "code": str(args.code),
                      "results": [asdict(r) for r in results]}, sort_keys=True))


def _code(value: int | None) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    main()
