"""``python -m crawler`` is the ``newsdedup`` command."""

from crawler.cli import main

main()
