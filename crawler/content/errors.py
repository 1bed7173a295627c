"""The one exception of the content path."""

from __future__ import annotations


class NotAnArticle(Exception):
    """The page has no article to store; `reason` is a short slug.

    Reasons: "not_html", "binary", "empty", "no_text", "too_short", "listing".
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
