"""How a source passage is shown: its section path, then its words verbatim."""

from __future__ import annotations

from knowledge.documents import Passage


def quote(passage: Passage) -> str:
    return f"📄 {passage.citation}\n«{passage.text}»"
