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
from retrieval.scope import ScopeProfile, cues, unmet_answer_type
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
_NO_HASHES = np.zeros(0, dtype=np.int64)


class CoverageModel:
    """How much of a question the best passages (with their question variants) account for.

    Words are compared as written (accents kept, after restoration), because
    folded syllables are ambiguous ("căn cước" and "cần cuộc" fold alike).
    Each word weighs its IDF over the units; a word the knowledge base never
    uses weighs the most, since it is the surest sign of a topic we lack.
    """

    def __init__(self, units: list[Unit], passage_pos: dict[str, int]):
        # Per passage id, the hashes of its words and of its word pairs: compact
        # (a library of 50,000 passages held as sets of strings and tuples took 0.6 GB).
        self._passage_words: dict[str, np.ndarray] = {}
        self._passage_bigrams: dict[str, np.ndarray] = {}
        self._df: dict[str, int] = {}
        self._add_units(units, units)
        self._finish(len(units), passage_pos)

    def updated(self, units: list[Unit], passage_pos: dict[str, int],
                added: list[Unit], removed: list[Unit]) -> "CoverageModel":
        """The model of ``units``, which differ from this model's by ``added`` and ``removed``.

        Costs the changed units, not the corpus: a library that grows by one
        document gets its new model in milliseconds (retrieval/live.py).
        """
        new = CoverageModel.__new__(CoverageModel)
        touched = {u.passage_id for u in (*added, *removed)}
        new._passage_words = {p: w for p, w in self._passage_words.items() if p not in touched}
        new._passage_bigrams = {p: b for p, b in self._passage_bigrams.items() if p not in touched}
        new._df = dict(self._df)
        for unit in removed:
            for token in set(_content_words(unit.text)):
                new._df[token] -= 1
                if not new._df[token]:
                    del new._df[token]
        for unit in added:
            for token in set(_content_words(unit.text)):
                new._df[token] = new._df.get(token, 0) + 1
        new._add_units([u for u in units if u.passage_id in touched], [])
        new._finish(len(units), passage_pos)
        return new

    def _add_units(self, units: list[Unit], counted: list[Unit]) -> None:
        """Passage word sets from ``units``; document frequencies from ``counted``."""
        counted_ids = {id(u) for u in counted}
        words: dict[str, set[int]] = {}
        pairs: dict[str, set[int]] = {}
        for unit in units:
            tokens = _content_words(unit.text)
            words.setdefault(unit.passage_id, set()).update(map(hash, tokens))
            pairs.setdefault(unit.passage_id, set()).update(map(hash, zip(tokens, tokens[1:])))
            if id(unit) in counted_ids:
                for token in set(tokens):
                    self._df[token] = self._df.get(token, 0) + 1
        for passage_id, hashes in words.items():
            self._passage_words[passage_id] = np.fromiter(hashes, np.int64, len(hashes))
            self._passage_bigrams[passage_id] = np.fromiter(pairs[passage_id], np.int64, len(pairs[passage_id]))

    def _finish(self, n: int, passage_pos: dict[str, int]) -> None:
        self._passage_at = {pos: pid for pid, pos in passage_pos.items()}
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in self._df.items()}
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
        ids = [self._passage_at.get(p) for p in passages]
        known_words = set(np.concatenate([self._passage_words.get(p, _NO_HASHES) for p in ids]).tolist())
        known_pairs = set(np.concatenate([self._passage_bigrams.get(p, _NO_HASHES) for p in ids]).tolist())
        weight = lambda t: self._idf.get(t, self._unknown_idf)  # noqa: E731
        total = sum(weight(t) for t in content)
        words_cov = sum(weight(t) for t in content if hash(t) in known_words) / total
        pairs = [(a, b) for a, b in zip(tokens, tokens[1:])
                 if fold(a) not in QUERY_STOPWORDS or fold(b) not in QUERY_STOPWORDS]
        if not pairs:
            return words_cov, words_cov
        pair_weight = lambda p: weight(p[0]) + weight(p[1])  # noqa: E731
        pairs_cov = sum(pair_weight(p) for p in pairs if hash(p) in known_pairs) / sum(map(pair_weight, pairs))
        return words_cov, pairs_cov


def _unit_changes(old: list[Unit], new: list[Unit]) -> tuple[list[Unit], list[Unit]]:
    """(units only in ``new``, units only in ``old``), by passage id, kind and text."""
    old_keys = {(u.passage_id, u.kind, u.text) for u in old}
    new_keys = {(u.passage_id, u.kind, u.text) for u in new}
    return ([u for u in new if (u.passage_id, u.kind, u.text) not in old_keys],
            [u for u in old if (u.passage_id, u.kind, u.text) not in new_keys])


def _passage_changes(old: Corpus, new: Corpus) -> tuple[list[str], list[str]]:
    """(texts of passages only in ``new``, texts of passages only in ``old``), by id and text."""
    old_keys = {(p.id, p.text) for p in old.passages}
    new_keys = {(p.id, p.text) for p in new.passages}
    return [text for _, text in new_keys - old_keys], [text for _, text in old_keys - new_keys]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best scores, best first; ties keep position order (as a stable sort)."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    # Everything tied with the k-th best is a candidate, so ties break as a full stable sort would.
    kth = np.partition(-scores, k - 1)[k - 1]
    candidates = np.flatnonzero(-scores <= kth)
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]


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
        previous: "HybridSearcher | None" = None,
    ):
        """``off_topic``: vectors of everyday questions the text does not answer
        (retrieval/offtopic.py). ``previous``: a searcher over a corpus that differs
        by a few documents (retrieval/live.py): its statistics are updated, not rebuilt."""
        self.corpus = corpus
        self.params = params
        self._units = units
        self._dense = dense
        self._embedder = embedder
        self._lexicon = lexicon
        self._lexical = LexicalIndex([u.text for u in units])
        passage_pos = {p.id: i for i, p in enumerate(corpus.passages)}
        self._unit_passage = np.array([passage_pos[u.passage_id] for u in units])
        self._unit_is_question = np.array([u.kind == "question" for u in units])
        # Each passage's first unit, and the others (its question variants): taking
        # the first ones by indexing leaves np.maximum.at (slow) only the few others.
        self._first_passages, self._first_units = np.unique(self._unit_passage, return_index=True)
        self._other_units = np.setdiff1d(np.arange(len(units)), self._first_units)
        if previous is not None and previous._lexicon is lexicon:
            added, removed = _unit_changes(previous._units, units)
            self._restorer = previous._restorer.updated([u.text for u in added], [u.text for u in removed])
            self._coverage = previous._coverage.updated(units, passage_pos, added, removed)
            self._scope = previous._scope.updated(*_passage_changes(previous.corpus, corpus))
        else:
            self._restorer = DiacriticRestorer(
                [u.text for u in units] + lexicon.vocabulary() + list(TEENCODE.values())
            )
            self._coverage = CoverageModel(units, passage_pos)
            self._scope = ScopeProfile.of([p.text for p in corpus.passages])
        # Everyday questions the text does not answer (retrieval/offtopic.py).
        self._off_topic = off_topic if off_topic is not None else np.zeros((0, 1), dtype=np.float32)

    @property
    def dense_manifest(self):
        return self._dense.manifest

    @property
    def embedder(self) -> Embedder:
        return self._embedder

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

    def search_many(self, questions: list[str], k: int = 5,
                    allowed: "list[np.ndarray | None] | None" = None) -> list[SearchResult]:
        """Search several questions at once (one embedding batch).

        ``allowed``: per question, a mask of the passages it may be answered
        from (ward scope, retrieval/live.py); the others are as if absent.
        """
        cleaned = [clean_input(q) for q in questions]
        prepared = [self.normalise(q) for q in cleaned]
        searchable = [i for i, q in enumerate(cleaned) if is_mostly_letters(q)]
        vectors = (
            self._embedder.embed_queries([prepared[i][0] for i in searchable])
            if searchable else None
        )
        results = [SearchResult(q, q, [], 0.0, False) for q in cleaned]
        for row, i in enumerate(searchable):
            results[i] = self._rank(cleaned[i], prepared[i], vectors[row], k, allowed[i] if allowed else None)
        return results

    def _rank(self, question: str, prepared: tuple[str, str], vector: np.ndarray, k: int,
              allowed: np.ndarray | None = None) -> SearchResult:
        dense_query, lexical_query = prepared

        unit_cos = self._dense.all_scores(vector) + self.params.question_unit_bonus * self._unit_is_question
        dense = self._best_of_units(unit_cos, -1.0)

        unit_bm25 = self._lexical.scores(lexical_query)
        bm25 = self._best_of_units(unit_bm25, 0.0)
        if allowed is not None:
            dense = np.where(allowed, dense, dense[allowed].min())
            bm25 = np.where(allowed, bm25, 0.0)
        top_bm25 = float(bm25.max())
        lexical = bm25 / top_bm25 if top_bm25 > 0 else bm25

        d_lo, d_hi = float(dense.min()), float(dense.max())
        dense_rel = (dense - d_lo) / (d_hi - d_lo) if d_hi > d_lo else np.zeros_like(dense)
        w = self.params.dense_weight
        fused = w * dense_rel + (1 - w) * lexical
        if allowed is not None:
            fused = np.where(allowed, fused, -np.inf)

        order = _top(fused, k)
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

    def _best_of_units(self, unit_scores: np.ndarray, floor: float) -> np.ndarray:
        """Per passage, the best score among its units (``floor`` for a passage without units)."""
        best = np.full(len(self.corpus.passages), floor, dtype=np.float32)
        best[self._first_passages] = np.maximum(floor, unit_scores[self._first_units])
        np.maximum.at(best, self._unit_passage[self._other_units], unit_scores[self._other_units])
        return best

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
            unmet_answer_type(query, self.corpus.passages[best].text),   # asks a date / amount it lacks
            *cues(query),              # about now / asks when / where / which one (retrieval/scope.py)
            off_topic_margin,          # closer to everyday questions than to the text's own questions
        )

    def _confidence(self, signals: tuple[float, ...]) -> float:
        z = self.params.intercept + sum(c * s for c, s in zip(self.params.coef, signals))
        return 1.0 / (1.0 + math.exp(-z))
