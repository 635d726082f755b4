"""Whole conversations through the terminal chat (the same pipeline, router and handlers
as the messengers; buttons shown as numbered choices): list answers opened item by item,
follow-ups, honest declines sent on to officials, small talk, questions about the bot,
model pages. The fast hash searcher stands in for the neural model: what is checked here
does not depend on it (lists come from the document structure, declines from the kinds
of fact the text never gives)."""

from __future__ import annotations

import io
import re

import pytest

from bot.app import build_deps, close_deps
from bot.platforms.console import run_console
from bot.pipeline import Pipeline
from bot.settings import Settings
from handlers import conversation, qa
from handlers.conversation import SMALL_TALK


@pytest.fixture
async def deps(tmp_path, hash_searcher, knowledge):
    deps = build_deps(Settings(_env_file=None, data_dir=tmp_path), searcher=hash_searcher, knowledge=knowledge)
    yield deps
    await close_deps(deps)


def choices(reply: str) -> dict[str, int]:
    """The numbered choices under a reply: label → number."""
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"^(\d+)\. (.+)$", reply, re.MULTILINE)
            if "(Trả lời bằng số để chọn.)" in reply}


def no_button_talk(text: str) -> None:
    """Where there are no buttons, a reply never tells the resident to press one."""
    lowered = text.lower()
    assert "bấm" not in lowered and "nút" not in lowered


async def reply_to(deps, *lines: str) -> str:
    """What the terminal shows after the welcome, for these lines typed one after another."""
    out = io.StringIO()
    await run_console(Pipeline(deps), stdin=io.StringIO("".join(line + "\n" for line in lines)), stdout=out)
    body = out.getvalue().split("(Gõ /thoat hoặc Ctrl-D để kết thúc.)\n\n", 1)[1]
    return body


# -- 1. the fact, whole ------------------------------------------------------------------

async def test_a_list_question_typed_bare_gets_the_whole_list_then_each_item_opens(deps):
    transcript = await reply_to(deps, "tieu chi con nguoi xhcn gom nhung nhom nao", "2", "3", "Ý tiếp ➡️")
    listing, group, item, _ = transcript.split("(Trả lời bằng số để chọn.)")[:4]
    assert "gồm 6 nhóm:" in listing
    for heading in ["1. Yêu nước, yêu thành phố Hải Phòng", "2. Trung thực, thẳng thắn, nghĩa tình",
                    "3. Có khát vọng cống hiến", "4. Bản lĩnh, đổi mới sáng tạo, hội nhập",
                    "5. Đoàn kết, trách nhiệm, kỷ cương", "6. Tự chủ, tự tin, tự lực, tự cường, tự hào dân tộc"]:
        assert heading in listing
    assert listing.count("Trung thực, thẳng thắn, nghĩa tình") == 1      # listed once: the line is its choice
    # "2": the second group, every criterion of it in full.
    assert "«2. Trung thực, thẳng thắn, nghĩa tình» gồm 3 mục:" in group
    assert "3. Sống có nghĩa tình, chân thành, thân thiện, thương yêu, đối xử, giúp đỡ đồng chí, đồng nghiệp " \
           "và mọi người theo lẽ phải, phù hợp với đạo lý dân tộc, cùng nhau tiến bộ." in group
    # "3": the third criterion, whole, with its neighbours one step away.
    assert "«Sống có nghĩa tình, chân thành" in item and "⬅️ Ý trước" in item and "📋 Cả danh sách" in item
    assert "Ý tiếp" not in item                                  # it is the last one
    no_button_talk(transcript)


async def test_the_eleven_models_are_listed_in_full_and_never_cut(deps):
    transcript = await reply_to(deps, "Kể tên các mô hình trọng tâm", "8")
    listing = transcript.split("(Trả lời bằng số để chọn.)")[0]
    for model in deps.knowledge.catalog.models:
        assert f"{model.number}. “{model.title}”" in listing
    assert "“Nhà ở xã hội chủ nghĩa tại Hải Phòng: Công bằng, nhân văn, đoàn kết”" in listing
    assert "Mô hình 8/11: Cơ sở kinh doanh dịch vụ thân thiện với môi trường" in transcript


@pytest.mark.parametrize("question, count, first", [
    ("Thành phố văn minh gồm những yếu tố nào?", "6", "(i) Hạ tầng đồng bộ, hiện đại"),
    ("thanh pho hanh phuc co may yeu to", "6", "(vi) Giá trị nhân văn được đề cao"),
    ("Bộ tiêu chí Chủ nghĩa xã hội có bao nhiêu nhóm?", "8", "8. Quốc phòng, an ninh vững mạnh"),
    ("nhom tieu chi quoc phong an ninh gom nhung gi", "4", ". Thành phố không ma túy"),    # numbered: a choice
    ("Phụ lục 1 gồm những phần nào?", "3", "III. Bộ tiêu chí con người Xã hội chủ nghĩa"),
])
async def test_list_questions_of_every_shape(deps, question, count, first):
    (reply,) = (await reply_to(deps, question)).split("(Trả lời bằng số để chọn.)")[:1]
    assert f"gồm {count} " in reply or f"Có {count} " in reply or reply.count("\n(") + 1 >= int(count)
    assert first in reply


async def test_a_long_passage_leads_with_the_sentence_that_answers(knowledge):
    from handlers.quoting import LeadPicker

    passage = next(p for p in knowledge.corpus.passages if p.text.startswith("(i) Hạ tầng đồng bộ"))
    lead = LeadPicker(knowledge.corpus).lead(passage, "trung tâm dữ liệu lớn Big Data điện toán đám mây")
    assert lead == ["Hạ tầng đổi mới sáng tạo, hệ sinh thái số đồng bộ, bao gồm trung tâm đổi mới sáng tạo "
                    "vùng duyên hải, trung tâm dữ liệu lớn (Big Data), nền tảng điện toán đám mây phục vụ "
                    "điều hành chính quyền số, kinh tế số, xã hội số."]
    for sentence in lead:                                      # whole sentences, verbatim
        assert sentence in passage.text and sentence.endswith(".")


# -- 2. honest declines ----------------------------------------------------------------------

async def test_an_everyday_question_is_declined_and_can_be_sent_to_officials(deps):
    transcript = await reply_to(deps, "Học phí trường mầm non ở phường mình bao nhiêu tiền?", "1")
    decline, sent = transcript.split("(Trả lời bằng số để chọn.)")[:2]
    assert conversation.REASONS["money"] in decline and conversation.WHAT_I_KNOW in decline
    assert conversation.FORWARD_OFFER in decline and "«" not in decline
    assert choices(decline + "(Trả lời bằng số để chọn.)")[qa.FORWARD_LABEL] == 1
    assert qa.FORWARDED in sent
    no_button_talk(transcript)


async def test_the_referral_line_is_added_only_when_configured(tmp_path, hash_searcher, knowledge):
    line = "Bạn cũng có thể gọi đường dây nóng của phường."
    deps = build_deps(Settings(_env_file=None, data_dir=tmp_path, referral_line=line),
                      searcher=hash_searcher, knowledge=knowledge)
    try:
        assert line in await reply_to(deps, "Giá vàng hôm nay bao nhiêu?")
    finally:
        await close_deps(deps)


# -- 3. small talk --------------------------------------------------------------------------

@pytest.mark.parametrize("said, kind", [
    ("xin chào", "greeting"), ("chao ban", "greeting"), ("hi ad", "greeting"),
    ("cám ơn bạn nhiều nhé", "thanks"), ("tks", "thanks"), ("okkk", "ack"), ("được rồi", "ack"),
    ("tạm biệt", "goodbye"), ("bye", "goodbye"), ("bạn là ai vậy?", "identity"), ("bot tên gì", "identity"),
    ("bạn có khoẻ không", "personal"), ("👍", "ack"),
])
async def test_small_talk_gets_a_warm_reply_and_the_menu(deps, said, kind):
    reply = await reply_to(deps, said)
    assert SMALL_TALK[kind] in reply
    assert "«" not in reply and "chưa đề cập" not in reply
    assert {"11 mô hình", "Bộ tiêu chí"} <= set(choices(reply))
    no_button_talk(reply)


# -- 4. questions about the bot -----------------------------------------------------------------

@pytest.mark.parametrize("asked, command", [
    ("muốn góp ý thì làm sao?", "/gopy"), ("tôi muốn nhận thông báo của phường", "/dangky"),
    ("thôi đừng gửi tin cho tôi nữa", "/huy"), ("có đố vui không", "/quiz"),
    ("xem bảng xếp hạng ở đâu", "/bangxephang"), ("bot lưu gì về tôi", "/quyenriengtu"),
    ("xoa du lieu cua toi the nao", "/xoadulieu"), ("bạn làm được những gì?", "/help"),
])
async def test_a_question_about_the_bot_names_the_command_with_its_button(deps, asked, command):
    reply = await reply_to(deps, asked)
    assert command in reply and "«" not in reply
    assert len(choices(reply)) >= 1


async def test_the_button_runs_the_command(deps):
    transcript = await reply_to(deps, "làm sao để gửi góp ý", "1")
    from handlers import feedback

    assert feedback.ASK_TEXT.split("{limit}")[0] in transcript       # /gopy asks for the feedback


# -- 5. follow-ups ------------------------------------------------------------------------------

async def test_a_follow_up_chain_stays_on_the_section_of_the_last_answer(deps):
    replies = (await reply_to(
        deps, "Bộ tiêu chí Chủ nghĩa xã hội có những nhóm nào?", "còn nhóm 3 thì sao?", "tiêu chí tiếp theo",
        "ý 2 là gì?", "nói rõ hơn", "cái trước", "nhóm 10 thì sao",
    )).split("(Trả lời bằng số để chọn.)")
    listing, third, fourth, item, whole, previous, missing = replies[:7]
    assert "gồm 8 nhóm:" in listing
    assert "«3. Có nền kinh tế phát triển cao" in third and ". Nguồn nhân lực thành phố có chất lượng cao" in third
    assert "«4. Có văn hoá hiện đại, nhân văn, giàu bản sắc» gồm 3 mục:" in fourth
    assert "«Các cuộc vận động và phong trào thi đua yêu nước" in item
    assert "«4. Có văn hoá hiện đại, nhân văn, giàu bản sắc» gồm 3 mục:" in whole
    assert "«3. Có nền kinh tế phát triển cao" in previous          # the whole group shown: the group before
    assert "Mục 10 không có" in missing


async def test_roman_and_bare_references_and_no_context(deps):
    transcript = await reply_to(deps, "nói rõ hơn", "Thành phố hạnh phúc gồm những yếu tố nào?", "y (ii) la gi")
    assert conversation.NO_CONTEXT in transcript
    assert "«(ii) Sức khỏe thể chất và tinh thần: Người dân được tiếp cận" in transcript


async def test_a_topic_follow_up_after_a_list_question_is_a_list_question(deps):
    transcript = await reply_to(deps, "tiêu chí chủ nghĩa xã hội gồm những nhóm nào",
                                "còn con người xã hội chủ nghĩa thì sao?", "ý 2", "còn thành phố văn minh thì sao?")
    replies = transcript.split("(Trả lời bằng số để chọn.)")
    assert "gồm 6 nhóm:" in replies[1]
    assert "«(vi) An ninh, trật tự được đảm bảo" not in replies[3] and "(vi) An ninh, trật tự được đảm bảo" in replies[3]


# -- 6. model pages -----------------------------------------------------------------------------

async def test_model_pages_say_something_and_repeat_nothing(deps):
    page = await reply_to(deps, "/mohinh 7")
    assert page.count("«TP Hải Phòng triển khai mô hình \"Thành phố âm nhạc\".»") == 1
    assert "Tổ chức thực hiện" not in page.split("(Trả lời bằng số")[0]          # one tap away instead
    assert "🛠 Cách triển khai các mô hình" in choices(page)
    assert "…»" not in page                                                       # criteria whole
    locations = re.findall(r"^📄 (.+)$", page, re.MULTILINE)
    assert len(locations) == len(set(locations))
    plan = await reply_to(deps, "/mohinh 7", "1")
    assert "Xây dựng, phê duyệt và tổ chức triển khai các đề án cụ thể hóa 11 mô hình" in plan
    nxt = await reply_to(deps, "/mohinh 7", "mô hình tiếp theo")
    assert "Mô hình 8/11" in nxt
