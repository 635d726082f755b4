"""Assemble a ready searcher: load knowledge, reuse or rebuild the saved index."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from knowledge.base import KnowledgeBase
from retrieval import dense
from retrieval.embedder import Embedder
from retrieval.lexicon import Lexicon
from retrieval.offtopic import load_questions, open_bank
from retrieval.searcher import FusionParams, HybridSearcher, units_for

log = logging.getLogger(__name__)

# Called with (units to embed) once, then with each batch's size.
ProgressFactory = Callable[[int], Callable[[int], None]]


def open_searcher(
    knowledge: KnowledgeBase,
    embedder: Embedder,
    index_dir: Path,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
) -> HybridSearcher:
    units = units_for(knowledge.corpus, knowledge.variants)
    reason = "rebuild requested" if rebuild else dense.stale_reason(index_dir, units, embedder.name)
    if reason:
        log.info("building the search index (%s): %d units", reason, len(units))
        index = dense.build(units, embedder, progress(len(units)) if progress else None)
        dense.save(index, index_dir)
    else:
        index = dense.load(index_dir)
    off_topic = open_bank(load_questions(), embedder, index_dir)
    return HybridSearcher(
        knowledge.corpus, units, index, embedder, Lexicon.load(), FusionParams.load(), off_topic
    )
