"""The ``newsdedup`` command's entry point (``python -m crawler`` too). It imports nothing heavy:
a Ctrl-C or SIGTERM while the command line's libraries load (click, SQLAlchemy, Scrapy: 1-3 s)
ends the way any stop does, with one line and exit status 130, not a traceback."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

#: Exit status of a command stopped by SIGINT/SIGTERM (what a crawl stored is committed).
EXIT_INTERRUPTED = 130


def stopped() -> NoReturn:
    """How every command stopped by SIGINT/SIGTERM ends: one line on stderr, exit status 130."""
    sys.stderr.write("newsdedup: stopped by SIGINT/SIGTERM\n")
    sys.exit(EXIT_INTERRUPTED)


def main() -> None:
    """Load the command line and run it; SIGTERM stops the loading as Ctrl-C does."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        from crawler.cli import main as cli
    except KeyboardInterrupt:
        stopped()
    cli()
