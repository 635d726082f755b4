"""List answers: which enumeration a question asks for, and how it is shown.

A question that asks for a list ("gồm những gì", "có mấy", "kể tên") names
what it wants listed: "Bộ tiêu chí Chủ nghĩa xã hội ... những nhóm nào".
That name is matched against what each enumeration is about (its heading,
the headings above it, the document's short title), word by word and word
pair by word pair (folded), each weighted by how rare it is in the text: a
word the text never uses weighs the most, so "Đà Nẵng có những mô hình
nào?" does not become the list of Hải Phòng's models. Word pairs tell
"chủ nghĩa xã hội" (part II) from "xã hội chủ nghĩa" (part III).

The reply is the whole list, verbatim, numbered as in the source, never cut,
with a button per item that opens it whole.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.messages import Button, Reply
from handlers.intents import ListAsk
from knowledge.base import KnowledgeBase
from knowledge.enumerations import Enumeration, Item, short_name
from retrieval.lexical import QUERY_STOPWORDS
from vntext.normalize import syllables

# Share of the question's (weighted) words an enumeration's name must account for.
MIN_MATCH = 0.6
# Words that ask rather than name ("yêu cầu những gì", "các nhóm", "gồm mấy").
_ASKING = re.compile(
    r"\b(yeu cau|doi hoi|can co|can phai|can lam|phai co|phai lam|bao gom|la gi|nhu the nao|bao nhieu|"
    r"nhom|(cac|nhung|may|gom) (yeu to|noi dung|y|muc|phan|diem|thanh phan|khia canh|pham chat|loai))\b")
_STOPWORDS = QUERY_STOPWORDS | frozenset("gom vay may nao gi giup can phai se thi lam z".split())


def _terms(text: str, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Folded words and word pairs, leaving out stopwords and pairs with one in them."""
    words = syllables(text)
    pairs = [f"{a}_{b}" for a, b in zip(words, words[1:]) if a not in stopwords and b not in stopwords]
    return [w for w in words if w not in stopwords] + pairs


@dataclass(frozen=True)
class ListMatch:
    enumeration: Enumeration
    score: float


class ListFinder:
    def __init__(self, knowledge: KnowledgeBase):
        self._knowledge = knowledge
        texts = [p.text for p in knowledge.corpus.passages]
        df: dict[str, int] = {}
        for text in texts:
            for term in set(_terms(text)):
                df[term] = df.get(term, 0) + 1
        n = len(texts)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._unknown = math.log((n + 1) / 0.5)
        doc_titles = {d.id: d.short_title for d in knowledge.corpus.documents}
        self._names = {
            e.id: set(_terms(f"{doc_titles.get(e.doc_id, '')} {e.about}"))
            for e in knowledge.enumerations
        }
        self._own = {e.id: set(_terms(e.intro)) for e in knowledge.enumerations}

    def _weight(self, term: str) -> float:
        return self._idf.get(term, self._unknown)

    def _recall(self, topic: list[str], names: set[str]) -> float:
        total = sum(self._weight(t) for t in topic)
        return sum(self._weight(t) for t in topic if t in names) / total if total else 0.0

    def _precision(self, topic: set[str], own: set[str]) -> float:
        total = sum(self._weight(t) for t in own)
        return sum(self._weight(t) for t in own if t in topic) / total if total else 0.0

    def find(self, ask: ListAsk) -> ListMatch | None:
        """The enumeration the question asks for, when one matches well enough."""
        topic = _terms(_ASKING.sub(" ", ask.topic), _STOPWORDS)
        if not topic:
            return None
        topic_set = set(topic)
        scored = sorted(
            ((self._recall(topic, self._names[e.id]), self._precision(topic_set, self._own[e.id]), e)
             for e in self._knowledge.enumerations),
            key=lambda s: (round(s[0], 3), s[1]), reverse=True,
        )
        recall, _, best = scored[0]
        if recall < MIN_MATCH:
            return None
        return ListMatch(self._narrowed(best, topic, recall), recall)

    def _narrowed(self, enumeration: Enumeration, topic: list[str], recall: float) -> Enumeration:
        """"Thành phố Văn minh gồm những gì?": of the goal's two parts, the one it names, listed."""
        if enumeration.shape != "parts":
            return enumeration
        naming = [item for item in enumeration.items
                  if self._recall(topic, set(_terms(item.text))) >= recall - 1e-6]
        if len(naming) != 1:
            return enumeration
        section_id = naming[0].opens.partition(":")[2]
        inner = [e for e in self._knowledge.enumerations if e.section_id == section_id and e.shape != "inline"]
        return inner[0] if inner else enumeration


# -- showing a list ---------------------------------------------------------------------

LIST_FOOTER = "Bạn chọn một mục để đọc nguyên văn."
DEFAULT_NOUN = "mục"


def list_text(enumeration: Enumeration, ask: ListAsk | None = None) -> str:
    """The whole list, verbatim: where it is, its lead-in, every item (none cut)."""
    groups = enumeration.grouped_items()
    noun = (ask.noun if ask and ask.noun else "") or DEFAULT_NOUN
    lines = [f"📄 {enumeration.section}"]
    if enumeration.intro.endswith(":"):          # the lead-in introduces the list itself
        if ask and ask.count:
            lines.append(f"Có {len(groups)} {noun}.")
        lines.append(f"«{enumeration.intro}»")
    elif enumeration.intro:
        lines.append(f"«{enumeration.intro}» gồm {len(groups)} {noun}:")
    else:
        lines.append(f"Gồm {len(groups)} {noun}:")
    numbered = enumeration.shape == "inline" and all(g[0].opens.startswith("m:") for g in groups)
    for n, group in enumerate(groups, 1):
        lines.append(_item_line(group, n if numbered else None))
    if any(item.opens for group in groups for item in group):
        lines.append(LIST_FOOTER)
    return "\n".join(lines)


def _item_line(group: list[Item], number: int | None) -> str:
    text = "; ".join(item.name for item in group)
    if number is not None:
        return f"{number}. {text}"
    return text if group[0].marker else f"• {text}"


def list_buttons(enumeration: Enumeration) -> list[list[Button]]:
    # A numbered list shows the item's whole name when the button's is cut.
    buttons = []
    for group in enumeration.grouped_items():
        if group[0].opens:
            label, whole = short_name(group[0], 40), short_name(group[0], len(group[0].name))
            buttons.append(Button(label, group[0].opens, whole if label != whole else ""))
    if len(buttons) > 6:
        return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    return [[b] for b in buttons]


def list_reply(enumeration: Enumeration, ask: ListAsk | None = None) -> Reply:
    return Reply.with_buttons(list_text(enumeration, ask), *list_buttons(enumeration))
