"""The chat's last answer, as follow-ups need it: which section, which list, which item.

Stored per chat (bot/chat_contexts.py) as a plain dict, for 30 minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.messages import Incoming


@dataclass(frozen=True)
class ChatContext:
    """What the chat's last answer showed, for follow-ups ("còn nhóm 3 thì sao?")."""

    kind: str                         # "passage", "list", "item", "section", "model"
    section_id: str = ""              # the section of the last answer
    enumeration_id: str = ""          # the list shown, or the list the shown item belongs to
    item: int | None = None           # the item shown (0-based), for "tiếp theo"
    passage_id: str = ""
    list_question: bool = False       # the last question asked for a list
    noun: str = ""                    # ... of what ("nhóm", "yếu tố"), for "còn X thì sao?"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "ChatContext | None":
        if not data or not isinstance(data.get("kind"), str):
            return None
        try:
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except TypeError:
            return None


async def recall(msg: "Incoming", deps: "Deps") -> ChatContext | None:
    return ChatContext.from_dict(await deps.chat_contexts.get(msg.platform, msg.chat_id))


async def remember(msg: "Incoming", deps: "Deps", context: ChatContext | None) -> None:
    """Keep ``context`` for the chat's next follow-up (not inside the update's transaction)."""
    if context is not None:
        await deps.chat_contexts.put(msg.platform, msg.chat_id, msg.user_id, context.to_dict())
