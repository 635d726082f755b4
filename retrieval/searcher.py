"""Hybrid search: lexical (BM25) + dense (e5), fused per passage, with a confidence.

A question goes through: clean (NFC, controls, length) → diacritic
restoration when typed bare → chat shorthand expanded → one tone-mark
spelling. The lexical channel also gets the source-text synonyms of
everyday words (lexicon). Each channel scores every indexing unit; a
passage takes the best score of its units (itself or one of its question
variants). Scores are fused as a weighted sum of per-query normalised
channel scores, and the decision to answer is a logistic model over a few
absolute signals, fitted on labelled questions by bench/calibrate.py. A
question asking for a kind of fact the knowledge never gives (a price, an
opening hour, a phone number, an office holder's name, a procedure...) is
declined whatever it scores (retrieval/scope.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge.documents import Corpus, Passage
from retrieval.dense import DenseIndex, Unit
from retrieval.embedder import Embedder
from retrieval.lexical import LexicalIndex
from retrieval.lexicon import Lexicon
from retrieval.offtopic import nearest
from retrieval.restore import DiacriticRestorer
from retrieval.lexical import QUERY_STOPWORDS
from retrieval.scope import ScopeProfile, cues
from vntext.normalize import (
    TEENCODE,
    canonical_tone_marks,
    clean_input,
    expand_teencode,
    fold,
    is_mostly_letters,
    words,
)

CALIBRATION_FILE = Path(__file__).parent / "calibration.json"


@dataclass(frozen=True)
class FusionParams:
    """Weights of the fusion and the answer/decline model (see bench/calibrate.py)."""

    dense_weight: float = 0.5
    question_unit_bonus: float = 0.0
    # Logistic model over the signals (see HybridSearcher._signals); answer when p >= threshold.
    coef: tuple[float, ...] = (8.0, 4.0, 2.0)
    intercept: float = -8.0
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> "FusionParams":
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "coef" in fields:
            fields["coef"] = tuple(fields["coef"])
        return cls(**fields)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float      # fused, in [0, 1]
    dense: float      # best cosine among the passage's units
    lexical: float    # BM25 relative to the query's best passage, in [0, 1]


@dataclass(frozen=True)
class SearchResult:
    question: str          # as cleaned
    normalised: str        # what the channels saw
    hits: list[Hit]
    confidence: float      # probability the text answers the question
    confident: bool
    signals: tuple[float, ...] = field(default=())
    # When declined because the question asks for a kind of fact the text never gives
    # ("money", "clock", "contact", "person", "place", "procedure"); else "".
    reason: str = ""


def units_for(corpus: Corpus, variants: dict[str, list[str]]) -> list[Unit]:
    """What gets indexed: each passage in its section context, then its questions."""
    units = []
    for p in corpus.passages:
        # Parent headings give a bullet its topic; one already quoted in the
        # passage is not repeated, or its words would count twice.
        context = " › ".join(
            label for label in p.section_path[1:] if label.rstrip("…") not in p.text
        )
        text = f"{context}\n{p.text}" if context else p.text
        units.append(Unit(p.id, "passage", canonical_tone_marks(text)))
    for p in corpus.passages:
        for question in variants.get(p.id, []):
            units.append(Unit(p.id, "question", canonical_tone_marks(question)))
    return units


COVERAGE_TOP_N = 3


class CoverageModel:
    """How much of a question the best passages (with their question variants) account for.

    Words are compared as written (accents kept, after restoration), because
    folded syllables are ambiguous ("căn cước" and "cần cuộc" fold alike).
    Each word weighs its IDF over the units; a word the knowledge base never
    uses weighs the most, since it is the surest sign of a topic we lack.
    """

    def __init__(self, units: list[Unit], passage_pos: dict[str, int]):
        self._passage_words: dict[int, set[str]] = {}
        self._passage_bigrams: dict[int, set[tuple[str, str]]] = {}
        df: dict[str, int] = {}
        for unit in units:
            tokens = _content_words(unit.text)
            pos = passage_pos[unit.passage_id]
            self._passage_words.setdefault(pos, set()).update(tokens)
            self._passage_bigrams.setdefault(pos, set()).update(zip(tokens, tokens[1:]))
            for token in set(tokens):
                df[token] = df.get(token, 0) + 1
        n = len(units)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._unknown_idf = math.log((n + 1) / 0.5)

    def unknown_share(self, query: str) -> float:
        """Share of the question's (weighted) words the knowledge base never uses at all."""
        content = [t for t in _content_words(query) if fold(t) not in QUERY_STOPWORDS]
        if not content:
            return 0.0
        weight = lambda t: self._idf.get(t, self._unknown_idf)  # noqa: E731
        return sum(weight(t) for t in content if t not in self._idf) / sum(weight(t) for t in content)

    def coverage(self, query: str, passages: list[int]) -> tuple[float, float]:
        tokens = _content_words(query)
        content = [t for t in tokens if fold(t) not in QUERY_STOPWORDS]
        if not content:
            return 0.0, 0.0
        known_words = set().union(*(self._passage_words.get(p, set()) for p in passages))
        known_pairs = set().union(*(self._passage_bigrams.get(p, set()) for p in passages))
        weight = lambda t: self._idf.get(t, self._unknown_idf)  # noqa: E731
        total = sum(weight(t) for t in content)
        words_cov = sum(weight(t) for t in content if t in known_words) / total
        pairs = [(a, b) for a, b in zip(tokens, tokens[1:])
                 if fold(a) not in QUERY_STOPWORDS or fold(b) not in QUERY_STOPWORDS]
        if not pairs:
            return words_cov, words_cov
        pair_weight = lambda p: weight(p[0]) + weight(p[1])  # noqa: E731
        pairs_cov = sum(pair_weight(p) for p in pairs if p in known_pairs) / sum(map(pair_weight, pairs))
        return words_cov, pairs_cov


def _content_words(text: str) -> list[str]:
    return [w.lower() for w in words(text)]


class HybridSearcher:
    def __init__(
        self,
        corpus: Corpus,
        units: list[Unit],
        dense: DenseIndex,
        embedder: Embedder,
        lexicon: Lexicon,
        params: FusionParams,
        off_topic: np.ndarray | None = None,
    ):
        self.corpus = corpus
        self.params = params
        self._units = units
        self._dense = dense
        self._embedder = embedder
        self._lexicon = lexicon
        self._lexical = LexicalIndex([u.text for u in units])
        self._restorer = DiacriticRestorer(
            [u.text for u in units] + lexicon.vocabulary() + list(TEENCODE.values())
        )
        passage_pos = {p.id: i for i, p in enumerate(corpus.passages)}
        self._unit_passage = np.array([passage_pos[u.passage_id] for u in units])
        self._unit_is_question = np.array([u.kind == "question" for u in units])
        self._coverage = CoverageModel(units, passage_pos)
        self._scope = ScopeProfile.of([p.text for p in corpus.passages])
        # Everyday questions the text does not answer (retrieval/offtopic.py).
        self._off_topic = off_topic if off_topic is not None else np.zeros((0, 1), dtype=np.float32)

    @property
    def dense_manifest(self):
        return self._dense.manifest

    # -- query side ---------------------------------------------------------

    def normalise(self, question: str) -> tuple[str, str]:
        """(dense query, lexical query) for a cleaned question."""
        restored = self._restorer.restore(question)
        text = canonical_tone_marks(expand_teencode(restored))
        expansions = self._lexicon.expand(text)
        lexical = " ".join([text, *expansions])
        return text, lexical

    # -- search -------------------------------------------------------------

    def search(self, question: str, k: int = 5) -> SearchResult:
        return self.search_many([question], k)[0]

    def search_many(self, questions: list[str], k: int = 5) -> list[SearchResult]:
        """Search several questions at once (one embedding batch)."""
        cleaned = [clean_input(q) for q in questions]
        prepared = [self.normalise(q) for q in cleaned]
        searchable = [i for i, q in enumerate(cleaned) if is_mostly_letters(q)]
        vectors = (
            self._embedder.embed_queries([prepared[i][0] for i in searchable])
            if searchable else None
        )
        results = [SearchResult(q, q, [], 0.0, False) for q in cleaned]
        for row, i in enumerate(searchable):
            results[i] = self._rank(cleaned[i], prepared[i], vectors[row], k)
        return results

    def _rank(self, question: str, prepared: tuple[str, str], vector: np.ndarray, k: int) -> SearchResult:
        dense_query, lexical_query = prepared
        n_passages = len(self.corpus.passages)

        unit_cos = np.zeros(len(self._units), dtype=np.float32)
        scores, positions = self._dense.search(vector[None, :], len(self._units))
        unit_cos[positions[0]] = scores[0]
        unit_cos = unit_cos + self.params.question_unit_bonus * self._unit_is_question
        dense = np.full(n_passages, -1.0, dtype=np.float32)
        np.maximum.at(dense, self._unit_passage, unit_cos)

        unit_bm25 = self._lexical.scores(lexical_query)
        bm25 = np.zeros(n_passages, dtype=np.float32)
        np.maximum.at(bm25, self._unit_passage, unit_bm25)
        top_bm25 = float(bm25.max())
        lexical = bm25 / top_bm25 if top_bm25 > 0 else bm25

        d_lo, d_hi = float(dense.min()), float(dense.max())
        dense_rel = (dense - d_lo) / (d_hi - d_lo) if d_hi > d_lo else np.zeros_like(dense)
        w = self.params.dense_weight
        fused = w * dense_rel + (1 - w) * lexical

        order = np.argsort(-fused, kind="stable")[:k]
        hits = [
            Hit(self.corpus.passages[i], float(fused[i]), float(dense[i]), float(lexical[i]))
            for i in order
        ]
        asked_like = float(unit_cos[self._unit_is_question].max()) if self._unit_is_question.any() else 0.0
        off_topic_margin = nearest(self._off_topic, vector) - asked_like
        signals = self._signals(dense, top_bm25, dense_query, order, off_topic_margin)
        confidence = self._confidence(signals)
        reason = self._scope.missing_fact(dense_query)
        return SearchResult(
            question=question,
            normalised=dense_query,
            hits=hits,
            confidence=confidence,
            confident=confidence >= self.params.threshold and not reason,
            signals=signals,
            reason=reason,
        )

    def _signals(self, dense: np.ndarray, top_bm25: float, query: str, order,
                 off_topic_margin: float) -> tuple[float, ...]:
        """Absolute evidence that the text covers the question (not relative ranks)."""
        best = int(order[0])
        top = [int(i) for i in order[:COVERAGE_TOP_N]]
        words_cov, bigrams_cov = self._coverage.coverage(query, top)
        return (
            float(dense[best]),        # cosine of the answer
            math.log1p(top_bm25),      # lexical evidence
            words_cov,                 # informative words the answers account for
            bigrams_cov,               # ... and word pairs, which are far less ambiguous
            self._coverage.unknown_share(query),   # words the knowledge never uses at all
            *cues(query),              # about now / asks when / where / which one (retrieval/scope.py)
            off_topic_margin,          # closer to everyday questions than to the text's own questions
        )

    def _confidence(self, signals: tuple[float, ...]) -> float:
        z = self.params.intercept + sum(c * s for c, s in zip(self.params.coef, signals))
        return 1.0 / (1.0 + math.exp(-z))
