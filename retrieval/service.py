"""Assemble a ready searcher: load knowledge, reuse or rebuild the saved index, follow live.json."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from knowledge.base import KnowledgeBase
from retrieval.embedder import Embedder
from retrieval.lexicon import Lexicon
from retrieval.live import LiveIndex, LiveSearcher, base_index
from retrieval.offtopic import load_questions, open_bank
from retrieval.searcher import FusionParams, HybridSearcher, units_for

# Called with (units to embed) once, then with each batch's size.
ProgressFactory = Callable[[int], Callable[[int], None]]


def open_searcher(
    knowledge: KnowledgeBase,
    embedder: Embedder,
    index_dir: Path,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
) -> HybridSearcher:
    """A searcher over the bundled sources only (tests, evaluation)."""
    index = base_index(knowledge, embedder, index_dir, rebuild, progress)
    units = units_for(knowledge.corpus, knowledge.variants)
    off_topic = open_bank(load_questions(), embedder, index_dir)
    return HybridSearcher(
        knowledge.corpus, units, index, embedder, Lexicon.load(), FusionParams.load(), off_topic
    )


def open_live_searcher(
    knowledge: KnowledgeBase,
    embedder: Embedder,
    index_dir: Path,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
) -> LiveSearcher:
    """The bundled sources plus the published documents (retrieval/live.py)."""
    index = base_index(knowledge, embedder, index_dir, rebuild, progress)
    off_topic = open_bank(load_questions(), embedder, index_dir)
    return LiveSearcher(LiveIndex(knowledge, index, embedder, index_dir, off_topic))
