"""Zalo OA messages for neutral replies: a list template where a menu fits one, numbered text otherwise.

A customer-service message (POST /v3.0/oa/message/cs) may carry a list
template: 1–5 elements, each a title (at most 100 characters) with a
subtitle (at most 500; the first element must have one) and a default
action. A short menu (at most four choices under a text that fits) becomes
one: the text is the first element, each choice an element titled with its
number and whole label, whose tap sends that number back as a hidden
message ("oa.query.hide"), read by the core like a typed number
(bot/choices.py), so tapping and typing are one path.

Anything else goes as numbered text split at Zalo's 2,000 characters: more
choices than the template holds, a text longer than a subtitle, a label
over a title's length (never cut: the resident must read the whole choice),
or a text that already lists its choices (`numbered_texts` numbers those
lines instead of listing them twice).
"""

from __future__ import annotations

from dataclasses import replace

from bot.choices import flat_buttons
from bot.messages import Button, Reply, short_label
from bot.platforms.base import numbered_texts, reply_text, split_message, text_lists_choices

LIST_ELEMENTS_MAX = 5          # the text's element and four choices
TITLE_MAX = 100
SUBTITLE_MAX = 500
TAP_HINT = "(Chạm vào một lựa chọn hoặc trả lời bằng số.)"


def zalo_messages(replies: list[Reply], text_limit: int) -> list[dict]:
    """The OA "message" objects for ``replies``, in order; choices numbered as the core reads them."""
    messages: list[dict] = []
    number = 0
    for reply in replies:
        if reply.numbered_from:
            number = reply.numbered_from - 1
        buttons = flat_buttons(reply)
        template = list_template(reply_text(reply), buttons, number + 1)
        if template is not None:
            messages.append(template)
        else:
            (text,) = numbered_texts([replace(reply, numbered_from=number + 1)])
            messages += [{"text": chunk} for chunk in split_message(text, text_limit)]
        number += len(buttons)
    return messages


def list_template(text: str, buttons: list[Button], first: int) -> dict | None:
    """``text`` and its choices (numbered from ``first``) as a list template; None if they do not fit."""
    if not buttons or len(buttons) > LIST_ELEMENTS_MAX - 1 or text_lists_choices(text, buttons, first):
        return None
    head, _, body = text.strip().partition("\n")
    if len(head) > TITLE_MAX:                   # the whole text below a title cut from its start
        head, body = short_label(head, TITLE_MAX), text.strip()
    subtitle = f"{body.strip()}\n{TAP_HINT}".strip()
    labels = [f"{number}. {button.full_label or button.label}" for number, button in enumerate(buttons, first)]
    if not head or len(subtitle) > SUBTITLE_MAX or any(len(label) > TITLE_MAX for label in labels):
        return None
    elements = [{"title": head, "subtitle": subtitle}]
    elements += [{"title": label, "default_action": {"type": "oa.query.hide", "payload": str(number)}}
                 for number, label in enumerate(labels, first)]
    return {"attachment": {"type": "template", "payload": {"template_type": "list", "elements": elements}}}
