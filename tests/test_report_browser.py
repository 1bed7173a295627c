"""The HTML report as a person sees it: rendered by headless Chromium, hostile text inert."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.report.html import render_html
from crawler.report.queries import ReportFilter, load_report
from crawler.store.db import make_engine, make_sessionmaker
from tests.conftest import require_services, shared_dataset
from tests.report_fixtures import seed_hostile, seed_sample

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if require_services():
            pytest.fail("chromium is required (NEWSDEDUP_REQUIRE_SERVICES=1): apt-get install chromium")
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    return path


def browse(chromium: str, page: Path, tmp_path: Path, *args: str) -> str:
    """Run headless Chromium on a local file; returns stdout (the DOM with --dump-dom)."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    done = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def write_report(db_url: str, out: Path, seed_bad: bool = True) -> None:
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        seed_sample(session)
        if seed_bad:
            seed_hostile(session)
        report = load_report(session, ReportFilter(), with_texts=True)
    engine.dispose()
    with out.open("w", encoding="utf-8") as fh:
        render_html(report, fh)


def test_detection_works_on_a_page_that_does_run_script(chromium: str, tmp_path: Path) -> None:
    """Control: a page whose script runs leaves the marker in the dumped DOM."""
    page = tmp_path / "control.html"
    page.write_text("<html><body><script>document.documentElement.setAttribute('data-pwned','x')"
                    "</script></body></html>")
    assert 'data-pwned="x"' in browse(chromium, page, tmp_path, "--dump-dom")


def test_rendered_report_shows_hostile_text_as_text(chromium: str, sqlite_url: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_report(sqlite_url, page)
    dom = browse(chromium, page, tmp_path, "--dump-dom")
    assert not re.search(r"<html[^>]*data-pwned", dom)  # nothing ran
    assert "<script" not in dom and "<img" not in dom  # nothing was parsed as markup
    assert not re.search(r"<a [^>]*href=\"javascript:", dom, re.IGNORECASE)  # nothing links to script
    assert "&lt;script&gt;document.documentElement.setAttribute" in dom  # shown as text
    assert '"&gt;&lt;img src=x onerror=' in dom
    assert "javascript:document.documentElement" in dom  # the URL is shown, not linked
    assert '<span class="ctl" title="invisible control character">U+202E</span>' in dom
    assert "\u202e" not in dom
    # the page is complete: summary, both sample stories and the hostile one, their timelines
    assert len(re.findall(r'<section class="story" id="story-\d+">', dom)) == 3
    assert dom.count("<svg") == 3 and dom.count('<circle class="canonical"') == 3
    assert "Why canonical: earliest publication" in dom and "quotes a passage of this story" in dom


def test_screenshot(chromium: str, sqlite_url: str, tmp_path: Path) -> None:
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    write_report(sqlite_url, page, seed_bad=False)
    browse(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1280,1600")
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 1600)
    assert len(data) > 40_000  # a blank page compresses to a few kB
    print(f"screenshot: {shot}")


@pytest.mark.slow
def test_syndication_dev_report_renders(chromium: str, tmp_path: Path) -> None:
    """Crawl + dedup the labelled corpus, then render its HTML report in Chromium."""
    corpus = shared_dataset("syndication-dev")
    db_url = f"sqlite:///{tmp_path / 'synd.db'}"
    done = subprocess.run([sys.executable, "-m", "crawler", "eval", str(corpus), "--db", db_url, "--json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    done = subprocess.run([sys.executable, "-m", "crawler", "report", "--db", db_url, "--format", "html",
                           "-o", str(page)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    shown = int(re.search(r"report: (\d+) stories written", done.stderr).group(1))  # type: ignore[union-attr]
    assert shown >= 30
    dom = browse(chromium, page, tmp_path, "--dump-dom")
    assert len(re.findall(r'<section class="story" id="story-\d+">', dom)) == shown
    assert dom.count("<svg") >= shown - 2  # a timeline for each story with dated members
    assert dom.count("<mark>") > shown
    browse(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    assert shot.read_bytes().startswith(PNG_SIGNATURE) and shot.stat().st_size > 100_000
