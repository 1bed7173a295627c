"""``python -m crawler`` is the ``newsdedup`` command."""

from crawler.launch import main

main()
