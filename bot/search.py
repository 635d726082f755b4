"""The searcher and its embedder, built from the settings.

Apart from the app factory (bot/app.py) so that `civicbot ask` loads only
this, the knowledge and retrieval, never the handlers, the storage or a
messenger library: its cold start is mostly imports.
"""

from __future__ import annotations

from bot.settings import Settings
from knowledge.base import KnowledgeBase
from retrieval.embedder import Embedder, SentenceTransformerEmbedder
from retrieval.onnx_embedder import OnnxEmbedder
from retrieval.live import LiveSearcher
from retrieval.service import ProgressFactory, open_live_searcher


def build_embedder(settings: Settings) -> Embedder:
    """The question encoder: the ONNX export alone when there is one (no torch,
    starts in about a second), else sentence-transformers, which exports it."""
    if settings.embedding_backend == "onnx":
        light = OnnxEmbedder.find(settings.model_cache_dir, settings.embedding_model,
                                  settings.embedding_threads, settings.embedding_query_precision,
                                  settings.embedding_passage_precision)
        if light is not None:
            return light
    return reference_embedder(settings)


def reference_embedder(settings: Settings) -> Embedder:
    """sentence-transformers: converts the model and writes its ONNX export."""
    return SentenceTransformerEmbedder(
        settings.embedding_model, settings.model_cache_dir, settings.embedding_threads,
        settings.embedding_backend, settings.embedding_query_precision, settings.embedding_passage_precision,
    )


def build_searcher(
    settings: Settings,
    knowledge: KnowledgeBase | None = None,
    embedder: Embedder | None = None,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
) -> LiveSearcher:
    """The bundled sources and the documents published with `civicbot docs` (live.json).

    A missing or stale index is built by the same embedder: the ONNX export's
    passage graph gives sentence-transformers' vectors (tested).
    """
    knowledge = knowledge or KnowledgeBase.load(settings.knowledge_dir)
    return open_live_searcher(knowledge, embedder or build_embedder(settings), settings.index_dir,
                              rebuild, progress)
