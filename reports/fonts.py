"""CJK fonts that keep PDF rendering fast.

WeasyPrint embeds a subset of every font it uses. With the HarfBuzz subsetter
(Debian package ``libharfbuzz-subset0``) that takes milliseconds; without it,
WeasyPrint falls back to fontTools, which walks all 65,535 glyphs of Noto Sans
CJK for every PDF: about 4 s per font face, 8-10 s per report.

So, when HarfBuzz-subset is missing, we prepare once per machine (~30 s) a reduced
copy of the system's Noto Sans CJK SC in a cache folder: Latin, Cyrillic, kana,
punctuation, symbols and the 6,763 GB2312 hanzi (about 8,000 glyphs), with
TrueType outlines (fontTools subsets ``glyf`` fonts several times faster than
CFF), no hints, no GSUB and only the ``kern`` feature, declared with
``@font-face``. A weekly review then takes ~0.5 s instead of ~10 s.

A character outside the prepared set is never dropped: :func:`prepare_fonts`
is given the whole batch's text, adds any character the system font has (rare
name characters such as 喆 or 堃) to the set, rebuilds once and remembers it;
anything else falls back along the font stack (DejaVu Sans for Ł, Ş ...).

``YEJI_PDF_FONTS=system`` forces the plain system fonts, ``=prepared`` forces
the prepared copy; ``YEJI_FONT_CACHE`` moves the cache (default
``~/.cache/yeji/fonts``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("yeji.reports.fonts")

FAMILY = "Yeji Sans SC"
SOURCE_FAMILY = "Noto Sans CJK SC"
# The stack every text element (and every SVG <text>) uses; the prepared family is
# prepended when it exists.
SYSTEM_STACK = (
    "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', "
    "'WenQuanYi Micro Hei', 'DejaVu Sans', sans-serif"
)
_CHARSET_VERSION = "2"  # bump to rebuild cached fonts after changing how they are made
_WEIGHTS = {400: "Regular", 700: "Bold"}


@dataclass(frozen=True)
class FontSetup:
    """What the stylesheet needs: ``@font-face`` rules and the font-family stack."""

    face_css: str
    stack: str
    mode: str  # "harfbuzz" (system fonts, fast subsetter) | "prepared" | "system" (slow)


@lru_cache(maxsize=1)
def harfbuzz_subset_available() -> bool:
    try:
        from weasyprint.text.ffi import harfbuzz, harfbuzz_subset
    except Exception:  # pragma: no cover - weasyprint import problems surface elsewhere
        return False
    return bool(harfbuzz_subset) and bool(harfbuzz.hb_version_atleast(4, 1, 0))


def _cache_dir() -> Path:
    if os.environ.get("YEJI_FONT_CACHE"):
        return Path(os.environ["YEJI_FONT_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "yeji" / "fonts"


@lru_cache(maxsize=4)
def _find_source(style: str) -> tuple[Path, int] | None:
    """The file and collection index fontconfig uses for Noto Sans CJK SC ``style``."""
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{index}\t%{family}", f"{SOURCE_FAMILY}:style={style}"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.split("\t")
    if len(parts) < 3 or SOURCE_FAMILY not in parts[2]:
        return None
    return Path(parts[0]), int(parts[1] or 0)


@lru_cache(maxsize=1)
def base_charset() -> frozenset[int]:
    """Code points the prepared font always holds."""
    ranges = [
        (0x20, 0x7F), (0xA0, 0x250),  # ASCII, Latin-1, Latin Extended-A/B
        (0x370, 0x400), (0x400, 0x530),  # Greek, Cyrillic
        (0x2000, 0x2070), (0x20A0, 0x20D0), (0x2100, 0x2150), (0x2190, 0x2300),  # punctuation, currency, letterlike, arrows, maths
        (0x2460, 0x2500), (0x25A0, 0x2700),  # enclosed numbers, shapes, symbols
        (0x3000, 0x3100),  # CJK punctuation, kana
        (0xFF00, 0xFFF0),  # full-width forms
    ]
    chars = {cp for lo, hi in ranges for cp in range(lo, hi)}
    for high in range(0xA1, 0xF8):  # GB2312: symbols and the 6,763 hanzi
        for low in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((high, low)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    from reports.i18n import CATALOGUE, COUNTRIES, PLATFORMS

    labels = "".join(v for cat in CATALOGUE.values() for v in cat.values())
    labels += "".join(a + b for a, b in list(COUNTRIES.values()) + list(PLATFORMS.values()))
    chars.update(ord(c) for c in labels)
    return frozenset(chars)


def _manifest_path() -> Path:
    return _cache_dir() / "extra-chars.json"


def _read_extra() -> set[int]:
    try:
        return set(json.loads(_manifest_path().read_text("utf-8")))
    except (OSError, ValueError):
        return set()


def _to_truetype(font) -> None:
    """CFF outlines -> TrueType (quadratic) outlines, in place. fontTools subsets a ``glyf``
    font several times faster than a CFF one, which is what WeasyPrint does for every PDF."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    font["head"].glyphDataFormat = 0
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements", "maxPoints", "maxContours",
                 "maxCompositePoints", "maxCompositeContours", "maxComponentDepth"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font.sfntVersion = "\0\1\0\0"


def _build(source: Path, index: int, chars: set[int], target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.layout_features = ["kern"]  # Latin kerning; CJK needs no shaping features in horizontal text
    options.drop_tables += ["GSUB"]
    options.hinting = False
    options.desubroutinize = True
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # its INFO lists every glyph
    font = TTFont(str(source), fontNumber=index, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=chars)
    subsetter.subset(font)
    _to_truetype(font)
    font["post"].formatType = 3.0  # no glyph names: smaller, and nothing to parse per PDF
    name = font["name"]
    for record in name.names:  # rename: a distinct family, so fontconfig never confuses the two
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID == 4:
            record.string = f"{FAMILY} {record.toUnicode().split()[-1]}"
        elif record.nameID == 6:
            record.string = FAMILY.replace(" ", "") + "-" + record.toUnicode().split("-")[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as tmp:
        font.save(tmp)
    os.replace(tmp.name, target)


@lru_cache(maxsize=8)
def _prepared(extra_key: frozenset[int]) -> tuple[tuple[int, Path], ...] | None:
    chars = base_charset() | set(extra_key)
    faces = []
    for weight, style in _WEIGHTS.items():
        source = _find_source(style)
        if source is None:
            log.warning("%s %s not found by fontconfig: using the system font stack", SOURCE_FAMILY, style)
            return None
        path, index = source
        stat = path.stat()
        digest = hashlib.sha1(
            f"{_CHARSET_VERSION}:{path}:{index}:{stat.st_size}:{int(stat.st_mtime)}:{sorted(chars)}".encode()
        ).hexdigest()[:12]
        target = _cache_dir() / f"YejiSansSC-{style}-{digest}.ttf"
        if not target.exists():
            log.info("preparing %s %s for fast PDF rendering (once per machine): %s", FAMILY, style, target)
            try:
                _build(path, index, chars, target)
            except Exception as error:  # a broken cache must never stop a report
                log.warning("could not prepare %s (%s): using the system font stack", FAMILY, error)
                return None
        faces.append((weight, target))
    return tuple(faces)


def font_mode() -> str:
    """``harfbuzz`` (system fonts, fast subsetter), ``prepared`` or ``system`` (slow fallback)."""
    mode = os.environ.get("YEJI_PDF_FONTS", "").strip().lower()
    if mode == "system":
        return "harfbuzz" if harfbuzz_subset_available() else "system"
    if mode != "prepared" and harfbuzz_subset_available():
        return "harfbuzz"
    if _find_source("Regular") is None:
        return "system"
    return "prepared"


def font_stack() -> str:
    """The CSS font-family list for text and SVG labels (decided before any font is built)."""
    return f"'{FAMILY}', {SYSTEM_STACK}" if font_mode() == "prepared" else SYSTEM_STACK


def prepare_fonts(text: str = "") -> FontSetup:
    """The fonts to render with. ``text`` (all the documents' text, e.g. names) lets the
    prepared font cover rare characters such as 喆 or 堃; they are remembered for later runs."""
    mode = font_mode()
    if mode != "prepared":
        return FontSetup("", SYSTEM_STACK, mode)
    extra = _read_extra()
    wanted = {ord(c) for c in set(text)} - base_charset() - extra
    wanted = {cp for cp in wanted if cp > 0x2E7F}  # CJK and beyond: where the prepared set is partial
    if wanted:
        supported = _supported_by_source(frozenset(wanted))
        if supported:
            extra |= supported
            try:
                _manifest_path().parent.mkdir(parents=True, exist_ok=True)
                _manifest_path().write_text(json.dumps(sorted(extra)), "utf-8")
            except OSError:
                pass
    faces = _prepared(frozenset(extra))
    if not faces:
        # The stack still names the prepared family first; fontconfig skips an unknown family.
        return FontSetup("", font_stack(), "system")
    css = "\n".join(
        f"@font-face {{ font-family: '{FAMILY}'; src: url('{path.as_uri()}'); font-weight: {weight}; font-style: normal; }}"
        for weight, path in faces
    )
    return FontSetup(css, font_stack(), "prepared")


@lru_cache(maxsize=32)
def _supported_by_source(chars: frozenset[int]) -> set[int]:
    source = _find_source("Regular")
    if source is None:
        return set()
    from fontTools.ttLib import TTFont

    font = TTFont(str(source[0]), fontNumber=source[1], lazy=True)
    cmap = font.getBestCmap()
    return {cp for cp in chars if cp in cmap}
