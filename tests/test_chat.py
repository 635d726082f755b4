"""The terminal chat and the shared pipeline, through the real router and handlers."""

import io
import unicodedata

import pytest

from bot.app import build_deps, close_deps
from bot.messages import Incoming
from bot.pipeline import FLOOD_NOTICE, TAP_NOTICE, FloodControl, Pipeline
from bot.platforms.console import run_console
from bot.settings import Settings


@pytest.fixture
async def deps(tmp_path, hash_searcher, knowledge):
    deps = build_deps(Settings(_env_file=None, data_dir=tmp_path), searcher=hash_searcher, knowledge=knowledge)
    yield deps
    await close_deps(deps)


async def chat(deps, *lines: str) -> str:
    out = io.StringIO()
    await run_console(Pipeline(deps), stdin=io.StringIO("".join(l + "\n" for l in lines)), stdout=out)
    return out.getvalue()


async def test_console_conversation_with_numbered_buttons(deps):
    transcript = await chat(deps, "/mohinh", "6", "/tieuchi", "3", "1")
    assert "Nghị quyết 05 triển khai 11 mô hình trọng tâm:" in transcript
    assert "11. Chi đoàn xã hội chủ nghĩa gắn với Đoàn viên xã hội chủ nghĩa" in transcript
    # "6" pressed the sixth model button: the housing model's card, both titles.
    assert "Mô hình 6/11: Nhà ở xã hội chủ nghĩa tại Hải Phòng" in transcript
    assert "Công bằng, nhân văn, đoàn kết" in transcript
    # "3" then "1": part III of the criteria, then its first group.
    assert "III. Bộ tiêu chí con người Xã hội chủ nghĩa tại thành phố Hải Phòng" in transcript
    # The group's items are listed once, numbered as the choices that open them.
    assert "\n1. Luôn có tinh thần phát huy truyền thống văn hóa tốt đẹp" in transcript
    assert transcript.rstrip().endswith("Tạm biệt! Hẹn gặp lại bạn.")


async def test_console_answers_questions_with_a_quote_and_its_section(deps):
    transcript = await chat(deps, "Thành phố không ma túy")
    assert "📄 Phụ lục 1 › II. Bộ tiêu chí Chủ nghĩa xã hội tại thành phố… › 8. Quốc phòng" in transcript
    assert "«8. Quốc phòng, an ninh vững mạnh;" in transcript


async def test_help_lists_every_public_command(deps):
    transcript = await chat(deps, "/help")
    for command in deps.router.public_commands():
        assert f"/{command.name} – {command.description}" in transcript
    assert "/thongke" not in transcript


@pytest.mark.parametrize("text, expected", [
    ("", "chưa nhập câu hỏi"),
    ("   \t ", "chưa nhập câu hỏi"),
    ("x " * 5000, "dài 9.999 ký tự, mình chỉ nhận tối đa 1.000 ký tự"),   # its real length, one limit
    ("🚗🏠📦", "gõ câu hỏi bằng chữ"),
    ("?!?", "gõ câu hỏi bằng chữ"),
    ("\x00\x01\x02", "chưa nhập câu hỏi"),
    ("/khonglenhnay", "chưa biết lệnh /khonglenhnay"),
])
async def test_bad_input_gets_a_clear_reply(deps, text, expected):
    msg = Incoming.from_platform("telegram", 1, 1, text, message_id="m1")
    (reply,) = await Pipeline(deps).process(msg)
    assert expected in reply.text


async def test_nfd_and_control_characters_are_normalised_before_matching(deps):
    nfd = unicodedata.normalize("NFD", "Thành phố không ma\x00 túy")
    msg = Incoming.from_platform("telegram", 1, 1, nfd, message_id="m1")
    assert msg.text == "Thành phố không ma túy"
    (reply,) = await Pipeline(deps).process(msg)
    assert "Thành phố không ma túy" in reply.text


async def test_unknown_or_tampered_buttons_change_nothing(deps):
    pipeline = Pipeline(deps)
    for data in ["zzz:1", "m:999", "t:phu-luc-1-bo-tieu-chi.IX", "p:khong-co"]:
        replies = await pipeline.process(Incoming.from_platform("telegram", 1, 1, callback_data=data))
        assert len(replies) == 1 and replies[0].text


async def test_redelivered_message_is_answered_once(deps):
    pipeline = Pipeline(deps)
    msg = Incoming.from_platform("zalo", 7, 7, "Thành phố âm nhạc", message_id="msg-42")
    assert await pipeline.process(msg)
    assert await pipeline.process(msg) == []


async def test_flood_control_warns_once_then_stays_silent(deps):
    clock = [0.0]
    pipeline = Pipeline(deps, flood=FloodControl(3, 60, clock=lambda: clock[0]))
    replies = [await pipeline.process(Incoming.from_platform("telegram", 1, 1, "Nhà ở xã hội"))
               for _ in range(6)]
    assert [r[0].text == FLOOD_NOTICE if r else None for r in replies] == [False, False, False, True, None, None]
    clock[0] = 61.0
    assert (await pipeline.process(Incoming.from_platform("telegram", 1, 1, "Nhà ở xã hội")))[0].text != FLOOD_NOTICE


async def test_taps_and_commands_are_not_counted_as_a_flood(deps):
    """Flood control protects the search: menus keep working for a user over the text limit."""
    pipeline = Pipeline(deps, flood=FloodControl(3, 60, clock=lambda: 0.0))
    for _ in range(4):
        await pipeline.process(Incoming.from_platform("telegram", 1, 1, "Nhà ở xã hội"))
    taps = [Incoming.from_platform("telegram", 1, 1, "/mohinh")]
    taps += [Incoming.from_platform("telegram", 1, 1, callback_data=f"m:{n % 11 + 1}") for n in range(40)]
    taps += [Incoming.from_platform("telegram", 1, 1, "/quyenriengtu")]
    for tap in taps:
        replies = await pipeline.process(tap)
        assert replies and FLOOD_NOTICE not in [r.text for r in replies]


async def test_taps_over_their_own_limit_are_told_not_dropped_unseen(deps):
    clock = [0.0]
    pipeline = Pipeline(deps, flood=FloodControl(3, 60, clock=lambda: clock[0], tap_limit=5))
    replies = [await pipeline.process(Incoming.from_platform("telegram", 1, 1, callback_data="m:1"))
               for _ in range(7)]
    assert [r[0].text == TAP_NOTICE if r else None for r in replies] == [False] * 5 + [True, None]
    clock[0] = 61.0
    assert (await pipeline.process(Incoming.from_platform("telegram", 1, 1, callback_data="m:2")))[0].text \
        .startswith("Mô hình 2/11")


async def test_console_feedback_session_keeps_the_text_and_masks_what_is_stored(deps):
    from bot.storage.export import export_rows

    transcript = await chat(deps, "/gopy Trường học xã hội chủ nghĩa cần thêm sân chơi, gọi 0912345678",
                            "2", "10", "1", "x" * 10_000)
    assert "Chủ đề: Mô hình 10: Trường học xã hội chủ nghĩa (mình đoán theo nội dung" in transcript
    assert "2. 🏷 Đổi chủ đề" in transcript and "10. Mô hình 10: Trường học xã hội chủ nghĩa" in transcript
    assert "Cảm ơn bạn! Góp ý của bạn về «Mô hình 10: Trường học xã hội chủ nghĩa»" in transcript
    assert "Câu hỏi của bạn dài 10.000 ký tự, mình chỉ nhận tối đa 1.000 ký tự." in transcript
    async with deps.db.sessions() as session:
        (row,) = await export_rows(session, "feedback", "secret")
    assert row["text"] == "Trường học xã hội chủ nghĩa cần thêm sân chơi, gọi [số điện thoại]"
