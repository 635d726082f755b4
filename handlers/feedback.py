"""/gopy: a resident's feedback, in three steps.

1. pick a topic (one of the 11 models, a criteria group, or "Khác");
2. write the message;
3. confirm: Gửi / Sửa / Hủy.

The feedback is stored with its topic, the resident's ward (when they gave
one in /dangky), the platform and the time. /huy or the "Hủy" button ends
the dialog at any step; nothing is stored until "Gửi", and a second "Gửi"
(double tap, replay) stores nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.deps import Deps
from bot.messages import Button, Incoming, Reply
from bot.storage import repo, transaction
from handlers.forms import INVALID_BUTTON, button_parts, cancel_button, free_text_problem, new_token, valid_token
from vntext.normalize import fold

DIALOG = "gopy"
PREFIX = "fb"
MAX_FEEDBACK_CHARS = 1500
OTHER = "khac"

ASK_TOPIC = "Cảm ơn bạn muốn góp ý! Bạn muốn góp ý về chủ đề nào?"
CHOOSE_WITH_BUTTONS = "Bạn chọn một chủ đề bằng các nút bên dưới giúp mình nhé (gõ /huy để hủy)."
ASK_TEXT = (
    "Mời bạn viết góp ý về «{label}» trong một tin nhắn (tối đa {limit} ký tự). "
    "Gõ /huy nếu bạn đổi ý."
)
ASK_REWRITE = "Mời bạn viết lại góp ý về «{label}» trong một tin nhắn."
PREVIEW = "Bạn xem lại góp ý trước khi gửi nhé:\n\nChủ đề: {label}\nNội dung: «{text}»"
USE_BUTTONS_TO_CONFIRM = "Bạn bấm «Gửi» để gửi góp ý, «Sửa» để viết lại, hoặc «Hủy» nếu không gửi nữa nhé."
THANKS = (
    "Cảm ơn bạn! Góp ý của bạn về «{label}» đã được ghi nhận và sẽ được chuyển tới "
    "cán bộ phụ trách."
)
CANCELLED = "Đã hủy góp ý, mình không lưu gì cả. Bạn có thể gõ /gopy bất cứ lúc nào để góp ý lại."
ALREADY_SENT = (
    "Góp ý này đã được gửi hoặc đã kết thúc trước đó, nên mình không ghi nhận thêm. "
    "Bạn gõ /gopy để gửi góp ý mới nhé."
)


@dataclass(frozen=True)
class Topic:
    key: str       # in button data: "m3", "cII", "k"
    code: str      # stored: "mohinh:<model id>", "tieuchi:<section key>", "khac"
    label: str     # stored and shown in full
    short: str     # on the button


def topics(deps: Deps) -> list[Topic]:
    found = [
        Topic(f"m{m.number}", f"mohinh:{m.id}", f"Mô hình {m.number}: {m.title}", _short(f"{m.number}. {m.title}"))
        for m in deps.knowledge.catalog.models
    ]
    doc = deps.knowledge.corpus.document(deps.knowledge.catalog.criteria_document)
    if doc is not None:
        for section in doc.root.children:
            if "tieu chi" in fold(section.heading) and section.key.isalnum():
                heading = section.heading.split(". ", 1)[-1] if section.number else section.heading
                found.append(Topic(f"c{section.key}", f"tieuchi:{section.key}", heading, _short(heading, 40)))
    found.append(Topic("k", OTHER, "Khác", "Chủ đề khác"))
    return found


def _short(text: str, limit: int = 30) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + "…"


def _topic_menu(deps: Deps, token: str, text: str = ASK_TOPIC) -> Reply:
    choices = topics(deps)
    models = [Button(t.short, f"{PREFIX}:{token}:t:{t.key}") for t in choices if t.key.startswith("m")]
    rest = [Button(t.short, f"{PREFIX}:{token}:t:{t.key}") for t in choices if not t.key.startswith("m")]
    rows = [models[i: i + 2] for i in range(0, len(models), 2)] + [[b] for b in rest]
    return Reply.with_buttons(text, *rows, [cancel_button(PREFIX, token)])


def _confirm(token: str, label: str, text: str) -> Reply:
    return Reply.with_buttons(PREVIEW.format(label=label, text=text), [
        Button("✅ Gửi", f"{PREFIX}:{token}:send"),
        Button("✏️ Sửa", f"{PREFIX}:{token}:edit"),
        cancel_button(PREFIX, token),
    ])


def _ask_text(token: str, label: str, template: str = ASK_TEXT) -> Reply:
    return Reply.with_buttons(template.format(label=label, limit=MAX_FEEDBACK_CHARS),
                              [cancel_button(PREFIX, token)])


async def start_feedback(msg: Incoming, deps: Deps) -> list[Reply]:
    """Gửi góp ý về Nghị quyết 05 và các mô hình."""
    token = new_token()
    await deps.dialogs.open(msg.platform, msg.user_id, DIALOG, {"token": token, "step": "topic"})
    return [_topic_menu(deps, token)]


async def on_button(msg: Incoming, deps: Deps) -> list[Reply]:
    """Buttons "fb:<token>:t:<topic>", "fb:<token>:send|edit|cancel"."""
    parts = button_parts(msg, PREFIX)
    if not parts or not valid_token(parts[0]) or len(parts) > 3:
        return [Reply(INVALID_BUTTON)]
    token, action, arg = parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""
    if await deps.dialogs.current(msg.platform, msg.user_id) != DIALOG:
        return [Reply(ALREADY_SENT if action == "send" else INVALID_BUTTON)]
    state = await deps.dialogs.state(msg.platform, msg.user_id)
    if state.get("token") != token:
        return [Reply(INVALID_BUTTON)]
    step = state.get("step")

    if action == "cancel" and not arg:
        await deps.dialogs.close(msg.platform, msg.user_id)
        return [Reply(CANCELLED)]
    if action == "t" and step == "topic":
        topic = next((t for t in topics(deps) if t.key == arg), None)
        if topic is None:
            return [Reply(INVALID_BUTTON)]
        return await _choose(msg, deps, state, topic)
    if action == "edit" and not arg and step == "confirm":
        state.update(step="text", text=None)
        await deps.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
        return [_ask_text(token, state["label"], ASK_REWRITE)]
    if action == "send" and not arg and step == "confirm":
        return await _send(msg, deps, token)
    return [Reply(INVALID_BUTTON)]


async def _choose(msg: Incoming, deps: Deps, state: dict, topic: Topic) -> list[Reply]:
    state.update(step="text", topic=topic.code, label=topic.label)
    await deps.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
    return [_ask_text(state["token"], topic.label)]


async def _send(msg: Incoming, deps: Deps, token: str) -> list[Reply]:
    # take() closes the dialog exactly once: a second "Gửi" finds nothing to send.
    state = await deps.dialogs.take(msg.platform, msg.user_id, DIALOG)
    if state is None or state.get("token") != token or not state.get("text"):
        return [Reply(ALREADY_SENT)]
    now = deps.clock()
    async with transaction(deps) as session:
        resident = await repo.ensure_resident(session, msg.platform, msg.user_id, msg.display_name, now)
        await repo.add_feedback(session, resident, msg.platform, state["topic"], state["label"],
                                state["text"], now)
    return [Reply(THANKS.format(label=state["label"]))]


async def on_text(msg: Incoming, deps: Deps) -> list[Reply]:
    """Free text while /gopy is open: a topic typed by name, or the feedback itself."""
    state = await deps.dialogs.state(msg.platform, msg.user_id)
    token, step = state.get("token", ""), state.get("step")
    if step == "topic":
        typed = fold(msg.text).strip()
        model = deps.knowledge.catalog.find_model(msg.text) if typed else None
        choice = next((t for t in topics(deps) if model and t.code == f"mohinh:{model.id}"), None)
        if choice is None and typed in {"khac", "chu de khac"}:
            choice = topics(deps)[-1]
        if choice is None:
            return [_topic_menu(deps, token, CHOOSE_WITH_BUTTONS)]
        return await _choose(msg, deps, state, choice)
    if step == "text":
        problem = free_text_problem(msg.text, what="góp ý", max_chars=MAX_FEEDBACK_CHARS)
        if problem:
            return [Reply.with_buttons(problem, [cancel_button(PREFIX, token)])]
        state.update(step="confirm", text=msg.text)
        await deps.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
        return [_confirm(token, state["label"], msg.text)]
    if step == "confirm":
        return [Reply(USE_BUTTONS_TO_CONFIRM, _confirm(token, state["label"], state["text"]).buttons)]
    await deps.dialogs.close(msg.platform, msg.user_id)
    return [Reply(INVALID_BUTTON)]
