"""Decoding order and the known charset failure cases."""

from __future__ import annotations

import pytest

from crawler.content.decoding import UndecodableError, check_html, decode_html

HEAD = b"<html><head><title>t</title></head><body><p>"
TAIL = b"</p></body></html>"


def page(text: bytes, meta: bytes = b"") -> bytes:
    return b"<html><head>" + meta + b"<title>t</title></head><body><p>" + text + TAIL


def test_bom_wins_over_header() -> None:
    body = b"\xef\xbb\xbf" + page("café".encode())
    decoded = decode_html(body, "text/html; charset=iso-8859-1")
    assert decoded.encoding == "utf-8"
    assert decoded.source == "bom"
    assert "café" in decoded.text


def test_header_charset_used() -> None:
    decoded = decode_html(page("naïve".encode("cp1252")), "text/html; charset=windows-1252")
    assert (decoded.encoding, decoded.source) == ("cp1252", "header")
    assert "naïve" in decoded.text


def test_latin1_header_decodes_as_cp1252() -> None:
    # 0x93/0x94 are curly quotes in Windows-1252 but C1 controls in real Latin-1
    decoded = decode_html(page(b"\x93quoted\x94 \x80 5"), "text/html; charset=ISO-8859-1")
    assert decoded.encoding == "cp1252"
    assert "“quoted” € 5" in decoded.text


def test_lying_latin1_header_on_utf8_body() -> None:
    decoded = decode_html(page("It’s “fine” — 🇭🇰".encode()), "text/html; charset=iso-8859-1")
    assert (decoded.encoding, decoded.source) == ("utf-8", "utf8-override")
    assert "It’s “fine” — 🇭🇰" in decoded.text


def test_meta_only_charset() -> None:
    body = page("Größe".encode("cp1252"), b'<meta charset="windows-1252">')
    decoded = decode_html(body, "text/html")
    assert (decoded.encoding, decoded.source) == ("cp1252", "meta")
    assert "Größe" in decoded.text


def test_gb2312_declared_gb18030_content() -> None:
    # 镕 is outside GB2312 (it is GBK); browsers decode gb2312 labels as GB18030
    text = "朱镕基和阿里巴巴公司"
    decoded = decode_html(page(text.encode("gb18030")), "text/html; charset=gb2312")
    assert decoded.encoding == "gb18030"
    assert text in decoded.text


def test_shift_jis_as_cp932() -> None:
    text = "①髙橋さんのNEC製品"  # ① and 髙 exist only in the cp932 superset
    decoded = decode_html(page(text.encode("cp932")), "text/html; charset=Shift_JIS")
    assert decoded.encoding == "cp932"
    assert text in decoded.text


def test_euc_kr_as_cp949() -> None:
    text = "똠방각하 한국어 뉴스"  # 똠 is only in the cp949 (UHC) extension
    decoded = decode_html(page(text.encode("cp949")), "text/html; charset=euc-kr")
    assert decoded.encoding == "cp949"
    assert text in decoded.text


def test_undeclared_utf8_detected() -> None:
    decoded = decode_html(page("Zürich – ok".encode()), None)
    assert decoded.encoding == "utf-8"
    assert "Zürich – ok" in decoded.text


def test_undeclared_legacy_detected() -> None:
    text = ("Die Größe der Straße war für die Bürger überraschend. " * 20).encode("cp1252")
    decoded = decode_html(page(text), None)
    assert "Größe der Straße" in decoded.text


def test_declared_utf8_but_cp1252_body() -> None:
    text = ("Les élèves étaient très contents de l’été. " * 20).encode("cp1252")
    decoded = decode_html(page(text, b'<meta charset="utf-8">'), "text/html; charset=utf-8")
    assert "élèves étaient très" in decoded.text


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        # issue 14a: a Polish page (gazeta.pl, ISO-8859-2 in its <meta>) served as UTF-8 came out
        # as Windows-1252 ("dziesi±tej", "¿eby"): detection cannot tell the two apart
        ("iso-8859-2", "Ziemniaki na szóstej, surówka na dziesiątej. Jak pomagać, żeby nie zaszkodzić?"),
        ("windows-1251", "Городской совет утвердил новый транспортный бюджет после долгих дебатов."),
    ],
)
def test_header_utf8_refuted_by_the_bytes_gives_way_to_meta(codec: str, text: str) -> None:
    body = page((text + " ").encode(codec) * 5, f'<meta charset="{codec}">'.encode())
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert text in decoded.text and decoded.source == "meta"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 obj", "application/pdf", "binary"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "binary"),
        (b"<html>\x00\x00\x00 broken", "text/html", "binary"),
        (b"<html><body>x</body></html>", "image/png", "not_html"),
        (b'{"json": true}', "application/json", "not_html"),
        (b"just some plain words, no markup at all", None, "not_html"),
        (b"just some plain words, no markup at all", "application/octet-stream", "not_html"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 obj", "application/octet-stream", "binary"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "binary/octet-stream", "binary"),
    ],
)
def test_non_html_rejected(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(UndecodableError) as info:
        check_html(body, content_type)
    assert info.value.reason == reason


def test_html_accepted() -> None:
    check_html(page(b"hello"), "text/html; charset=utf-8")
    check_html(page(b"hello"), None)


@pytest.mark.parametrize("content_type", ["application/octet-stream", "binary/octet-stream",
                                          "application/octet-stream; charset=utf-8", "*/*"])
def test_html_served_with_a_type_that_says_nothing_is_sniffed(content_type: str) -> None:
    """An object store or a misconfigured server sends application/octet-stream for every file:
    the body decides, as without a Content-Type (it was dropped as not_html)."""
    check_html(page(b"hello"), content_type)


def test_text_html_trusted_when_markup_follows_a_preamble() -> None:
    """Issue 14: pages served as text/html that open with PHP warnings, a style block, a script
    or a comment longer than the sniffed prefix were refused as not_html."""
    article = page(b"<p>The story.</p>")
    for preamble in (
        b"<br />\n<b>Deprecated</b>:  Assigning the return value of new by reference in "
        b"<b>/www/htdocs/wp-settings.php</b> on line <b>520</b><br />\n" * 40,
        b"<style>\n  div.grid { display: grid; gap: 10px; }\n" + b"  .x { opacity: 0; }\n" * 300
        + b"</style>\n",
        b"<script>var tracker = {};\n" + b"tracker.push(1);\n" * 400 + b"</script>\n",
        b"<!-- generated by a 2008 CMS\n" + b"build log line\n" * 400 + b"-->\n",
        b"Warning: session_start() headers already sent\n" * 120,
    ):
        body = preamble + article
        assert len(preamble) > 4096
        check_html(body, "text/html; charset=utf-8")
        check_html(preamble[:200] + article, None)  # short: markup within the sniffed bytes
    with pytest.raises(UndecodableError) as info:  # text/html with no markup at all is not HTML
        check_html(b"Warning: plain text only, served as html\n" * 200, "text/html")
    assert info.value.reason == "not_html"


# -- issue 14: real pages as real servers serve them (bench/serve_variants.py) -------------------

POLISH = "Zgłosił się do szpitala, żeby schudnąć; ważył ponad dwieście kilogramów. Źle się czuł."


def test_stray_nul_bytes_do_not_make_a_page_binary() -> None:
    """A page with a NUL byte or two (a CMS or proxy bug) was dropped as binary; the NULs are
    no characters of the article and PostgreSQL text cannot hold them."""
    body = b"<html><head>\x00<title>t</title></head><body><p>" + b"The story. " * 50 + TAIL + b"\x00"
    check_html(body, "text/html")
    decoded = decode_html(body, "text/html")
    assert "\x00" not in decoded.text and "The story. The story." in decoded.text


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-16", "text/html; charset=utf-16le",
                                          "text/html"])
def test_utf16_without_bom(content_type: str) -> None:
    """UTF-16 without a BOM (the header naming it, or not) was dropped as binary."""
    html = page(("Καλημέρα κόσμε. " * 20).encode()).decode()
    body = html.encode("utf-16-le")
    check_html(body, content_type)
    assert decode_html(body, content_type).text == html
    assert decode_html(html.encode("utf-16-be"), "text/html").text == html


@pytest.mark.parametrize(("codec", "text"), [
    ("iso-8859-2", POLISH),
    ("cp1251", "Городской совет утвердил новый транспортный бюджет после долгих дебатов."),
    ("gbk", "一个约定，信守十五年，感人至深；一段真情，延续十五年，催人泪下。"),
    ("euc-kr", "서울시는 새로운 교통 예산을 승인했다고 밝혔다."),
    ("shift_jis", "子どもへの虐待をなくすための法律ができました。"),
])
def test_server_default_latin1_header_gives_way_to_a_right_meta(codec: str, text: str) -> None:
    """A server's default ``charset=ISO-8859-1`` over a page whose <meta> names its real codec:
    the header won and the article came out as "zg³osi³ siê", "ÕâÑùµÄ"."""
    body = page((text + " ").encode(codec) * 5, f'<meta charset="{codec}">'.encode())
    decoded = decode_html(body, "text/html; charset=iso-8859-1")
    assert text in decoded.text and decoded.source == "meta"


def test_a_right_header_beats_a_wrong_template_meta() -> None:
    """The header still wins when its reading is the right one (a template's stale <meta>)."""
    text = "Городской совет утвердил новый транспортный бюджет после долгих дебатов."
    body = page((text + " ").encode("cp1251") * 5, b'<meta charset="iso-8859-1">')
    decoded = decode_html(body, "text/html; charset=windows-1251")
    assert text in decoded.text and decoded.source == "header"


def test_header_utf8_over_euc_jp_meta() -> None:
    """EUC-JP byte pairs look like UTF-8 sequences often enough that a UTF-8 header over an
    EUC-JP page (with a right <meta>) kept UTF-8, the article full of U+FFFD."""
    text = "子どもへの虐待をなくすための法律ができました。親が子どもを教育するときも体罰は禁止です。"
    body = page((text + " ").encode("euc-jp") * 5, b'<meta charset="euc-jp">')
    assert text in decode_html(body, "text/html; charset=utf-8").text


@pytest.mark.parametrize(("codec", "text", "url"), [
    ("iso-8859-2", POLISH, "https://menway.interia.pl/historia/news-1"),
    ("cp1252", "Es gibt immer wieder Gerüchte über Tesla, sagte der Geschäftsführer in Zürich.",
     "https://www.autonews.ch/?p=31228"),
    ("big5", "愛是逝去的愛，討不回來。我還有話想對你說，這首歌寫給你。", "http://lyrics.example.com/1.html"),
])
def test_undeclared_legacy_pages_detected_as_a_browser_does(codec: str, text: str, url: str) -> None:
    """No charset anywhere: charset-normalizer took ISO-8859-2 Polish, some Windows-1252 German
    and Big5 for other code pages; Firefox's detector, told the TLD, reads them right."""
    body = page((text + " ").encode(codec) * 3)
    assert text in decode_html(body, "text/html", url).text
