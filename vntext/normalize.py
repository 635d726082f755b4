"""Vietnamese text normalisation shared by every channel.

Residents type with or without diacritics, in NFC or NFD, with old-style
("hoà") or new-style ("hòa") tone placement, and in chat shorthand ("ko",
"dc", "ntn"). Every input goes through :func:`clean_input` first; matching
then works on :func:`fold`-ed syllables, which erase all of those differences.
"""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_INPUT_CHARS = 2000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)

# In an open syllable with "oa", "oe" or "uy" the tone mark may sit on either
# vowel ("hoá"/"hóa", "khoẻ"/"khỏe", "thuý"/"thúy"); both spellings are in use
# and the source text itself mixes them. We map to the spelling the source
# uses most (mark on the first vowel) so the dense channel sees one form.
_TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook, dot
_SECOND_VOWEL_TONE = re.compile(
    rf"(?<![qQ])([oOuU])([aAeEyY])([{_TONES}])(?![\w\u0300-\u036f])"
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clean_input(text: str, max_chars: int = MAX_INPUT_CHARS) -> str:
    """NFC, drop control and zero-width characters, collapse white space, cap length."""
    text = nfc(text or "")
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
    return text


def canonical_tone_marks(text: str) -> str:
    """One spelling for words whose tone mark may sit on either vowel ("hoá" → "hóa")."""
    decomposed = unicodedata.normalize("NFD", text)
    return nfc(_SECOND_VOWEL_TONE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), decomposed))


def fold(text: str) -> str:
    """NFC, then NFD, drop combining marks, đ→d, lower-case."""
    # Single words are folded millions of times when a large library is
    # indexed (diacritic restoration, coverage); they repeat, so remember them.
    return _fold_word(text) if len(text) <= _CACHED_FOLD_CHARS else _fold(text)


_CACHED_FOLD_CHARS = 16


@functools.lru_cache(maxsize=1 << 16)
def _fold_word(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", nfc(text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("đ", "d").replace("Đ", "D").lower()


def words(text: str) -> list[str]:
    """Word tokens of ``text`` as written (diacritics kept)."""
    return _WORD.findall(nfc(text))


# A word with the combining marks an unnormalised text may carry inside it:
# folding words one by one (each cached) equals folding the text, then splitting.
_WORD_WITH_MARKS = re.compile(r"[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def syllables(text: str) -> list[str]:
    """Folded word tokens: the unit both the lexical channel and restoration use."""
    return [s for word in _WORD_WITH_MARKS.findall(nfc(text)) for s in _WORD.findall(fold(word))]


def has_diacritics(text: str) -> bool:
    return fold(text) != text.lower()


def is_mostly_letters(text: str) -> bool:
    """False for inputs such as emoji-only, digits-only or punctuation-only."""
    return sum(ch.isalpha() for ch in text) >= 2


# Chat shorthand → the words it stands for. Keys are folded; only forms that
# are unambiguous in a question about public policy are listed (e.g. "bn" can
# mean "bao nhiêu" or "bạn", so it is left alone).
TEENCODE = {
    "ko": "không", "k": "không", "kg": "không", "hok": "không",
    "hong": "không", "khong": "không", "hem": "không",
    "dc": "được", "duoc": "được",
    "j": "gì", "gi": "gì",
    "ntn": "như thế nào",
    "xhcn": "xã hội chủ nghĩa", "cnxh": "chủ nghĩa xã hội",
    "hp": "Hải Phòng", "tp": "thành phố", "tphp": "thành phố Hải Phòng",
    "ng": "người", "nguoi": "người", "mn": "mọi người",
    "vs": "với", "cx": "cũng", "cg": "cũng", "ms": "mới", "lm": "làm",
    "bt": "biết", "bik": "biết", "r": "rồi",
    "nq": "nghị quyết", "dv": "đoàn viên", "tnien": "thanh niên",
    "cb": "cán bộ", "xh": "xã hội", "vn": "Việt Nam", "sk": "sức khỏe",
}


def expand_teencode(text: str) -> str:
    """Replace chat shorthand tokens by their words; everything else is kept."""
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        return TEENCODE.get(fold(token), token)

    return _WORD.sub(replace, text)


def normalise_query(text: str) -> str:
    """The canonical form of a question before any retrieval channel sees it."""
    return canonical_tone_marks(expand_teencode(clean_input(text)))
