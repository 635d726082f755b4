"""What kind of fact a question asks for, and whether the knowledge can hold such a fact.

Everyday questions share words with the text ("thủ tục làm căn cước",
"học phí", "chủ tịch phường là ai") and so retrieve a passage that looks
related; but they ask for a kind of fact the documents never give: an amount
of money, an opening hour, a phone number, the name of an office holder, a
procedure, today's weather or match, a job or a sale, which ward or district, another
resolution or law, or something about another province. When the knowledge holds
no fact of that kind at all (checked on the text itself when it is loaded,
so adding a fee schedule to knowledge/sources switches "money" off), the
question is declined with that reason, whatever the passage scores.

Softer cues (the question is about today or this year; it asks "where";
it asks which school, hospital or company; it asks for a date or an amount
that the passage it would be answered from does not hold) never decide alone: they are
features of the decline model (retrieval/searcher.py, fitted by
bench/calibrate.py).

Everything is matched on folded text (no diacritics, đ→d) with chat
shorthand expanded, so "gia ve bao nhieu" reads like "giá vé bao nhiêu".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from vntext.normalize import expand_teencode, fold, nfc

# Kinds of fact, each: how a question asks for it, and how a text would give one.
_OFFICE = (r"(chu tich|pho chu tich|bi thu|pho bi thu|giam doc|pho giam doc|hieu truong|to truong|"
           r"truong (thon|phong|ban|cong an|khu|ap|doan|ho)|thu truong|bo truong|vien truong|chanh an|"
           r"ca si|cau thu|lanh dao|nguoi dung dau)")
_ASKS = {
    "money": (
        r"\bbao nhieu (tien|dong|trieu|ty|nghin|ngan|k|usd|do)\b|\b(het|mat|ton|tra|dong|nop|thuong|ho tro|"
        r"tro cap|duoc nhan|vay duoc|huong|lai) (bao nhieu|may trieu|may tram)\b|\bgia (bao nhieu|ve|thue|"
        r"dat|nha|xang|vang|dien|nuoc|can ho|phong|thit|cuoc|tri bao nhieu|chung cu)\b|\bgia\b.*\bbao nhieu\b|"
        r"\b(tien|le|hoc|vien|dich vu|gui xe|trong xe|bao tri|cau duong|chuyen khoan|doan|dang) phi\b|"
        r"\bmat phi\b|^(\w+ ){0,2}phi (gui|do|trong|bao tri|dich vu|cap|lam)\b|"
        r"\btien (dien|nuoc|rac|phat|tro cap|thue|luong|an|nha|hoc|thuong)\b|\bluong (co so|toi thieu|bao nhieu)\b|"
        r"\blai (suat|bao nhieu|cao|thap)\b|\bty gia\b|\b(muc|bi) phat\b|\bphat bao nhieu\b|"
        r"\bmuc (dong|ho tro|tro cap|huong|luong|thu|chi)\b|\b(ngan sach|kinh phi|von|tong von)\b.*\bbao nhieu\b|"
        r"\b(dat|re) hon\b|\bre nhat\b|\bo dau re\b|\bthue (thu nhap|dat|nha|tncn|khoan|gtgt|bao nhieu)\b|"
        r"\b(nop|dong|tinh|hoan|quyet toan|mien|giam) thue\b|\bdong bao nhieu\b|\btra gop\b|\bgui tiet kiem\b",
        r"\d[\d.,]*\s*(đồng|triệu|tỷ|nghìn|ngàn|VNĐ|vnđ|USD)\b",
    ),
    "clock": (
        r"\bmay gio\b|\bgio nao\b|\bgio (mo|dong|lam|hanh chinh)\b|\b(mo|dong) cua\b.*\b(may|nao|khong)\b|"
        r"\blich (tiep|cat|thi|tiem|lam viec|chieu|thi dau|nghi|khai giang|truc|sinh hoat|tau|xe|phat|hop)\b|"
        r"\b(vao|hom nay|ngay mai|la) thu may\b|\bngay (nao|bao nhieu|may)\b|\b(hom|buoi) nao\b|"
        r"\bchuyen (cuoi|dau)\b|\bnghi (may|bao nhieu) ngay\b|"
        r"\b(thu (hai|ba|nam|sau|bay)|chu nhat)\b.*\b(lam viec|mo cua|tiep dan|truc)\b|"
        r"\b(lam viec|mo cua|tiep dan|truc)\b.*\b(thu (hai|ba|nam|sau|bay)|chu nhat)\b",
        r"\b\d{1,2}\s*(giờ|h)\s*\d{0,2}\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b",
    ),
    "contact": (
        r"\bso dien thoai\b|\bsdt\b|\bhotline\b|\bduong day nong\b|\btong dai\b|\bemail\b|\bgmail\b|"
        r"\bdia chi\b|\bwebsite\b|\btrang web\b|\bfanpage\b|\btrang (chinh thuc|facebook)\b|"
        r"\blien he (o dau|voi ai|the nao|bang cach nao|qua)\b|"
        r"\b(bao|goi|hoi|phan anh|trinh bao) (ai|cho ai|cong an nao|co quan nao|noi nao)\b|\bai giai quyet\b",
        r"\b0\d{8,10}\b|\b1900\s?\d{3,}\b|@[\w-]+\.\w+|https?://|www\.",
    ),
    "person": (
        _OFFICE + r".*\b(la ai|ten (la )?gi|ten gi|ho ten)\b|\bten (cua )?" + _OFFICE + r"\b|"
        r"\bai (la|dang la|dang lam|lam|giu chuc) " + _OFFICE + r"\b|"
        r"\bai (ky|da ky)\b|\bnguoi ky\b|\bai (la|dang la) (nguoi |ca si )?\w* ?(giau|noi tieng|vo dich|gioi) nhat\b",
        r"\b(đồng chí|ông|bà)\s+[A-ZĐ][a-zà-ỹ]+\s+[A-ZĐ][a-zà-ỹ]+",
    ),
    "procedure": (
        r"\bthu tuc (lam|xin|cap|dang ky|sang|tach|nhap|chuyen|ket hon|khai sinh|cap phep|nhan|rut|doi|"
        r"hoan|quyet toan|mua|ban|vay|mo|thanh lap|cho|de|can|gom|the nao|nhu the nao|ra sao|o dau|gi)\b|"
        r"\bthu tuc\b$|\b(can|mang|chuan bi|nop) (theo )?(nhung )?(loai )?giay to\b|\b(giay to|ho so) gi\b|"
        r"\b(can|mang|chuan bi) (nhung )?ho so\b|"
        r"\b(can|phai) mang (theo )?(gi|nhung gi)\b|"
        r"\bho so (gom|can|xin|nop|de|dang ky|ket nap|mua|huong)\b|\b(lam|xin|cap|doi|lam lai|cap lai) (lai )?"
        r"(can cuoc|cccd|cmnd|ho chieu|visa|giay phep|so do|bang lai|giay khai sinh|the bao hiem|"
        r"the ngan hang|ly lich|giay xac nhan|the thu vien|the atm)\b|\bnop (ho so|don) (o dau|cho ai|the nao)\b|"
        r"\b(xin|nop|dang ky|lam|cap|doi|mua|tiem|kham|gui don|bao|to cao|khieu nai) o dau\b|"
        r"\bmat (bao lau|may ngay)\b|\bdang ky (ket hon|khai sinh|thuong tru|tam tru|xe|bien so|kinh doanh|"
        r"ho kinh doanh|mua|hoc|nhan nuoi|ma so thue|tai khoan)\b|\b(chung thuc|cong chung|trich luc|sang ten)\b|"
        r"\b(to cao|khieu nai|khoi kien) (o dau|the nao|voi ai)\b|\bdieu kien (de )?(duoc )?(mua|vay|huong|"
        r"xet|ket nap|thue|cap)\b|\b(can|co) dieu kien gi\b|\bdieu kien gi\b|\bgia han (the|bao hiem|giay|ho chieu)\b|"
        r"\blam (sao|the nao|cach nao) (de )?(rut|mo|lay lai|dang ky|xin|chuyen|vay|mua|lam lai|gia han|doi|"
        r"duoc cong nhan|duoc cap)\b",
        r"(?i)\bthủ tục\b.*\b(gồm|cần|nộp)\b|\bhồ sơ gồm\b",
    ),
    "everyday": (
        r"\b(thoi tiet|nhiet do|du bao thoi tiet|nom am|ret dam|ret hai|troi (co )?(lanh|mua|nang|ret)|ty so|"
        r"ket qua (tran|xo so)|xo so|vo dich|v league|world cup|asian cup|doi tuyen|ghi ban|tran dau|thi dau|"
        r"chung khoan|bitcoin|tien ao|cong thuc (nau|lam)|cach nau|giam can|"
        r"mo ban|tuyen dung|tuyen (cong nhan|nhan vien|lao dong|nguoi|giao vien)|xin viec)\b",
        r"(?i)\b(thời tiết|bóng đá|xổ số|chứng khoán|nhiệt độ|tuyển dụng|mở bán)\b",
    ),
    "locality": (
        r"\b((?<!dia )phuong|xa|(?<!co )quan|huyen|thon|to dan pho|khu pho) nao\b|\bo (phuong|xa) hay (o )?(phuong|xa)\b",
        # A named one: "phường Lê Chân", not "XÃ HỘI" in an upper-case heading.
        r"\b(?i:phường|xã|quận|huyện|thôn)\s+[A-ZĐ]\w*[a-zđàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]",
    ),
    "document": (
        r"\bnghi quyet (so )?(?!0?5\b)\d{1,3}\b|\b(nghi dinh|thong tu|bo luat|hien phap)\b|"
        r"(?<!phap )\bluat (dat dai|giao thong|lao dong|hon nhan|thue|bao hiem|cu tru|doanh nghiep|nha o|"
        r"xay dung|dau tu|hinh su|dan su|to chuc|can cuoc)\b",
        r"(?i)\bnghị định\b|\bthông tư\b|\bluật (đất|lao|hôn|thuế)",
    ),
}

# Provinces and cities of Việt Nam (and a few countries) a question may ask about instead of
# Hải Phòng. Hải Dương merged into Hải Phòng in 2025, so it is not "another place".
_PLACES = """
ha noi|thu do|ho chi minh|tp hcm|tphcm|hcm|sai gon|da nang|can tho|hue|thua thien hue|quang ninh|ha long|
bac ninh|bac giang|hung yen|thai binh|nam dinh|ninh binh|ha nam|vinh phuc|phu tho|thai nguyen|lang son|
cao bang|ha giang|tuyen quang|yen bai|lao cai|lai chau|dien bien|son la|hoa binh|bac kan|thanh hoa|
nghe an|ha tinh|quang binh|quang tri|quang nam|quang ngai|binh dinh|phu yen|khanh hoa|nha trang|
ninh thuan|binh thuan|kon tum|gia lai|dak lak|dak nong|lam dong|da lat|binh phuoc|tay ninh|binh duong|
dong nai|ba ria|vung tau|long an|tien giang|ben tre|tra vinh|vinh long|dong thap|an giang|kien giang|
hau giang|soc trang|bac lieu|ca mau|nhat ban|han quoc|trung quoc|singapore|thai lan
""".replace("\n", "").strip("|")
# Left out because their folded spelling is a common word here: "Pháp" (pháp luật), "Đức"
# (giáo dục), "Mỹ" (thẩm mỹ), "Hòa Bình" (hòa bình, peace).
_PLACE = rf"(?:tinh |thanh pho |tp )?(?:{_PLACES})"
# Another place as what the question is about: its subject, or "ở/của/tại <place>".
_OTHER_PLACE = re.compile(
    rf"^(?:\w+ ){{0,2}}{_PLACE}\b(?! (?:va|voi) hai phong)|\b(?:cua|o|tai) {_PLACE}\b|\bnghi quyet (?:cua )?{_PLACE}\b"
)

# Softer cues: features of the decline model, never a decision alone.
_WHEN = re.compile(r"\b(bao gio|khi nao|luc nao|den bao gio|tu bao gio|nam nao)\b")
_NOW = re.compile(r"\b(hien nay|hien tai|bay gio|hom nay|ngay mai|toi nay|toi qua|hom qua|tuan nay|tuan sau|"
                  r"tuan toi|thang nay|thang toi|thang sau|nam nay|nam ngoai|nam sau|cuoi tuan|dot nay|sang nay|"
                  r"chieu nay|dip tet|tet nay)\b")
_WHERE = re.compile(r"\b(o dau|cho nao|noi nao|dia diem nao|xa nao|phuong nao|(?<!co )quan nao|huyen nao|duong nao)\b")
_WHICH_ONE = re.compile(
    r"\b(truong|benh vien|cong ty|doanh nghiep|phong kham|diem du lich|khach san|(?<!co )quan|nha hang|ngan hang|"
    r"trung tam|cho|sieu thi|doi|clb|ca si|nguoi|san|rap|tuyen xe|xe buyt|hang|app|phan mem|ai) nao\b"
    r"|\bai (vo dich|ghi ban|thang|dung dau|tao ra)\b")


def folded(text: str) -> str:
    return " ".join(re.findall(r"\w+", fold(expand_teencode(nfc(text)))))


# "Có bao nhiêu trường đại học?": a count of something. The text counts few things (its
# 11 models, 3 lines of defence, its groups and criteria); a count of anything else is a
# figure it does not give.
# ("mấy" alone is left out: folded, it is also "máy", as in "bộ máy", "nhà máy".)
_COUNT = re.compile(r"\b(?:bao nhieu|co may) (\w+)(?: (\w+))?")
_COUNTABLE_IN_LISTS = frozenset("nhom tieu chi yeu to phan muc y noi dung diem mo hinh pham chat thanh khia m2".split())
_NUMBER_THEN_NOUN = re.compile(r"(\d+(?:[.,]\d+)?\s*%?)\s+(\w+)")


@dataclass(frozen=True)
class ScopeProfile:
    """Which kinds of fact the knowledge never gives (so questions asking for them are declined)."""

    absent: frozenset[str]
    counted: frozenset[str] = frozenset()       # folded nouns the text gives a number of
    # How many passages give each kind / count each noun: what a changed library updates.
    _kinds: Counter = field(default_factory=Counter, compare=False, repr=False)
    _nouns: Counter = field(default_factory=Counter, compare=False, repr=False)

    @classmethod
    def of(cls, texts: list[str]) -> "ScopeProfile":
        return cls._from_counts(*_count(texts))

    def updated(self, added: list[str], removed: list[str]) -> "ScopeProfile":
        """The profile of a library that differs from this one's by ``added`` and ``removed`` passages:
        costs the changed passages, not the library (a library of 50,000 passages took seconds)."""
        kinds, nouns = _count(added)
        gone_kinds, gone_nouns = _count(removed)
        return self._from_counts(self._kinds + kinds - gone_kinds, self._nouns + nouns - gone_nouns)

    @classmethod
    def _from_counts(cls, kinds: Counter, nouns: Counter) -> "ScopeProfile":
        return cls(frozenset(kind for kind in _ASKS if not kinds[kind]), frozenset(nouns) | _COUNTABLE_IN_LISTS,
                   kinds, nouns)

    def missing_fact(self, question: str) -> str:
        """The kind of fact ``question`` asks for that the knowledge never gives, else ""."""
        text = folded(question)
        for kind, (asks, _) in _ASKS.items():
            if kind in self.absent and re.search(asks, text):
                return kind
        if _OTHER_PLACE.search(text):
            return "place"
        if self.counted and any(noun not in self.counted for noun, _ in _COUNT.findall(text)):
            return "figure"
        return ""


def _count(texts: list[str]) -> tuple[Counter, Counter]:
    """Per kind of fact, how many of ``texts`` give one; per noun, how many give a number of it."""
    kinds: Counter = Counter()
    nouns: Counter = Counter()
    for text in texts:
        kinds.update(kind for kind, (_, gives) in _ASKS.items() if re.search(gives, text))
        found = {fold(noun) for _, noun in _NUMBER_THEN_NOUN.findall(text)}
        if "%" in text:
            found.add("phan")                   # "bao nhiêu phần trăm"
        nouns.update(found)
    return kinds, nouns


# A question asking for a date or an amount is answered only by a passage holding one: "khi nào
# khởi công cụm công nghiệp sinh thái?" retrieves the model's passage, which names no date.
_ASKS_DATE = re.compile(r"\b(bao gio|khi nao|luc nao|nam nao|ngay nao|thang nao|tu bao gio|den bao gio)\b")
_ASKS_AMOUNT = re.compile(r"\b(bao nhieu|bao lau)\b")
_ASKS_AMOUNT_MARKED = re.compile(r"\bmấy\b", re.IGNORECASE)   # "máy" (bộ máy) folds alike: kept marked
_HAS_DATE = re.compile(r"\b(1[89]|20)\d\d\b|\bngày\s+\d")
_HAS_NUMBER = re.compile(r"\d")


def unmet_answer_type(question: str, passage: str) -> float:
    """1.0 when the question asks for a date or an amount and ``passage`` holds none, else 0.0."""
    text = folded(question)
    if _ASKS_DATE.search(text) and not _HAS_DATE.search(passage):
        return 1.0
    if (_ASKS_AMOUNT.search(text) or _ASKS_AMOUNT_MARKED.search(nfc(question))) and not _HAS_NUMBER.search(passage):
        return 1.0
    return 0.0


def cues(question: str) -> tuple[float, ...]:
    """Soft signs of an everyday question: about now, asks when, asks where, asks which one."""
    text = folded(question)
    return tuple(float(bool(p.search(text))) for p in (_NOW, _WHEN, _WHERE, _WHICH_ONE))
