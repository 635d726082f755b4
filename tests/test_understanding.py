"""Reading a message before anything is searched (handlers/intents.py), the document
structure lists come from (knowledge/enumerations.py, handlers/lists.py), and the kinds of
fact the text never gives (retrieval/scope.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from handlers.intents import bot_command, follow_up, list_ask, read, small_talk, without_courtesies
from handlers.lists import ListFinder, list_text
from knowledge.documents import Corpus, load_corpus
from retrieval.scope import ScopeProfile, unmet_answer_type

ROOT = Path(__file__).resolve().parent.parent


def in_scope_questions() -> list[str]:
    """Every question the project knows the text answers: indexed variants and labelled sets."""
    variants = [q for entry in yaml.safe_load((ROOT / "knowledge/data/questions.yaml").read_text(encoding="utf-8"))
                for q in entry["questions"]]
    labelled = [json.loads(line)["q"] for name in ("heldout.jsonl", "inscope-check.jsonl", "final-check.jsonl")
                for line in (ROOT / "bench/data" / name).read_text(encoding="utf-8").splitlines()
                if json.loads(line)["expect"]]
    return variants + labelled


# -- small talk, questions about the bot, follow-ups ----------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("Xin chào", "greeting"), ("chao ad", "greeting"), ("hellooo", "greeting"), ("alo", "greeting"),
    ("Cám ơn bạn", "thanks"), ("cam on nhieu nhe", "thanks"), ("thx", "thanks"), ("cảm ơn, hiểu rồi", "thanks"),
    ("ok", "ack"), ("okela", "ack"), ("uk", "ack"), ("dc roi", "ack"), ("vâng ạ", "ack"),
    ("tạm biệt nhé", "goodbye"), ("bai bai", "goodbye"), ("chúc ngủ ngon", "goodbye"),
    ("bạn là ai", "identity"), ("ban ten gi", "identity"), ("ai tạo ra bạn", "identity"),
    ("mày là người hay máy", "identity"), ("bạn khoẻ không", "personal"), ("haha", "laugh"),
    ("bạn ơi", "call"), ("😂", "laugh"), ("🙏", "thanks"),
])
def test_small_talk_in_every_spelling(text, kind):
    assert small_talk(text).kind == kind


@pytest.mark.parametrize("text", [
    "chào bạn, 11 mô hình là gì?", "cảm ơn, còn nhóm 3 thì sao?", "Bạn cho hỏi Nghị quyết 05 là gì?",
    "lam can cuoc cho tre em o dau", "Đà Nẵng có mô hình thành phố âm nhạc không?", "🚗🏠",
])
def test_a_question_is_never_small_talk(text):
    assert small_talk(text) is None


def test_courtesies_in_front_are_set_aside_and_only_those():
    assert without_courtesies("Chào bạn, cho mình hỏi 11 mô hình gồm những gì?") == "11 mô hình gồm những gì?"
    assert without_courtesies("Dạ cho cháu hỏi ai ban hành nghị quyết") == "ai ban hành nghị quyết"
    assert without_courtesies("Đà Nẵng có mô hình nào?") == "Đà Nẵng có mô hình nào?"      # "da" is no "dạ"


@pytest.mark.parametrize("text, command", [
    ("Làm sao để gửi góp ý?", "gopy"), ("gop y", "gopy"), ("tôi có kiến nghị muốn gửi", "gopy"),
    ("Tôi muốn nhận thông báo của phường", "dangky"), ("dang ky nhan tin", "dangky"),
    ("ngừng nhận tin giúp mình", "huy"), ("huy dang ky", "huy"),
    ("Có đố vui không?", "quiz"), ("cho minh choi trac nghiem", "quiz"),
    ("xem bxh", "bangxephang"), ("tôi đứng thứ mấy trong đố vui", "bangxephang"),
    ("Bot lưu gì về tôi?", "quyenriengtu"), ("bạn có bảo mật thông tin của mình không", "quyenriengtu"),
    ("Xóa dữ liệu của tôi thế nào?", "xoadulieu"), ("xoa thong tin cua minh di", "xoadulieu"),
    ("hướng dẫn sử dụng", "help"), ("bạn giúp được gì cho tôi", "help"), ("menu", "help"),
])
def test_questions_about_the_bot_name_their_command(text, command):
    assert bot_command(text) == command


@pytest.mark.parametrize("text", [
    "Dân có được góp ý trước khi chính sách ban hành không?",        # "ban hành" is no "bạn"
    "Thành phố bảo vệ dữ liệu của người dân thế nào?",
    "tp có định xóa hết hộ nghèo k",
    "Người dân Hải Phòng phải có thu nhập đứng thứ mấy cả nước?",
    "hđnd làm j?",
    "Theo văn bản, đô thị văn minh hạnh phúc được hình dung cụ thể ra sao?",
])
def test_questions_about_the_text_that_share_words_with_commands(text):
    assert bot_command(text) is None and small_talk(text) is None


def test_no_question_the_text_answers_is_taken_for_small_talk_or_a_command():
    caught = [q for q in in_scope_questions() if small_talk(q) or bot_command(q)]
    # One held-out question asks leave to give feedback ("Tôi muốn góp ý ... có được không?"):
    # /gopy is the right answer to it.
    assert caught == ["Tôi muốn góp ý về việc quy hoạch khu phố thì có được không?"]


@pytest.mark.parametrize("text, move, number, level", [
    ("còn nhóm 3 thì sao?", "item", 3, "group"), ("con nhom 3 thi sao", "item", 3, "group"),
    ("ý (ii) là gì?", "item", 2, "item"), ("y 2 la gi", "item", 2, "item"), ("xem ý thứ ba", "item", 3, "item"),
    ("phần III", "item", 3, "part"), ("mô hình số 7", "item", 7, "model"),
    ("nói rõ hơn", "more", None, "any"), ("giai thich them giup minh", "more", None, "any"),
    ("tiêu chí tiếp theo", "next", None, "group"), ("tiep", "next", None, "any"), ("cái trước", "previous", None, "any"),
])
def test_follow_ups(text, move, number, level):
    found = follow_up(text)
    assert (found.move, found.number, found.level) == (move, number, level)


def test_topic_follow_ups_keep_con_nguoi_apart_from_con():
    assert follow_up("còn con người xhcn thì sao?").topic == "con nguoi xa hoi chu nghia"
    assert follow_up("thế còn văn hóa thì sao?").topic == "van hoa"
    assert follow_up("Con người xã hội chủ nghĩa phải yêu nước thế nào?") is None


@pytest.mark.parametrize("text, count, noun", [
    ("Thành phố văn minh gồm những yếu tố nào?", False, "yếu tố"), ("Có mấy mô hình trọng tâm?", True, "mô hình"),
    ("liet ke cac nhom tieu chi", False, "nhóm tiêu chí"), ("tp hạnh phúc gồm mấy yếu tố v bn", True, "yếu tố"),
    ("Tiêu chí trung thực yêu cầu những gì?", False, ""),
])
def test_list_questions(text, count, noun):
    ask = list_ask(text)
    assert (ask.count, ask.noun) == (count, noun)


def test_figures_are_not_lists():
    assert list_ask("Bao nhiêu phần trăm người dân được phổ cập kỹ năng số?") is None
    assert read("Nghị quyết 05 là gì?").list_ask is None


# -- the structure lists come from --------------------------------------------------------------

def test_enumerations_follow_the_document_structure(knowledge):
    by_id = {e.id: e for e in knowledge.enumerations}
    groups = by_id["phu-luc-1-bo-tieu-chi.II/parts"]
    assert [i.marker for i in groups.items] == [f"{n}." for n in range(1, 9)]
    assert all(i.opens == f"t:phu-luc-1-bo-tieu-chi.II.{n}" for n, i in enumerate(groups.items, 1))
    civilised = by_id["phu-luc-1-bo-tieu-chi.I.1/items"]
    assert [i.name for i in civilised.items][:2] == ["(i) Hạ tầng đồng bộ, hiện đại", "(ii) Môi trường sống trong lành"]
    assert all(i.text.startswith(i.name + ":") for i in civilised.items)
    models = next(e for e in knowledge.enumerations if e.shape == "inline" and "11 mô hình" in e.intro)
    assert len(models.items) == 12 and len(models.grouped_items()) == 11   # housing is listed under two names
    # "như: a; b; c..." gives examples, not the list.
    assert not any("như:" in e.intro for e in knowledge.enumerations)


def test_bullets_are_told_from_paragraphs(tmp_path):
    (tmp_path / "x.md").write_text("# Tiêu đề\n\n## 1. Nhóm\n\nMột đoạn văn.\n\n- Ý một\n- Ý hai\n  tiếp dòng\n",
                                   encoding="utf-8")
    corpus: Corpus = load_corpus(tmp_path)
    section = corpus.documents[0].root.children[0]
    assert section.blocks == ["Một đoạn văn.", "Ý một", "Ý hai tiếp dòng"]
    assert section.bullets == ["Ý một", "Ý hai tiếp dòng"]


@pytest.mark.parametrize("question, enumeration", [
    ("Tiêu chí con người xã hội chủ nghĩa gồm những nhóm nào?", "phu-luc-1-bo-tieu-chi.III/parts"),
    ("Bộ tiêu chí Chủ nghĩa xã hội có những nhóm nào?", "phu-luc-1-bo-tieu-chi.II/parts"),
    ("thanh pho van minh bao gom nhung gi", "phu-luc-1-bo-tieu-chi.I.1/items"),
    ("Mục tiêu hướng tới gồm những gì?", "phu-luc-1-bo-tieu-chi.I/parts"),
    ("Kể tên 11 mô hình trọng tâm", "nghi-quyet-05-tin-tien-phong.11/inline2"),
    ("tiêu chí đoàn kết trách nhiệm kỷ cương là những gì", "phu-luc-1-bo-tieu-chi.III.5/items"),
])
def test_the_list_a_question_asks_for(knowledge, question, enumeration):
    assert ListFinder(knowledge).find(list_ask(question)).enumeration.id == enumeration


@pytest.mark.parametrize("question", [
    "Hồ sơ kết nạp Đoàn thanh niên gồm những gì?", "Đà Nẵng có những mô hình nào?",
    "Xe buýt số 2 chạy qua những đường nào?", "Đăng ký kết hôn cần mang theo những gì?",
])
def test_list_like_questions_the_text_does_not_answer_match_no_list(knowledge, question):
    assert ListFinder(knowledge).find(list_ask(question)) is None


def test_a_list_is_shown_whole_and_verbatim(knowledge):
    for enumeration in knowledge.enumerations:
        text = list_text(enumeration)
        for item in enumeration.items:
            assert item.name in text
        assert "…" not in text.split("\n", 1)[1]            # only the section path may be shortened


# -- kinds of fact the text never gives ------------------------------------------------------------

@pytest.fixture(scope="module")
def scope(knowledge) -> ScopeProfile:
    return ScopeProfile.of([p.text for p in knowledge.corpus.passages])


@pytest.mark.parametrize("question, kind", [
    ("Học phí mầm non bao nhiêu tiền?", "money"), ("gia ve xe buyt bao nhieu", "money"),
    ("Lãi suất gửi tiết kiệm cao nhất?", "money"), ("UBND phường mấy giờ mở cửa?", "clock"),
    ("Số điện thoại công an phường?", "contact"), ("Ai là chủ tịch UBND thành phố?", "person"),
    ("Thủ tục làm căn cước cần giấy tờ gì?", "procedure"), ("Đà Nẵng có thành phố âm nhạc không?", "place"),
    ("Thời tiết mai thế nào?", "everyday"), ("Nghị quyết 57 nói gì?", "document"),
    ("Hải Phòng có bao nhiêu trường đại học?", "figure"),
    ("Bộ phận một cửa chủ nhật có làm việc không?", "clock"), ("Vào đoàn cần những hồ sơ gì?", "procedure"),
    ("Khu công nghiệp có tuyển công nhân không?", "everyday"), ("Cụm công nghiệp xây ở huyện nào?", "locality"),
    ("Giấy xác nhận xin ở phường hay ở xã?", "locality"),
])
def test_questions_for_facts_the_text_never_gives(scope, question, kind):
    assert scope.missing_fact(question) == kind


def test_no_question_the_text_answers_is_declined_by_rule(scope):
    assert [q for q in in_scope_questions() if scope.missing_fact(q)] == []


def test_a_text_that_gives_such_facts_turns_the_rule_off():
    with_fees = ScopeProfile.of(["Học phí mầm non công lập là 300.000 đồng một tháng."])
    assert "money" not in with_fees.absent and with_fees.missing_fact("Học phí mầm non là bao nhiêu?") == ""
    with_wards = ScopeProfile.of(["Phường Lê Chân thí điểm mô hình chính quyền thân thiện."])
    assert with_wards.missing_fact("Mô hình thí điểm ở phường nào?") == ""


@pytest.mark.parametrize("question", ["Cơ quan nào ban hành nghị quyết?", "Tam giác phát triển gồm những địa phương nào?"])
def test_which_office_or_which_places_is_not_which_ward(scope, question):
    assert scope.missing_fact(question) == ""


@pytest.mark.parametrize("question, passage, unmet", [
    ("Khi nào khởi công cụm công nghiệp sinh thái?", "“Cụm công nghiệp sinh thái”", 1.0),
    ("Nghị quyết thực hiện đến năm nào?", "giai đoạn 2026 - 2030 và những năm tiếp theo", 0.0),
    ("Ngân sách cho mô hình là bao nhiêu?", "Bố trí ngân sách triển khai các mô hình", 1.0),
    ("Hải Phòng có mấy tuyến phòng thủ?", "Khu vực phòng thủ vững chắc với 3 tuyến phòng thủ", 0.0),
    ("Nghị quyết nói gì về bộ máy?", "tinh gọn bộ máy", 0.0),
])
def test_a_date_or_amount_asked_of_a_passage_without_one(question, passage, unmet):
    assert unmet_answer_type(question, passage) == unmet
