"""FAISS index of the knowledge base, saved with a manifest.

What gets embedded ("units"): each passage in context (its section path,
then its text, with the "passage: " prompt) and each question variant of it
(with the "query: " prompt, so a resident's question is compared with
questions like it). Vectors are L2-normalised; inner product = cosine.

The manifest records model, dimension, a hash of every unit and the build
time. `load_or_build` refuses to use an index whose manifest does not match
the current corpus and model: it rebuilds instead, never silently serves a
stale one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from retrieval.embedder import Embedder

FORMAT_VERSION = 1
INDEX_FILE = "dense.faiss"
MANIFEST_FILE = "manifest.json"
EMBED_BATCH = 32


@dataclass(frozen=True)
class Unit:
    passage_id: str
    kind: str   # "passage" (embedded as a passage) or "question" (as a query)
    text: str


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dim: int
    corpus_hash: str
    units: int
    built_at: str


def units_hash(units: list[Unit]) -> str:
    digest = hashlib.sha256()
    for u in units:
        digest.update(f"{u.passage_id}\x1f{u.kind}\x1f{u.text}\x1e".encode())
    return digest.hexdigest()


class DenseIndex:
    def __init__(self, index: faiss.Index, manifest: Manifest):
        self._index = index
        self.manifest = manifest

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, unit positions) for each query row, best first."""
        k = min(k, self._index.ntotal)
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def vectors(self) -> np.ndarray:
        return self._index.reconstruct_n(0, self._index.ntotal)

    def all_scores(self, query: np.ndarray) -> np.ndarray:
        """Exact inner product of ``query`` with every unit, in unit order.

        The searcher needs every unit's score (a passage takes its best
        unit's): one matrix-vector product over FAISS's own storage, where a
        FAISS search for all n results would also sort them (70 ms at 50k).
        """
        n, d = self._index.ntotal, self._index.d
        stored = faiss.rev_swig_ptr(faiss.downcast_index(self._index).get_xb(), n * d).reshape(n, d)
        return stored @ np.asarray(query, dtype=np.float32)


def embed_units(
    units: list[Unit], embedder: Embedder, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """Embed units in batches, each kind with its own prompt; rows in unit order.

    Longest texts first, so each batch holds texts of about the same length:
    a batch is padded to its longest text, and a short bullet batched with a
    600-character passage costs as much as the passage.
    """
    vectors = np.zeros((len(units), embedder.dim), dtype=np.float32)
    for kind, embed in (("passage", embedder.embed_passages), ("question", embedder.embed_queries)):
        positions = sorted((i for i, u in enumerate(units) if u.kind == kind), key=lambda i: -len(units[i].text))
        for start in range(0, len(positions), EMBED_BATCH):
            batch = positions[start : start + EMBED_BATCH]
            vectors[batch] = embed([units[i].text for i in batch])
            if progress:
                progress(len(batch))
    return vectors


def build(
    units: list[Unit], embedder: Embedder, progress: Callable[[int], None] | None = None
) -> DenseIndex:
    vectors = embed_units(units, embedder, progress)
    # Exact inner-product search: the corpus is a few thousand vectors at
    # most, where a flat index is both fastest and exact.
    index = faiss.IndexFlatIP(embedder.dim)
    index.add(vectors)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dim=embedder.dim,
        corpus_hash=units_hash(units),
        units=len(units),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return DenseIndex(index, manifest)


def save(dense: DenseIndex, folder: Path) -> None:
    """Write index then manifest, each atomically: a crash leaves no valid-looking half."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp_index = folder / (INDEX_FILE + ".tmp")
    faiss.write_index(dense._index, str(tmp_index))
    os.replace(tmp_index, folder / INDEX_FILE)
    tmp_manifest = folder / (MANIFEST_FILE + ".tmp")
    tmp_manifest.write_text(json.dumps(asdict(dense.manifest), indent=2), encoding="utf-8")
    os.replace(tmp_manifest, folder / MANIFEST_FILE)


def read_manifest(folder: Path) -> Manifest | None:
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        return Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None


def stale_reason(folder: Path, units: list[Unit], model: str) -> str | None:
    """Why the saved index cannot be used for these units and model (None: it can)."""
    manifest = read_manifest(folder)
    if manifest is None or not (folder / INDEX_FILE).exists():
        return "no saved index"
    if manifest.format_version != FORMAT_VERSION:
        return "index format changed"
    if manifest.model != model:
        return f"built with model {manifest.model!r}, configured {model!r}"
    if manifest.corpus_hash != units_hash(units) or manifest.units != len(units):
        return "knowledge changed since the index was built"
    return None


def load(folder: Path) -> DenseIndex:
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(folder / MANIFEST_FILE)
    index = faiss.read_index(str(folder / INDEX_FILE))
    if index.ntotal != manifest.units or index.d != manifest.dim:
        raise ValueError("saved index does not match its manifest")
    return DenseIndex(index, manifest)
