"""``scrapy crawl``, refusing a bad sources file or ad-hoc URL list with one line (exit status 2)
before the crawl starts: Scrapy would log tracebacks from inside the spider and exit 0."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl

from crawler.sources import SourcesError, adhoc_sources, load_sources
from crawler.spiders.news import NewsSpider


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args == [NewsSpider.name]:
            spider = NewsSpider(**opts.spargs)  # parses -a feeds=..., sitemaps=..., urls=...
            try:
                if any(spider.adhoc):
                    adhoc_sources(*spider.adhoc)
                else:
                    assert self.settings is not None
                    load_sources(spider.sources_file or self.settings.get("NEWSDEDUP_SOURCES"))
            except SourcesError as exc:
                print(f"newsdedup: error: {exc}", file=sys.stderr)
                self.exitcode = 2
                return
        super().run(args, opts)
