"""The command line: help, clear errors, empty reports, the main job offline."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import main

COMMANDS = ["crawl", "dedup", "report", "run", "eval", "extract", "explain", "db"]


def test_every_command_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for command in COMMANDS:
        assert command in top.output
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("Usage: ")


def test_readme_names_every_command() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"newsdedup {command}" in readme


def test_unopenable_database_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--db", f"sqlite:///{tmp_path}/no/such/dir/x.db"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("newsdedup: error: cannot open database")


def test_report_on_empty_database_says_so(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["report", "--db", sqlite_url])
    assert result.exit_code == 0
    assert "no articles yet" in result.output
    result = CliRunner().invoke(main, ["report", "--db", sqlite_url, "--format", "json"])
    assert '"articles": 0' in result.output


def test_bad_sources_file_is_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text("[[source]]\nname = 'x'\n")
    result = CliRunner().invoke(main, ["crawl", "--db", sqlite_url, "--sources", str(bad)])
    assert result.exit_code == 2
    assert "no feeds, sitemaps or start_urls" in result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_without_network_ends_with_a_plain_summary(tmp_path: Path) -> None:
    port = _closed_port()
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "down-outlet"\nfeeds = ["http://127.0.0.1:{port}/feed.xml"]\n'
        f'[[source]]\nname = "dead-sitemap"\nsitemaps = ["http://127.0.0.1:{port}/sm.xml"]\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "run", "--db", f"sqlite:///{tmp_path / 'x.db'}",
         "--sources", str(sources), "-s", "RETRY_TIMES=0", "-s", "LOG_LEVEL=ERROR"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "could not reach: down-outlet, dead-sitemap" in proc.stdout
    assert "Connection refused" in proc.stdout or "refused" in proc.stdout.lower()
    assert "no source could be reached" in proc.stderr
