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


def reply_to_json(reply: Reply) -> dict[str, Any]:
    return asdict(reply)


def reply_from_json(data: dict[str, Any]) -> Reply:
    quiz = data.get("quiz")
    return Reply(
        text=data["text"],
        buttons=tuple(tuple(Button(**button) for button in row) for row in data.get("buttons", ())),
        quiz=QuizPoll(**{**quiz, "options": tuple(quiz["options"])}) if quiz else None,
        replaces_menu=data.get("replaces_menu", False),
        preview_url=data.get("preview_url"),
    )
