"""Mojibake repair: each scheme repaired, clean text never touched."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
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


# Issue 14: mojibake of any script, from each common wrong decoding. Our own sentences.
SCRIPTS = {
    "russian": "Правительство России объявило о новых мерах поддержки малого бизнеса.",
    "ukrainian": "Уряд України оголосив про нові заходи підтримки малого бізнесу цього року.",
    "greek": "Η κυβέρνηση ανακοίνωσε νέα μέτρα στήριξης για τις μικρές επιχειρήσεις φέτος.",
    "chinese": "政府今天宣布了一系列支持小企业发展的新措施，包括减税和贷款担保。",
    "japanese": "政府は今年、中小企業を支援するための新しい対策を発表しました。",
    "korean": "정부는 올해 중소기업 지원을 위한 새로운 대책을 발표했다.",
    "arabic": "أعلنت الحكومة اليوم عن إجراءات جديدة لدعم الشركات الصغيرة هذا العام.",
    "hebrew": "הממשלה הודיעה היום על צעדים חדשים לתמיכה בעסקים קטנים השנה.",
    "thai": "รัฐบาลประกาศมาตรการใหม่เพื่อสนับสนุนธุรกิจขนาดเล็กในปีนี้",
    "hindi": "सरकार ने आज छोटे व्यवसायों के लिए नए उपायों की घोषणा की।",
    "emoji": "Launch day 🚀 went well 🎉 — thanks to everyone 🙏 who helped ❤️ today!",
}


def as_cp874_whatwg(text: str) -> str:
    """UTF-8 read as windows-874 the way browsers do: bytes it leaves undefined are C1 controls."""
    return "".join(chr(b) if b < 0x80 else _CP874_DECODE.get(b, chr(b) if b < 0xA0 else "\ufffd")
                   for b in text.encode())


def readable(codec: str) -> Callable[[int], bool]:
    def read(byte: int) -> bool:
        try:
            bytes([byte]).decode(codec)
        except UnicodeDecodeError:
            return False
        return True
    return read


MISREADINGS = {
    "cp1252": lambda t: t.encode().decode("sloppy-windows-1252"),
    "latin-1": lambda t: t.encode().decode("latin-1"),
    "cp1252-replace": lambda t: t.encode().decode("cp1252", "replace"),
    "cp874": as_cp874_whatwg,
    "cp874-replace": lambda t: t.encode().decode("cp874", "replace"),
    "cp874-dropped": as_cp874_hybrid,
    "cp1251": lambda t: t.encode().decode("cp1251", "replace"),
    "gbk": lambda t: t.encode().decode("gbk", "replace"),
    "gb18030": lambda t: t.encode().decode("gb18030", "replace"),
    # issue 14a: the other code pages UTF-8 is misread with (ftfy 6.3 left these broken)
    "cp1250": lambda t: t.encode().decode("cp1250", "replace"),
    "cp1253": lambda t: t.encode().decode("cp1253", "replace"),
    "cp1256": lambda t: t.encode().decode("cp1256", "replace"),
    "mac_roman": lambda t: t.encode().decode("mac_roman"),
    "shift_jis": lambda t: t.encode().decode("cp932", "replace"),
}
# single-byte readings: which bytes they keep (the others are lost)
KEPT_BYTES: dict[str, Callable[[int], bool]] = {
    "cp1252": lambda b: True, "latin-1": lambda b: True, "cp874": lambda b: True,
    "cp1252-replace": readable("cp1252"), "cp874-replace": readable("cp874"),
    "cp874-dropped": lambda b: b in _CP874_DECODE, "cp1251": readable("cp1251"),
    "cp1250": readable("cp1250"), "cp1253": readable("cp1253"), "cp1256": readable("cp1256"),
    "mac_roman": lambda b: True,
}
# Where the wrong decoding dropped bytes without a trace, a segment is repaired only when 75 % of
# its bytes still form sequences: 0x81 is dropped from every hiragana, so this one stays as it
# is (not half repaired).
NOT_REPAIRED = {("cp874-dropped", "japanese")}
# Shift_JIS loses bytes in pairs: Korean most of them (0xEB, 0xEC lead nothing there), the emoji
# line a variation selector marked twice. Every character left is the text's own or U+FFFD.
PARTIAL = {("shift_jis", "korean"), ("shift_jis", "emoji")}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
@pytest.mark.parametrize("misreading", sorted(MISREADINGS))
def test_mojibake_of_every_script_repaired(misreading: str, script: str) -> None:
    """Every character comes back, or U+FFFD where the wrong decoding lost one of its bytes; no
    character of the wrong reading is left inside a word (the Russian read as Windows-874 that
    kept Thai letters)."""
    text = SCRIPTS[script]
    broken = MISREADINGS[misreading](text)
    assert broken != text
    fixed, names = repair_text(f"<p>{broken}</p>")
    if (misreading, script) in NOT_REPAIRED:
        assert fixed == f"<p>{broken}</p>" and names == ()
        return
    assert names, broken
    fixed = fixed[3:-4]
    if (misreading, script) in PARTIAL:
        assert set(fixed) <= {*text, "\ufffd"} and fixed.count("\ufffd") < len(text), fixed
        return
    if misreading in KEPT_BYTES:  # exactly: each character that lost a byte is one U+FFFD
        kept = KEPT_BYTES[misreading]
        assert fixed == "".join(ch if all(b < 0x80 or kept(b) for b in ch.encode()) else "\ufffd"
                                for ch in text)
    else:  # GBK, Shift_JIS: a byte it could not read (one U+FFFD) cost one character, or two at a boundary
        assert len(fixed) == len(text), fixed
        assert all(a == b or a == "\ufffd" for a, b in zip(fixed, text, strict=True)), fixed
        assert fixed.count("\ufffd") <= 2 * broken.count("\ufffd")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_clean_text_of_every_script_untouched(script: str) -> None:
    text = SCRIPTS[script]
    page = f"<p>{text}</p>\n<p>“{text}” — {text[:20]}…</p>"
    assert repair_text(page) == (page, ())
    # also on a page shown to hold Windows-874 mojibake elsewhere
    mixed = f"<p>{as_cp874_whatwg('Read — 💡 now')}</p><p>{text}</p>"
    assert repair_text(mixed)[0] == f"<p>Read — 💡 now</p><p>{text}</p>"


def test_clean_pages_of_the_real_sets_untouched() -> None:
    """Every page of trafilatura-eval and the Zyte benchmark, decoded as the crawl does: repair
    changes a segment only where ftfy's own detector sees mojibake in it (or it holds C1
    controls, which no clean text has); a page without such a segment is never changed."""
    from ftfy.badness import is_bad

    from crawler.content.decoding import decode_html
    from tests.conftest import shared_dataset

    pages = [*sorted((shared_dataset("trafilatura-eval") / "html").glob("*.html.gz")),
             *sorted((shared_dataset("article-extraction-benchmark") / "html").glob("*.html.gz"))]
    assert len(pages) > 1000
    split = re.compile(r"[<>\n]+")
    changed = 0
    for path in pages:
        text = decode_html(gzip.decompress(path.read_bytes())).text
        fixed, _ = repair_text(text)
        if fixed == text:
            continue
        changed += 1
        for before, after in zip(split.split(text), split.split(fixed), strict=True):
            if before != after:
                assert is_bad(before) or re.search("[\x80-\x9f]", before), (path.name, before)
    assert changed < len(pages) / 20


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Für die Bühne", "cp1250"),  # German read as Windows-1250: "FĂĽr", one letter a word
        ("Наши герои", "mac_roman"),  # "–ù–∞—à–∏ –≥–µ—Ä–æ–∏"
        ("Затраты", "cp1253"),  # "Π—Π°Ρ‚Ρ€Π°Ρ‚Ρ‹"
        ("Geschäftes", "gbk"),  # one letter read as GBK inside a Latin word: "Gesch盲ftes"
        ("こんにちは", "cp932"),  # Japanese read as Shift_JIS: "縺薙ｓ縺ｫ縺｡縺ｯ"
    ],
)
def test_issue_14a_misreadings(text: str, codec: str) -> None:
    broken = text.encode().decode(codec)
    assert broken != text
    assert repair_text(f"<p>{broken}</p>")[0] == f"<p>{text}</p>"


@pytest.mark.parametrize(
    "page",
    [
        # uppercase Polish: Ó Ł / Ó Ż as Windows-1250 bytes are the UTF-8 of Cyrillic "ӣ" / "ӯ"
        "<h2>IRLANDIA PÓŁNOCNA: Nowy stary kryzys</h2><a title=\"PODRÓŻE\">PODRÓŻE</a>",
        # Chinese as EUC-KR bytes reads as UTF-8 "άڸڸ" (Greek and Arabic mixed), "2000Ҵ"
        "<p>2000年</p><p>郭美美</p><p>中国人民银行今天宣布下调存款准备金率。</p>",
    ],
)
def test_natural_text_that_is_utf8_by_chance_untouched(page: str) -> None:
    """Found on trafilatura-eval pages (Polityka.pl, baike.baidu.com) when the repairs of issue 14a
    were first added: each code page's bytes of natural text can be valid UTF-8 by chance."""
    assert repair_text(page) == (page, ())


def test_clean_lines_of_the_real_sets_untouched() -> None:
    """Every non-ASCII line of the real sets' clean texts (Zyte truth, trafilatura-eval snippets,
    giveme5w1h and multinews articles): repair changes none."""
    import json

    from tests.conftest import shared_dataset

    texts = [item["articleBody"] for item in json.loads(
        (shared_dataset("article-extraction-benchmark") / "ground-truth.json").read_text()).values()]
    texts += [snippet for item in json.loads(
        (shared_dataset("trafilatura-eval") / "annotations.json").read_text()).values()
        for snippet in item["with"]]
    for name in ("giveme5w1h-news-cluster", "multinews-longbench"):
        with (shared_dataset(name) / "articles.jsonl").open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh]
    lines = {line for text in texts for line in text.split("\n") if not line.isascii()}
    assert len(lines) > 4000
    assert [line for line in lines if repair_text(f"<p>{line}</p>")[0] != f"<p>{line}</p>"] == []
