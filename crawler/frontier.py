"""One crawl from many processes and hosts: a shared Redis frontier (scrapy-redis) plus what a
crawl of news sites needs on top of it.

Every worker started with the same ``--frontier redis://HOST:PORT/DB`` and the same sources is part
of one crawl, whose Redis keys start with :func:`crawl_prefix`. scrapy-redis brings the shared
priority queue (hosts taken in turn: :class:`HostRoundRobinQueue`) and the shared duplicate
filter; this module adds:

* **Seeding**: every worker runs the spider's own ``start()``; each request the spider makes is
  claimed once in the crawl's duplicate filter (also ``dont_filter`` ones: the spider keeps those
  out of Scrapy's in-process filter for redirect loops), so seeding twice is harmless. Redirects
  and retries of a claimed request are queued again without a new claim.
* **A ledger per worker**: a request taken from the queue stays in its worker's ledger (a Redis
  hash) until its outcome is durable: a feed's or sitemap's links queued, an article committed
  to the database (by the store pipeline), a failure counted. A worker whose heartbeat stopped
  (killed with -9, host gone) has its ledger put back in the queue by a live worker, or by the
  next run; an article the database already holds is then not fetched again.
* **Idle exit**: a worker ends when the queue is empty and every ledger is empty (no worker busy)
  for ``NEWSDEDUP_IDLE_EXIT`` seconds.
* **Politeness for the crawl as a whole** (:class:`SharedSlotsHandler`): per host, at most
  ``CONCURRENT_REQUESTS_PER_DOMAIN`` requests in flight across all workers and request starts
  ``DOWNLOAD_DELAY`` apart (a robots.txt Crawl-delay: one at a time, that far apart), leases
  kept in Redis with server time, so N workers never put N times the load on a site.
* **Redis going away**: the worker stops with one clear line (finish reason ``frontier_lost``);
  what it stored is committed, the documents it read are saved unvalidated (read in full next time).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any, Self

import redis
from scrapy import Request, Spider, signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler import settings as project
from crawler.items import RawPage
from crawler.runs import FRONTIER_LOST

logger = logging.getLogger(__name__)

#: Environment variable holding the frontier URL (``--frontier``).
FRONTIER_ENV = "NEWSDEDUP_FRONTIER"
#: A worker renews its heartbeat this often; one not renewed for HEARTBEAT_TTL is dead.
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL = 10.0
#: How often an idle worker looks at the shared queue (Scrapy's engine looks every 5 s).
POLL_SECONDS = 0.25
#: Meta keys: the request's key in the ledgers (set when first claimed); taken back from a dead worker.
KEY_META = "frontier_key"
RECLAIMED_META = "frontier_reclaimed"
#: Redis client options: a Redis that stops answering is noticed within seconds, not 30.
REDIS_PARAMS = {"socket_timeout": 5, "socket_connect_timeout": 5, "retry_on_timeout": False}


def crawl_prefix(identity: str) -> str:
    """The Redis key prefix of the crawl of ``identity`` (the sources' text or ad-hoc URLs): every
    worker started with the same sources joins the same crawl."""
    return "newsdedup:" + hashlib.sha1(identity.encode("utf-8")).hexdigest()[:16]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def frontier_settings(url: str, prefix: str, idle_exit: float) -> dict[str, Any]:
    """The Scrapy settings of a worker of the crawl ``prefix`` on the Redis at ``url``."""
    keys = Keys(prefix)
    return {
        "SCHEDULER": "crawler.frontier.FrontierScheduler",
        "SCHEDULER_PERSIST": True,  # the crawl outlives each worker; the last one clears it
        "SCHEDULER_QUEUE_CLASS": "crawler.frontier.HostRoundRobinQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": url,
        "REDIS_PARAMS": REDIS_PARAMS,
        "NEWSDEDUP_FRONTIER": url,
        "NEWSDEDUP_FRONTIER_PREFIX": prefix,
        "NEWSDEDUP_IDLE_EXIT": idle_exit,
        "DOWNLOAD_HANDLERS": {**project.DOWNLOAD_HANDLERS, "http": "crawler.frontier.SharedSlotsHandler",
                              "https": "crawler.frontier.SharedSlotsHandler"},
    }


def connect(url: str) -> redis.Redis:
    """A client of the frontier, checked to answer (raises ``redis.RedisError``, ``ValueError``)."""
    client = redis.Redis.from_url(url, **REDIS_PARAMS)
    client.ping()
    return client


class Keys:
    """The Redis keys of one crawl."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.requests = f"{prefix}:requests"
        self.hosts = f"{self.requests}:hosts"  #: hash host -> requests queued (HostRoundRobinQueue)
        self.dupefilter = f"{prefix}:dupefilter"
        self.workers = f"{prefix}:workers"  #: zset worker -> heartbeat expiry (Redis time)
        self.incomplete = f"{prefix}:incomplete"  #: documents some of whose links failed
        self.run = f"{prefix}:run"  #: the crawl's run id in the database

    def ledger(self, worker: str) -> str:
        return f"{self.prefix}:ledger:{worker}"

    def slot(self, host: str) -> str:
        return f"{self.prefix}:slot:{host}"


#: Crawl-wide idle: no queued request, no ledger with entries (dead workers' ones included).
_IDLE = """
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
for _, w in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('HLEN', ARGV[1] .. ':ledger:' .. w) > 0 then return 0 end
end
return 1
"""
#: A worker leaves: removed unless its ledger still holds requests (then dead at once, for the
#: others to take them back). Returns 1 when no live worker, queued request or ledger is left:
#: the caller was the last one and the crawl's keys are cleared.
_LEAVE = """
local now = tonumber(redis.call('TIME')[1])
if redis.call('HLEN', ARGV[1] .. ':ledger:' .. ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], 0, ARGV[2]); return 0
end
redis.call('ZREM', KEYS[1], ARGV[2])
if redis.call('ZCOUNT', KEYS[1], now, '+inf') > 0 or redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
for _, w in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('HLEN', ARGV[1] .. ':ledger:' .. w) > 0 then return 0 end
end
for _, k in ipairs(KEYS) do redis.call('DEL', k) end
return 1
"""
#: Per host: at most ARGV[1] leases, starts ARGV[2] seconds apart; a lease lasts ARGV[3] s at
#: most (its worker may die). 0: granted; else seconds to wait before asking again.
_ACQUIRE = """
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return '0.02' end
local next_start = tonumber(redis.call('HGET', KEYS[2], 'next') or '0')
if next_start > now then return tostring(next_start - now) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('HSET', KEYS[2], 'next', now + tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[3])); redis.call('EXPIRE', KEYS[2], math.ceil(ARGV[3]))
return '0'
"""


def leave(client: redis.Redis, prefix: str, worker: str) -> bool:
    """Remove ``worker`` from the crawl; True when it was the last one (the crawl is over and its
    keys are gone: the next run starts a new crawl)."""
    keys = Keys(prefix)
    return bool(client.eval(_LEAVE, 6, keys.workers, keys.requests, keys.dupefilter, keys.incomplete,
                            keys.run, keys.hosts, prefix, worker))


def shared_run(client: redis.Redis, prefix: str, start: Callable[[], int],
               discard: Callable[[int], None], running: Callable[[int], bool]) -> int:
    """The id of the crawl's run record: the first worker's (``start()``); a worker that lost the
    race to record it discards its own. A record that has ended (``running`` false: its workers
    lost this Redis, which came back with the crawl's keys) is not joined: the crawl goes on
    from what Redis kept, under a run record of its own."""
    key = Keys(prefix).run
    existing = client.get(key)
    if existing is not None and running(int(existing)):
        return int(existing)
    run_id = start()
    if existing is None and client.set(key, run_id, nx=True):
        return run_id
    if existing is not None and client.eval(_REPLACE, 1, key, existing, run_id):
        return run_id
    discard(run_id)
    return int(client.get(key) or run_id)


#: Replace KEYS[1]'s value ARGV[1] with ARGV[2], only if it still holds ARGV[1] (one worker wins).
_REPLACE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class HostRoundRobinQueue(PriorityQueue):
    """scrapy-redis's priority queue, hosts taken in turn within a priority.

    Its sorted set orders equal priorities by the pickled request, i.e. by URL: the workers would
    take a whole site's requests at once and wait on that site's politeness while other sites
    idle. The n-th request queued for a host gets n millionths (at most half a unit) on top of
    its priority's score, so every site's first requests come before any site's later ones (what
    Scrapy's DownloaderAwarePriorityQueue does in one process)."""

    def push(self, request: Request, claim: tuple[str, str] | None = None) -> bool:
        """Queue ``request``; with ``claim`` (duplicate filter key, fingerprint) only if that
        claim is new, in one step: a worker killed between claiming and queueing would leave a
        request claimed that no worker ever fetches. False: claimed before."""
        host = urlparse_cached(request).hostname or ""
        filter_key, fingerprint = claim or ("", "")
        return bool(self.server.eval(_PUSH, 3, self.key, self.key + ":hosts", filter_key or self.key,
                                     host, request.priority, self._encode_request(request),
                                     fingerprint))

    def pop_into(self, ledger: str) -> bytes | None:
        """The first request, moved into ``ledger`` under TAKING in the same step (a worker
        killed between the two would lose it); the caller files it under its key."""
        return self.server.eval(_POP, 2, self.key, ledger, TAKING)


#: Claim (when ARGV[4] is a fingerprint) and queue; the host's turn lifts the score (see above).
_PUSH = """
if ARGV[4] ~= '' and redis.call('SADD', KEYS[3], ARGV[4]) == 0 then return 0 end
local turn = math.min(redis.call('HINCRBY', KEYS[2], ARGV[1], 1), 500000)
redis.call('ZADD', KEYS[1], -tonumber(ARGV[2]) + turn / 1000000, ARGV[3])
return 1
"""
#: Pop the first request into the worker's ledger under ARGV[1].
_POP = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0)
if #top == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], ARGV[1], top[1])
return top[1]
"""
#: Ledger field of the request being taken, until it is filed under its own key.
TAKING = "~taking"


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler with claims, ledgers, heartbeats and idle exit (module docstring)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        try:
            instance = super().from_crawler(crawler)
        except redis.RedisError as exc:
            raise NotConfigured(f"the frontier does not answer: {exc}") from exc
        instance.setup(crawler)
        return instance

    def setup(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.keys = Keys(settings.get("NEWSDEDUP_FRONTIER_PREFIX"))
        self.worker = worker_name()
        self.ledger = self.keys.ledger(self.worker)
        self.idle_exit = settings.getfloat("NEWSDEDUP_IDLE_EXIT", 5.0)
        self.idle_since: float | None = None
        self.item_keys: dict[str, str] = {}  #: article URL (RawPage.url) -> its ledger key
        self.lost: str | None = None
        self.tick = task.LoopingCall(self._tick)
        # the engine asks the scheduler for requests after each response and otherwise every 5 s:
        # a worker that ran dry would notice requests queued by the others only that late
        crawler.engine._SLOT_HEARTBEAT_INTERVAL = POLL_SECONDS  # type: ignore[union-attr]
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    def open(self, spider: Spider) -> None:
        """scrapy-redis's ``open`` without its deprecated ``spider.log`` call."""
        self.spider = spider
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider, key=self.queue_key,
                                                 serializer=self.serializer)
        self.df = self.df or load_object(self.dupefilter_cls).from_spider(spider)
        spider.frontier = self  # type: ignore[attr-defined]
        self._tick()
        self.tick.start(HEARTBEAT_SECONDS, now=False)

    def close(self, reason: str) -> None:
        if self.tick.running:
            self.tick.stop()
        super().close(reason)

    # -- Redis going away -----------------------------------------------------------------
    def _lost(self, exc: Exception) -> None:
        """Stop this worker once, with one line: nothing queued is lost (it stays in Redis, or
        the documents that listed it are read in full next run)."""
        if self.lost is not None:
            return
        self.lost = str(exc) or type(exc).__name__
        logger.info("the frontier went away (%s): stopping this worker", self.lost)
        self.crawler.stats.set_value("newsdedup/frontier_lost", self.lost)
        if self.tick.running:
            self.tick.stop()
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=FRONTIER_LOST))

    # -- queue ----------------------------------------------------------------------------
    def enqueue_request(self, request: Request) -> bool:
        if self.lost is not None:
            return False
        try:
            key = request.meta.get(KEY_META)
            if key is None:  # made by the spider: claimed once per crawl
                fingerprint = request.meta[KEY_META] = self.df.request_fingerprint(request)
                if not self.queue.push(request, claim=(self.df.key, fingerprint)):
                    del request.meta[KEY_META]
                    return False
            else:  # a redirect or retry: queued again, no longer ours
                self.queue.push(request)
                self.server.hdel(self.ledger, key)
        except redis.RedisError as exc:
            self._lost(exc)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        if self.lost is not None:
            return None
        try:
            while True:
                raw = self.queue.pop_into(self.ledger)
                if raw is None:
                    return None
                request = self.queue._decode_request(raw)
                key = request.meta[KEY_META]
                self.server.pipeline().hset(self.ledger, key, raw).hdel(self.ledger, TAKING).execute()
                if request.meta.pop(RECLAIMED_META, False) and self._stored(request):
                    self.server.hdel(self.ledger, key)
                    self.crawler.stats.inc_value("newsdedup/frontier_reclaimed_stored")
                    continue
                self.idle_since = None
                if self.stats:
                    self.stats.inc_value("scheduler/dequeued/redis")
                return request
        except redis.RedisError as exc:
            self._lost(exc)
            return None

    def _stored(self, request: Request) -> bool:
        """A request taken back from a dead worker for an article the database already holds."""
        stored = getattr(self.spider, "already_stored", None)
        return (getattr(request.callback, "__name__", None) == "parse_article"
                and stored is not None and stored(request.url))

    def has_pending_requests(self) -> bool:
        if self.lost is not None:
            return False
        try:
            return super().has_pending_requests()
        except redis.RedisError as exc:
            self._lost(exc)
            return False

    # -- ledger ---------------------------------------------------------------------------
    def release(self, request: Request) -> None:
        """The outcome of ``request`` is durable: out of this worker's ledger."""
        self._release([request.meta.get(KEY_META)])

    def hold_item(self, request: Request, url: str) -> None:
        """The article page ``url`` fetched for ``request`` is on its way to the store."""
        if KEY_META in request.meta:
            self.item_keys[url] = request.meta[KEY_META]

    def items_done(self, urls: Iterable[str]) -> None:
        """The articles (or dropped pages) of ``urls`` are committed or set aside."""
        self._release([self.item_keys.pop(url, None) for url in urls])

    def item_error(self, item: Any, response: Response, spider: Spider, failure: Any) -> None:
        url = getattr(item, "url", None)
        if url is not None:
            self.items_done([url])

    def _release(self, keys: list[str | None]) -> None:
        keys = [k for k in keys if k]
        if not keys or self.lost is not None:
            return
        try:
            self.server.hdel(self.ledger, *keys)
        except redis.RedisError as exc:
            self._lost(exc)

    def document_incomplete(self, url: str) -> None:
        """A link of the document ``url`` failed: whoever saves its fetch state keeps no
        validators (read in full next run)."""
        if self.lost is None:
            try:
                self.server.sadd(self.keys.incomplete, url)
            except redis.RedisError as exc:
                self._lost(exc)

    def incomplete_documents(self) -> set[str]:
        if self.lost is not None:
            return set()
        try:
            return {m.decode() if isinstance(m, bytes) else m
                    for m in self.server.smembers(self.keys.incomplete)}
        except redis.RedisError as exc:
            self._lost(exc)
            return set()

    # -- liveness, taking back, idle exit ---------------------------------------------------
    def _tick(self) -> None:
        """Heartbeat; put the ledgers of dead workers back in the queue."""
        try:
            now = float(self.server.time()[0])
            self.server.zadd(self.keys.workers, {self.worker: now + HEARTBEAT_TTL})
            for dead in self.server.zrangebyscore(self.keys.workers, "-inf", now):
                self._take_back(dead.decode() if isinstance(dead, bytes) else dead)
        except redis.RedisError as exc:
            self._lost(exc)

    def _take_back(self, dead: str) -> None:
        """Queue the requests a dead worker held again (RENAME makes exactly one worker do it)."""
        mine = f"{self.ledger}:from:{dead}"
        try:
            self.server.rename(self.keys.ledger(dead), mine)
        except redis.ResponseError:  # empty, or another worker was faster
            self.server.zrem(self.keys.workers, dead)
            return
        entries = self.server.hvals(mine)
        for raw in entries:
            request = self.queue._decode_request(raw)
            request.meta[RECLAIMED_META] = True
            self.queue.push(request)
        self.server.delete(mine)
        self.server.zrem(self.keys.workers, dead)
        self.crawler.stats.inc_value("newsdedup/frontier_reclaimed", len(entries))
        logger.warning("worker %s stopped answering: %d request(s) it held queued again", dead,
                       len(entries))

    def spider_idle(self, spider: Spider) -> None:
        """Keep the worker while the crawl is busy; let it close once the crawl has been idle
        (nothing queued, no worker holding a request) for NEWSDEDUP_IDLE_EXIT seconds."""
        if self.lost is not None:
            return
        try:
            idle = bool(self.server.eval(_IDLE, 2, self.keys.requests, self.keys.workers,
                                         self.keys.prefix))
        except redis.RedisError as exc:
            self._lost(exc)
            return
        now = time.monotonic()
        if not idle:
            self.idle_since = None
            raise DontCloseSpider
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_exit:
            raise DontCloseSpider


class FrontierSpiderMiddleware:
    """Releases a request from the ledger once its callback's output is queued; an article
    page's request stays until the store pipeline committed it (``items_done``)."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.get("NEWSDEDUP_FRONTIER"):
            raise NotConfigured
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_spider_output(self, response: Response, result: Any,
                                    spider: Spider | None = None) -> Any:
        frontier = getattr(self.crawler.spider, "frontier", None)
        held = False
        try:
            async for out in result:
                if frontier is not None and isinstance(out, RawPage):
                    frontier.hold_item(response.request, out.url)
                    held = True
                yield out
        finally:  # a callback that raised has its outcome too: a spider error, counted
            if frontier is not None and not held and response.request is not None:
                frontier.release(response.request)


class SharedSlotsHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP(S) download handler, with per-host politeness for the crawl as a whole
    (module docstring): a request takes a lease of its host in Redis just before it goes on the
    wire (after its worker's own slot delay) and gives it back with its response."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.crawler = crawler
        self.server = redis.Redis.from_url(settings.get("NEWSDEDUP_FRONTIER"), **REDIS_PARAMS)
        self.keys = Keys(settings.get("NEWSDEDUP_FRONTIER_PREFIX"))
        self.concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8)
        self.delay = settings.getfloat("DOWNLOAD_DELAY", 0.0)
        self.lease = settings.getfloat("DOWNLOAD_TIMEOUT", 180) + 30
        self.acquire = self.server.register_script(_ACQUIRE)
        self.tokens = 0

    async def _take(self, request: Request) -> tuple[str, str] | None:
        """Wait for a lease of the request's host: (slot key, token), or None once Redis is gone
        (the worker is stopping; its own slot's politeness still applies)."""
        crawl_delay = request.meta.get("crawl_delay")
        limit, delay = (1, max(self.delay, crawl_delay)) if crawl_delay else (self.concurrency, self.delay)
        self.tokens += 1
        token = f"{worker_name()}:{self.tokens}"
        slot = self.keys.slot((urlparse_cached(request).hostname or "").lower())
        try:
            while (wait := float(self.acquire(keys=[slot, f"{slot}:next"],
                                              args=[limit, delay, self.lease, token]))) > 0:
                await asyncio.sleep(min(wait, 1.0))
        except redis.RedisError as exc:
            frontier = getattr(self.crawler.spider, "frontier", None)
            if frontier is not None:
                frontier._lost(exc)
            return None
        return slot, token

    async def download_request(self, request: Request) -> Response:
        lease = await self._take(request)
        try:
            return await super().download_request(request)
        finally:
            if lease is not None:
                with contextlib.suppress(redis.RedisError):  # the lease expires; the frontier says why
                    self.server.zrem(*lease)
