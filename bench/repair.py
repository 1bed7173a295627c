"""Mojibake repair: clean pages must stay byte-identical; broken text must come back.

1. Clean-text check: decode every page of trafilatura-eval (990) and the Zyte benchmark
   (181), run repair_text on the decoded HTML and count pages it changes, printing each
   changed segment so a human can judge it (the pages that change carry real mojibake).
2. Mojibake corpus: clean paragraphs (Zyte ground truth plus CJK/Thai/Cyrillic/Greek/Arabic/
   Hebrew/Devanagari/emoji samples) are encoded as UTF-8 and wrongly decoded with each scheme
   (lossless, and lossy: bytes a codec cannot read dropped or shown as U+FFFD), then repaired;
   reports the share restored exactly, the share restored with each character that lost a byte
   marked U+FFFD (the best a lossy reading allows), and the share changed at all.
3. False positives of the custom repairers on clean CJK/Thai runs of the corpora.
4. Every clean text of the real sets (Zyte truth, trafilatura-eval snippets, giveme5w1h and
   multinews articles), line by line: lines repair changes (must be 0).
5. Script x mis-decoding matrix: real lines of the sets grouped by script (trafilatura-eval's
   pages add their <p> of non-Latin scripts; own sentences for scripts the sets lack), each
   encoded as UTF-8 and read with each codec (undecodable bytes shown as U+FFFD); the share
   restored (every character back, U+FFFD where a byte was lost), on each half (hash of the line).

Usage: python bench/repair.py [--limit N]. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401 - registers the sloppy-windows-* codecs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DATA, TRAFEVAL, ZYTE, read_gz, trafeval_pages, zyte_pages
from crawler.content.decoding import decode_html
from crawler.content.repair import CP874_HYBRID, repair_text

_SEGMENT_RE = re.compile(r"([<>\n]+)")
_CP874_DECODE = {byte: ch for ch, byte in CP874_HYBRID.items()}
EXTRA_PARAGRAPHS = [
    "阿里巴巴集团宣布，未来三年将投入超过3800亿元，用于建设云和人工智能硬件基础设施。",
    "蔡崇信表示，中国的电网优势和开源模型生态，是人工智能竞争中的关键因素。",
    "ソフトバンクグループの孫正義会長は、人工知能への投資を拡大すると述べた。",
    "삼성전자는 인공지능 반도체 투자를 확대한다고 밝혔다.",
    "บริษัทเทคโนโลยีรายใหญ่ประกาศลงทุนในศูนย์ข้อมูลแห่งใหม่ในประเทศไทย",
    "Joe Tsai 🇭🇰 said China’s “power grid” is an edge 💡 — and open source… too ⚡",
    "Die Größe der Straße überraschte die Bürger – „wirklich“, sagte sie.",
    "L’équipe a présenté « l’été » à Genève ; c’était très réussi.",
    "Правительство России объявило о новых мерах поддержки малого бизнеса в этом году.",
    "Уряд України оголосив про нові заходи підтримки малого бізнесу цього року.",
    "Η κυβέρνηση ανακοίνωσε νέα μέτρα στήριξης για τις μικρές επιχειρήσεις φέτος.",
    "أعلنت الحكومة اليوم عن إجراءات جديدة لدعم الشركات الصغيرة هذا العام.",
    "הממשלה הודיעה היום על צעדים חדשים לתמיכה בעסקים קטנים השנה.",
    "सरकार ने आज छोटे व्यवसायों के लिए नए उपायों की घोषणा की।",
    "Launch day 🚀 went well 🎉 — thanks to everyone 🙏 who helped ❤️ today!",
]


def as_cp874_hybrid(text: str) -> str:
    """Windows-874 (0x80-0x9F from Windows-1252), undefined bytes dropped."""
    return "".join(chr(b) if b < 0x80 else _CP874_DECODE.get(b, "") for b in text.encode())


def as_cp874_whatwg(text: str) -> str:
    """Windows-874 as browsers read it: undefined bytes 0x80-0x9F as C1 controls."""
    return "".join(chr(b) if b < 0x80 else _CP874_DECODE.get(b, chr(b) if b < 0xA0 else "\ufffd")
                   for b in text.encode())


SCHEMES: dict[str, Callable[[str], str]] = {
    "utf8-as-cp1252": lambda t: t.encode().decode("sloppy-windows-1252"),
    "utf8-as-latin1": lambda t: t.encode().decode("latin-1"),
    "utf8-double": lambda t: t.encode()
    .decode("sloppy-windows-1252")
    .encode()
    .decode("sloppy-windows-1252"),
    "utf8-as-cp1252-lossy": lambda t: t.encode().decode("cp1252", errors="replace"),
    "utf8-as-cp874": as_cp874_hybrid,
    "utf8-as-cp874-whatwg": as_cp874_whatwg,
    "utf8-as-cp874-lossy": lambda t: t.encode().decode("cp874", errors="replace"),
    "utf8-as-cp1251": lambda t: t.encode().decode("cp1251", errors="replace"),
    "utf8-as-gbk": lambda t: t.encode().decode("gbk", errors="replace"),
    "utf8-as-gb18030": lambda t: t.encode().decode("gb18030", errors="replace"),
}


def clean_pages(limit: int | None) -> dict:
    files = sorted((TRAFEVAL / "html").glob("*.html.gz"))[:limit] + sorted(
        (ZYTE / "html").glob("*.html.gz")
    )[:limit]
    changed: list[dict] = []
    cjk_thai_pages = 0
    start = time.perf_counter()
    for path in files:
        text = decode_html(read_gz(path)).text
        cjk_thai_pages += bool(re.search("[\u0e00-\u0e7f\u3040-\u30ff\u4e00-\u9fff]", text))
        fixed, names = repair_text(text)
        if fixed == text:
            continue
        diffs = [
            (a, b)
            for a, b in zip(_SEGMENT_RE.split(text), _SEGMENT_RE.split(fixed), strict=False)
            if a != b
        ]
        changed.append({"file": path.name, "repairs": names, "segments": diffs})
    seconds = time.perf_counter() - start
    print(f"clean-text check: {len(changed)} of {len(files)} pages changed "
          f"({cjk_thai_pages} pages contain CJK or Thai; {seconds / len(files) * 1000:.1f} ms/page"
          " decode+repair)")
    for item in changed:
        print(f"  {item['file']} {item['repairs']} {len(item['segments'])} segment(s)")
        for a, b in item["segments"][:2]:
            i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), 0)
            print(f"      {a[max(0, i - 20):i + 40]!r}\n   -> {b[max(0, i - 20):i + 40]!r}")
    return {"pages": len(files), "changed": len(changed),
            "changed_files": [c["file"] for c in changed], "cjk_thai_pages": cjk_thai_pages}


def paragraphs(limit: int | None) -> list[str]:
    paras = []
    for _, _, _, truth in zyte_pages(limit):
        paras.extend(p for p in truth.split("\n") if len(p) > 40 and not p.isascii())
    return paras + EXTRA_PARAGRAPHS


def _lossless(name: str, para: str) -> bool:
    """True if the wrong decoding kept every byte (an exact repair is possible)."""
    raw = para.encode()
    if name == "utf8-as-cp874":
        return all(b < 0x80 or b in _CP874_DECODE for b in raw)
    codec = {"utf8-as-cp1252-lossy": "cp1252", "utf8-as-cp874-lossy": "cp874",
             "utf8-as-cp1251": "cp1251", "utf8-as-gbk": "gbk", "utf8-as-gb18030": "gb18030"}
    if name in codec:
        try:
            raw.decode(codec[name])
        except UnicodeDecodeError:
            return False
    return True


def restored(fixed: str, para: str) -> bool:
    """Every character back, or U+FFFD where the wrong decoding lost its bytes."""
    return len(fixed) == len(para) and all(a == b or a == "\ufffd" for a, b in zip(fixed, para, strict=True))


def mojibake_corpus(paras: list[str]) -> dict[str, dict[str, float]]:
    report: dict[str, dict[str, float]] = {}
    print(f"\nmojibake corpus: {len(paras)} non-ASCII paragraphs per scheme")
    print(f"{'scheme':22}{'cases':>7}{'exact':>8}{'restored':>9}{'changed':>9}{'lossless':>10}"
          f"{'exact':>8}")
    for name, breaker in SCHEMES.items():
        cases = exact = marked = changed = lossless = lossless_exact = 0
        for para in paras:
            try:
                broken = breaker(para)
            except UnicodeError:
                continue
            if broken == para:
                continue
            cases += 1
            fixed, _ = repair_text(f"<p>{broken}</p>")
            ok = fixed == f"<p>{para}</p>"
            exact += ok
            marked += restored(fixed[3:-4], para)
            changed += fixed != f"<p>{broken}</p>"
            if _lossless(name, para):
                lossless += 1
                lossless_exact += ok
        report[name] = {
            "cases": cases,
            "exact": exact / cases,
            "restored": marked / cases,
            "changed": changed / cases,
            "lossless_cases": lossless,
            "lossless_exact": lossless_exact / lossless if lossless else 1.0,
        }
        print(f"{name:22}{cases:>7}{exact / cases:>8.3f}{marked / cases:>9.3f}{changed / cases:>9.3f}"
              f"{lossless:>10}{report[name]['lossless_exact']:>8.3f}")
    return report


def false_positives(paras: list[str]) -> dict[str, int]:
    """Clean paragraphs the repairers change (must be 0)."""
    changed = [p for p in paras if repair_text(p)[0] != p]
    print(f"\nclean paragraphs changed: {len(changed)} of {len(paras)}")
    for p in changed[:5]:
        print("   ", p[:100])
    return {"clean_paragraphs": len(paras), "clean_paragraphs_changed": len(changed)}


def real_lines() -> list[str]:
    """Every non-ASCII line of the real sets' clean texts."""
    texts = [truth for _, _, _, truth in zyte_pages()]
    texts += [snippet for _, _, item in trafeval_pages() for snippet in item.get("with", ())]
    for name in ("giveme5w1h-news-cluster", "multinews-longbench"):
        with (DATA / name / "articles.jsonl").open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh]
    return sorted({line.strip() for text in texts for line in text.split("\n")
                   if not line.isascii() and line.strip()})


def clean_texts(lines: list[str]) -> dict[str, int]:
    changed = [line for line in lines if repair_text(f"<p>{line}</p>")[0] != f"<p>{line}</p>"]
    print(f"\nclean lines of the real sets changed: {len(changed)} of {len(lines)}")
    for line in changed[:10]:
        print("   ", line[:100])
    return {"clean_lines": len(lines), "clean_lines_changed": len(changed)}


def script_of(text: str) -> str:
    """The script of most of a text's non-ASCII letters (PUNCT: it has none)."""
    counts = Counter(unicodedata.name(ch, "?").split()[0] for ch in text
                     if not ch.isascii() and ch.isalpha())
    name = counts.most_common(1)[0][0] if counts else "PUNCT"
    return {"HANGUL": "KOREAN", "HIRAGANA": "JAPANESE", "KATAKANA": "JAPANESE"}.get(name, name)


MATRIX_SCRIPTS = ("PUNCT", "LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "CJK", "JAPANESE",
                  "KOREAN", "THAI", "DEVANAGARI", "BENGALI")
MATRIX_CODECS = {"cp1252": "sloppy-windows-1252", "latin-1": "latin-1", "double": "",
                 "cp1250": "cp1250", "cp1251": "cp1251", "cp1253": "cp1253", "cp1256": "cp1256",
                 "cp874": "cp874", "mac_roman": "mac_roman", "gbk": "gb18030",
                 "shift_jis": "cp932", "euc-kr": "cp949"}
PER_SCRIPT = 150


def script_texts(lines: list[str]) -> dict[str, list[str]]:
    """Up to PER_SCRIPT real lines (>= 30 characters) per script, hash-chosen."""
    by: dict[str, set[str]] = {}
    for line in lines:
        if len(line) >= 30:
            by.setdefault(script_of(line), set()).add(line)
    for _, raw, _ in trafeval_pages():
        text = decode_html(raw).text
        for para in re.findall(r"<p\b[^>]*>([^<]{30,})</p>", text):
            script = script_of(para)
            if script not in ("LATIN", "PUNCT"):
                by.setdefault(script, set()).add(para.strip())
    for para in EXTRA_PARAGRAPHS:
        script = script_of(para)
        if len(by.get(script, ())) < 5:
            by.setdefault(script, set()).add(para)
    return {script: sorted(by.get(script, ()), key=_hash)[:PER_SCRIPT] for script in MATRIX_SCRIPTS}


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def misread(text: str, codec: str) -> str:
    raw = text.encode()
    if not codec:  # double: UTF-8 read as Windows-1252, written as UTF-8, read so again
        return raw.decode("sloppy-windows-1252").encode().decode("sloppy-windows-1252")
    return raw.decode(codec, errors="replace")


def script_matrix(lines: list[str]) -> dict:
    """Share restored per script and codec; per codec over all cases, on each half."""
    texts = script_texts(lines)
    print(f"\nscript x mis-decoding: share restored ({PER_SCRIPT} lines a script at most)")
    print(f"{'script':11}{'lines':>6} " + " ".join(f"{c[:9]:>9}" for c in MATRIX_CODECS))
    totals: dict[str, Counter[str]] = {codec: Counter() for codec in MATRIX_CODECS}
    for script, paras in texts.items():
        cells = []
        for name, codec in MATRIX_CODECS.items():
            cases = ok = 0
            for para in paras:
                broken = misread(para, codec)
                if broken == para:
                    continue
                fixed = repair_text(f"<p>{broken}</p>")[0][3:-4]
                good = restored(fixed, para)
                half = "even" if int(_hash(para), 16) % 2 == 0 else "odd"
                cases += 1
                ok += good
                totals[name].update({f"{half}_cases": 1, f"{half}_restored": good,
                                     f"{half}_exact": fixed == para})
            cells.append(f"{ok / cases:9.2f}" if cases else f"{'-':>9}")
        print(f"{script[:11]:11}{len(paras):>6} " + " ".join(cells))
    return {name: {half: round(t[f"{half}_restored"] / t[f"{half}_cases"], 4)
                   for half in ("even", "odd") if t[f"{half}_cases"]}
            for name, t in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    clean = clean_pages(args.limit)
    paras = paragraphs(args.limit)
    corpus = mojibake_corpus(paras)
    fps = false_positives(paras)
    lines = real_lines()
    clean_real = clean_texts(lines)
    matrix = script_matrix(lines)
    summary = {
        "clean_pages": clean["pages"],
        "clean_pages_changed": clean["changed"],
        "changed_files": clean["changed_files"],
        **fps,
        **clean_real,
        "restored_by_codec_half": matrix,
        "repair_exact": {k: round(v["exact"], 4) for k, v in corpus.items()},
        "repair_restored": {k: round(v["restored"], 4) for k, v in corpus.items()},
        "repair_changed": {k: round(v["changed"], 4) for k, v in corpus.items()},
        "repair_exact_lossless": {k: round(v["lossless_exact"], 4) for k, v in corpus.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
