"""The ONNX Runtime encoder gives sentence-transformers' own vectors, faster."""

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from retrieval.e5_convert import ensure_default_model
from retrieval.onnx_encoder import OnnxEncoder, accelerate

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


def test_onnx_vectors_match_pytorch_in_batches_of_mixed_lengths(model_dir, tmp_path):
    plain = SentenceTransformer(str(model_dir), device="cpu")
    fast = SentenceTransformer(str(model_dir), device="cpu")
    assert accelerate(fast, tmp_path)
    assert isinstance(fast[0].model, OnnxEncoder)
    for prompt in ("query", "passage"):
        expected = plain.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        got = fast.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        assert np.min(np.sum(expected * got, axis=1)) >= 0.9999
        single = fast.encode(TEXTS[:1], prompt_name=prompt, normalize_embeddings=True)
        assert float(np.dot(single[0], expected[0])) >= 0.9999


def test_export_is_cached_and_reused(model_dir, tmp_path):
    first = SentenceTransformer(str(model_dir), device="cpu")
    assert accelerate(first, tmp_path)
    (exported,) = (tmp_path / "onnx").glob("*/model.onnx")
    weights = exported.with_name("model.onnx.data")
    stamp = weights.stat().st_mtime_ns
    second = SentenceTransformer(str(model_dir), device="cpu")
    assert accelerate(second, tmp_path)
    assert weights.stat().st_mtime_ns == stamp
    assert oct(weights.stat().st_mode & 0o777) == "0o644"
    assert not list((tmp_path / "onnx").glob(".export-*"))


def test_a_model_that_cannot_be_exported_stays_in_pytorch(tmp_path):
    class NotAnEncoder:
        def __getitem__(self, index):
            return object()

    assert accelerate(NotAnEncoder(), tmp_path) is False
