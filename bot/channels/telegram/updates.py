"""Telegram updates → `Incoming`, and the screening that keeps long polling moving.

Handled: private/group messages with text or a caption, media (as
``Incoming.media``), button presses. Quiz poll answers need the poll's
stored link and are turned into answers by the adapter.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest

from bot.messages import Incoming
from vntext.normalize import clean_input

log = logging.getLogger(__name__)

PLATFORM = "telegram"


def to_incoming(update: Update) -> Incoming | None:
    """The neutral message for ``update``, or None when there is nothing to answer.

    Handled: private/group messages with text or a caption, and button
    presses. A sticker, photo, voice note, ... carries its kind in
    ``Incoming.media`` (a photo's caption is its text). Ignored: edited
    messages (answering the edit again would be a second answer to one
    question), channel posts, service messages
    (members joined, pinned, ...), other bots, game buttons.
    """
    message_id = str(update.update_id)
    query = update.callback_query
    if query is not None:
        if query.data is None:          # a game button: nothing for us
            return None
        user = query.from_user
        # An old or inline message may be inaccessible; a private chat's id is the user's.
        chat_id = query.message.chat.id if query.message is not None else user.id
        return Incoming.from_platform(
            PLATFORM, chat_id, user.id, None, callback_data=query.data,
            message_id=message_id, display_name=_display_name(user.full_name),
            # The message holding the tapped menu: a reply that replaces the menu edits it.
            menu_message_id=str(query.message.message_id) if query.message is not None else None,
        )
    message = update.message
    if message is None:
        return None
    user = message.from_user
    if user is None or user.is_bot:     # anonymous admins, channels speaking in groups
        return None
    text = message.text if message.text is not None else message.caption
    if text is None and message.effective_attachment is None:
        return None                     # service message
    return Incoming.from_platform(
        PLATFORM, message.chat.id, user.id, text or "", media=_media_kind(message),
        message_id=message_id, display_name=_display_name(user.full_name),
    )


# Message attributes → Incoming.media, first match wins (an animation also has a document).
_MEDIA_KINDS = (("voice", "voice"), ("audio", "voice"), ("video_note", "video"), ("animation", "video"),
                ("video", "video"), ("photo", "photo"), ("sticker", "sticker"), ("location", "location"),
                ("venue", "location"), ("document", "file"))


def _media_kind(message) -> str:
    if message.text is not None:
        return ""
    return next((kind for attr, kind in _MEDIA_KINDS if getattr(message, attr, None)), "unsupported")


def _display_name(name: str | None) -> str | None:
    cleaned = clean_input(name or "", max_chars=64)
    return cleaned or None


class UpdateScreeningRequest(HTTPXRequest):
    """The getUpdates transport, replacing updates PTB cannot read by empty ones.

    PTB parses a getUpdates batch in one go. One update it cannot read (the
    Bot API and PTB out of step: Bot API 9.6 made fields required, say)
    fails the whole batch, the offset is not moved, and the same batch comes
    back at once, forever: the bot stalls in a tight loop of CRITICAL logs.
    A bare ``{"update_id": n}`` in its place lets the offset move on; the
    adapter ignores it.
    """

    async def do_request(self, url: str, method: str, request_data=None, **timeouts: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, **timeouts)
        if code == 200 and url.endswith("/getUpdates"):
            payload = screen_updates(payload)
        return code, payload


def screen_updates(payload: bytes) -> bytes:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        return payload
    changed = False
    for index, item in enumerate(result):
        try:
            Update.de_json(copy.deepcopy(item), None)
        except Exception as exc:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                return payload
            log.warning("Telegram update %s unreadable, skipped (%s: %s)", update_id, type(exc).__name__, exc)
            result[index] = {"update_id": update_id}
            changed = True
    return json.dumps(body).encode() if changed else payload


def _kind(update: Update) -> str:
    for name in ("edited_message", "channel_post", "edited_channel_post", "my_chat_member",
                 "chat_member", "poll", "poll_answer", "inline_query", "message", "callback_query"):
        if getattr(update, name, None) is not None:
            return name
    return "other"
