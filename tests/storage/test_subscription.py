"""/dangky and /huy through the real pipeline and database."""

from __future__ import annotations


from bot.storage import repo
from bot.storage.models import DialogState, Resident, Subscription, SubscriptionGroup
from handlers import subscription
from handlers.forms import INVALID_BUTTON
from storage_helpers import button, buttons, count, snapshot


async def _subscription(db, user_id="u1"):
    async with db.sessions() as s:
        resident = await repo.find_resident(s, "telegram", user_id)
        if resident is None:
            return None, None
        found = await repo.subscription_of(s, resident.id)
        return resident, found


async def test_subscribe_with_paged_wards_groups_and_chi_doan(chat, db, deps):
    user = chat("u1")
    (menu,) = await user.say("/dangky")
    wards = deps.settings.wards
    assert [b.label for b in buttons(menu)][:8] == wards[:8] and "(Trang 1/2)" in menu.text
    (page2,) = await user.press(button([menu], "Sau").data)
    assert wards[8] in [b.label for b in buttons(page2)] and wards[0] not in [b.label for b in buttons(page2)]
    (groups,) = await user.press(button([page2], "Xã An Lão").data)
    assert "Xã An Lão" in groups.text
    for label in ("Cư dân", "Cán bộ", "Đoàn viên", "Cán bộ"):       # multi-select; "Cán bộ" toggled off again
        (groups,) = await user.press(button([groups], label).data)
    labels = [b.label for b in buttons(groups)]
    assert "✅ Cư dân" in labels and "✅ Đoàn viên" in labels and "⬜ Cán bộ" in labels
    (ask,) = await user.press(button([groups], "Xong").data)
    assert ask.text == subscription.ASK_CHI_DOAN
    assert (await _subscription(db))[1] is None                    # nothing until complete
    (done,) = await user.say("Chi đoàn khu dân cư số 3")
    assert "Xã An Lão" in done.text and "Đoàn viên" in done.text and "/huy" in done.text

    resident, (sub, groups) = await _subscription(db)
    assert (resident.ward, resident.chi_doan) == ("Xã An Lão", "Chi đoàn khu dân cư số 3")
    assert (sub.ward, sub.active, sub.chat_id, sub.platform) == ("Xã An Lão", True, "chat-u1", "telegram")
    assert groups == ["cu_dan", "doan_vien"]
    assert await count(db, DialogState) == 0


async def test_ward_can_be_typed_and_resubscribing_replaces_groups(chat, db):
    user = chat("u1")
    await user.say("/dangky")
    (groups,) = await user.say("le chan")
    (groups,) = await user.press(button([groups], "Cán bộ").data)
    await user.press(button([groups], "Xong").data)                # no đoàn viên: no chi đoàn question
    resident, (sub, codes) = await _subscription(db)
    assert (sub.ward, codes, resident.chi_doan) == ("Phường Lê Chân", ["can_bo"], None)

    (menu,) = await user.say("/dangky")
    assert "Bạn đang nhận tin của Phường Lê Chân" in menu.text
    (groups,) = await user.press(button([menu], "Phường Hải An").data)
    (groups,) = await user.press(button([groups], "Cư dân").data)
    await user.press(button([groups], "Xong").data)
    _, (sub, codes) = await _subscription(db)
    assert (sub.ward, codes) == ("Phường Hải An", ["cu_dan"])
    assert await count(db, Subscription) == 1 and await count(db, SubscriptionGroup) == 1


async def test_done_without_a_group_and_unknown_ward_are_explained(chat, db):
    user = chat("u1")
    (menu,) = await user.say("/dangky")
    (reply,) = await user.say("Phường Không Có")
    assert "chưa tìm thấy" in reply.text and buttons(reply)
    (groups,) = await user.press(button([menu], "Phường Hồng Bàng").data)
    (reply,) = await user.press(button([groups], "Xong").data)
    assert reply.text == subscription.NEED_A_GROUP
    assert await count(db, Subscription) == 0


async def test_huy_cancels_an_open_dialog_else_unsubscribes(chat, db):
    user = chat("u1")
    await user.say("/dangky")
    (groups,) = await user.say("Hồng Bàng")
    (groups,) = await user.press(button([groups], "Cư dân").data)
    (reply,) = await user.press(button([groups], "Xong").data)
    assert "Phường Hồng Bàng" in reply.text

    await user.say("/gopy")                                        # a dialog is open: /huy closes it only
    (reply,) = await user.say("/huy")
    assert "Đã hủy góp ý" in reply.text
    assert (await _subscription(db))[1][0].active is True

    (reply,) = await user.say("/huy")                              # none open: stop the announcements
    assert reply.text == subscription.UNSUBSCRIBED
    assert (await _subscription(db))[1][0].active is False
    (reply,) = await user.say("/huy")
    assert reply.text == subscription.NOTHING_TO_CANCEL


async def test_cancel_button_inside_subscription(chat, db):
    user = chat("u1")
    (menu,) = await user.say("/dangky")
    (reply,) = await user.press(button([menu], "Hủy").data)
    assert reply.text == subscription.CANCELLED
    assert await count(db, DialogState) == 0 and await count(db, Resident) == 0


async def test_tampered_subscription_buttons_change_nothing(chat, db):
    user = chat("u1")
    (menu,) = await user.say("/dangky")
    token = menu.buttons[0][0].data.split(":")[1]
    before = await snapshot(db)
    for data in [f"dk:{token}:w:999", f"dk:{token}:w:-1", f"dk:{token}:w:x", f"dk:{token}:g:can_bo",
                 f"dk:{token}:g:admin", f"dk:{token}:done", f"dk:{token}:pg:abc", "dk:other1:w:0",
                 f"dk:{token}:w:0:extra", "dk::w:0", f"dk:{token}:w:٣"]:
        (reply,) = await user.press(data)
        assert reply.text == INVALID_BUTTON, data
    assert await snapshot(db) == before
