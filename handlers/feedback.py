"""/gopy: a resident's feedback. What they type is the feedback, and is kept.

1. the message: typed after /gopy ("/gopy Đề nghị …") or in the next message;
2. the topic (one of the 11 models, a criteria group, or "Khác"): suggested
   from the text when it names one, else asked;
3. confirm: Gửi / Đổi chủ đề / Sửa nội dung / Hủy.

Nothing the resident types in the dialog is thrown away: text typed while
the topic is asked (and is not a topic) or at the confirmation is added to
the feedback, and the preview shows the result. The feedback is stored with
its topic, the resident's ward (when they gave one in /dangky), the platform
and the time; phone numbers, e-mail addresses and ID numbers in it are
masked unless CIVICBOT_PRIVACY__KEEP_CONTACT_DETAILS allows keeping them
(vntext/pii.py). /huy or "Hủy" ends the dialog at any step; nothing is
stored until "Gửi", and a second "Gửi" (double tap, replay) stores nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.deps import Deps, Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from bot.storage import repo, transaction
from handlers.forms import (
    INVALID_BUTTON, WAY_OUT, button_parts, cancel_button, count, free_text_problem, in_place, new_token,
    valid_token,
)
from handlers.intents import small_talk
from handlers.privacy import stored_text
from vntext.normalize import fold
from vntext.pii import find_personal_data

router = Router()

DIALOG = "gopy"
PREFIX = "fb"
MAX_FEEDBACK_CHARS = 1500
OTHER = "khac"
TOPIC_LABEL_CHARS = 30
# Free text of at least this many words, typed while the topic is asked, is
# more feedback rather than a topic's name.
MORE_TEXT_WORDS = 5

ASK_TEXT = (
    "Cảm ơn bạn muốn góp ý! Mời bạn viết góp ý về Nghị quyết 05 hoặc các mô hình trong một tin nhắn "
    "(tối đa {limit} ký tự); sau đó mình hỏi chủ đề. " + WAY_OUT
)
ASK_REWRITE = "Mời bạn viết lại nội dung góp ý trong một tin nhắn (tối đa {limit} ký tự). " + WAY_OUT
ASK_TOPIC = "Góp ý của bạn thuộc chủ đề nào? Bạn chọn một chủ đề trong danh sách (nội dung vẫn được giữ nguyên)."
TOPIC_NOT_FOUND = (
    "Mình chưa nhận ra chủ đề «{typed}». Bạn chọn một chủ đề trong danh sách, hoặc «Chủ đề khác» "
    "(nội dung góp ý vẫn được giữ nguyên)."
)
ADDED = "Mình đã thêm tin vừa rồi vào nội dung góp ý."
NOT_ADDED = "Góp ý của bạn vẫn đang chờ bạn xác nhận; lời chào, lời cảm ơn mình không thêm vào nội dung."
PREVIEW = "Bạn xem lại góp ý trước khi gửi nhé:\n\nChủ đề: {label}{guess}\nNội dung: «{text}»"
GUESSED = " (mình đoán theo nội dung, bạn có thể đổi)"
MASK_NOTE = ("\n\nSố điện thoại, email hay số CCCD/CMND trong góp ý sẽ được che đi khi lưu, "
             "cán bộ không xem được.")
CONFIRM_HINT = "Bạn chọn «Gửi» để gửi, hoặc đổi chủ đề, sửa nội dung, hủy."
THANKS = (
    "Cảm ơn bạn! Góp ý của bạn về «{label}» đã được ghi nhận và sẽ được chuyển tới "
    "cán bộ phụ trách."
)
CANCELLED = "Đã hủy góp ý, mình không lưu gì cả. Bạn có thể gõ /gopy bất cứ lúc nào để góp ý lại."
ALREADY_SENT = (
    "Góp ý này đã được gửi hoặc đã kết thúc trước đó, nên mình không ghi nhận thêm. "
    "Bạn gõ /gopy để gửi góp ý mới nhé."
)
STRAYED = "Phần góp ý đang làm dở bị gián đoạn nên mình đã đóng lại. Bạn gõ /gopy để góp ý lại nhé."

# What a resident may type at the confirmation instead of choosing (folded).
SEND_WORDS = {"gui", "gui di", "gui luon", "ok", "oke", "okay", "dong y", "co", "xong", "duoc", "dung roi"}
EDIT_WORDS = {"sua", "sua noi dung", "viet lai"}
TOPIC_WORDS = {"doi chu de", "chu de", "doi"}
CANCEL_WORDS = {"huy", "thoi", "khong", "khong gui"}


@dataclass(frozen=True)
class Topic:
    key: str       # in button data: "m3", "cII", "k"
    code: str      # stored: "mohinh:<model id>", "tieuchi:<section key>", "khac"
    label: str     # stored and shown in full
    short: str     # on the button


def topics(deps: Deps) -> list[Topic]:
    found = [
        Topic(f"m{m.number}", f"mohinh:{m.id}", f"Mô hình {m.number}: {m.title}", f"{m.number}. {m.title}")
        for m in deps.knowledge.catalog.models
    ]
    doc = deps.knowledge.corpus.document(deps.knowledge.catalog.criteria_document)
    if doc is not None:
        for section in doc.root.children:
            if "tieu chi" in fold(section.heading) and section.key.isalnum():
                heading = section.heading.split(". ", 1)[-1] if section.number else section.heading
                found.append(Topic(f"c{section.key}", f"tieuchi:{section.key}", heading, heading))
    found.append(Topic("k", OTHER, "Khác", "Chủ đề khác"))
    return found


def _topic_button(token: str, topic: Topic) -> Button:
    # A numbered list shows the topic's full name, without the model's own number.
    listed = topic.label if topic.code != OTHER else topic.short
    return Button.shortened(topic.short, f"{PREFIX}:{token}:t:{topic.key}",
                            TOPIC_LABEL_CHARS if topic.key.startswith("m") else 40, listed=listed)


def _topic_menu(deps: Deps, token: str, text: str = ASK_TOPIC) -> Reply:
    choices = topics(deps)
    models = [_topic_button(token, t) for t in choices if t.key.startswith("m")]
    rest = [_topic_button(token, t) for t in choices if not t.key.startswith("m")]
    rows = [models[i: i + 2] for i in range(0, len(models), 2)] + [[b] for b in rest]
    return Reply.with_buttons(text, *rows, [cancel_button(PREFIX, token)])


def _confirm(state: dict, intro: str = "") -> Reply:
    token, text = state["token"], state["text"]
    body = PREVIEW.format(label=state["label"], guess=GUESSED if state.get("guessed") else "", text=text)
    if find_personal_data(text):
        body += MASK_NOTE
    return Reply.with_buttons((intro + "\n\n" if intro else "") + body, [
        Button("✅ Gửi", f"{PREFIX}:{token}:send"),
        Button("🏷 Đổi chủ đề", f"{PREFIX}:{token}:topic"),
    ], [
        Button("✏️ Sửa nội dung", f"{PREFIX}:{token}:edit"),
        cancel_button(PREFIX, token),
    ])


def _ask_text(token: str, template: str = ASK_TEXT) -> Reply:
    return Reply.with_buttons(template.format(limit=count(MAX_FEEDBACK_CHARS)), [cancel_button(PREFIX, token)])


@router.command("gopy", "Gửi góp ý về Nghị quyết 05 và các mô hình",
                help="Gửi góp ý về Nghị quyết 05 và các mô hình (hoặc gõ luôn: /gopy nội dung góp ý)")
async def start_feedback(msg: Incoming, turn: Turn) -> list[Reply]:
    """Gửi góp ý về Nghị quyết 05 và các mô hình."""
    state = {"token": new_token(), "step": "text"}
    await _save(msg, turn, state)
    if msg.args:                 # "/gopy Đề nghị …": the text is the feedback
        return await _take_text(msg, turn, state, msg.args)
    return [_ask_text(state["token"])]


@router.button(PREFIX)
async def on_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Buttons "fb:<token>:t:<topic>", "fb:<token>:send|topic|edit|cancel"."""
    parts = button_parts(msg, PREFIX)
    if not parts or not valid_token(parts[0]) or len(parts) > 3:
        return [Reply(INVALID_BUTTON)]
    token, action, arg = parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""
    if await turn.dialogs.current(msg.platform, msg.user_id) != DIALOG:
        return [Reply(ALREADY_SENT if action == "send" else INVALID_BUTTON)]
    state = await turn.dialogs.state(msg.platform, msg.user_id)
    if state.get("token") != token:
        return [Reply(INVALID_BUTTON)]
    step = state.get("step")

    if action == "cancel" and not arg:
        await turn.dialogs.close(msg.platform, msg.user_id)
        return in_place([Reply(CANCELLED)])
    if action == "t" and step == "topic":
        topic = next((t for t in topics(turn.deps) if t.key == arg), None)
        if topic is None:
            return [Reply(INVALID_BUTTON)]
        return await _choose(msg, turn, state, topic)
    if step == "confirm" and not arg and action in ("send", "topic", "edit"):
        return await _confirm_action(msg, turn, state, action)
    return [Reply(INVALID_BUTTON)]


async def _confirm_action(msg: Incoming, turn: Turn, state: dict, action: str) -> list[Reply]:
    if action == "send":
        return await _send(msg, turn, state["token"])
    if action == "topic":
        state["step"] = "topic"
        await _save(msg, turn, state)
        return [_topic_menu(turn.deps, state["token"])]
    state["step"] = "text"            # "edit": the text is written again; a chosen topic stays,
    if state.get("guessed"):          # a guessed one is guessed again from the new text
        for key in ("topic", "label", "guessed"):
            state.pop(key, None)
    await _save(msg, turn, state)
    return [_ask_text(state["token"], ASK_REWRITE)]


@router.dialog(DIALOG, about="gửi góp ý", command="gopy", cancelled=CANCELLED,
               buttons=PREFIX)
async def on_text(msg: Incoming, turn: Turn) -> list[Reply]:
    """Free text while /gopy is open: the feedback, a topic's name, or a word for a choice."""
    state = await turn.dialogs.state(msg.platform, msg.user_id)
    step, typed = state.get("step"), _typed(msg.text)
    if typed in CANCEL_WORDS:          # "thôi", "hủy": at any step
        await turn.dialogs.close(msg.platform, msg.user_id)
        return [Reply(CANCELLED)]
    if step == "text":
        return await _take_text(msg, turn, state, msg.text)
    if step == "topic":
        if len(typed.split()) >= MORE_TEXT_WORDS:        # a sentence: more feedback, not a topic's name
            return await _add_text(msg, turn, state)
        topic = _topic_named(turn.deps, msg.text)
        if topic is not None:
            return await _choose(msg, turn, state, topic)
        return [_topic_menu(turn.deps, state["token"], TOPIC_NOT_FOUND.format(typed=msg.text[:60]))]
    if step == "confirm":
        for words, action in ((SEND_WORDS, "send"), (EDIT_WORDS, "edit"), (TOPIC_WORDS, "topic")):
            if typed in words:
                return await _confirm_action(msg, turn, state, action)
        if len(typed.split()) < 2:     # "?", "hả": not more feedback, not a choice
            return [_confirm(state, CONFIRM_HINT)]
        return await _add_text(msg, turn, state)
    await turn.dialogs.close(msg.platform, msg.user_id)
    return [Reply(STRAYED)]


async def _take_text(msg: Incoming, turn: Turn, state: dict, text: str) -> list[Reply]:
    """The feedback's text: on to the confirmation when a topic is known or guessed, else the topic menu."""
    problem = free_text_problem(text, what="góp ý", max_chars=MAX_FEEDBACK_CHARS)
    if problem:
        return [Reply.with_buttons(problem, [cancel_button(PREFIX, state["token"])])]
    state["text"] = text
    if not state.get("topic"):
        guess = await _suggest(msg, turn, text)
        if guess is not None:
            state.update(topic=guess.code, label=guess.label, guessed=True)
    if state.get("topic"):
        state["step"] = "confirm"
        await _save(msg, turn, state)
        return [_confirm(state, _photo_note(msg))]
    state["step"] = "topic"
    await _save(msg, turn, state)
    return [_topic_menu(turn.deps, state["token"], (_photo_note(msg) + "\n\n" if msg.media else "") + ASK_TOPIC)]


async def _add_text(msg: Incoming, turn: Turn, state: dict) -> list[Reply]:
    if small_talk(msg.text) is not None:
        # "cảm ơn", "ok", "xin chào" while the feedback waits (perhaps hours later) are
        # courtesies, not more feedback: appending them would send them to officials.
        if state.get("step") == "confirm":
            return [_confirm(state, NOT_ADDED)]
        return [_topic_menu(turn.deps, state["token"], NOT_ADDED + " " + ASK_TOPIC)]
    combined = f"{state['text']}\n{msg.text}"
    problem = free_text_problem(combined, what="góp ý (gộp cả tin vừa rồi)", max_chars=MAX_FEEDBACK_CHARS)
    if problem:
        return [Reply.with_buttons(problem, [cancel_button(PREFIX, state["token"])])]
    state["text"] = combined
    await _save(msg, turn, state)
    if state.get("step") == "confirm":
        return [_confirm(state, ADDED)]
    return [_topic_menu(turn.deps, state["token"], ADDED + " " + ASK_TOPIC)]


def _photo_note(msg: Incoming) -> str:
    return "Mình ghi nhận phần chữ; ảnh hay tệp đính kèm thì mình chưa lưu được." if msg.media else ""


def _topic_named(deps: Deps, text: str) -> Topic | None:
    """The topic ``text`` names ("nha o xa hoi", "khác"), if any."""
    if _typed(text) in {"khac", "chu de khac"}:
        return topics(deps)[-1]
    model = deps.knowledge.catalog.find_model(text)
    return next((t for t in topics(deps) if model and t.code == f"mohinh:{model.id}"), None)


def _typed(text: str) -> str:
    """What a resident typed, for comparing with words: folded, one space, no end punctuation."""
    return " ".join(fold(text).strip(" .!?").split())


async def _suggest(msg: Incoming, turn: Turn, text: str) -> Topic | None:
    """The topic the feedback is most likely about: a model it names, else the
    criteria group of the passage it is closest to (when the search is confident)."""
    named = _topic_named(turn.deps, text)
    if named is not None:
        return named
    result = turn.search_ahead if turn.search_ahead is not None and turn.search_ahead.question == text \
        else await turn.deps.searcher.search(text, k=1)
    if not (result.confident and result.hits):
        return None
    criteria = turn.deps.knowledge.catalog.criteria_document
    passage_id = result.hits[0].passage.id
    if not passage_id.startswith(criteria + "."):
        return None
    key = passage_id[len(criteria) + 1:].split(".", 1)[0]
    return next((t for t in topics(turn.deps) if t.code == f"tieuchi:{key}"), None)


async def _choose(msg: Incoming, turn: Turn, state: dict, topic: Topic) -> list[Reply]:
    state.update(step="confirm", topic=topic.code, label=topic.label, guessed=False)
    await _save(msg, turn, state)
    return [_confirm(state)]


async def _save(msg: Incoming, turn: Turn, state: dict) -> None:
    await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, state)


async def _send(msg: Incoming, turn: Turn, token: str) -> list[Reply]:
    # take() closes the dialog exactly once: a second "Gửi" finds nothing to send.
    state = await turn.dialogs.take(msg.platform, msg.user_id, DIALOG)
    if state is None or state.get("token") != token or not state.get("text") or not state.get("topic"):
        return [Reply(ALREADY_SENT)]
    now = turn.deps.clock()
    async with transaction(turn) as session:
        resident = await repo.ensure_resident(session, msg.platform, msg.user_id, msg.display_name, now)
        await repo.add_feedback(session, resident, msg.platform, state["topic"], state["label"],
                                stored_text(turn.deps, state["text"]), now)
    return [Reply(THANKS.format(label=state["label"]))]
