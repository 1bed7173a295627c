"""The sources file: parsing, validation, ad-hoc sources, the shipped default list."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import DEFAULT_SOURCES
from crawler.sources import SourcesError, adhoc_sources, load_sources, parse_sources


def test_parse_sources_reads_every_kind_of_url() -> None:
    sources = parse_sources(
        """
        [[source]]
        name = "wire"
        feeds = ["https://wire.example/feed.xml"]
        sitemaps = ["https://wire.example/news-sitemap.xml"]
        start_urls = ["https://wire.example/"]
        tags = ["ai"]
        """
    )
    assert len(sources) == 1
    s = sources[0]
    assert s.name == "wire"
    assert s.feeds == ("https://wire.example/feed.xml",)
    assert s.sitemaps == ("https://wire.example/news-sitemap.xml",)
    assert s.start_urls == ("https://wire.example/",)
    assert s.urls == s.feeds + s.sitemaps + s.start_urls


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not valid TOML"),
        ("x = 1", "no [[source]] entries"),
        ('[[source]]\nfeeds = ["https://a.example/f"]', "'name' is required"),
        ('[[source]]\nname = "a"', "no feeds, sitemaps or start_urls"),
        ('[[source]]\nname = "a"\nfeeds = ["ftp://a.example/f"]', "not an http(s) URL"),
        ('[[source]]\nname = "a"\nfeeds = ["http://[::1/f"]', "'http://[::1/f' is not a valid URL"),
        ('[[source]]\nname = "a"\nsitemaps = ["https:///sitemap.xml"]', "'https:///sitemap.xml' has no host"),
        ('[[source]]\nname = "a"\nfeed = ["https://a.example/f"]',
         "unknown key(s) 'feed' (known: name, feeds"),
        ("source = [1]", "source #1: not a [[source]] table"),
        ('[[source]]\nname = "a"\nfeeds = ["http://a.example:99999/f"]',  # was a Scrapy traceback
         "'http://a.example:99999/f' is not a valid URL (Port out of range 0-65535)"),
        ('[source]\nname = "a"\nfeeds = ["https://a.example/f"]', "[[source]] (two brackets), not [source]"),
        ('[[source]]\nname = "a"\nfeeds = ["https://a.example/f"]\ntags = [1]',
         "'tags' must be a list of words"),
        ('[[source]]\nname = "a "\nfeeds = ["https://a.example/f"]\n'
         '[[source]]\nname = "a"\nfeeds = ["https://b.example/f"]', "duplicate name 'a'"),
        ('[[source]]\nname = "a"\nfeeds = "https://a.example/f"\n'
         '[[source]]\nname = "a"\nfeeds = ["https://b.example/f"]', "duplicate name"),
    ],
)
def test_parse_sources_rejects_bad_files_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(SourcesError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        parse_sources(text)


def test_one_string_is_a_list_of_one_never_its_characters() -> None:
    """``feeds = "url"`` was a feed already; ``tags = "wire"`` was the tags w, i, r, e."""
    (source,) = parse_sources('[[source]]\nname = "a"\nfeeds = "https://a.example/f"\ntags = "wire"')
    assert source.feeds == ("https://a.example/f",)
    assert source.tags == ("wire",)


def test_load_sources_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read sources file"):
        load_sources(tmp_path / "absent.toml")


def test_load_sources_binary_file(tmp_path: Path) -> None:
    binary = tmp_path / "sources.toml"
    binary.write_bytes(b"\x00\xff\xfe not text")
    with pytest.raises(SourcesError, match=r"cannot read sources file .*: not UTF-8 text"):
        load_sources(binary)


def test_adhoc_sources_group_by_host() -> None:
    sources = adhoc_sources(
        feeds=["https://a.example/feed"], sitemaps=["https://b.example/sm.xml"],
        urls=["https://a.example/"],
    )
    assert [s.name for s in sources] == ["a.example", "b.example"]
    assert sources[0].feeds == ("https://a.example/feed",)
    assert sources[0].start_urls == ("https://a.example/",)
    with pytest.raises(SourcesError, match="not an http"):
        adhoc_sources(feeds=["a.example/feed"])
    for url, message in (("http://[::1", "not a valid URL"), ("http://", "has no host")):
        with pytest.raises(SourcesError, match=message):
            adhoc_sources(urls=[url])


def test_shipped_default_sources_are_valid_and_real_tech_news() -> None:
    sources = load_sources(DEFAULT_SOURCES)
    assert len(sources) >= 8
    assert all(s.feeds or s.sitemaps or s.start_urls for s in sources)
    assert any("china" in s.tags for s in sources)
    assert any("ai" in s.tags for s in sources)


def test_robots_sitemaps_flag() -> None:
    from crawler.sources import SourcesError, adhoc_sources, parse_sources

    (src,) = parse_sources('[[source]]\nname = "a"\nfeeds = ["https://a.example/feed"]\n'
                           "robots_sitemaps = true\n")
    assert src.robots_sitemaps
    with pytest.raises(SourcesError, match="robots_sitemaps"):
        parse_sources('[[source]]\nname = "a"\nfeeds = ["https://a.example/feed"]\n'
                      'robots_sitemaps = "yes"\n')
    by_name = {s.name: s for s in adhoc_sources(feeds=["https://a.example/feed"],
                                                urls=["https://b.example/"])}
    assert not by_name["a.example"].robots_sitemaps and by_name["b.example"].robots_sitemaps
