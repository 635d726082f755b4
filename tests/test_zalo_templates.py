"""Zalo presentation: which replies become list templates, and that nothing is cut or said twice."""

from bot.messages import Button, Reply
from bot.channels.zalo.templates import TAP_HINT, zalo_messages


def buttons(*labels: str) -> list[Button]:
    return [Button(label, f"x:{n}") for n, label in enumerate(labels)]


def test_a_short_menu_is_a_list_template_numbered_after_held_choices():
    reply = Reply.with_buttons("Bạn chọn nhé:\nMột dòng nữa.", buttons("Có", "Không"))
    (message,) = zalo_messages([Reply("Trước đó"), Reply(reply.text, reply.buttons, numbered_from=5)], 2000)[1:]
    head, *choices = message["attachment"]["payload"]["elements"]
    assert head == {"title": "Bạn chọn nhé:", "subtitle": "Một dòng nữa.\n" + TAP_HINT}
    assert [(c["title"], c["default_action"]["payload"]) for c in choices] == [("5. Có", "5"), ("6. Không", "6")]


def test_what_does_not_fit_a_template_is_numbered_text():
    five = Reply.with_buttons("Chọn:", buttons("a1", "b2", "c3", "d4", "e5"))          # 1 + 5 elements
    long_label = Reply.with_buttons("Chọn:", [Button("x" * 40, "x:1", "Một lựa chọn dài " * 8)])
    long_text = Reply.with_buttons("Tiêu đề\n" + "chữ " * 130, buttons("Có"))
    for reply in (five, long_label, long_text):
        (message,) = zalo_messages([reply], 2000)
        assert set(message) == {"text"} and message["text"].endswith("(Trả lời bằng số để chọn.)")
    assert "1. " + "Một lựa chọn dài " * 7 + "Một lựa chọn dài" in zalo_messages([long_label], 2000)[0]["text"]


def test_a_long_first_line_is_cut_at_a_word_with_the_whole_text_below():
    text = "Một câu mở đầu rất dài " * 6
    (message,) = zalo_messages([Reply.with_buttons(text, buttons("Có"))], 2000)
    head = message["attachment"]["payload"]["elements"][0]
    assert len(head["title"]) <= 100 and head["title"].endswith("…") and " dà…" not in head["title"]
    assert head["subtitle"].startswith(text.strip())
