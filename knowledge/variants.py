"""Question variants: how residents ask about each passage (data/questions.yaml).

Each entry ties questions to the passage that answers them through an
anchor, a verbatim quote of that passage, so the file survives changes to
how passages are split. Indexing the questions next to the passage lets a
question phrased in everyday words meet the formal text (doc2query, written
by people instead of a model).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge.documents import Corpus
from vntext.normalize import clean_input

QUESTIONS_FILE = Path(__file__).parent / "data" / "questions.yaml"


def load_variants(corpus: Corpus, path: Path = QUESTIONS_FILE) -> dict[str, list[str]]:
    """passage id -> its question variants. An anchor that matches nothing is an error."""
    if not path.exists():
        return {}
    variants: dict[str, list[str]] = {}
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
        # Part headings ("II. Bộ tiêu chí ...") are quoted only by overviews.
        found = corpus.containing(entry["anchor"]) or corpus.containing(entry["anchor"], "overview")
        if not found:
            raise ValueError(f"{path.name}: anchor not found in any passage: {entry['anchor']!r}")
        # A heading is repeated in front of each bullet of its group; the
        # group's first passage is the one that introduces it.
        target = found[0].id
        bucket = variants.setdefault(target, [])
        for question in entry["questions"]:
            question = clean_input(str(question))
            if question and question not in bucket:
                bucket.append(question)
    return variants
