"""Decode, repair and extract fetched pages (pure; no Scrapy, no SQLAlchemy)."""

from crawler.content.page import NotAnArticle, PageResult, process_page

__all__ = ["NotAnArticle", "PageResult", "process_page"]
