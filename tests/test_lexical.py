"""Our sparse BM25 gives bm25s's scores (the reference implementation), on the real corpus."""

import json
from pathlib import Path

import bm25s
import numpy as np

from retrieval.lexical import LexicalIndex, terms
from retrieval.searcher import units_for

HELDOUT = Path(__file__).resolve().parent.parent / "bench" / "data" / "heldout.jsonl"


def test_scores_equal_bm25s_and_a_grown_index_equals_a_fresh_one(knowledge):
    texts = [u.text for u in units_for(knowledge.corpus, knowledge.variants)]
    reference = bm25s.BM25()
    reference.index([terms(t) or ["\x00"] for t in texts], show_progress=False)
    vocab = set(reference.vocab_dict)
    ours = LexicalIndex(texts)
    questions = [json.loads(line)["q"] for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    for question in questions:
        query = [t for t in terms(question, drop_stopwords=True) if t in vocab]
        expected = np.asarray(reference.get_scores(query), np.float32) if query else np.zeros(len(texts), np.float32)
        np.testing.assert_allclose(ours.scores(question), expected, rtol=1e-5, atol=1e-5)
    # Texts analysed for an earlier index are reused; the result is the same as from scratch.
    grown = LexicalIndex(texts + ["Phường Lê Chân tiếp dân sáng thứ Bảy"])
    assert grown.scores("tiếp dân thứ bảy")[-1] > 0
    np.testing.assert_allclose(LexicalIndex(texts).scores("nhà ở xã hội"), ours.scores("nhà ở xã hội"))
