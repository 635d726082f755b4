"""Menus change in place on Telegram: a tap on a menu edits the message that holds it
(editMessageText), and falls back to a new message when Telegram refuses the edit."""

from __future__ import annotations

from tests.fakes.telegram_api import Fault

CHAT = 717171


def button(message: dict, label_part: str) -> str:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return next(b["callback_data"] for row in rows for b in row if label_part in b["text"])


async def test_dialog_toggles_edit_the_menu_they_belong_to(telegram_polling_bot):
    bot, api = telegram_polling_bot, telegram_polling_bot.api
    await bot.say(CHAT, "/dangky")
    await bot.idle()
    (wards,) = api.sent(CHAT)
    await bot.press(CHAT, button(wards, "Sau"), message=wards)                 # a page turn
    await bot.idle()
    await bot.press(CHAT, button(api.message(CHAT, wards["message_id"]), "Xã An Dương"),
                    message=api.message(CHAT, wards["message_id"]))            # the next step: a new message
    await bot.idle()
    groups = api.sent(CHAT)[-1]
    for label in ("Cư dân", "Đoàn viên", "Cư dân"):
        now = api.message(CHAT, groups["message_id"])
        await bot.press(CHAT, button(now, label), message=now)
        await bot.idle()
    assert len(api.sent(CHAT)) == 2                                           # one message per step
    edits = api.calls_to("editMessageText", CHAT)
    assert [e.params["message_id"] for e in edits] == [wards["message_id"]] + [groups["message_id"]] * 3
    final = api.message(CHAT, groups["message_id"])
    labels = [b["text"] for row in final["reply_markup"]["inline_keyboard"] for b in row]
    assert "⬜ Cư dân" in labels and "✅ Đoàn viên" in labels


async def test_a_refused_edit_becomes_a_new_message(telegram_polling_bot):
    bot, api = telegram_polling_bot, telegram_polling_bot.api
    await bot.say(CHAT, "/mohinh")
    await bot.idle()
    (listing,) = api.sent(CHAT)
    api.add_fault(Fault(400, "Bad Request: message can't be edited"), method="editMessageText")
    await bot.press(CHAT, button(listing, "Thành phố âm nhạc"), message=listing)
    await bot.idle()
    assert [c.status for c in api.calls_to("editMessageText", CHAT, ok_only=False)] == [400]
    assert api.texts(CHAT)[-1].startswith("Mô hình 7/11: Thành phố âm nhạc")     # sent instead


async def test_the_same_menu_tapped_again_is_not_an_error(telegram_polling_bot):
    bot, api = telegram_polling_bot, telegram_polling_bot.api
    await bot.say(CHAT, "/mohinh 7")
    await bot.idle()
    (card,) = api.sent(CHAT)
    await bot.press(CHAT, button(card, "11 mô hình"), message=card)
    await bot.idle()
    listing = api.message(CHAT, card["message_id"])
    await bot.press(CHAT, "mv:list", message=listing)                        # the list, tapped onto itself
    await bot.idle()
    statuses = [c.status for c in api.calls_to("editMessageText", CHAT, ok_only=False)]
    assert statuses == [200, 400] and len(api.sent(CHAT)) == 1               # "not modified": nothing more sent
