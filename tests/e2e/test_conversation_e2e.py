"""Whole conversations over real HTTP against the fake Telegram Bot API (tests/fakes):
a list opened item by item with its inline buttons, a follow-up chain, a decline sent on to
officials, small talk, a question about the bot and its button, a model page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.storage.models import InboxQuestion
from handlers import conversation, feedback, qa

pytestmark = pytest.mark.filterwarnings("ignore:.*`retry_after`:telegram.warnings.PTBDeprecationWarning")

CHAT = 515151


def keyboard(call) -> dict[str, str]:
    """label → callback data of every inline button under a message."""
    return {b["text"]: b["callback_data"] for row in call.buttons for b in row}


class Resident:
    """One resident on their phone: says things, taps buttons, reads the newest reply."""

    def __init__(self, bot, chat_id: int = CHAT):
        self.bot, self.chat_id, self.seen = bot, chat_id, 0

    async def _next(self):
        self.seen += 1
        return (await self.bot.replies(self.chat_id, self.seen))[-1]

    async def say(self, text: str):
        await self.bot.say(self.chat_id, text)
        return await self._next()

    async def tap(self, call, label_part: str):
        data = next(d for label, d in keyboard(call).items() if label_part in label)
        await self.bot.press(self.chat_id, data)
        return await self._next()

    async def tap_in_place(self, call, label_part: str):
        """A tap on a menu that changes it in place: the editMessageText call."""
        data = next(d for label, d in keyboard(call).items() if label_part in label)
        edits = len(self.bot.api.calls_to("editMessageText", self.chat_id))
        await self.bot.press(self.chat_id, data)
        return (await self.bot.api.wait_for("editMessageText", edits + 1, chat_id=self.chat_id))[-1]


async def test_a_list_answer_opened_item_by_item(telegram_bot):
    me = Resident(telegram_bot)
    listing = await me.say("tieu chi cnxh gom nhung nhom nao")
    assert "gồm 8 nhóm:" in listing.text and "8. Quốc phòng, an ninh vững mạnh" in listing.text
    assert len([d for d in keyboard(listing).values() if d.startswith("t:")]) == 8
    group = await me.tap(listing, "Quốc phòng, an ninh vững mạnh")
    assert "«8. Quốc phòng, an ninh vững mạnh; quan hệ hữu nghị, hợp tác, cùng phát triển» gồm 4 mục:" in group.text
    assert [d for d in keyboard(group).values() if d.startswith("i:")] == [
        f"i:phu-luc-1-bo-tieu-chi.II.8:{n}" for n in range(4)]
    first = await me.tap(group, "Khu vực phòng thủ vững chắc")
    assert first.text.endswith("«Khu vực phòng thủ vững chắc với 3 tuyến phòng thủ “Biển - Đảo - Thành phố”.»")
    second = await me.tap_in_place(first, "Ý tiếp")                        # the page turns in place
    assert "«Bảo đảm an toàn, an ninh mạng, chủ quyền số địa phương;" in second.text
    assert "⬅️ Ý trước" in keyboard(second) and "Ý tiếp ➡️" in keyboard(second)
    assert second.params["message_id"] == first.result["message_id"]


async def test_a_follow_up_chain(telegram_polling_bot):
    me = Resident(telegram_polling_bot)
    await me.say("Tiêu chí con người xã hội chủ nghĩa gồm những nhóm nào?")
    third = await me.say("còn nhóm 3 thì sao?")
    assert "«3. Có khát vọng cống hiến, dám hy sinh vì lợi ích chung» gồm 3 mục:" in third.text
    nxt = await me.say("tiêu chí tiếp theo")
    assert "«4. Bản lĩnh, đổi mới sáng tạo, hội nhập» gồm 4 mục:" in nxt.text
    item = await me.say("ý 3 là gì?")
    assert "«Chủ động khởi nghiệp sáng tạo; hình thành thế hệ doanh nhân Hải Phòng" in item.text
    whole = await me.say("nói rõ hơn")
    assert "gồm 4 mục:" in whole.text and "• Tích cực tham gia quá trình hội nhập quốc tế" in whole.text


async def test_a_decline_sent_on_to_officials(telegram_polling_bot):
    me = Resident(telegram_polling_bot)
    declined = await me.say("Mấy giờ thì UBND phường mở cửa?")
    assert conversation.REASONS["clock"] in declined.text and conversation.FORWARD_OFFER in declined.text
    assert "👍 Hữu ích" not in keyboard(declined)
    sent = await me.tap(declined, "Gửi câu hỏi này tới cán bộ")
    assert sent.text.startswith(qa.FORWARDED)
    async with telegram_polling_bot.pipeline.deps.db.sessions() as s:
        (row,) = (await s.scalars(select(InboxQuestion))).all()
    assert (row.question, row.origin, row.status, row.chat_id) == (
        "Mấy giờ thì UBND phường mở cửa?", "asked", "new", str(CHAT))


async def test_small_talk_and_a_question_about_the_bot(telegram_polling_bot):
    me = Resident(telegram_polling_bot)
    for said, kind in [("chào bot", "greeting"), ("cam on ban nhieu", "thanks"), ("ok", "ack"), ("bye", "goodbye")]:
        reply = await me.say(said)
        assert reply.text == conversation.SMALL_TALK[kind]
        assert {"11 mô hình", "Bộ tiêu chí"} <= set(keyboard(reply))
    how = await me.say("Làm sao để gửi góp ý?")
    assert "/gopy" in how.text and keyboard(how) == {"✍️ Gửi góp ý": "cmd:gopy"}
    started = await me.tap(how, "Gửi góp ý")
    assert started.text.startswith(feedback.ASK_TEXT.split("{limit}")[0])      # /gopy asks for the feedback


async def test_a_model_page(telegram_polling_bot):
    me = Resident(telegram_polling_bot)
    page = await me.say("/mohinh 10")
    assert page.text.startswith("Mô hình 10/11: Trường học xã hội chủ nghĩa")
    assert "«(v) Giáo dục và Y tế tiên tiến: Hệ thống giáo dục chất lượng cao" in page.text
    plan = await me.tap_in_place(page, "Cách triển khai các mô hình")    # the page's menu, in place
    assert "Bố trí ngân sách triển khai các mô hình" in plan.text
    assert plan.params["message_id"] == page.result["message_id"]
    assert len(telegram_polling_bot.api.calls_to("sendMessage", CHAT)) == 1
