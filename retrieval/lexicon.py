"""Civic-domain synonyms: the words residents use → the words the text uses.

Loaded from knowledge/data/lexicon.yaml (groups of `text` terms as the source
writes them and `say` terms people use instead). A question that contains a
`say` term is expanded with the group's `text` terms for the lexical channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from vntext.normalize import syllables

LEXICON_FILE = Path(__file__).parent.parent / "knowledge" / "data" / "lexicon.yaml"


@dataclass(frozen=True)
class Lexicon:
    # folded `say` phrase (tuple of syllables) -> text terms it stands for
    expansions: dict[tuple[str, ...], tuple[str, ...]]

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> "Lexicon":
        if not path.exists():
            return cls({})
        expansions: dict[tuple[str, ...], tuple[str, ...]] = {}
        for group in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            text_terms = tuple(group["text"])
            for phrase in group.get("say", []):
                key = tuple(syllables(phrase))
                if key:
                    expansions[key] = expansions.get(key, ()) + text_terms
        return cls(expansions)

    def __post_init__(self) -> None:
        # Phrases by their first syllable: a question is scanned once, not once per phrase.
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for key in self.expansions:
            by_first.setdefault(key[0], []).append(key)
        object.__setattr__(self, "_by_first", by_first)

    def expand(self, text: str) -> list[str]:
        """The source-text terms whose everyday synonyms occur in ``text``."""
        tokens = syllables(text)
        found: list[str] = []
        for i, token in enumerate(tokens):
            for key in self._by_first.get(token, ()):
                if tuple(tokens[i : i + len(key)]) == key:
                    found.extend(t for t in self.expansions[key] if t not in found)
        return found

    def vocabulary(self) -> list[str]:
        """Every text term, for diacritic restoration."""
        return sorted({t for terms in self.expansions.values() for t in terms})
