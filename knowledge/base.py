"""Everything the bot knows, loaded once: passages, question variants, the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from knowledge.documents import Corpus, load_corpus
from knowledge.catalog import Catalog, load_catalog
from knowledge.variants import load_variants


@dataclass(frozen=True)
class KnowledgeBase:
    corpus: Corpus
    variants: dict[str, list[str]]
    catalog: Catalog

    @classmethod
    def load(cls, folder: Path) -> "KnowledgeBase":
        corpus = load_corpus(folder)
        return cls(corpus, load_variants(corpus), load_catalog(corpus))
