import re
import shutil
from pathlib import Path

import pytest

from knowledge.base import KnowledgeBase
from knowledge.catalog import EXPECTED_MODEL_COUNT
from knowledge.documents import MAX_PASSAGE_CHARS, load_corpus, parse_document, split_text
from vntext.normalize import nfc

SOURCES = Path(__file__).resolve().parent.parent / "knowledge" / "sources"


def test_section_paths_name_document_part_and_group(knowledge):
    by_id = knowledge.corpus.by_id()
    drugs = next(p for p in knowledge.corpus.passages if "không ma túy" in p.text)
    assert drugs.section_path == (
        "Phụ lục 1",
        "II. Bộ tiêu chí Chủ nghĩa xã hội tại thành phố…",
        "8. Quốc phòng, an ninh vững mạnh…",
    )
    assert drugs.id == "phu-luc-1-bo-tieu-chi.II.8.p3"
    assert by_id[drugs.id] is drugs
    assert drugs.doc_title.startswith("PHỤ LỤC 1. BỘ TIÊU CHÍ")


def test_editorial_headings_are_in_paths_but_never_quoted(knowledge):
    plan = knowledge.corpus.containing("các đề án cụ thể hóa 11 mô hình")[0]
    assert plan.section == "Tin Tiền Phong về Nghị quyết 05 › Tổ chức thực hiện"
    assert all("[" not in p.text and "Tổ chức thực hiện" not in p.text for p in knowledge.corpus.passages)


def test_passages_fit_a_phone_and_are_verbatim(knowledge):
    source_words = nfc(" ".join(p.read_text(encoding="utf-8") for p in SOURCES.glob("*.md")))
    source_words = set(re.findall(r"\w+", source_words))
    for p in knowledge.corpus.passages:
        assert 0 < len(p.text) <= MAX_PASSAGE_CHARS, p.id
        assert set(re.findall(r"\w+", p.text)) <= source_words, p.id


def test_group_heading_leads_its_bullets_when_it_fits(knowledge):
    bullet = knowledge.corpus.containing("Thành phố không ma túy")[0]
    assert bullet.text.startswith("8. Quốc phòng, an ninh vững mạnh;")


def test_overview_lists_the_eight_criteria_groups(knowledge):
    overviews = [p for p in knowledge.corpus.passages
                 if p.kind == "overview" and p.id.startswith("phu-luc-1-bo-tieu-chi.II.")]
    listed = "\n".join(p.text for p in overviews)
    for n in range(1, 9):
        assert re.search(rf"^{n}\. ", listed, re.M), n


def test_split_never_cuts_words():
    text = "Một câu khá dài, có dấu phẩy; và dấu chấm phẩy. " * 30
    chunks = split_text(text.strip(), 120)
    assert all(len(c) <= 120 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert all(not c.startswith(" ") and not c.endswith(" ") for c in chunks)


def test_ids_are_stable_when_wording_changes(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# Tài liệu\n\n## I. Phần một\n\n- Ý thứ nhất.\n\n- Ý thứ hai.\n", encoding="utf-8")
    before = [p.id for p in load_corpus(tmp_path).passages]
    doc.write_text("# Tài liệu\n\n## I. Phần một\n\n- Ý thứ nhất, đã sửa.\n\n- Ý thứ hai.\n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [p.id for p in corpus.passages] == before
    assert corpus.by_id()["doc.I.p1"].text.endswith("Ý thứ nhất, đã sửa.")


def test_corpus_hash_follows_content(tmp_path):
    shutil.copy(SOURCES / "phu-luc-1-bo-tieu-chi.md", tmp_path)
    first = load_corpus(tmp_path).hash
    assert load_corpus(tmp_path).hash == first
    (tmp_path / "new.md").write_text("# Văn bản mới\n\nNội dung mới.\n", encoding="utf-8")
    assert load_corpus(tmp_path).hash != first


def test_front_matter_short_title(tmp_path):
    path = tmp_path / "x.md"
    path.write_text("---\nshort_title: Văn bản X\n---\n# Tiêu đề rất dài của văn bản X\n\nĐoạn.\n", encoding="utf-8")
    doc = parse_document(path)
    assert doc.short_title == "Văn bản X"
    assert load_corpus(tmp_path).passages[0].section_path == ("Văn bản X",)


def test_exactly_eleven_models_housing_has_both_titles(knowledge):
    models = knowledge.catalog.models
    assert len(models) == EXPECTED_MODEL_COUNT == 11
    assert len({m.id for m in models}) == 11
    housing = next(m for m in models if m.id == "nha-o-xa-hoi-chu-nghia")
    assert housing.titles == (
        "Nhà ở xã hội chủ nghĩa tại Hải Phòng",
        "Nhà ở xã hội chủ nghĩa tại Hải Phòng: Công bằng, nhân văn, đoàn kết",
    )
    # The report quotes twelve titles for its eleven models; every one is ours.
    listing = " ".join(p.text for p in knowledge.corpus.passages if "mô hình trọng tâm" in p.section)
    quoted = re.findall(r"“([^”]+)”", listing)
    assert len(quoted) == 12
    assert {q for q in quoted} == {t for m in models for t in m.titles}


def test_models_are_found_without_diacritics(knowledge):
    catalog = knowledge.catalog
    assert catalog.find_model("mo hinh truong hoc xa hoi chu nghia").id == "truong-hoc-xa-hoi-chu-nghia"
    assert catalog.find_model("Thành phố âm nhạc là gì").id == "thanh-pho-am-nhac"
    assert catalog.find_model("giá xăng hôm nay") is None


def test_every_question_variant_anchor_resolves(knowledge):
    assert sum(len(v) for v in knowledge.variants.values()) >= 400
    passages = knowledge.corpus.by_id()
    assert set(knowledge.variants) <= set(passages)


def test_bad_anchor_is_reported(tmp_path, knowledge):
    from knowledge.variants import load_variants

    bad = tmp_path / "questions.yaml"
    bad.write_text('- anchor: "câu không có trong văn bản"\n  questions: ["?"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="anchor not found"):
        load_variants(knowledge.corpus, bad)


def test_a_new_document_is_answerable_after_indexing(tmp_path):
    from retrieval.embedder import HashEmbedder
    from retrieval.service import open_searcher

    folder = tmp_path / "knowledge"
    shutil.copytree(SOURCES, folder)
    (folder / "ke-hoach-phuong.md").write_text(
        "---\nshort_title: Kế hoạch phường\n---\n# Kế hoạch của phường Lê Chân\n\n"
        "## 1. Vườn hoa cộng đồng\n\n- Phường trồng thêm ba vườn hoa cộng đồng ven sông Lạch Tray.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase.load(folder)
    searcher = open_searcher(kb, HashEmbedder(), tmp_path / "index")
    hit = searcher.search("vườn hoa cộng đồng ven sông Lạch Tray", k=3).hits[0]
    assert hit.passage.doc_id == "ke-hoach-phuong"
    assert hit.passage.section == "Kế hoạch phường › 1. Vườn hoa cộng đồng"
