"""Crawl speed with 1, 2 and 3 workers on one Redis frontier (issue #19), politeness on.

syndication-dev (10 sites, 223 article pages) is served on 127.0.0.1 by the corpus proxy of
``newsdedup eval``, every answer ``--latency`` seconds late (a remote site's round trip). Each
worker is ``newsdedup crawl --frontier redis://…`` in its own process, all into one database
(PostgreSQL on 127.0.0.1:5432/test, a schema per arm; ``--sqlite`` for SQLite files).

Politeness: at most ``--per-site`` requests in flight per site and request starts
``--delay`` s apart, for the crawl as a whole (crawler.frontier.SharedSlots); each worker opens
at most ``--per-worker`` connections (CONCURRENT_REQUESTS), so one worker is latency-bound and
more workers should add pages/s until the per-site limits bind (here 10 sites x per-site /
latency). Baseline in the same run: the same crawl in one process without a frontier.

pages/s = article pages / seconds from the first request the server saw to the last article
page it served (process start-up is not in it). Peak per-site concurrency is what the server
observed. Usage: python bench/distributed.py [--latency 0.2] [--workers 1,2,3]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, SYNDICATION
from crawler.evaluation.corpus import Corpus, load_corpus
from crawler.evaluation.runner import sources_toml
from crawler.evaluation.server import proxy_environment, serve_corpus

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def database(args: argparse.Namespace, workdir: Path, tag: str) -> str:
    """A fresh database for one arm: a PostgreSQL schema (dropped at exit) or a SQLite file."""
    if args.sqlite:
        return f"sqlite:///{workdir / tag}.db"
    from sqlalchemy import create_engine, text

    schema = f"bench19_{tag}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    args.schemas.append(schema)
    return f"{PG}?options=-csearch_path%3D{schema}"


def arm(corpus: Corpus, args: argparse.Namespace, workdir: Path, workers: int,
        frontier: str | None) -> dict:
    """One crawl of the corpus by ``workers`` processes; its figures."""
    tag = f"w{workers}" if frontier else "alone"
    sources = workdir / f"{tag}.toml"
    sources.write_text(f"# {uuid.uuid4().hex}\n" + sources_toml(corpus), encoding="utf-8")
    db_url = database(args, workdir, tag)
    pages = {(f"{p.site}.test", p.path) for p in corpus.pages}
    settings = {"CONCURRENT_REQUESTS": args.per_worker, "CONCURRENT_REQUESTS_PER_DOMAIN": args.per_site,
                "DOWNLOAD_DELAY": args.delay, "AUTOTHROTTLE_START_DELAY": args.delay,
                "AUTOTHROTTLE_MAX_DELAY": 1.0, "LOG_LEVEL": "WARNING", **dict(args.set)}
    argv = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--db", db_url]
    stats = [workdir / f"{tag}.{i}.stats.json" for i in range(workers)]
    if frontier:
        argv += ["--frontier", frontier, "--idle-exit", "1"]
    argv += [a for k, v in settings.items() for a in ("-s", f"{k}={v}")]
    with serve_corpus(corpus, latency=args.latency) as server:
        env = proxy_environment(server.proxy_url, os.environ)
        env["PYTHONPATH"] = str(ROOT)
        logs = [workdir / f"{tag}.{i}.log" for i in range(workers)]
        procs = [subprocess.Popen([*argv, "--stats", str(out)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=log.open("w")) for log, out in zip(logs, stats, strict=True)]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        first = done = None
        served_at: dict[tuple[str, str], float] = {}  # article page -> when first seen served
        while any(p.poll() is None for p in procs):
            seen = server.requests
            now = time.time()
            if first is None and seen:
                first = now
            for h, p, s in seen:
                if s == 200 and (h, p) in pages:
                    served_at.setdefault((h, p), now)
            if done is None and len(served_at) == len(pages):
                done = now
            time.sleep(0.01)
        codes = [p.returncode for p in procs]
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        served = server.requests
        peak = max(server.peak_concurrency.values())
    if codes != [0] * workers or done is None or first is None:
        tails = "\n".join(log.read_text()[-1500:] for log in logs)
        raise RuntimeError(f"{tag}: exit statuses {codes}, all pages fetched: {done is not None}\n{tails}")
    fetches = sum(1 for h, p, s in served if (h, p) in pages)
    seconds = done - first
    # all workers up: from the last worker's engine start (its imports done) to the last page
    up = max(datetime.fromisoformat(json.loads(out.read_text())["stats"]["start_time"]).timestamp()
             for out in stats)
    steady = sum(1 for when in served_at.values() if when >= up) / max(done - up, 1e-9)
    return {"workers": workers, "frontier": bool(frontier), "pages": len(pages), "fetches": fetches,
            "seconds": round(seconds, 2), "pages_per_s": round(len(pages) / seconds, 1),
            "steady_pages_per_s": round(steady, 1), "skew": round(max(up - first, 0.0), 2),
            "peak_per_site": peak, "cpu": round(cpu_after.ru_utime + cpu_after.ru_stime
                                                - cpu_before.ru_utime - cpu_before.ru_stime, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=SYNDICATION)
    parser.add_argument("--frontier", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per answer (default 0.2)")
    parser.add_argument("--per-site", type=int, default=2, help="CONCURRENT_REQUESTS_PER_DOMAIN")
    parser.add_argument("--delay", type=float, default=0.05, help="DOWNLOAD_DELAY per site")
    parser.add_argument("--per-worker", type=int, default=2, help="CONCURRENT_REQUESTS")
    parser.add_argument("--sqlite", action="store_true", help="SQLite files instead of PostgreSQL")
    parser.add_argument("-s", "--set", type=lambda pair: tuple(pair.split("=", 1)), action="append",
                        default=[], metavar="KEY=VALUE", help="extra setting for every worker")
    args = parser.parse_args()
    args.schemas = []
    corpus = load_corpus(args.corpus)
    counts = [int(n) for n in args.workers.split(",")]
    print(f"syndication-dev: {len(corpus.pages)} article pages on {len(corpus.sites)} sites; latency "
          f"{args.latency} s; per site {args.per_site} in flight, {args.delay} s apart; per worker "
          f"{args.per_worker} connections; load {os.getloadavg()[0]:.2f}")
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
            results.append(arm(corpus, args, Path(tmp), 1, None))
            for n in counts:
                results.append(arm(corpus, args, Path(tmp), n, args.frontier))
    finally:
        if args.schemas:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG)
            with admin.begin() as conn:
                for schema in args.schemas:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    base = next(r for r in results if r["frontier"] and r["workers"] == 1)
    print(f"{'arm':<24}{'pages':>6}{'fetches':>8}{'seconds':>8}{'pages/s':>8}{'x1':>6}"
          f"{'all up: pages/s':>16}{'x1':>6}{'skew s':>7}{'peak/site':>10}{'cpu s':>7}")
    for r in results:
        name = f"{r['workers']} worker(s), frontier" if r["frontier"] else "1 process, no frontier"
        print(f"{name:<24}{r['pages']:>6}{r['fetches']:>8}{r['seconds']:>8.2f}{r['pages_per_s']:>8.1f}"
              f"{r['pages_per_s'] / base['pages_per_s']:>6.2f}{r['steady_pages_per_s']:>16.1f}"
              f"{r['steady_pages_per_s'] / base['steady_pages_per_s']:>6.2f}{r['skew']:>7.2f}"
              f"{r['peak_per_site']:>10}{r['cpu']:>7.1f}")
    top = max((r for r in results if r["frontier"]), key=lambda r: r["workers"])

    def named(key: str) -> dict[str, float]:
        return {("alone" if not r["frontier"] else f"w{r['workers']}"): r[key] for r in results}

    print(json.dumps({"latency": args.latency, "per_site": args.per_site, "per_worker": args.per_worker,
                      "pages_per_s": named("pages_per_s"),
                      "steady_pages_per_s": named("steady_pages_per_s"),
                      "scaling": round(top["pages_per_s"] / base["pages_per_s"], 2),
                      "steady_scaling": round(top["steady_pages_per_s"] / base["steady_pages_per_s"], 2),
                      "peak_per_site": max(r["peak_per_site"] for r in results),
                      "fetches_per_page": round(top["fetches"] / top["pages"], 3)}))


if __name__ == "__main__":
    main()
