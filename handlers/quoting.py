"""How source text is shown: its section path, then its words verbatim.

Nothing is ever cut inside a sentence. A long passage leads with the
sentence(s) that carry the answer (picked by the question's words, rare
words weighing more) and the whole passage is one tap away; a short one is
quoted whole.
"""

from __future__ import annotations

import math
import re

from knowledge.documents import Corpus, Passage
from retrieval.lexical import QUERY_STOPWORDS
from vntext.normalize import syllables

# Passages up to this long are quoted whole: shortening them would save little.
LEAD_MIN_CHARS = 400
# A lead must carry clearly more of the question than the rest of the passage does.
LEAD_MIN_SHARE = 0.6
# A sentence ends at . ! ? … before a capital, but "1." and "II." are numbers, not ends.
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?<!\d\.)(?<!I\.)(?<!V\.)(?<!X\.)\s+(?=[A-ZĐÀ-Ỹ“\"(])")


def quote(passage: Passage) -> str:
    return f"📄 {passage.citation}\n«{passage.text}»"


def quote_text(section: str, text: str) -> str:
    return f"📄 {section}\n«{text}»"


def sentences(text: str) -> list[str]:
    """The sentences of a passage, line by line (a heading line is a sentence of its own)."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


class LeadPicker:
    """Picks the sentence(s) of a long passage that answer a question."""

    def __init__(self, corpus: Corpus):
        df: dict[str, int] = {}
        for p in corpus.passages:
            for word in set(syllables(p.text)):
                df[word] = df.get(word, 0) + 1
        n = len(corpus.passages)
        self._idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}

    def lead(self, passage: Passage, question: str) -> list[str] | None:
        """The answering sentence(s) in source order, or None when the passage is best quoted whole."""
        if len(passage.text) <= LEAD_MIN_CHARS:
            return None
        asked = {w for w in syllables(question) if w not in QUERY_STOPWORDS}
        # A group heading in front of the block is already in the section path.
        body_text = passage.text.split("\n", 1)[1] if "\n" in passage.text else passage.text
        body = sentences(body_text)
        if len(body) < 2 or not asked:
            return None
        scores = [sum(self._idf.get(w, 0.0) for w in asked & set(syllables(s))) for s in body]
        total = sum(scores)
        if total <= 0:
            return None
        best = max(range(len(body)), key=scores.__getitem__)
        chosen = {best}
        # A short best sentence takes its neighbour with it, so the lead reads on its own.
        if len(body[best]) < 120 and best + 1 < len(body) and scores[best + 1] > 0:
            chosen.add(best + 1)
        if sum(scores[i] for i in chosen) / total < LEAD_MIN_SHARE:
            return None
        if sum(len(body[i]) for i in chosen) > 0.8 * len(passage.text):
            return None
        return [body[i] for i in sorted(chosen)]
