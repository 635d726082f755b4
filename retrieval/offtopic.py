"""Everyday questions the documents do not answer, embedded once (knowledge/data/off_topic.yaml).

How much closer a question comes to these than to the indexed question
variants (how residents ask about what the text does say) is one of the
decline model's signals: a nearest-neighbour check for questions from
everyday civic life that share words with the text. The vectors are cached
beside the search index and rebuilt when the questions or the model change.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import yaml

from retrieval.embedder import Embedder
from vntext.normalize import canonical_tone_marks, clean_input

OFF_TOPIC_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "data" / "off_topic.yaml"
VECTORS_FILE = "off_topic.npy"
MANIFEST_FILE = "off_topic.json"
# A bank question this close to the asked one is the asked one (while calibrating on the bank).
SAME_QUESTION = 0.999


def load_questions(path: Path = OFF_TOPIC_FILE) -> list[str]:
    if not path.exists():
        return []
    return [canonical_tone_marks(clean_input(str(q))) for q in yaml.safe_load(path.read_text(encoding="utf-8")) or []]


def _hash(questions: list[str], model: str) -> str:
    return hashlib.sha256(json.dumps([model, questions], ensure_ascii=False).encode()).hexdigest()


def open_bank(questions: list[str], embedder: Embedder, folder: Path) -> np.ndarray:
    """The questions' unit vectors (embedded like indexed question variants), from the cache when current."""
    if not questions:
        return np.zeros((0, 1), dtype=np.float32)
    digest = _hash(questions, embedder.name)
    vectors_path, manifest_path = folder / VECTORS_FILE, folder / MANIFEST_FILE
    try:
        if json.loads(manifest_path.read_text(encoding="utf-8")).get("hash") == digest:
            return np.load(vectors_path)
    except (OSError, ValueError):
        pass
    vectors = np.asarray(embedder.embed_queries(questions), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (VECTORS_FILE + ".tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, vectors_path)
    tmp_manifest = folder / (MANIFEST_FILE + ".tmp")
    tmp_manifest.write_text(json.dumps({"hash": digest, "model": embedder.name, "questions": len(questions)}),
                            encoding="utf-8")
    os.replace(tmp_manifest, manifest_path)
    return vectors


def nearest(bank: np.ndarray, vector: np.ndarray) -> float:
    """The highest cosine between ``vector`` and the bank (the question itself left out)."""
    if bank.shape[0] == 0 or bank.shape[1] != vector.shape[0]:
        return 0.0
    cosines = bank @ vector
    cosines = cosines[cosines < SAME_QUESTION]
    return float(cosines.max()) if cosines.size else 0.0
