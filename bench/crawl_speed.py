"""Crawl speed with every pipeline on vs the same spider with no pipelines (issue #8).

syndication-dev is served on 127.0.0.1 by the proxy server ``newsdedup eval`` uses
(crawler/evaluation/server.py) and crawled by the real ``news`` spider through
``newsdedup crawl`` in a child process, exactly as crawler/evaluation/runner.py does it:

Arms, interleaved (their order rotates every repetition):

* ``pipelines``           — the product's ITEM_PIPELINES (extract + store into a fresh SQLite
  DB), extraction in NEWSDEDUP_EXTRACT_WORKERS worker processes (the shipped default);
* ``no_pipelines``        — same spider, same settings, ITEM_PIPELINES empty (RawPages are
  dropped on the floor): the baseline;
* ``pipelines_in_thread`` — every pipeline, NEWSDEDUP_EXTRACT_WORKERS=0: extraction in a thread
  of the crawling process, as before issue #8 (``--no-thread-arm`` skips it).

pages/s = article pages the spider handed to the item pipelines (items scraped + dropped) /
the crawl's own ``elapsed_time_seconds`` (engine start to spider closed, so it includes the
pipelines draining; interpreter start-up and the CLI's bookkeeping are not in it).
"fetching" pages/s uses the time of the last response instead, and a 10 ms timer on the reactor
gives its lag (p99): both come from a probe extension loaded into the crawl (ReactorProbe).

Profiles: ``fast`` — politeness delays off (DOWNLOAD_DELAY 0, AutoThrottle off, 64 requests,
16 per host): the hard case where the spider is not delay-bound and any CPU the pipelines take
from the crawl shows directly. ``eval`` — the settings ``newsdedup eval`` uses (AutoThrottle
from 10 ms, 8 per host). ``default`` — the shipped settings (AutoThrottle, 0.25 s delay).

Usage: python bench/crawl_speed.py [--repeat 3] [--profiles fast,eval,default] [-s KEY=VALUE]
The last line printed is one JSON object of key figures (the ``fast`` profile's at the top
level, every profile's medians under "profiles").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrapy import signals
from sqlalchemy import func, select

from bench._common import ROOT, SYNDICATION
from crawler.crawl import project_settings
from crawler.evaluation.corpus import load_corpus
from crawler.evaluation.runner import EVAL_SETTINGS, sources_toml
from crawler.evaluation.server import serve_corpus
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article

NO_PIPELINES = json.dumps({
    "pipelines.extract.ExtractPipeline": None,
    "pipelines.store.StorePipeline": None,
})

PROFILES: dict[str, dict[str, str]] = {
    "fast": {
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "CONCURRENT_REQUESTS": "64",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
        "LOG_LEVEL": "WARNING",
    },
    "eval": dict(EVAL_SETTINGS),
    "default": {"LOG_LEVEL": "WARNING"},
}


class ReactorProbe:
    """Scrapy extension loaded into the crawl child (``-s EXTENSIONS``): when the last response
    arrived, and how late a 10 ms timer fires on the reactor (its lag is time the reactor spent
    on something else: extraction or storage on the reactor shows up here)."""

    TICK = 0.01

    def __init__(self, crawler: Any) -> None:
        self.out = crawler.settings.get("BENCH_PROBE_OUT")
        self.lags: list[float] = []
        self.started = self.last_response = 0.0
        self.call: Any = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response, signal=signals.response_received)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ReactorProbe:
        return cls(crawler)

    def opened(self, spider: object) -> None:
        self.started = time.monotonic()
        self._schedule()

    def _schedule(self) -> None:
        from twisted.internet import reactor

        due = time.monotonic() + self.TICK
        self.call = reactor.callLater(self.TICK, self._tick, due)

    def _tick(self, due: float) -> None:
        self.lags.append(max(0.0, time.monotonic() - due))
        self._schedule()

    def response(self, **_: object) -> None:
        self.last_response = time.monotonic()

    def closed(self, spider: object, reason: str) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()
        lags = sorted(self.lags) or [0.0]
        doc = {
            "fetch_seconds": self.last_response - self.started,
            "lag_p50": lags[len(lags) // 2],
            "lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            "lag_max": lags[-1],
            "lag_total": sum(lags),
        }
        if self.out:
            Path(self.out).write_text(json.dumps(doc))


def crawl_once(proxy_url: str, sources_file: Path, workdir: Path, tag: str,
               settings: dict[str, str]) -> dict:
    """One ``newsdedup crawl`` child through the corpus proxy; its figures."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy")}
    env |= {"http_proxy": proxy_url, "HTTP_PROXY": proxy_url}
    db_path = workdir / f"{tag}.db"
    stats_file = workdir / f"{tag}.stats.json"
    cmd = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources_file),
           "--db", f"sqlite:///{db_path}", "--stats", str(stats_file)]
    probe_file = workdir / f"{tag}.probe.json"
    extensions = dict(project_settings().getdict("EXTENSIONS")) | {
        "bench.crawl_speed.ReactorProbe": 990}
    settings = settings | {"EXTENSIONS": json.dumps(extensions), "BENCH_PROBE_OUT": str(probe_file)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    started = time.monotonic()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(workdir / f"{tag}.log", "wb") as log:
        code = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                              timeout=1800, check=False).returncode
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the crawling process itself (start-up included; worker processes, forked by the
    # multiprocessing fork server, are not its waited-for children and are not in it).
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if code != 0:
        tail = (workdir / f"{tag}.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"crawl {tag} failed with exit status {code}:\n{tail}")
    stats = json.loads(stats_file.read_text())["stats"]
    pages = int(stats.get("item_scraped_count", 0)) + int(stats.get("item_dropped_count", 0))
    elapsed = float(stats["elapsed_time_seconds"])
    engine = make_engine(f"sqlite:///{db_path}")
    try:
        with make_sessionmaker(engine)() as session:
            stored = session.scalar(select(func.count()).select_from(Article))
    finally:
        engine.dispose()
    probe = json.loads(probe_file.read_text())
    return {"pages": pages, "seconds": elapsed, "pages_per_s": pages / elapsed,
            "fetch_pages_per_s": pages / probe["fetch_seconds"], "lag_p99": probe["lag_p99"],
            "lag_max": probe["lag_max"], "lag_share": probe["lag_total"] / elapsed,
            "wall": wall, "cpu": cpu, "stored": stored}


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=SYNDICATION)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profiles", default="fast,eval,default",
                        help="comma-separated: " + ", ".join(PROFILES))
    parser.add_argument("--no-thread-arm", action="store_true",
                        help="skip the third arm: pipelines with NEWSDEDUP_EXTRACT_WORKERS=0 "
                        "(extraction in a thread, as before issue #8)")
    parser.add_argument("-s", "--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="extra setting for every crawl (every arm)")
    args = parser.parse_args()
    extra = dict(pair.split("=", 1) for pair in args.overrides)
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    arms = {"pipelines": {}, "no_pipelines": {"ITEM_PIPELINES": NO_PIPELINES}}
    if not args.no_thread_arm:
        arms["pipelines_in_thread"] = {"NEWSDEDUP_EXTRACT_WORKERS": "0"}
    workers = int(extra.get("NEWSDEDUP_EXTRACT_WORKERS",
                            project_settings().getint("NEWSDEDUP_EXTRACT_WORKERS")))
    corpus = load_corpus(args.corpus)
    print(f"corpus {args.corpus} ({len(corpus.pages)} pages, {len(corpus.sites)} outlets); "
          f"{os.cpu_count()} cores; NEWSDEDUP_EXTRACT_WORKERS={workers} in 'pipelines'; "
          f"load average at start {loadavg()}")
    if extra:
        print(f"extra settings (every arm): {extra}")
    results: dict[str, dict[str, list[dict]]] = {p: {a: [] for a in arms} for p in profiles}
    with tempfile.TemporaryDirectory(prefix="newsdedup-crawlspeed-") as tmp:
        workdir = Path(tmp)
        sources_file = workdir / "sources.toml"
        sources_file.write_text(sources_toml(corpus), encoding="utf-8")
        with serve_corpus(corpus) as server:
            for rep in range(args.repeat):
                for profile in profiles:
                    order = list(arms)
                    order = order[rep % len(order):] + order[:rep % len(order)]  # rotate
                    for arm in order:
                        settings = PROFILES[profile] | extra | arms[arm]
                        run = crawl_once(server.proxy_url, sources_file, workdir,
                                         f"{profile}-{arm}-{rep}", settings)
                        results[profile][arm].append(run)
                        print(f"  run {rep + 1} {profile:<8} {arm:<20} {run['pages']:>4} pages "
                              f"in {run['seconds']:6.2f} s = {run['pages_per_s']:6.1f} pages/s; "
                              f"fetching {run['fetch_pages_per_s']:6.1f} pages/s; reactor lag "
                              f"p99 {run['lag_p99'] * 1000:4.0f} ms; crawl process CPU "
                              f"{run['cpu']:4.1f} s (stored {run['stored']}, load {loadavg()})",
                              flush=True)
    summary: dict[str, dict] = {}
    print()
    print(f"medians of {args.repeat} interleaved runs; ratio = median pages/s with pipelines / "
          "median pages/s without (target >= 0.8)")
    print(f"{'profile':<8} {'arm':<20} {'pages/s':>8} {'ratio':>6} {'fetching p/s':>13} "
          f"{'lag p99 ms':>11} {'crawl CPU s':>12}")
    for profile in profiles:
        base = _median(results[profile]["no_pipelines"], "pages_per_s")
        row: dict = {"pages": results[profile]["pipelines"][0]["pages"],
                     "stored": sorted({r["stored"] for r in results[profile]["pipelines"]})}
        for arm in arms:
            runs = results[profile][arm]
            rate = _median(runs, "pages_per_s")
            row[f"pages_per_s_{arm}"] = round(rate, 1)
            row[f"fetch_pages_per_s_{arm}"] = round(_median(runs, "fetch_pages_per_s"), 1)
            row[f"lag_p99_ms_{arm}"] = round(_median(runs, "lag_p99") * 1000)
            row[f"crawl_cpu_s_{arm}"] = round(_median(runs, "cpu"), 2)
            if arm != "no_pipelines":
                row[f"ratio_{arm}".replace("ratio_pipelines", "ratio")] = round(rate / base, 3)
            ratio = f"{rate / base:6.3f}" if arm != "no_pipelines" else f"{'—':>6}"
            print(f"{profile:<8} {arm:<20} {rate:8.1f} {ratio} "
                  f"{row[f'fetch_pages_per_s_{arm}']:13.1f} {row[f'lag_p99_ms_{arm}']:11d} "
                  f"{row[f'crawl_cpu_s_{arm}']:12.2f}")
        summary[profile] = row
    print("'fast': politeness delays off (DOWNLOAD_DELAY 0, AutoThrottle off, 64/16 concurrent): "
          "the spider is not delay-bound, the hard case. 'eval': newsdedup eval's settings "
          "(AutoThrottle from 10 ms). 'default': the shipped politeness (delay-bound). "
          f"Load average at end {loadavg()} on {os.cpu_count()} cores.")
    head_name = "fast" if "fast" in summary else profiles[0]
    head = summary[head_name]
    out = {
        "pages": head["pages"],
        "pages_per_s_pipelines": head["pages_per_s_pipelines"],
        "pages_per_s_no_pipelines": head["pages_per_s_no_pipelines"],
        "ratio": head["ratio"],
        "profile": head_name,
        "extract_workers": workers,
        "repeat": args.repeat,
        "profiles": summary,
        "loadavg": loadavg(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
