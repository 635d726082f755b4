import json

import numpy as np
import pytest

from retrieval import dense
from retrieval.dense import Unit, stale_reason
from retrieval.embedder import HashEmbedder
from retrieval.searcher import units_for
from retrieval.service import open_searcher


@pytest.fixture
def units(knowledge):
    return units_for(knowledge.corpus, knowledge.variants)


def test_fresh_index_is_used_as_is(units, tmp_path):
    embedder = HashEmbedder()
    dense.save(dense.build(units, embedder), tmp_path)
    assert stale_reason(tmp_path, units, embedder.name) is None
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["model"] == embedder.name and manifest["dim"] == embedder.dim
    assert manifest["units"] == len(units) and manifest["corpus_hash"] and manifest["built_at"]


def test_stale_or_mismatched_index_is_detected(units, tmp_path):
    embedder = HashEmbedder()
    assert stale_reason(tmp_path, units, embedder.name) == "no saved index"
    dense.save(dense.build(units, embedder), tmp_path)
    changed = units[:-1] + [Unit(units[-1].passage_id, units[-1].kind, units[-1].text + " sửa")]
    assert "knowledge changed" in stale_reason(tmp_path, changed, embedder.name)
    assert "model" in stale_reason(tmp_path, units, "another-model")
    (tmp_path / "manifest.json").write_text("{not json")
    assert stale_reason(tmp_path, units, embedder.name) == "no saved index"


def test_open_searcher_rebuilds_a_stale_index(knowledge, tmp_path):
    searcher = open_searcher(knowledge, HashEmbedder(), tmp_path)
    built_at = searcher.dense_manifest.built_at
    # Same knowledge, same model: the saved index is reused, not rebuilt.
    again = open_searcher(knowledge, HashEmbedder(), tmp_path)
    assert again.dense_manifest == searcher.dense_manifest
    # A different model: rebuilt, never silently used.
    other = open_searcher(knowledge, HashEmbedder(dim=128), tmp_path)
    assert other.dense_manifest.model == "hash-128" and other.dense_manifest.dim == 128
    assert built_at  # the manifest records when


def test_faiss_agrees_with_exact_search(units, tmp_path):
    embedder = HashEmbedder()
    index = dense.build(units, embedder)
    queries = embedder.embed_queries(["nhà ở xã hội", "an ninh mạng", "trường học", "khởi nghiệp"])
    scores, positions = index.search(queries, 10)
    exact = queries @ index.vectors().T
    for row in range(len(queries)):
        expected = np.sort(exact[row])[::-1][:10]
        np.testing.assert_allclose(scores[row], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(exact[row][positions[row]], scores[row], rtol=1e-5, atol=1e-6)


def test_saved_index_round_trips(units, tmp_path):
    embedder = HashEmbedder()
    built = dense.build(units, embedder)
    dense.save(built, tmp_path)
    loaded = dense.load(tmp_path)
    assert loaded.manifest == built.manifest
    np.testing.assert_array_equal(loaded.vectors(), built.vectors())
    assert not list(tmp_path.glob("*.tmp"))
