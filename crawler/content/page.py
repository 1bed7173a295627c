"""process_page: the one text path from fetched bytes to an article (decode, repair, extract)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from crawler.content.decoding import UndecodableError, check_html, decode_html
from crawler.content.errors import NotAnArticle
from crawler.content.extraction import Extracted, extract_article
from crawler.content.repair import repair_text

__all__ = ["MAX_BODY_BYTES", "NotAnArticle", "PageResult", "process_page"]

# Pathological pages can make lxml/trafilatura very slow; real articles are far smaller.
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class PageResult(Extracted):
    """An extracted article and how its bytes were read. See docs/CONTRACTS.md."""

    url: str = ""  #: URL the bytes came from
    encoding: str = ""  #: codec the bytes were decoded with
    repaired: tuple[str, ...] = ()  #: repairs applied, () when the text was clean


def process_page(body: bytes, url: str, content_type: str | None = None) -> PageResult:
    """Decode, repair and extract one fetched page; raise NotAnArticle if it holds none.

    Mojibake is repaired on the decoded HTML, before extraction, because
    trafilatura drops the C1 control characters that Latin-1 mojibake needs.
    """
    if not body.strip():
        raise NotAnArticle("empty")
    if len(body) > MAX_BODY_BYTES:
        raise NotAnArticle("too_large", f"{len(body)} bytes")
    try:
        check_html(body, content_type)
    except UndecodableError as err:
        raise NotAnArticle(err.reason) from None
    decoded = decode_html(body, content_type, url)
    html, repaired = repair_text(decoded.text)
    article = extract_article(html, url)
    return PageResult(**asdict(article), url=url, encoding=decoded.encoding, repaired=repaired)
