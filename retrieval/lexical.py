"""BM25 over diacritic-folded syllables and syllable bigrams.

Vietnamese words are mostly two syllables ("xã hội", "pháp luật"), so a
bigram term rewards matching the word, not just its halves. Question words
("là gì", "thế nào", "có không") carry no topic and are dropped from queries.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import sparse

from vntext.normalize import syllables

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
    """BM25 over sparse matrices: Lucene's idf, k1 = 1.5, b = 0.75, as bm25s scores it.

    Written for a library that grows: each text's terms are analysed once
    per process and remembered (as ids in a shared vocabulary), so the index
    of a corpus with one more document is built from arrays in well under a
    second instead of re-tokenising every text (bm25s cannot add documents
    to an index). A test checks the scores against bm25s.
    """

    K1, B = 1.5, 0.75

    def __init__(self, texts: list[str]):
        self._size = len(texts)
        with _ANALYSED_LOCK:
            rows = [_term_ids(t) for t in texts]
            _forget_unless(texts)
            vocabulary = len(_VOCABULARY)
            terms_by_id = _TERMS[:]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        ids = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        docs = np.repeat(np.arange(len(rows)), lengths)
        counts = sparse.csr_matrix((np.ones(len(ids), np.float32), (docs, ids)),
                                   shape=(len(rows), vocabulary))
        counts.sum_duplicates()
        df = np.bincount(counts.indices, minlength=vocabulary)
        idf = np.log1p((len(rows) - df + 0.5) / (df + 0.5)).astype(np.float32)
        tf = counts.data
        doc_of = np.repeat(np.arange(len(rows)), np.diff(counts.indptr))
        norm = self.K1 * (1 - self.B + self.B * lengths[doc_of] / max(float(lengths.mean()), 1e-9))
        counts.data = (idf[counts.indices] * tf / (tf + norm)).astype(np.float32)
        self._weights = counts.tocsc()
        self._ids = {terms_by_id[i]: i for i in np.flatnonzero(df)}
        self._vocab = set(self._ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed text (zeros when no term is known)."""
        query_ids = [self._ids[t] for t in terms(query, drop_stopwords=True) if t in self._ids]
        if not query_ids:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._weights[:, query_ids].sum(axis=1), dtype=np.float32).ravel()

    def known_share(self, query: str) -> float:
        """Share of the query's content syllables that occur anywhere in the index."""
        content = [t for t in syllables(query) if t not in QUERY_STOPWORDS]
        if not content:
            return 0.0
        return sum(t in self._vocab for t in content) / len(content)


# Terms of every text analysed in this process, as ids in one growing vocabulary.
_ANALYSED_LOCK = threading.Lock()
_VOCABULARY: dict[str, int] = {}
_TERMS: list[str] = []
_ANALYSED: dict[str, np.ndarray] = {}


def _term_ids(text: str) -> np.ndarray:
    ids = _ANALYSED.get(text)
    if ids is None:
        out = []
        for term in terms(text) or ["\x00"]:
            term_id = _VOCABULARY.get(term)
            if term_id is None:
                term_id = _VOCABULARY[term] = len(_TERMS)
                _TERMS.append(term)
            out.append(term_id)
        ids = _ANALYSED[text] = np.array(out, dtype=np.int32)
    return ids


def _forget_unless(texts: list[str]) -> None:
    """Keep the analysis cache to about the texts indexed last (two indexes may coexist)."""
    if len(_ANALYSED) > 2 * len(texts) + 10_000:
        keep = set(texts)
        for text in [t for t in _ANALYSED if t not in keep]:
            del _ANALYSED[text]
