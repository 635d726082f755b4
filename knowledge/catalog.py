"""The 11 focus models and the menus' anchors, as structured data (data/catalog.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from knowledge.documents import Corpus, Passage
from vntext.normalize import fold, nfc

DATA_DIR = Path(__file__).parent / "data"
EXPECTED_MODEL_COUNT = 11


@dataclass(frozen=True)
class FocusModel:
    number: int                    # 1-based position in the resolution's list
    id: str
    titles: tuple[str, ...]        # as listed in the source; the first is the name we show
    aliases: tuple[str, ...]
    mentions: tuple[Passage, ...]  # passages that name the model
    related: tuple[Passage, ...]   # criteria on the same subject (shown as related only)

    @property
    def title(self) -> str:
        return self.titles[0]

    def matches(self, text: str) -> bool:
        """True when ``text`` names this model (by a title or alias, diacritics optional)."""
        return self._named_in(_padded_fold(text))

    def _named_in(self, padded: str) -> bool:
        return any(name in padded for name in self._padded_names)

    @cached_property
    def _padded_names(self) -> tuple[str, ...]:
        return tuple(_padded_fold(name) for name in (*self.titles, *self.aliases))


@dataclass(frozen=True)
class Catalog:
    models: tuple[FocusModel, ...]
    criteria_document: str
    models_plan: Passage | None   # how the models will be carried out

    def find_model(self, text: str) -> FocusModel | None:
        padded = _padded_fold(text)      # once per question, not once per model
        return next((m for m in self.models if m._named_in(padded)), None)


def _padded_fold(text: str) -> str:
    """Folded words between single spaces, padded: whole-word matching by ``in``."""
    return f" {' '.join(fold(text).split())} "


def load_catalog(corpus: Corpus, path: Path = DATA_DIR / "catalog.yaml") -> Catalog:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    plan = corpus.containing(data["models_plan_anchor"]) if data.get("models_plan_anchor") else []
    return Catalog(
        models=tuple(_load_models(corpus, data["models"])),
        criteria_document=data["criteria_document"],
        models_plan=plan[0] if plan else None,
    )


def _load_models(corpus: Corpus, entries: list[dict]) -> list[FocusModel]:
    models = []
    for number, entry in enumerate(entries, 1):
        titles = tuple(nfc(t) for t in entry["titles"])
        mentions = _unique(p for t in titles for p in corpus.containing(t))
        if not mentions:
            raise ValueError(f"model {entry['id']!r}: no passage names {titles[0]!r}")
        related = []
        for anchor in entry.get("related", []):
            found = corpus.containing(anchor)
            if not found:
                raise ValueError(f"model {entry['id']!r}: related anchor not in the text: {anchor!r}")
            related.extend(found)
        models.append(FocusModel(
            number=number,
            id=entry["id"],
            titles=titles,
            aliases=tuple(nfc(a) for a in entry.get("aliases", [])),
            mentions=tuple(mentions),
            related=tuple(_unique(related)),
        ))
    if len(models) != EXPECTED_MODEL_COUNT:
        raise ValueError(f"expected {EXPECTED_MODEL_COUNT} focus models, found {len(models)}")
    return models


def _unique(passages) -> list[Passage]:
    seen, out = set(), []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out
