"""The ONNX Runtime encoder gives sentence-transformers' own vectors, faster."""

from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from retrieval.e5_convert import ensure_default_model
from retrieval.embedder import SentenceTransformerEmbedder
from retrieval.onnx_encoder import INT8_FILE, OnnxEncoder, accelerate

pytestmark = pytest.mark.model

TEXTS = [
    "Nghị quyết 05 về xây dựng mô hình Chủ nghĩa xã hội tại Hải Phòng",
    "mo hinh nha o xa hoi chu nghia",
    "Who issued the resolution?",
    "ngắn",
    "😀 tiêu chí",
    " ".join(["Người dân chủ động tham gia kiểm tra, giám sát, phản biện các cơ chế, chính sách."] * 12),
]


@pytest.fixture(scope="module")
def model_dir(model_settings):
    return ensure_default_model(model_settings.model_cache_dir)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    """One export (float32 + int8, ~20 s) shared by the tests that only use it."""
    return tmp_path_factory.mktemp("onnx-export")


def test_onnx_vectors_match_pytorch_in_batches_of_mixed_lengths(model_dir, export_dir):
    plain = SentenceTransformer(str(model_dir), device="cpu")
    fast = SentenceTransformer(str(model_dir), device="cpu")
    assert accelerate(fast, export_dir)
    assert isinstance(fast[0].model, OnnxEncoder)
    for prompt in ("query", "passage"):
        expected = plain.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        got = fast.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        assert np.min(np.sum(expected * got, axis=1)) >= 0.9999
        single = fast.encode(TEXTS[:1], prompt_name=prompt, normalize_embeddings=True)
        assert float(np.dot(single[0], expected[0])) >= 0.9999


def test_questions_go_through_the_int8_copy_and_passages_stay_float32_unless_asked(model_settings):
    plain = SentenceTransformer(str(ensure_default_model(model_settings.model_cache_dir)), device="cpu")
    plain.max_seq_length = 256             # as the embedder truncates
    embedder = SentenceTransformerEmbedder("multilingual-e5-small", model_settings.model_cache_dir)
    passages = embedder.embed_passages(TEXTS)
    assert np.min(np.sum(plain.encode(TEXTS, prompt_name="passage", normalize_embeddings=True) * passages,
                         axis=1)) >= 0.9999
    expected = plain.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    close = np.sum(expected * embedder.embed_queries(TEXTS), axis=1)
    assert np.min(close) >= 0.98            # near float32 ...
    assert np.max(close) < 0.99999          # ... but really the 8-bit graph
    exact = SentenceTransformerEmbedder("multilingual-e5-small", model_settings.model_cache_dir,
                                        query_precision="float32")
    assert np.min(np.sum(expected * exact.embed_queries(TEXTS), axis=1)) >= 0.9999
    # Passages in 8 bits on request (what the settings choose): other vectors, so another index identity.
    small = SentenceTransformerEmbedder("multilingual-e5-small", model_settings.model_cache_dir,
                                        passage_precision="int8")
    assert embedder.name == "multilingual-e5-small" and small.name == "multilingual-e5-small (int8 passages)"
    close = np.sum(plain.encode(TEXTS, prompt_name="passage", normalize_embeddings=True) * small.embed_passages(TEXTS),
                   axis=1)
    assert np.min(close) >= 0.98 and np.max(close) < 0.99999


def test_a_server_that_only_embeds_questions_never_opens_the_float32_graph(model_dir, export_dir):
    model = SentenceTransformer(str(model_dir), device="cpu")
    assert accelerate(model, export_dir)
    encoder = model[0].model
    assert encoder.has_int8 and not encoder._sessions
    with encoder.precision("int8"):
        model.encode(TEXTS[:2], prompt_name="query")
    assert [Path(p).name for p in encoder._sessions] == [INT8_FILE]


def test_export_is_cached_and_reused(model_dir, export_dir):
    first = SentenceTransformer(str(model_dir), device="cpu")
    assert accelerate(first, export_dir)
    (exported,) = (export_dir / "onnx").glob("*/model.onnx")
    weights = exported.with_name("model.onnx.data")
    stamp = weights.stat().st_mtime_ns
    second = SentenceTransformer(str(model_dir), device="cpu")
    assert accelerate(second, export_dir)
    assert weights.stat().st_mtime_ns == stamp
    # The service account must be able to read every file of the export.
    assert {oct(f.stat().st_mode & 0o777) for f in exported.parent.iterdir()} == {"0o644"}
    assert (exported.parent / INT8_FILE).exists()
    assert not list((export_dir / "onnx").glob(".export-*"))


def test_a_model_that_cannot_be_exported_stays_in_pytorch(tmp_path):
    class NotAnEncoder:
        def __getitem__(self, index):
            return object()

    assert accelerate(NotAnEncoder(), tmp_path) is False


def test_the_torch_free_embedder_gives_sentence_transformers_vectors(model_settings, real_searcher, knowledge):
    """What `civicbot ask` and the bot serve questions with: the same vectors as the path the
    index was built with, on every indexed passage and question variant."""
    from retrieval.onnx_embedder import OnnxEmbedder
    from retrieval.searcher import units_for

    precision = model_settings.embedding_passage_precision      # as the index was built
    light = OnnxEmbedder.find(model_settings.model_cache_dir, "multilingual-e5-small", passage_precision=precision)
    assert light is not None and not light.loaded
    reference = SentenceTransformerEmbedder("multilingual-e5-small", model_settings.model_cache_dir,
                                            passage_precision=precision)
    units = units_for(knowledge.corpus, knowledge.variants)
    passages = [u.text for u in units if u.kind == "passage"]
    questions = [u.text for u in units if u.kind == "question"] + TEXTS + ["  khoảng trắng  ", "", "A"]
    for mine, theirs in ((light.embed_passages(passages), reference.embed_passages(passages)),
                         (light.embed_queries(questions), reference.embed_queries(questions))):
        assert mine.shape == theirs.shape and mine.dtype == np.float32
        assert np.abs(mine - theirs).max() < 1e-6          # float rounding in the pooling, no more
    assert light.loaded
    # The saved index holds exactly these vectors.
    index_vectors = real_searcher._dense.vectors()
    passage_rows = [i for i, u in enumerate(units) if u.kind == "passage"]
    assert np.abs(index_vectors[passage_rows] - light.embed_passages(passages)).max() < 1e-6


def test_a_changed_model_or_no_manifest_means_no_torch_free_path(model_settings, real_searcher, tmp_path):
    from retrieval.onnx_embedder import MANIFEST_FILE, ExportManifest, find_export

    folder, manifest = find_export(model_settings.model_cache_dir, "multilingual-e5-small")
    assert find_export(model_settings.model_cache_dir, "another-model") is None
    copy = tmp_path / "models" / "onnx" / folder.name
    copy.mkdir(parents=True)
    (copy / manifest.float32_file).write_bytes(b"")
    stale = ExportManifest(**{**manifest.__dict__, "weights": [["model.safetensors", 1, 1]]})
    stale.write(copy)
    assert find_export(tmp_path / "models", "multilingual-e5-small") is None      # the weights changed since
    (copy / MANIFEST_FILE).write_text("{not json")
    assert find_export(tmp_path / "models", "multilingual-e5-small") is None
