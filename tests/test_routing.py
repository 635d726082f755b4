"""One place per command: each handlers module registers what it answers; the app only orders them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from bot.app import build_router
from bot.messages import Button, Incoming, Reply, short_label
from bot.router import Router

ROOT = Path(__file__).resolve().parent.parent


def _modules_with_a_router() -> list[str]:
    names = []
    for path in sorted((ROOT / "handlers").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "router" for t in node.targets)
               for node in tree.body):
            names.append(f"handlers.{path.stem}")
    return names


def test_every_handlers_router_is_included_in_the_app():
    app_router = build_router()
    commands = {c.name for c in app_router._commands.values()}
    for name in _modules_with_a_router():
        module_router = importlib.import_module(name).router
        assert set(module_router._commands) <= commands, name
        assert set(module_router._buttons) <= set(app_router._buttons), name
        assert set(module_router._dialogs) <= set(app_router._dialogs), name
    assert len(_modules_with_a_router()) >= 12


def test_each_command_handler_sits_in_the_module_that_registers_it():
    for command in build_router()._commands.values():
        module = importlib.import_module(command.handler.__module__)
        assert command.name in module.router._commands, command.name


async def test_help_and_the_command_menu_come_from_the_registry():
    router = build_router()
    help_lines = [c.help_line for c in router.public_commands()]
    assert help_lines[:3] == ["/start – Bắt đầu", "/help – Hướng dẫn sử dụng",
                              "/mohinh – Xem 11 mô hình trọng tâm (gõ /mohinh 6 để xem ngay mô hình số 6)"]
    assert [c.name for c in router.public_commands()] == [
        "start", "help", "mohinh", "tieuchi", "gopy", "quiz", "bangxephang", "dangky", "huy",
        "quyenriengtu", "xoadulieu"]
    assert {"thongke", "thongbao"} <= set(router._commands) and all(
        not c.hidden for c in router.public_commands())


async def _nothing(msg, turn) -> list[Reply]:
    return []


def test_a_command_prefix_or_dialog_claimed_twice_stops_start_up():
    first, second = Router(), Router()
    first.command("gopy", "Góp ý")(_nothing)
    second.command("gopy", "Góp ý khác")(_nothing)
    app = Router()
    app.include(first)
    with pytest.raises(ValueError, match="/gopy registered twice"):
        app.include(second)
    for bad in ("", "a:b"):
        with pytest.raises(ValueError):
            Router().button(bad)(_nothing)
    one = Router()
    one.dialog("gopy", about="gửi góp ý", command="gopy", cancelled="Đã hủy.")(_nothing)
    with pytest.raises(ValueError, match="dialog 'gopy'"):
        one.dialog("gopy", about="x", command="gopy", cancelled="x")(_nothing)


def test_the_old_registration_call_points_to_the_new_one():
    with pytest.raises(TypeError, match=r"@router.command\('dai', description\)"):
        Router().command("dai", _nothing, "Câu trả lời dài")


async def test_expired_dialog_notice_names_the_command_to_start_again():
    dialog = build_router().find_dialog("gopy")
    assert dialog.expired_notice == (
        "Phần gửi góp ý bạn làm dở trước đó đã quá lâu nên mình đã hủy, chưa lưu gì cả. "
        "Khi cần, bạn gõ /gopy để làm lại nhé.")


def _handler_texts() -> list[tuple[str, str]]:
    """Every string constant in handlers/ (messages the bot says)."""
    found = []
    for path in sorted((ROOT / "handlers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((path.name, node.value))
    return found


def test_no_text_talks_about_buttons_that_text_platforms_do_not_have():
    """On Zalo and in the terminal a choice is a number to type: "chọn «Gửi»" fits both, "bấm nút" does not."""
    wrong = [(name, text) for name, text in _handler_texts()
             if any(word in text.lower() for word in ("bấm", "nút"))]
    assert wrong == []


@pytest.mark.parametrize("text, limit, expected", [
    ("Chính quyền thân thiện", 30, "Chính quyền thân thiện"),
    ("Thành phố thượng tôn và tuân thủ pháp luật", 30, "Thành phố thượng tôn và tuân…"),
    ("Bộ tiêu chí Chủ nghĩa xã hội tại thành phố Hải Phòng", 40, "Bộ tiêu chí Chủ nghĩa xã hội tại thành…"),
    ("Siêuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuudài", 20, "Siêuuuuuuuuuuuuuuuu…"),
])
def test_labels_are_cut_at_word_boundaries(text, limit, expected):
    assert short_label(text, limit) == expected and len(short_label(text, limit)) <= limit


def test_a_shortened_button_keeps_the_full_text_for_numbered_lists():
    from bot.platforms.base import numbered_texts

    title = "Cơ sở kinh doanh dịch vụ thân thiện với môi trường, không sử dụng sản phẩm nhựa"
    button = Button.shortened(title, "m:8", 32)
    assert button.label == "Cơ sở kinh doanh dịch vụ thân…" and button.full_label == title
    assert Button.shortened("Thành phố âm nhạc", "m:7", 32).full_label == ""
    (text,) = numbered_texts([Reply.with_buttons("Chọn:", [button])])
    assert f"1. {title}" in text


def test_incoming_keeps_the_real_length_of_long_messages():
    msg = Incoming.from_platform("zalo", 1, 1, "chữ " * 2500)
    assert len(msg.text) == 9999
