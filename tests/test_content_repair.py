"""Mojibake repair: each scheme repaired, clean text never touched."""

from __future__ import annotations

import re
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401 - registers "sloppy-windows-1252"
import pytest

from crawler.content.repair import CP874_HYBRID, repair_text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED_001 = DATA / "seeds" / "001_d5f15bfd3eb86be7.txt"
THAI_RE = re.compile("[\u0e00-\u0e7f]")
_CP874_DECODE = {byte: ch for ch, byte in CP874_HYBRID.items()}


def as_cp874_hybrid(text: str) -> str:
    """UTF-8 bytes read as Windows-874 with 0x80-0x9F from Windows-1252 (undefined dropped)."""
    return "".join(
        chr(b) if b < 0x80 else _CP874_DECODE.get(b, "") for b in text.encode("utf-8")
    )


CLEAN_TEXTS = [
    "It’s a “quoted” phrase… with an ellipsis — and a dash.",
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย แล้ว… รถ “ไทย” ครับ",
    "阿里巴巴宣布未来三年投入3800亿元用于云和人工智能基础设施建设。",
    "東京の天気は晴れです。ソフトバンクの孫正義氏が語った。",
    "한국어 뉴스 기사입니다. 삼성전자가 발표했다.",
    "Emoji 🇭🇰 💡 ⚡ 🧠 and café naïve Zürich señor Øresund Ærø",
    "Ρωσικά: Москва — столица России. Ελληνικά κείμενα.",
    "<p class=\"x\">Prix&nbsp;: 5 € &amp; “plus”</p>\n<a title=\"Größe\">ß</a>",
    "עברית וערבית: مرحبا بالعالم",
    "ﬁ ligature, ｆｕｌｌｗｉｄｔｈ, e\u0301 decomposed, “curly” 'straight'",
]


@pytest.mark.parametrize("text", CLEAN_TEXTS)
def test_clean_text_untouched(text: str) -> None:
    assert repair_text(text) == (text, ())


def test_script_blocks_untouched() -> None:
    html = "<script>var s = 'Ã¼ber';</script><p>fÃ¼r</p>"
    fixed, names = repair_text(html)
    assert fixed == "<script>var s = 'Ã¼ber';</script><p>für</p>"
    assert names == ("ftfy:mojibake",)


@pytest.mark.parametrize(
    "text",
    [
        "It’s “quoted” — café naïve",
        "The CEO said: “We’re investing €380bn” – in AI…",
    ],
)
def test_cp1252_mojibake(text: str) -> None:
    broken = text.encode("utf-8").decode("sloppy-windows-1252")
    assert repair_text(broken) == (text, ("ftfy:mojibake",))


def test_latin1_mojibake_with_c1_controls() -> None:
    text = "it’s a “test” — café"
    broken = text.encode("utf-8").decode("latin-1")
    assert "\x80" in broken or "\x9c" in broken
    assert repair_text(f"<p>{broken}</p>") == (f"<p>{text}</p>", ("ftfy:mojibake",))


def test_double_encoded_utf8() -> None:
    text = "Zürich café “quotes”"
    once = text.encode("utf-8").decode("sloppy-windows-1252")
    broken = once.encode("utf-8").decode("sloppy-windows-1252")
    assert repair_text(broken) == (text, ("ftfy:mojibake",))


@pytest.mark.parametrize(
    "text",
    [
        "🇭🇰 Hong Kong — the “lead’ 💡 idea",
        "Delhi’s oxygen bar ‘Oxy Pure’",
        "ภาษาไทย in UTF-8",
    ],
)
def test_cp874_hybrid_mojibake(text: str) -> None:
    broken = as_cp874_hybrid(text)
    assert broken != text
    assert repair_text(broken) == (text, ("utf8-as-cp874",))


def test_cp874_dropped_bytes_are_marked_not_invented() -> None:
    # ⏳ is E2 8F B3: 0x8F is undefined in both code pages and was dropped; what is left ("โณ")
    # could be any of five characters, so it becomes U+FFFD rather than a guess or Thai letters.
    broken = as_cp874_hybrid("⏳ Time — 💡")
    assert broken.startswith("โณ ")
    fixed, names = repair_text(broken)
    assert fixed == "\ufffd Time — 💡"
    assert names == ("utf8-as-cp874",)
    # on its own line, confirmed by the rest of the page
    fixed, _ = repair_text(as_cp874_hybrid("Read — 💡 now") + "\n\n" + broken[:2] + " Timeline")
    assert fixed == "Read — 💡 now\n\n\ufffd Timeline"


def test_genuine_short_thai_words_survive_on_a_mojibake_page() -> None:
    page = as_cp874_hybrid("Read — 💡 now") + "\n\nไป ณ วัน"
    fixed, _ = repair_text(page)
    assert fixed.endswith("ไป ณ วัน")


@pytest.mark.parametrize(
    "text",
    [
        "阿里巴巴公司的人工智能",
        "东京の天気は晴れです",
        "公司",
        "Café “quoted” and 💡 emoji",
    ],
)
def test_gbk_mojibake(text: str) -> None:
    broken = text.encode("utf-8").decode("gb18030", errors="replace")
    fixed, names = repair_text(broken)
    assert names == ("utf8-as-gbk",)
    # where the wrong decoding replaced a byte, that character is lost (U+FFFD)
    pattern = ".?".join(re.escape(piece) for piece in fixed.split("\ufffd"))
    assert re.fullmatch(pattern, text)
    assert fixed.count("\ufffd") <= 2


def test_gbk_repair_per_segment() -> None:
    clean = "<p>阿里巴巴宣布投入3800亿元</p>"
    broken = "<p>" + "人工智能公司".encode().decode("gb18030") + "</p>"
    fixed, names = repair_text(clean + broken)
    assert fixed == clean + "<p>人工智能公司</p>"
    assert names == ("utf8-as-gbk",)


def test_mixed_page_repaired_run_by_run() -> None:
    html = (
        "<p>Clean “quotes” stay.</p>"
        f"<p>{'Condé Nast ‘bar’'.encode().decode('cp1252')}</p>"
        f"<p>{as_cp874_hybrid('Delhi’s — 💡')}</p>"
    )
    fixed, names = repair_text(html)
    assert fixed == "<p>Clean “quotes” stay.</p><p>Condé Nast ‘bar’</p><p>Delhi’s — 💡</p>"
    assert names == ("ftfy:mojibake", "utf8-as-cp874")


@pytest.mark.skipif(not SEED_001.exists(), reason="shared data not available")
def test_seed_001_repaired() -> None:
    text = SEED_001.read_text(encoding="utf-8")
    fixed, names = repair_text(text)
    assert "utf8-as-cp874" in names
    assert "🇭🇰" in fixed
    assert "💡" in fixed
    assert "lead—key" in fixed
    # ⏳ (E2 8F B3) lost its 0x8F in the original mis-decoding: marked, not guessed
    assert THAI_RE.findall(fixed) == []
    assert "\ufffd Time" in fixed
