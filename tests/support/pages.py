"""A corpus of rendered document pages and turned text lines, with their ground truth.

The accuracy benchmark feeds these images to the served pipeline and to peers and scores the
answers (tests/support/scoring.py). A page is what a user scans: A4 at 150, 200 or 300 dpi,
9-11 pt body text in ordinary fonts, several paragraphs of original prose. Its truth is the list
of lines exactly as rendered (after wrapping), in reading order, so that a reader can be scored
line by line.

Fonts: DejaVu Sans and DejaVu Serif from matplotlib's own data (pinned in requirements.lock),
IPAex Gothic and Noto Serif CJK SC fetched by tests/support/fetch_font.py. Every font is checked
against its sha256, so the images are the same on every machine. IPAex is a Japanese font: the
Chinese rendered with it uses only characters it has (tests/unit/test_pages.py checks that).
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageDraw, ImageFont

from tests.support.fetch_font import FONT_SHA256 as IPAEX_SHA256
from tests.support.fetch_font import SC_FONT_NAME, SC_FONT_SHA256
from tests.support.render import FONT as IPAEX_PATH
from tests.support.render import render

A4_MM = (210, 297)
MARGIN_MM = 22
MM_PER_INCH = 25.4
POINTS_PER_INCH = 72
DPIS = (150, 200, 300)

WORDS = "words"  # wrap at spaces (English)
CHARS = "chars"  # wrap between any two characters (Chinese)
LINE_SPACING = {WORDS: 1.25, CHARS: 1.35}  # baseline to baseline, in font sizes
INDENT_EMS = {WORDS: 0, CHARS: 2}  # first-line indent of a paragraph, as Chinese is printed
PARAGRAPH_GAP_LINES = 1  # a blank line between paragraphs
# Chinese punctuation that must not start a line, or end one (kinsoku): the wrapper moves a
# character to the next line rather than break there.
NO_LINE_START = "，。、；：！？」』”）》"
NO_LINE_END = "「『“（《"

# Pillow's own layout, not Raqm: Raqm is used only where libfribidi happens to be installed, and
# its ligatures would make the same page differ between machines.
LAYOUT = ImageFont.Layout.BASIC

INK = "black"
PAPER = "white"

UPSIDE_DOWN_SIZE = (800, 600)
SET_UPSIDE_DOWN = "lines-upside-down"
SET_TURNED_PAGES = "pages-180"
TURNED = 180


@dataclass(frozen=True)
class Case:
    """One image with its truth; `compare` says how a reading is matched (scoring.COMPARES).

    `regions`, where given, are the truth's boxes (four corners each), one per truth line."""

    set: str
    name: str
    image: bytes
    truth: list[str]
    compare: str = "plain"
    regions: tuple[tuple[tuple[float, float], ...], ...] = ()


@dataclass(frozen=True)
class Font:
    label: str  # as it appears in case names
    path: Path
    sha256: str


def _matplotlib_font(name: str) -> Path:
    """A font matplotlib bundles; its data path is found without importing pyplot."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


DEJAVU_SANS = Font("sans", _matplotlib_font("DejaVuSans.ttf"),
                   "3fdf69cabf06049ea70a00b5919340e2ce1e6d02b0cc3c4b44fb6801bd1e0d22")
DEJAVU_SERIF = Font("serif", _matplotlib_font("DejaVuSerif.ttf"),
                    "107244956e9962b9e96faccdc551825e0ae0898ae13737133e1b921a2fd35ffa")
IPAEX_GOTHIC = Font("gothic", IPAEX_PATH, IPAEX_SHA256)
NOTO_SERIF_SC = Font("serif", IPAEX_PATH.parent / SC_FONT_NAME, SC_FONT_SHA256)


@functools.lru_cache(maxsize=None)
def checked(font: Font) -> Path:
    """The font's path, once its bytes are known to be the ones the corpus was made with."""
    if not font.path.is_file():
        raise FileNotFoundError(f"{font.path} is missing: `make test` fetches the CJK fonts "
                                "(tests/support/fetch_font.py); DejaVu comes with matplotlib")
    digest = hashlib.sha256(font.path.read_bytes()).hexdigest()
    if digest != font.sha256:
        raise ValueError(f"{font.path} has sha256 {digest}, expected {font.sha256}: a different "
                         "font would change every rendered page and its truth")
    return font.path


# Original prose, written for this corpus. A paragraph is one string; the first is a heading.
LIBRARY_NOTES = (
    "Riverside Library: Notes for the Spring Term",
    "The Riverside Library will open its new reading room on Monday, 6 April 2026. The room sits "
    "on the second floor, above the children's section, and has space for 48 readers at long oak "
    "tables. Each table has its own lamps and power sockets, so visitors can bring a laptop or "
    "charge a phone while they work. We hope the room will be quiet enough for study and bright "
    "enough for a long afternoon with a good book.",
    "Over the winter, the number of loans rose by 3.5% compared with the same months last year. "
    "Most of the growth came from audio books and from the small collection of cookery titles, "
    "which were borrowed more than 1,200 times between January and March. Travel guides, on the "
    "other hand, were less popular than before. The staff think that many people now plan their "
    "trips on-line, so part of that shelf will move to the new room to make space.",
    "From next month, members can renew their loans by e-mail as well as by telephone. Please "
    "write to the front desk with your card number, the titles you want to keep and your full "
    "name. A reply will normally arrive within two working days. If a book has been reserved by "
    "another reader, it cannot be renewed, but we will tell you the date by which it must come "
    "back.",
    "The spring talks begin on Thursday, 16 April, at 7.30 in the evening. The first speaker is a "
    "retired ship's engineer who spent 31 years at sea and has written a short history of the old "
    "harbour. Later talks cover bird-watching along the river, family history for beginners, and "
    "the care of house plants in small flats. Tickets are free, but seats are limited to 60, so "
    "please book early at the desk.",
    "Finally, a word of thanks to the volunteers who sorted, cleaned and repaired more than 900 "
    "donated books this year. Their work keeps the shelves full and the costs low. If you would "
    "like to help for an hour or two each week, ask for a short form at the entrance. No "
    "experience is needed; a steady hand and a little patience are enough.",
)

BICYCLE_UPDATE = (
    "Update on the Town Bicycle Scheme",
    "Six months after it started, the town bicycle scheme has become part of daily life for many "
    "people. There are now 22 stations across the centre and the northern suburbs, with a total "
    "of 310 bicycles. On a dry weekday, riders take between 1,400 and 1,700 trips, most of them "
    "shorter than 15 minutes. The busiest station is the one beside the railway bridge, where "
    "commuters pick up a bike at 8 a.m. and leave it near the market or the hospital.",
    "The council asked riders what they liked and what could be better. About 2,300 people "
    "answered the short survey, which was sent by e-mail and also shown on the screens at each "
    "station. Most of them said the bikes were easy to unlock and comfortable to ride. The main "
    "complaints were about flat tyres, loose seats and stations that were empty at the wrong "
    "time of day. A few riders also asked for child seats and a longer free period at weekends.",
    "Several changes will follow. From 1 June, the mechanics will check every bicycle once a week "
    "instead of once a month, and each station will carry a small pump. The van that moves bikes "
    "between stations will start its first round at 6.45 a.m., so that the early trains are "
    "covered. The price of a yearly pass will stay at 48 pounds, while the cost of a single ride "
    "will fall by 10% for students and for people over 65.",
    "Safety remains the first concern. So far there have been no serious accidents, but some "
    "riders still use the pavement in the old town, which is narrow and crowded on market days. "
    "New signs will remind everyone to keep to the road or to the marked cycle lanes. Helmets are "
    "not required by law, yet they are strongly advised, and the library now lends them for free.",
    "The next review will take place in the autumn. Anyone who wants to send comments before "
    "then can write to the transport office or leave a note in the box at the town hall. Every "
    "message is read, and a short summary of the replies will appear in the December newsletter.",
)

# Simplified Chinese written only with characters IPAex Gothic has (those Japanese shares).
SMALL_TOWN = (
    "小城的早晨",
    "小城的早晨，常常从河岸开始。天色微亮，河面上一片安静，几位老人已来到岸上，有的打太极拳，"
    "有的沿着石板路慢慢散步。路旁的早点店也开始做生意，空气里有包子、油条和米粥的香味。",
    "河的北岸有一条小街。七点左右，附近的孩子背着包去学校，上班的人在路口等候。花店的阿姨把"
    "早上才摘下的花放在木桌上，粉的、白的、黄的，十分漂亮。阿姨笑着表示，那些花都是自己家里"
    "种的，价格也不高。",
    "小城不大，从南走到北也用不了多久。很多居民在此地住了几十年，彼此都很熟悉。在街上遇到老"
    "朋友，大家常会停下来打个招呼，再各自去做自己的事。",
    "到了周末，小街上的人更多。不少青年人坐在咖啡店的窗前，喝着咖啡，看看手机，或者和朋友聊"
    "聊天。有的人拿着相机，沿着河岸拍照，希望留下春天的色彩。中午以后，天气暖和起来，孩子在"
    "草地上跑来跑去，笑声不断。",
    "傍晚，太阳落到西山后面，河面上一片金色，路灯一个一个地亮了。散步的人先后回家做晚餐，街"
    "上的小店也都关了。小城慢慢安静下来，只有河水仍在静静地流着，等待新的一天。",
)

# Ordinary simplified Chinese, for Noto Serif CJK SC.
READING_ROOM = (
    "社区图书室的新变化",
    "今年三月，我们小区的图书室重新开放了。这间屋子原来只有几排旧书架，灯光也比较暗，来借书的"
    "人并不多。经过两个月的整修，墙面刷成了浅绿色，窗边摆上了几张长桌和软椅，还增加了一个专门"
    "给孩子看绘本的角落。",
    "图书室现在有四千多本书，其中一半是居民捐赠的。管理员王阿姨说，大家送来的书种类很多，有小"
    "说、历史、烹饪，也有旧的杂志和地图。志愿者花了很长时间，把每一本书登记、分类、贴上标签，"
    "再按顺序放到书架上。",
    "为了方便上班的人，图书室每天晚上开到九点，周六和周日全天开放。借书不用交押金，只要在前台"
    "登记姓名和电话，一次最多可以借五本，借期是三周。如果需要续借，可以打电话，也可以在小区的"
    "微信群里留言。",
    "开放以后，来这里的人越来越多。放学后，孩子们围在角落里听故事；晚饭后，一些老人会来读报、"
    "下棋；周末还有人在这里组织读书会，讨论最近读过的一本书。有位住在五楼的年轻人说：“以前回"
    "到家只会看手机，现在常常下楼坐一会儿，心里安静多了。”",
    "下个月，图书室打算举办一次旧书交换活动。居民可以带来自己读完的书，换一本别人的书回家。大"
    "家都希望，这个小小的房间能一直热闹下去。",
)


@dataclass(frozen=True)
class PageSpec:
    lang: str
    font: Font
    pt: float
    paragraphs: tuple[str, ...]
    wrap_by: str

    def name(self, dpi: int) -> str:
        return f"{self.lang}-{self.font.label}-{self.pt:g}pt-{dpi}dpi"


PAGE_SPECS = (
    PageSpec("en", DEJAVU_SERIF, 10, LIBRARY_NOTES, WORDS),
    PageSpec("en", DEJAVU_SANS, 11, BICYCLE_UPDATE, WORDS),
    PageSpec("zh", IPAEX_GOTHIC, 10, SMALL_TOWN, CHARS),
    PageSpec("zh", NOTO_SERIF_SC, 11, READING_ROOM, CHARS),
    # The small end of body text, where detection at a reduced size loses most.
    PageSpec("en", DEJAVU_SANS, 9, LIBRARY_NOTES, WORDS),
    PageSpec("zh", NOTO_SERIF_SC, 9, SMALL_TOWN, CHARS),
)
# The pages also given turned 180 degrees whole: (index in PAGE_SPECS, dpi).
TURNED_PAGES = ((0, 150), (1, 200), (3, 200))


@dataclass(frozen=True)
class LinesSpec:
    """A small image of short lines, some turned 180 degrees where they stand."""

    name: str
    lines: tuple[str, ...]
    px: int
    turned: tuple[int, ...]


# Rendered with IPAex Gothic (tests/support/render.py); the Chinese uses only its characters.
# Every image keeps an upright line, so the page itself is plainly the right way up.
UPSIDE_DOWN_SPECS = (
    LinesSpec("en-5-lines-36px", ("Meeting moved to Room 4B", "Bring the signed forms",
                                  "Lunch starts at 12:30", "Parking is on Level 2",
                                  "Questions: ask at the desk"), 36, (1, 3)),
    LinesSpec("zh-4-lines-40px", ("今天下午三点开会", "地点在北楼二楼", "会后有茶点",
                                  "希望大家都来参加"), 40, (0, 2)),
    LinesSpec("mixed-6-lines-30px", ("Platform 3 Departures", "下一站：中山路", "Train 8:15 on time",
                                     "本日天气晴朗", "Coffee and tea on board", "开往南京方向"),
              30, (1, 4)),
    LinesSpec("en-4-lines-28px", ("Total due: 84.50 EUR", "Thank you for your visit",
                                  "Open daily 9 am to 6 pm", "Keep this receipt"), 28, (0, 1, 2)),
)


def pixels(mm: float, dpi: int) -> int:
    return round(mm / MM_PER_INCH * dpi)


def points_to_pixels(pt: float, dpi: int) -> float:
    return pt * dpi / POINTS_PER_INCH


def wrap_words(text: str, font: ImageFont.FreeTypeFont, width: float,
               first_width: float) -> list[str]:
    """Greedy word wrap at spaces; a word wider than the line is a mistake in the corpus."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        limit = first_width if not lines else width
        if font.getlength(candidate) <= limit:
            line = candidate
            continue
        if not line:
            raise ValueError(f"{word!r} is wider than the text block")
        lines.append(line)
        line = word
    if line:
        lines.append(line)
    return lines


def _break_at(line: str, following: str) -> int:
    """Where to end `line` so that no line starts with closing or ends with opening punctuation."""
    cut = len(line)
    while cut > 1 and (line[cut - 1] in NO_LINE_END or (line[cut:] + following)[0] in NO_LINE_START):
        cut -= 1
    return cut


def wrap_chars(text: str, font: ImageFont.FreeTypeFont, width: float,
               first_width: float) -> list[str]:
    """Wrap between any two characters, as Chinese is set, keeping punctuation with its text."""
    lines: list[str] = []
    line = ""
    for char in text:
        limit = first_width if not lines else width
        if font.getlength(line + char) <= limit or not line:
            line += char
            continue
        cut = _break_at(line, char)
        lines.append(line[:cut])
        line = line[cut:] + char
    if line:
        lines.append(line)
    return lines


WRAPPERS = {WORDS: wrap_words, CHARS: wrap_chars}


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def render_page(paragraphs: list[str], font_path: Path, pt: float, dpi: int,
                wrap_by: str = WORDS) -> tuple[bytes, list[str]]:
    """An A4 page of the paragraphs as PNG bytes, and its lines in reading order as rendered.

    Paragraphs are separated by a blank line (and, for Chinese, indented two characters); a text
    that does not fit on one page is an error, never silently cut, so the truth is always whole.
    """
    wrap = WRAPPERS[wrap_by]
    size = pixels(A4_MM[0], dpi), pixels(A4_MM[1], dpi)
    margin = pixels(MARGIN_MM, dpi)
    font = ImageFont.truetype(str(font_path), points_to_pixels(pt, dpi), layout_engine=LAYOUT)
    em = font.size
    step = em * LINE_SPACING[wrap_by]
    width = size[0] - 2 * margin
    indent = INDENT_EMS[wrap_by] * em
    ascent, descent = font.getmetrics()

    page = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(page)
    truth: list[str] = []
    baseline = margin + ascent
    for number, paragraph in enumerate(paragraphs):
        if number:
            baseline += PARAGRAPH_GAP_LINES * step
        for row, line in enumerate(wrap(paragraph, font, width, width - indent)):
            draw.text((margin + (indent if row == 0 else 0), baseline), line, fill=INK, font=font,
                      anchor="ls")
            truth.append(line)
            baseline += step
    if baseline - step + descent > size[1] - margin:
        raise ValueError(f"the text does not fit on one page at {pt} pt")
    return encode(page), truth


@functools.lru_cache(maxsize=None)
def _page(spec: PageSpec, dpi: int) -> tuple[bytes, tuple[str, ...]]:
    image, truth = render_page(list(spec.paragraphs), checked(spec.font), spec.pt, dpi, spec.wrap_by)
    return image, tuple(truth)


def page_cases() -> list[Case]:
    """Every A4 page, in sets f"pages-{lang}-{dpi}" (three pages each: 9 to 11 pt, two fonts)."""
    cases = []
    for dpi in DPIS:
        for spec in PAGE_SPECS:
            image, truth = _page(spec, dpi)
            cases.append(Case(f"pages-{spec.lang}-{dpi}", spec.name(dpi), image, list(truth)))
    return cases


def turned(image: bytes, degrees: int = TURNED) -> bytes:
    with Image.open(io.BytesIO(image)) as opened:
        return encode(opened.rotate(degrees, expand=True))


def upside_down_cases() -> list[Case]:
    """Lines turned 180 degrees where they stand, and whole pages turned 180 degrees.

    The truth is always the upright reading order, top to bottom: a reader turns what is upside
    down and reads it where it stands.
    """
    checked(IPAEX_GOTHIC)  # tests/support/render.py draws them in IPAex Gothic
    cases = [Case(SET_UPSIDE_DOWN, spec.name,
                  render(list(spec.lines), UPSIDE_DOWN_SIZE, spec.px, spec.turned), list(spec.lines))
             for spec in UPSIDE_DOWN_SPECS]
    for index, dpi in TURNED_PAGES:
        spec = PAGE_SPECS[index]
        image, truth = _page(spec, dpi)
        cases.append(Case(SET_TURNED_PAGES, f"{spec.name(dpi)}-{TURNED}", turned(image), list(truth)))
    return cases


def rendered_texts() -> Iterator[tuple[Font, str]]:
    """Every text the corpus renders, with the font it is rendered in (to check glyph coverage)."""
    for spec in PAGE_SPECS:
        for paragraph in spec.paragraphs:
            yield spec.font, paragraph
    for lines in UPSIDE_DOWN_SPECS:
        for line in lines.lines:
            yield IPAEX_GOTHIC, line
