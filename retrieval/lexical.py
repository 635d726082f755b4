"""BM25 over diacritic-folded syllables and syllable bigrams (bm25s).

Vietnamese words are mostly two syllables ("xã hội", "pháp luật"), so a
bigram term rewards matching the word, not just its halves. Question words
("là gì", "thế nào", "có không") carry no topic and are dropped from queries.
"""

from __future__ import annotations

import logging

import bm25s
import numpy as np

from vntext.normalize import syllables

# bm25s sets its logger to DEBUG when imported: every `civicbot ask` printed
# "DEBUG bm25s: Building index from tokens". Its warnings still show.
logging.getLogger("bm25s").setLevel(logging.WARNING)

# Folded function and question words that say nothing about the topic.
QUERY_STOPWORDS = frozenset(
    """
    la gi co khong nao the nhu thi sao ai bao gio nhieu duoc cua va cac nhung
    cho voi o a ha nhi oi toi minh em anh ban chung ta ve nay do kia roi chua
    se da dang bi hay hoac thuong rat lam muon biet hoi xin vay ne nhe a u
    tai vi sao khi nguoi dan mot
    """.split()
)


def terms(text: str, drop_stopwords: bool = False) -> list[str]:
    """Syllables plus adjacent-syllable bigrams, folded."""
    tokens = syllables(text)
    bigrams = [f"{a}_{b}" for a, b in zip(tokens, tokens[1:])]
    if drop_stopwords:
        tokens = [t for t in tokens if t not in QUERY_STOPWORDS]
        bigrams = [
            b for b in bigrams
            if not all(part in QUERY_STOPWORDS for part in b.split("_"))
        ]
    return tokens + bigrams


class LexicalIndex:
    def __init__(self, texts: list[str]):
        self._size = len(texts)
        self._bm25 = bm25s.BM25()
        self._bm25.index([terms(t) or ["\x00"] for t in texts], show_progress=False)
        self._vocab = set(self._bm25.vocab_dict)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed text (zeros when no term is known)."""
        query_terms = [t for t in terms(query, drop_stopwords=True) if t in self._vocab]
        if not query_terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query_terms), dtype=np.float32)

    def known_share(self, query: str) -> float:
        """Share of the query's content syllables that occur anywhere in the index."""
        content = [t for t in syllables(query) if t not in QUERY_STOPWORDS]
        if not content:
            return 0.0
        return sum(t in self._vocab for t in content) / len(content)
