"""Everything the bot knows, loaded once: passages, question variants, the catalog, the lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from knowledge.catalog import Catalog, load_catalog
from knowledge.documents import Corpus, load_corpus
from knowledge.enumerations import Enumeration, build_enumerations
from knowledge.variants import load_variants


@dataclass(frozen=True)
class KnowledgeBase:
    corpus: Corpus
    variants: dict[str, list[str]]
    catalog: Catalog
    enumerations: tuple[Enumeration, ...] = field(default=())

    @classmethod
    def load(cls, folder: Path) -> "KnowledgeBase":
        corpus = load_corpus(folder)
        catalog = load_catalog(corpus)
        return cls(corpus, load_variants(corpus), catalog, tuple(build_enumerations(corpus, catalog)))

    def enumeration(self, enumeration_id: str) -> Enumeration | None:
        return next((e for e in self.enumerations if e.id == enumeration_id), None)
