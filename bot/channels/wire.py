"""`Incoming` and `Reply` as JSON, the form they are stored in (inbox, reply outbox)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from bot.messages import Button, Incoming, QuizPoll, Reply


def incoming_to_json(msg: Incoming) -> dict[str, Any]:
    data = asdict(msg)
    data["received_at"] = msg.received_at.isoformat()
    return data


def incoming_from_json(data: dict[str, Any]) -> Incoming:
    return Incoming(**{**data, "received_at": datetime.fromisoformat(data["received_at"])})


# In a stored reply: the sent message (a menu) it replaces, edited in place (bot/channels/dispatch.py).
EDITS = "edits_message_id"


def reply_to_json(reply: Reply, edits_message_id: str | None = None) -> dict[str, Any]:
    data = asdict(reply)
    if edits_message_id is not None:
        data[EDITS] = edits_message_id
    return data


def replies_to_json(replies: list[Reply], menu_message_id: str | None) -> list[dict[str, Any]]:
    """An update's replies as stored: the first that replaces a menu keeps the id of the
    message whose button was tapped (`Incoming.menu_message_id`); one message holds the menu."""
    stored = []
    for reply in replies:
        edits = menu_message_id if reply.replaces_menu else None
        if edits is not None:
            menu_message_id = None
        stored.append(reply_to_json(reply, edits))
    return stored


def reply_from_json(data: dict[str, Any]) -> Reply:
    quiz = data.get("quiz")
    return Reply(
        text=data["text"],
        buttons=tuple(tuple(Button(**button) for button in row) for row in data.get("buttons", ())),
        quiz=QuizPoll(**{**quiz, "options": tuple(quiz["options"])}) if quiz else None,
        replaces_menu=data.get("replaces_menu", False),
        preview_url=data.get("preview_url"),
        numbered_from=data.get("numbered_from", 0),
    )
