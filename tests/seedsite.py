"""Build a served fixture site (corpus format, see crawler/evaluation/corpus.py) from the seeds.

Outlets: ``industry-news`` (seed 000 plus three fixture articles, all ending with 000's
"Related News" block: a site's widget, on as many pages as the dedup needs to learn a site's
template, ``DedupConfig.boilerplate_min_pages``), ``aggregator`` (seed 001, mojibake as
published), ``cloud-daily`` (002), ``digest-hub`` (003), ``wire-korea`` (004). Each has a
feed, a sitemap, a robots.txt that disallows /private/ and an index linking a private page.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "seedsite"

SEED_PAGES = {
    "000_79fd95b027b5bc0f.txt": ("industry-news", "2026-03-25T09:00:00+00:00"),
    "001_d5f15bfd3eb86be7.txt": ("aggregator", "2026-03-25T11:30:00+00:00"),
    "002_2d229005e6dcb6ad.txt": ("cloud-daily", "2026-02-24T12:00:00+00:00"),
    "003_712ace774c8ea100.txt": ("digest-hub", "2026-02-25T07:00:00+00:00"),
    "004_4761e5f75a4eaf3b.txt": ("wire-korea", "2026-02-24T15:00:00+00:00"),
}


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _page(site: str, title: str, published: str, paragraphs: list[str], path: str) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} | {site}</title>"
        f'<meta property="og:title" content="{html.escape(title)}">'
        f'<meta property="article:published_time" content="{published}">'
        f'<link rel="canonical" href="http://{site}.test{path}"></head><body>'
        f'<header><a href="/">{site}</a><nav><a href="/tech/">Tech</a> <a href="/ai/">AI</a></nav>'
        f"</header><article><h1>{html.escape(title)}</h1>{body}</article>"
        f"<footer>© 2026 {site}. All rights reserved.</footer></body></html>"
    )


def build_seed_corpus(seeds_dir: Path, dest: Path) -> Path:
    """Write ``dest/manifest.json`` and ``dest/sites/*`` from the seed texts; returns ``dest``."""
    labels = json.loads((seeds_dir / "labels.json").read_text(encoding="utf-8"))["documents"]
    seed000 = _paragraphs((seeds_dir / "000_79fd95b027b5bc0f.txt").read_text(encoding="utf-8"))
    related = seed000[seed000.index("Related News"):]
    pages: dict[str, list[dict]] = {}
    for name, (site, published) in SEED_PAGES.items():
        paras = _paragraphs((seeds_dir / name).read_text(encoding="utf-8"))
        title = paras[0] if len(paras[0]) < 160 else f"Seed {name[:3]}"
        if name.startswith("000"):
            title = paras[1]
        slug = f"seed-{name[:3]}"
        pages.setdefault(site, []).append(
            {"seed": name, "slug": slug, "title": title, "published": published,
             "paragraphs": paras, "story": labels[name]["story"]}
        )
    fillers = json.loads((FIXTURES / "fillers.json").read_text(encoding="utf-8"))["pages"]
    for filler in fillers:
        pages["industry-news"].append(
            {**filler, "seed": None, "story": filler["slug"],
             "paragraphs": filler["paragraphs"] + related}
        )
    manifest = {"format": "newsdedup-corpus/1", "split": "test", "sites": [], "pages": []}
    for site, entries in pages.items():
        root = dest / "sites" / site
        (root / "private").mkdir(parents=True, exist_ok=True)
        items, urls = [], []
        for entry in entries:
            day = entry["published"][:10].replace("-", "/")
            path = f"/{day}/{entry['slug']}.html"
            url = f"http://{site}.test{path}"
            (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (root / path.lstrip("/")).write_text(
                _page(site, entry["title"], entry["published"], entry["paragraphs"], path),
                encoding="utf-8")
            items.append(f"<item><title>{html.escape(entry['title'])}</title><link>{url}</link>"
                         f"<guid>{url}</guid></item>")
            urls.append(f"<url><loc>{url}</loc><lastmod>{entry['published']}</lastmod></url>")
            manifest["pages"].append({
                "site": site, "path": path, "content_type": "text/html; charset=utf-8",
                "role": "original", "source": entry["story"], "passages_from": [],
                "published": entry["published"], "title": entry["title"], "author": None,
                "body": "\n\n".join(entry["paragraphs"]), "seed": entry["seed"],
            })
        (root / "feed.xml").write_text(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{site}'
            f"</title><link>http://{site}.test/</link>{''.join(items)}</channel></rss>",
            encoding="utf-8")
        (root / "sitemap.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
            f'schemas/sitemap/0.9">{"".join(urls)}</urlset>', encoding="utf-8")
        (root / "robots.txt").write_text(
            f"User-agent: *\nDisallow: /private/\nSitemap: http://{site}.test/sitemap.xml\n")
        (root / "index.html").write_text(
            '<html><body><a href="/private/secret.html">private</a></body></html>')
        (root / "private" / "secret.html").write_text("<html><body>secret</body></html>")
        manifest["sites"].append({
            "name": site, "host": f"{site}.test", "dir": f"sites/{site}", "charset": "utf-8",
            "feed": f"http://{site}.test/feed.xml", "sitemap": f"http://{site}.test/sitemap.xml",
        })
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return dest
