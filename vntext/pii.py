"""Personal data residents type into free text: phone numbers, e-mail addresses, ID numbers.

Residents write "liên hệ em qua 0912 345 678" or their CCCD number into a
question or a piece of feedback. `mask_personal_data` replaces each with a
label ("[số điện thoại]"), so exports and officials' screens show that a
number was given, never the number. Used wherever such text leaves the bot:
`civicbot export`, the officials' views in chat and in the console.

Recognised, with spaces, dots or dashes between digit groups:

* Vietnamese phone numbers: 10 digits from 0 (mobile), 11 from 02 (landline),
  or +84 / 84 and the number without its 0;
* e-mail addresses;
* ID numbers: CCCD (12 digits), CMND (9 digits, written without separators).

Amounts written with thousands separators ("100.000.000 đồng") are not ID
numbers. Masking errs on the side of hiding: a 9- or 12-digit number that is
something else is hidden too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PHONE, EMAIL, ID_NUMBER = "phone", "email", "id"
MASKS = {PHONE: "[số điện thoại]", EMAIL: "[email]", ID_NUMBER: "[số CCCD/CMND]"}

_SEP = r"[ .\-]?"
_TWELVE_DIGITS = _SEP.join([r"\d"] * 12)
_PATTERN = re.compile(
    r"(?P<email>(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-]))"
    # CCCD: 12 digits (tried before phone numbers, which may start the same way).
    rf"|(?P<cccd>(?<![\w+]){_TWELVE_DIGITS}(?!\d))"
    # Phones: 0 + 9 or 10 digits, or +84 / (+84) / 84 + 9 or 10 digits.
    rf"|(?P<phone>(?:(?<![\w+(])\(\+84\)[ ]?|(?<![\w+])\+84{_SEP}|(?<![\w+])84{_SEP}|(?<![\w+])0)"
    rf"(?:\d{_SEP}){{8,9}}\d(?!\d))"
    # CMND: 9 digits in a row.
    r"|(?P<cmnd>(?<![\w+])\d{9}(?!\d))"
)
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")


@dataclass(frozen=True)
class Found:
    kind: str        # PHONE, EMAIL or ID_NUMBER
    start: int
    end: int


def find_personal_data(text: str) -> list[Found]:
    """Where ``text`` holds a phone number, an e-mail address or an ID number."""
    found = []
    for match in _PATTERN.finditer(text or ""):
        kind = match.lastgroup
        if kind in ("cccd", "cmnd", "phone") and _THOUSANDS.fullmatch(match.group()):
            continue                                   # an amount: "100.000.000"
        found.append(Found({"email": EMAIL, "phone": PHONE}.get(kind, ID_NUMBER), match.start(), match.end()))
    return found


def mask_personal_data(text: str) -> str:
    """``text`` with each phone number, e-mail address and ID number replaced by its label."""
    if not text:
        return text
    pieces, last = [], 0
    for item in find_personal_data(text):
        pieces += [text[last:item.start], MASKS[item.kind]]
        last = item.end
    return "".join(pieces) + text[last:]
