"""Scrapy settings for newsdedup: politeness, retries, pipelines. Project keys are ``NEWSDEDUP_*``."""

from __future__ import annotations

import os

from crawler.config import default_db_url, default_sources_path

BOT_NAME = "newsdedup"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
#: `scrapy crawl` checks the sources before crawling (crawler/commands/crawl.py).
COMMANDS_MODULE = "crawler.commands"

USER_AGENT = "newsdedup/0.1 (+https://github.com/newsdedup/newsdedup; news syndication research crawler)"
ROBOTSTXT_OBEY = True

# Politeness: AutoThrottle adapts the delay to each server's latency.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.25

# Faults: retries with back-off, timeouts, a size cap for huge responses.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
# Only HTTP(S) is ever fetched: the handlers that read local files, FTP, S3 and data: URLs are off.
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DOWNLOADER_MIDDLEWARES = {
    # robots.txt with Crawl-delay applied; retries honouring Retry-After with back-off.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.PoliteRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # --warc DIR: raw responses, before decompression (off unless NEWSDEDUP_WARC_DIR is set).
    "crawler.warc.WarcMiddleware": 595,
}
#: --frontier: a request leaves its worker's ledger once its callback's output is queued.
SPIDER_MIDDLEWARES = {"crawler.frontier.FrontierSpiderMiddleware": 10,
                      "crawler.middlewares.CallbackErrorMiddleware": 950}
NEWSDEDUP_MAX_CRAWL_DELAY = 60.0
NEWSDEDUP_BACKOFF_BASE = 1.0
NEWSDEDUP_BACKOFF_MAX = 30.0
NEWSDEDUP_RETRY_AFTER_MAX = 120.0

# http_proxy / https_proxy / no_proxy from the environment are honoured by HttpProxyMiddleware.
HTTPPROXY_ENABLED = True

ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 200,
    "pipelines.store.StorePipeline": 900,
}

TELNETCONSOLE_ENABLED = False
# Quiet by default: warnings only (`newsdedup -v` / `--log-level INFO`, `scrapy crawl -L INFO`
# bring Scrapy's own log back: settings, middlewares, stats).
LOG_LEVEL = "WARNING"
#: Loggers of per-request download errors and retries, silenced at the default log level: the
#: crawl summary names every failed request's source and reason instead.
NEWSDEDUP_QUIET_LOGGERS = ["scrapy.core.scraper", "scrapy.downloadermiddlewares.retry",
                           "scrapy.downloadermiddlewares.robotstxt", "crawler.middlewares"]
FEED_EXPORT_ENCODING = "utf-8"

# newsdedup's own keys.
NEWSDEDUP_DB_URL = default_db_url()
NEWSDEDUP_SOURCES = str(default_sources_path())
#: Refetch nothing already stored (incremental crawls).
NEWSDEDUP_SKIP_SEEN = True
#: Follow links found on start pages (listing pages) this many hops deep.
NEWSDEDUP_FOLLOW_DEPTH = 1
#: Google News sitemap entries older than this many days are skipped before fetching (0: keep all).
NEWSDEDUP_NEWS_MAX_AGE_DAYS = 2
#: At most this many URLs are taken from one feed or sitemap (the sitemaps.org limit).
NEWSDEDUP_MAX_URLS_PER_DOCUMENT = 50_000
#: Worker processes that run extraction (decode, repair, trafilatura) off the reactor; 0: in a
#: thread of the crawling process. Default: one per core but one, left to the reactor and the store.
NEWSDEDUP_EXTRACT_WORKERS = max(1, (os.cpu_count() or 2) - 1)
#: Articles kept per store transaction, and the longest an article waits for its batch's commit.
NEWSDEDUP_STORE_BATCH = 50
NEWSDEDUP_STORE_BATCH_SECONDS = 10.0
#: Feeds, sitemaps and start pages are revalidated with If-None-Match / If-Modified-Since (304: not
#: parsed again). Off with --refetch.
NEWSDEDUP_REVALIDATE = True
#: Fetch only feeds, sitemaps and start pages whose adaptive interval has passed (`schedule` sets it).
NEWSDEDUP_ONLY_DUE = False
#: Bounds of that interval in seconds: halved when a document changed, ×1.5 when not, doubled per failure.
NEWSDEDUP_FETCH_MIN_INTERVAL = 600.0
NEWSDEDUP_FETCH_INITIAL_INTERVAL = 1800.0
NEWSDEDUP_FETCH_MAX_INTERVAL = 86400.0
#: Progress display: "live" (rich, on a terminal), "plain" (a line every interval), "" (none).
NEWSDEDUP_PROGRESS = ""
NEWSDEDUP_PROGRESS_INTERVAL = 15.0
#: Write every fetched response to WARC files in this directory ("" : no archive).
NEWSDEDUP_WARC_DIR = ""
#: The shared Redis frontier of a crawl from many workers ("": this process alone; crawler.frontier).
NEWSDEDUP_FRONTIER = ""

EXTENSIONS = {"crawler.progress.ProgressExtension": 500}
