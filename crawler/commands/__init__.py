"""Scrapy commands of the project (``COMMANDS_MODULE``): ``crawl`` with its input checked first."""
