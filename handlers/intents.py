"""What a message is, before anything is searched: small talk, a question about
the bot, a follow-up to the last answer, a question asking for a list, or a
question about the text.

Everything here reads the message folded (no diacritics, "đ" → "d", lower
case) after chat shorthand is expanded, so "cam on ban", "cảm ơn bạn",
"cám ơn", "tks" and "hoà"/"hòa" spellings read alike. The rules look at the
whole message: small talk is recognised only when the message is nothing
else ("chào bạn, 11 mô hình là gì?" is a question with a greeting in front,
and the greeting is set aside), and questions about the bot need the bot or
the asker in them ("tôi muốn góp ý", "bot lưu gì về tôi"), so a question
about the text that shares a word ("thành phố có lắng nghe góp ý không")
stays a question about the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vntext.normalize import TEENCODE, clean_input, fold, has_diacritics, nfc

# Chat forms of the words below, beyond the shared shorthand (vntext.normalize.TEENCODE).
_CHAT_FORMS = {
    "tks": "cam on", "thks": "cam on", "thanks": "cam on", "thank": "cam on", "thx": "cam on",
    "camon": "cam on", "cmon": "cam on", "camonn": "cam on",
    "oke": "ok", "okie": "ok", "okela": "ok", "okay": "ok", "oki": "ok", "okee": "ok", "okey": "ok",
    "uk": "u", "uhm": "um", "ukm": "um", "uh": "u", "hmm": "um", "hm": "um",
    "helo": "hello", "hallo": "hello", "hey": "hello", "hii": "hi",
    "bye": "tam biet", "bai": "tam biet", "pp": "tam biet", "bb": "tam biet", "bibi": "tam biet",
    "goodbye": "tam biet",
    "nq05": "nghi quyet 05", "nq5": "nghi quyet 5", "nhg": "nhung", "nhug": "nhung", "nx": "nua", "bh": "bao gio", "bn": "bao nhieu",
    "dk": "dang ky", "dki": "dang ky", "ki": "ky", "ad": "admin", "tn": "tin nhan",
    "bxh": "bang xep hang", "hdsd": "huong dan su dung", "ib": "nhan tin",
    "hk": "khong", "khum": "khong", "ko": "khong", "k": "khong", "kg": "khong", "hok": "khong",
    "z": "vay", "v": "vay", "dzay": "vay", "zay": "vay",
}
_REPEATS = re.compile(r"([a-z])\1{2,}")
_ROMAN_NUMERAL = re.compile(r"^[ivx]+$")
_EMOJI_ONLY = re.compile(r"^[\W_]+$", re.UNICODE)

EMOJI_SMALL_TALK = {
    "ack": "👍👌🙆🆗✅☑✔",
    "laugh": "😂🤣😄😆😁😀😅😹",
    "thanks": "🙏",
    "praise": "❤️💖💕😍🥰😘🌹💯👏",
    "greeting": "👋",
}
_EMOTICONS = {":))": "laugh", ":)))": "laugh", "=))": "laugh", ":d": "laugh", "^^": "laugh",
              ":)": "laugh", "<3": "praise", ":(": "ack"}


def folded_words(text: str, mark_non_pronouns: bool = False) -> list[str]:
    """The message as folded words, chat forms expanded, stretched letters shortened ("okkk").

    With ``mark_non_pronouns``, a folded word that could be "bạn/mình/mày/tôi/cậu/tao" but
    is not ("ban hành", "minh bạch", "mấy giờ", "buổi tối", "ai tạo ra") ends in "_", so
    rules that look for the asker or the bot do not see it.
    """
    raw = [t.lower() for t in re.findall(r"\w+", nfc(text))]
    bare = not has_diacritics(text)
    out: list[str] = []
    for i, original in enumerate(raw):
        token = fold(original)
        if not _ROMAN_NUMERAL.match(token):     # "iii" is a number, "okkk" is "ok"
            token = _REPEATS.sub(r"\1", token)
        if mark_non_pronouns and token in _PRONOUNS and not _is_pronoun(raw, i, bare):
            out.append(token + "_")
            continue
        expansion = _CHAT_FORMS.get(token)
        if expansion is None:
            shorthand = TEENCODE.get(token)
            expansion = fold(shorthand) if shorthand else token
        out.extend(expansion.split())
    return out


# Folded words that may be a pronoun (the asker, or the bot addressed), with the spelling
# that is, and for text typed without diacritics the neighbours that show they are not.
_PRONOUNS = {"ban": "bạn", "minh": "mình", "may": "mày", "toi": "tôi", "cau": "cậu", "tao": "tao"}
_NOT_PRONOUN_NEXT = {
    "ban": set("hanh nganh thuong chap to quan bi dan tin ve dau do sao an ngay sac be".split()),
    "minh": set("bach man hoa chu".split()),
    "may": set("gio moc man tinh bay ngay thang nam lan cai nguoi trieu tram muoi van khoan tuoi".split()),
    "toi": set("nay qua mai pham uu thieu da dem khuya muon hom".split()),
    "cau": set("hoi tra do chuyen dao duong thi lac truc noi thu thang ca".split()),
    "tao": set("ra dieu co viec nen dong".split()),
}
_NOT_PRONOUN_PREV = {
    "ban": set("van trong tai cac mot hai ba mua".split()),
    "minh": set("van thong liem chung quang cong phat binh".split()),
    "may": set("bao cai nha tren bang xe chay".split()),
    "toi": set("buoi dem sang hom chieu phat vao ca".split()),
    "cau": set("yeu nhu cay cong ky".split()),
    "tao": set("sang dao cai".split()),
}


def _is_pronoun(raw: list[str], i: int, bare: bool) -> bool:
    token = fold(raw[i])
    if not bare:
        return raw[i] == _PRONOUNS[token] or (token == "tao" and raw[i] == "tao")
    following = fold(raw[i + 1]) if i + 1 < len(raw) else ""
    previous = fold(raw[i - 1]) if i > 0 else ""
    return following not in _NOT_PRONOUN_NEXT[token] and previous not in _NOT_PRONOUN_PREV[token]


# -- small talk ----------------------------------------------------------------

# Words that may stand around small talk without making it something else.
_ADDRESS = set("""
ban bot admin em anh chi minh moi nguoi ca nha oi a nhe nhe ne nhi ha voi nhieu lam qua day
di nhe hen nhe the vay chatbot tro ly cau ong ba co chu bac toi tui
""".split())

_SMALL_TALK_WORDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (core words, one of which must occur; other words allowed around them)
    "greeting": (
        {"chao", "hi", "hello", "alo", "lo", "morning", "evening", "chuc"},
        {"xin", "buoi", "sang", "trua", "chieu", "toi", "good", "tot", "lanh", "vui", "ve", "chuc",
         "ngay", "moi", "he", "cho", "ca", "nha"},
    ),
    "thanks": (
        {"cam", "on", "you"},
        {"rat", "da", "giup", "do", "vi", "thong", "tin", "tra", "loi", "hay", "hieu", "roi", "nhe",
         "ta", "ok", "vang", "da", "u"},
    ),
    "goodbye": (
        {"tam", "biet", "ngu", "ngon", "night", "gap", "lai"},
        {"chuc", "hen", "sau", "di", "nhe", "good", "gap", "lai", "ok", "cam", "on"},
    ),
    "ack": (
        {"ok", "u", "um", "o", "vang", "da", "roi", "duoc", "hieu", "ro", "thoi", "yes", "dung",
         "chuan", "ukie", "okok", "bit", "biet", "vay"},
        {"a", "the", "thi", "cung", "ma", "nhe", "nha", "toi", "minh", "em", "ban", "la", "hieu",
         "ro", "biet", "duoc", "vang", "da", "thoi", "on", "ok", "u", "roi"},
    ),
    "praise": (
        {"hay", "tuyet", "gioi", "thong", "minh", "cute", "great", "nice", "xin", "dinh", "xuat",
         "sac", "de", "thuong", "tot", "good", "ghe"},
        {"qua", "the", "vay", "ghe", "lam", "ve", "voi", "that", "su", "do", "rat", "dung", "la",
         "nhi", "nhe", "job"},
    ),
    "laugh": (
        {"haha", "hihi", "hehe", "kaka", "hoho", "kk", "lol", "hic", "huhu", "dua"},
        {"thoi", "ma", "day", "vui", "qua", "the"},
    ),
    "call": (
        {"oi", "ai"},
        {"co", "o", "do", "khong", "day", "dau", "roi", "alo", "nghe", "tra", "loi", "voi", "di"},
    ),
}

# Questions about who or what the bot is, or how it is: answered as small talk. The bot
# must be the subject, near the start ("trẻ em ở đâu" is not about "em"); checked on the
# words with non-pronouns marked (see folded_words).
_BOT = r"\b(ban|bot|may|em|admin|chatbot|cau|tro ly)"
_SUBJECT = re.compile(r"^(\w+ ){0,3}" + _BOT + r"\b")
# ... and what is asked is about it: "bạn tên gì", "bot này là ai", "bạn có phải là AI không".
_IDENTITY = re.compile(
    _BOT + r"( \w+){0,2} (la ai|la gi|ten (la )?gi|ten gi|ten la|la (robot|nguoi|may|bot|ai|tri tue)|"
    r"(co )?phai (la )?(robot|nguoi|may|bot|ai|tri tue|chatbot)|(la|thuoc) (cua )?(ai|co quan nao|don vi nao))\b"
)
_MADE_BY = re.compile(r"\bai (tao ra|lam ra|lap trinh|phat trien|viet ra|dung sau|quan ly|so huu|van hanh) "
                      r"(ban|bot|em|may)\b")
_PERSONAL = re.compile(
    r"\b(khoe|bao nhieu tuoi|may tuoi|nguoi yeu|an com|song o dau|thich gi|buon|"
    r"vui khong|co met|nghi ngoi|ngu chua|lam gi do)\b"
)
_PERSONAL_MAX_WORDS = 9


@dataclass(frozen=True)
class SmallTalk:
    kind: str     # greeting, thanks, goodbye, ack, praise, laugh, call, identity, personal


def small_talk(text: str) -> SmallTalk | None:
    """The kind of small talk ``text`` is, when it is nothing but small talk."""
    stripped = text.strip()
    if not stripped:
        return None
    emoji = _emoji_kind(stripped)
    if emoji:
        return SmallTalk(emoji)
    words = folded_words(stripped)
    if not words:
        return None
    joined = " ".join(words)
    if len(words) <= _PERSONAL_MAX_WORDS:
        marked = " ".join(folded_words(stripped, mark_non_pronouns=True))
        about_bot = bool(_SUBJECT.search(marked))
        if _MADE_BY.search(joined) or _IDENTITY.search(marked):
            return SmallTalk("identity")
        if about_bot and _PERSONAL.search(joined):
            return SmallTalk("personal")
    for kind, (core, extra) in _SMALL_TALK_WORDS.items():
        if any(w in core for w in words) and all(w in core or w in extra or w in _ADDRESS for w in words):
            if kind == "call" and not (set(words) & {"oi", "ai"}):
                continue
            return SmallTalk(kind)
    return None


def _emoji_kind(text: str) -> str | None:
    lowered = text.lower().replace(" ", "")
    if lowered in _EMOTICONS:
        return _EMOTICONS[lowered]
    if not _EMOJI_ONLY.match(text):
        return None
    for kind, symbols in EMOJI_SMALL_TALK.items():
        if any(ch in symbols for ch in text):
            return kind
    return None


# A greeting or thanks in front of a real question ("chào bạn, cho mình hỏi ..."): set aside.
_GREETING_WORD = r"(?:(?:xin\s+)?chao|hi|hello|alo|da|vang|cam\s+on|ok|oke)"
_ADDRESSEE = r"(?:ad|admin|ban|bot|oi|a|em|anh|chi|moi\s+nguoi|ca\s+nha)"
_ASK = r"(?:cho\s+(?:minh|toi|em|tui|chau|con)\s+)?(?:hoi|xin\s+hoi)(?:\s+(?:chut|voi|ti|ty))?"
_COURTESY_PREFIX = re.compile(
    # "chào bạn, ...", "dạ cho cháu hỏi ...", "cho mình hỏi: ...": a greeting must be set off by
    # punctuation or followed by "cho ... hỏi" ("Đà Nẵng" starts with "da" too).
    rf"^\s*(?:{_GREETING_WORD}(?:\s+{_ADDRESSEE})*(?:\s*[,.!:;-][\s,.!:;-]*(?:{_ASK}[\s,.:;-]+)?|\s+{_ASK}[\s,.:;-]+)"
    rf"|(?:{_ADDRESSEE}[\s,.!:;-]+)*{_ASK}[\s,.:;-]+)"
)


def without_courtesies(text: str) -> str:
    """``text`` without a greeting or "cho mình hỏi" in front (only when a question follows)."""
    folded = fold(text)
    if len(folded) != len(text):     # positions must line up to cut the original
        return text
    match = _COURTESY_PREFIX.match(folded)
    if not match or match.end() == 0:
        return text
    rest = text[match.end():].strip(" ,.!:;-")
    return rest if len(folded_words(rest)) >= 2 else text


# -- questions about the bot -----------------------------------------------------

_SELF = r"\b(toi|minh|em|tui|tao|chau|ban|bot|admin|may|chatbot)\b"     # on marked words
_HOW = r"\b(lam sao|lam the nao|the nao|nhu the nao|ra sao|o dau|cach nao|bang cach nao|huong dan)\b"
_QUIZ_WORDS = r"\b(do vui|quiz|diem|chi doan|trac nghiem|nguoi choi|bai thi|cuoc thi|tro choi)\b"


@dataclass(frozen=True)
class _Rule:
    command: str
    pattern: re.Pattern[str]
    needs_person: bool = False   # only with "tôi/mình/bạn/bot..." or a how/where in the message
    also: re.Pattern[str] | None = None    # and this must occur too


def _rule(command: str, pattern: str, needs_person: bool = False, also: str | None = None) -> _Rule:
    return _Rule(command, re.compile(pattern), needs_person, re.compile(also) if also else None)


# Order matters: stopping announcements before subscribing, deleting before privacy.
_META_RULES = (
    _rule("xoadulieu", r"\bxoa\b.*\b(du lieu|thong tin|tai khoan|lich su|ho so|tin nhan)\b"
                       r"|\bquen (toi|minh|em) di\b", needs_person=True),
    # "chặn" only with what is blocked: "chan" alone is also "Lê Chân", a ward.
    _rule("huy", r"\b(huy|ngung|dung|thoi|bo|tat|khong muon|khong can|dung gui)\b.*"
                 r"\b(nhan tin|nhan thong bao|dang ky|gui tin|gui thong bao|thong bao|ban tin|nhan tin nhan)\b"
                 r"|\bchan (bot|tin|tin nhan|thong bao)\b|\bunsubscribe\b|\bhuy dang ky\b"),
    _rule("dangky", r"\b(dang ky|theo doi)\b.*\b(tin|thong bao|ban tin|tin tuc)\b|\bbao tin\b"),
    _rule("dangky", r"\bnhan (duoc )?(tin|thong bao|ban tin|tin tuc)\b|\bthong bao (cua|tu) (phuong|xa)\b",
          needs_person=True),
    _rule("bangxephang", r"\b(bang xep hang|bxh)\b"),
    _rule("bangxephang", r"\b(xep hang|thu hang|diem cao nhat|dung dau|xep thu may|dung thu may|"
                         r"top (nguoi|\d+|cao thu))\b", also=_QUIZ_WORDS),
    _rule("quiz", r"\b(do vui|quiz|cau do|trac nghiem|tro choi|choi game|choi gi|thi tim hieu|"
                  r"kiem tra kien thuc|do (toi|minh|em))\b"),
    _rule("gopy", r"\b(gop y|kien nghi|gui y kien|dong gop y kien|y kien dong gop|gui de xuat|"
                  r"phan anh y kien|(toi|minh|em|tui) (muon|can|co) phan anh)\b", needs_person=True),
    _rule("quyenriengtu", r"\b(quyen rieng tu|chinh sach bao mat)\b"),
    _rule("quyenriengtu", r"\b(bao mat|thong tin ca nhan|du lieu ca nhan|luu (gi|nhung gi|lai gi|thong tin|du lieu)|"
                          r"du lieu cua (toi|minh|em)|thong tin cua (toi|minh|em)|"
                          r"chia se (thong tin|du lieu)|thu thap)\b", needs_person=True),
    _rule("help", r"\b(huong dan su dung|huong dan dung|help|menu|cac lenh|nhung lenh|lenh gi|co lenh)\b"
                  r"|^(huong dan|tro giup)$|\bcach (dung|su dung) (bot|ban|chatbot|tro ly|nay)\b"
                  r"|\b(toi|minh|em) (nen|co the) hoi (gi|nhung gi|ve gi)\b|^hoi (duoc )?(gi|nhung gi)$"),
)
# What the bot can do, asked of the bot ("bạn làm được gì", "bot này dùng thế nào").
_ABILITY = re.compile(r"\b(dung|su dung)\b.*\b(the nao|nhu the nao|ra sao|sao)\b"
                      r"|\b(lam|giup|ho tro|tra loi|biet) (duoc )?(gi|nhung gi|viec gi|nhung viec gi|cho toi|cho minh)\b")
_SHORT_META_WORDS = 4      # "góp ý", "đố vui", "menu": the topic word alone is a request


def bot_command(text: str) -> str | None:
    """The command the message asks about ("gopy", "dangky", ...), or None."""
    words = folded_words(text)
    if not words:
        return None
    joined = " ".join(words)
    marked = " ".join(folded_words(text, mark_non_pronouns=True))
    for rule in _META_RULES:
        if not rule.pattern.search(joined):
            continue
        if rule.also is not None and not rule.also.search(joined):
            continue
        if rule.needs_person and len(words) > _SHORT_META_WORDS and not (
                re.search(_SELF, marked) or re.search(_HOW, joined)):
            continue
        return rule.command
    if _SUBJECT.search(marked) and _ABILITY.search(joined):
        return "help"
    return None


# -- lists -------------------------------------------------------------------------

_LIST_NOUNS = {
    "nhom tieu chi": "nhóm tiêu chí", "nhom": "nhóm", "tieu chi": "tiêu chí", "yeu to": "yếu tố",
    "mo hinh": "mô hình", "noi dung": "nội dung", "phan": "phần", "y": "ý", "muc": "mục",
    "pham chat": "phẩm chất", "thanh phan": "thành phần", "linh vuc": "lĩnh vực", "diem": "điểm",
    "yeu cau": "yêu cầu", "khia canh": "khía cạnh", "tuyen": "tuyến", "mat": "mặt",
    "chuan muc": "chuẩn mực", "van de": "vấn đề", "muc tieu": "mục tiêu", "nhiem vu": "nhiệm vụ",
}
_NOUN = "(" + "|".join(sorted(_LIST_NOUNS, key=len, reverse=True)) + ")"
_LIST_CUES = re.compile(
    r"\bgom (co )?(nhung |cac |may )?(\w+ ){0,3}?(gi|nao)\b"
    r"|\bbao gom\b|\bgom co\b|\bgom\b$"
    r"|\b(co|la|gom) (nhung|cac) (\w+ ){0,3}?(nao|gi)\b"
    r"|\bnhung (\w+ ){0,2}?(nao|gi)\b"
    r"|\bcac " + _NOUN + r" (nao|gi|la gi)\b"
    r"|\b(ke ten|liet ke|ke ra|ke het|danh sach|neu (het|ra|cac|nhung|day du)|ke cho)\b"
    r"|\b(co )?(may|bao nhieu) " + _NOUN + r"\b"
    r"|\bco may\b"
)
_COUNT_CUES = re.compile(r"\b(may|bao nhieu)\b")
_NOUN_AFTER_CUE = re.compile(r"\b(nhung|cac|may|bao nhieu) " + _NOUN + r"\b")


@dataclass(frozen=True)
class ListAsk:
    count: bool          # "có mấy", "bao nhiêu": say how many first
    noun: str            # what the items are called in the question ("nhóm", "yếu tố"), "" if not said
    topic: str           # the folded question without the words asking for a list


_PERCENT = re.compile(r"\b(bao nhieu|may) phan tram\b")
# Within a cue, the words that only ask for a list, and the kind of item asked for
# ("những nhóm nào"); the words naming the list stay in the topic.
_CUE_WORDS = set("gom bao nhung cac nao gi co may nhieu ke ten liet ra het danh sach neu day du la cho".split())
_CUE_NOUN = re.compile(r"\b(nhung|cac|may|bao nhieu) " + _NOUN + r"\b")


def list_ask(text: str) -> ListAsk | None:
    """How the question asks for a list, or None when it does not."""
    joined = " ".join(folded_words(text))
    scan = _PERCENT.sub(" ", joined)       # "bao nhiêu phần trăm" asks for a figure
    cues = list(_LIST_CUES.finditer(scan))
    if not cues:
        return None
    noun = _NOUN_AFTER_CUE.search(scan)
    kept, last = [], 0
    for cue in cues:
        kept.append(scan[last:cue.start()])
        kept.extend(w for w in _CUE_NOUN.sub(" ", cue.group(0)).split() if w not in _CUE_WORDS)
        last = cue.end()
    kept.append(scan[last:])
    return ListAsk(bool(_COUNT_CUES.search(scan)), _LIST_NOUNS[noun.group(2)] if noun else "",
                   " ".join(" ".join(kept).split()))


# -- follow-ups ---------------------------------------------------------------------

_NUMBER_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8,
                 "chin": 9, "muoi": 10, "dau tien": 1, "dau": 1}
_LEVELS = {
    "nhom tieu chi": "group", "nhom": "group", "tieu chi": "group", "phan": "part", "y": "item",
    "diem": "item", "noi dung": "item", "yeu to": "item", "muc": "any", "cai": "any", "so": "any",
    "mo hinh": "model",
}
_LEVEL = "(" + "|".join(sorted(_LEVELS, key=len, reverse=True)) + ")"
_NUM = r"(\d{1,2}|\(?[ivx]{1,4}\)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_LEAD = r"^(the |vay |thi |con |the con |vay con |cho (minh|toi|em) (xem|hoi) |xem |mo |doc )*"
_TAIL = (r"( (thi sao|la gi|noi gi|noi ve gi|the nao|nhu the nao|ra sao|thi the nao|thi ra sao|"
         r"gom (nhung )?gi|co gi|di|nua|nhe|nha|a|voi|xem|cu the|la sao|viet gi|ghi gi|sao))*$")
_ITEM = re.compile(_LEAD + _LEVEL + r"( thu| so)? " + _NUM + _TAIL)
_ITEM_BARE = re.compile(_LEAD + r"(thu|so) " + _NUM + _TAIL)
# "sau" is left out: folded, "cái sau" (the next) and "cái sáu" (number six) are one string.
_NEXT = re.compile(_LEAD + r"(" + _LEVEL + r" )?(tiep theo|tiep|ke tiep|sau do|tiep di|tiep nua)" + _TAIL)
_PREVIOUS = re.compile(_LEAD + r"(" + _LEVEL + r" )?(truoc|truoc do|lien truoc|phia truoc|quay lai)" + _TAIL)
_PLEASE = r"( (duoc khong|di|nhe|voi|a|giup|minh|toi|em|cho|them|ve no|chut|ti|dum))*"
_MORE = re.compile(
    r"^(ban |the |vay |co the |hay |xin |giup (minh|toi|em) )?"
    r"((noi|giai thich|trinh bay|phan tich|viet|ke|doc|xem|cho (minh|toi|em) xem)"
    r"( ro| ky| cu the| chi tiet| them| day du| het| toan bo| ca doan| ca muc| nua)+( hon)?" + _PLEASE +
    r"|giai thich" + _PLEASE +
    r"|(chi tiet|cu the|ro|day du) (hon|them)" + _PLEASE +
    r"|(con (gi|y gi|cai gi|gi khac) nua( khong)?)|(con nua|con nua khong|het chua)"
    r"|((y|cai|dieu|doan) (do|nay|tren) )?(la sao|nghia la sao|nghia la gi|the la sao|y la sao|y noi gi))$"
)
_TOPIC = re.compile(r"^(the |vay |the thi |thi )*con (?P<topic>(\w+ ){0,6}?\w+)( thi sao| thi the nao| thi ra sao| nua thi sao)+$"
                    r"|^(?P<topic2>(\w+ ){0,5}?\w+) thi sao$")
_FOLLOW_UP_MAX_WORDS = 12


@dataclass(frozen=True)
class FollowUp:
    move: str                # "item", "next", "previous", "more", "topic"
    number: int | None = None
    level: str = "any"       # "group", "part", "item", "model", "any"
    topic: str = ""          # for "topic": what the resident asks about instead (folded)


def follow_up(text: str) -> FollowUp | None:
    """How the message refers to the last answer ("còn nhóm 3 thì sao?", "nói rõ hơn"), or None."""
    words = folded_words(text)
    if not words or len(words) > _FOLLOW_UP_MAX_WORDS:
        return None
    joined = " ".join(words)
    item = _ITEM.match(joined)
    if item:
        return FollowUp("item", _num_in(item), _LEVELS[_level_in(item)])
    bare = _ITEM_BARE.match(joined)
    if bare:
        return FollowUp("item", _num_in(bare), "any")
    if _NEXT.match(joined):
        return FollowUp("next", level=_level_of(joined))
    if _PREVIOUS.match(joined):
        return FollowUp("previous", level=_level_of(joined))
    if _MORE.match(joined):
        return FollowUp("more")
    topic = _TOPIC.match(joined)
    if topic:
        subject = (topic.group("topic") or topic.group("topic2") or "").strip()
        if topic.group("topic") and not _starts_with_con(text):
            subject = f"con {subject}"      # "con người ... thì sao": "con" was not "còn"
        if subject and subject not in ("the", "vay", "no", "cai do"):
            return FollowUp("topic", topic=subject)
    return None


def _starts_with_con(text: str) -> bool:
    """Whether the "con" that folding made of the message's first words was "còn" (and what about)."""
    tokens = [t for t in re.findall(r"\w+", text.lower()) if fold(t) not in ("the", "vay", "thi")]
    if not tokens or fold(tokens[0]) != "con":
        return False
    if tokens[0] == "còn":
        return True
    typed_bare = fold(text) == text.lower()
    return typed_bare and (len(tokens) < 2 or fold(tokens[1]) != "nguoi")


def _level_in(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g in _LEVELS)


def _level_of(joined: str) -> str:
    found = re.search(r"\b" + _LEVEL + r"\b", joined)
    return _LEVELS[found.group(1)] if found else "any"


def _num_in(match: re.Match[str]) -> int | None:
    for group in reversed(match.groups()):
        if group is None:
            continue
        value = _number(group)
        if value is not None:
            return value
    return None


_ROMAN = {"i": 1, "v": 5, "x": 10}


def _number(token: str | None) -> int | None:
    """3, "iii", "(iii)", "ba" → 3."""
    if not token:
        return None
    token = token.strip("() ")
    if token.isdigit():
        return int(token)
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    if token and all(ch in _ROMAN for ch in token):
        total, prev = 0, 0
        for ch in reversed(token):
            value = _ROMAN[ch]
            total = total - value if value < prev else total + value
            prev = max(prev, value)
        return total
    return None


def marker_number(marker: str) -> int | None:
    """The number a source marker stands for: "3." → 3, "(ii)" → 2, "IV." → 4."""
    return _number(fold(marker).strip(" .()"))


# -- the whole reading ----------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    text: str                            # cleaned
    question: str                        # what to search: the text without courtesies in front
    small_talk: SmallTalk | None = None
    command: str | None = None           # a question about the bot: the command that does it
    follow_up: FollowUp | None = None
    list_ask: ListAsk | None = None


def read(text: str) -> Reading:
    # Keep the real length: problem_with states it when a question is too long.
    text = clean_input(text, max_chars=max(len(text), 1))
    talk = small_talk(text)
    if talk is not None:
        return Reading(text, text, small_talk=talk)
    question = without_courtesies(text)
    command = bot_command(text)
    if command is not None:
        return Reading(text, question, command=command)
    return Reading(text, question, follow_up=follow_up(question), list_ask=list_ask(question))
