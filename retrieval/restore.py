"""Put diacritics back on a question typed without them.

The lexical channel matches folded syllables and does not need this, but the
dense model reads "nha o xa hoi" as a different string from "nhà ở xã hội".
We learn which accented syllable each bare one stands for, and which
syllables follow each other, from the knowledge base itself (passages,
question variants, lexicon), and pick the most likely sequence with a
bigram Viterbi search. Words the corpus does not know are left as typed.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from vntext.normalize import fold, has_diacritics, nfc

_TOKEN = re.compile(r"\w+|\W+", re.UNICODE)
MAX_CANDIDATES = 6
MAX_ACCENTED_SHARE = 0.25


class DiacriticRestorer:
    def __init__(self, texts: Iterable[str]):
        self._unigrams: Counter[str] = Counter()
        self._bigrams: Counter[tuple[str, str]] = Counter()
        self._forms: dict[str, Counter[str]] = defaultdict(Counter)
        self._count(texts, 1)

    def updated(self, added: Iterable[str], removed: Iterable[str]) -> "DiacriticRestorer":
        """A restorer learned from this one's texts, plus ``added``, minus ``removed``.

        Copies the counts (fast, C-level) instead of reading every text
        again: what a growing library needs (retrieval/live.py).
        """
        new = DiacriticRestorer.__new__(DiacriticRestorer)
        new._unigrams, new._bigrams = Counter(self._unigrams), Counter(self._bigrams)
        new._forms = defaultdict(Counter, self._forms)   # inner counters copied when changed
        new._count(added, 1)
        new._count(removed, -1)
        return new

    def _count(self, texts: Iterable[str], sign: int) -> None:
        touched: set[str] = set()
        for text in texts:
            words = [w.lower() for w in re.findall(r"\w+", nfc(text))]
            if sign > 0:
                self._unigrams.update(words)
                self._bigrams.update(zip(words, words[1:]))
            else:
                self._unigrams.subtract(words)
                self._bigrams.subtract(zip(words, words[1:]))
            for w in words:
                bare = fold(w)
                if bare not in touched:
                    self._forms[bare] = Counter(self._forms.get(bare, ()))   # never change a shared one
                    touched.add(bare)
                self._forms[bare][w] += sign
        if sign < 0:
            for counter in (self._unigrams, self._bigrams, *(self._forms[b] for b in touched)):
                for key in [k for k, v in counter.items() if v <= 0]:
                    del counter[key]
            for bare in [b for b in touched if not self._forms[b]]:
                del self._forms[bare]
        self._total = sum(self._unigrams.values()) or 1
        self._vocab = len(self._unigrams) or 1

    def _candidates(self, word: str) -> list[str]:
        if has_diacritics(word):
            return [word.lower()]
        forms = self._forms.get(word.lower())
        if not forms:
            return [word.lower()]
        return [form for form, _ in forms.most_common(MAX_CANDIDATES)]

    def _log_prob(self, prev: str | None, word: str) -> float:
        p_uni = (self._unigrams[word] + 1) / (self._total + self._vocab)
        if prev is None:
            return math.log(p_uni)
        alpha = 2.0
        return math.log((self._bigrams[(prev, word)] + alpha * p_uni) / (self._unigrams[prev] + alpha))

    def restore(self, text: str) -> str:
        """``text`` with diacritics restored on bare words.

        Only when most words lack them: in a question typed with diacritics a
        bare word ("hoa", "AI", "FDI") is bare on purpose.
        """
        text = nfc(text)
        pieces = _TOKEN.findall(text)
        word_idx = [i for i, p in enumerate(pieces) if p[0].isalnum() or p[0] == "_"]
        accented = sum(has_diacritics(pieces[i]) for i in word_idx)
        if not word_idx or accented > MAX_ACCENTED_SHARE * len(word_idx):
            return text
        lattice = [self._candidates(pieces[i]) for i in word_idx]
        # Viterbi over the candidate lattice.
        best = [{c: (self._log_prob(None, c), None) for c in lattice[0]}]
        for column in lattice[1:]:
            prev_col = best[-1]
            best.append({
                c: max(((s + self._log_prob(p, c), p) for p, (s, _) in prev_col.items()))
                for c in column
            })
        word = max(best[-1], key=lambda c: best[-1][c][0])
        chosen = [word]
        for col in range(len(best) - 1, 0, -1):
            word = best[col][word][1]
            chosen.append(word)
        chosen.reverse()
        for i, form in zip(word_idx, chosen):
            original = pieces[i]
            pieces[i] = form.upper() if original.isupper() and len(original) > 1 else (
                form[:1].upper() + form[1:] if original[:1].isupper() else form
            )
        return "".join(pieces)
