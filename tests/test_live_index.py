"""The live index: a searcher updated document by document equals one built from scratch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from knowledge import library
from retrieval.embedder import HashEmbedder
from retrieval.live import LiveIndex, Published, base_index, publish
from tests import document_files as files

HELDOUT = Path(__file__).resolve().parent.parent / "bench" / "data" / "heldout.jsonl"
QUESTIONS = [json.loads(line)["q"] for line in HELDOUT.read_text(encoding="utf-8").splitlines()][:40] + [
    "phuong le chan tiep nhan ho so sang thu bay khong", "Điều 2 quy chế tiếp dân nói gì?",
]


def store(tmp_path: Path, code: str, data: bytes, filename: str, **meta) -> Published:
    from knowledge.ingest import read_document

    doc = read_document(data, filename, code, **meta)
    stored = library.store(tmp_path / "documents", code, 1, filename, data, doc)
    return Published(code, 1, str(stored.structure_path))


def same_answers(a: LiveIndex, b: LiveIndex) -> None:
    for question in QUESTIONS:
        x, y = a.search_many([question], 5)[0], b.search_many([question], 5)[0]
        assert [h.passage.id for h in x.hits] == [h.passage.id for h in y.hits], question
        np.testing.assert_allclose([h.score for h in x.hits], [h.score for h in y.hits], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(x.signals, y.signals, rtol=1e-6, atol=1e-9)
        assert x.normalised == y.normalised and abs(x.confidence - y.confidence) < 1e-9


def test_updated_searcher_equals_one_built_from_scratch(knowledge, tmp_path):
    embedder = HashEmbedder()
    index_dir = tmp_path / "index"
    base = base_index(knowledge, embedder, index_dir)
    running = LiveIndex(knowledge, base, embedder, index_dir)
    plan = store(tmp_path, "vb1", files.plan_docx(), "ke-hoach.docx", issued="2026-01-05")
    rules = store(tmp_path, "vb2", files.LEGAL_TXT.encode(), "quy-che.txt")
    steps = [[plan], [plan, rules], [rules]]        # add, add another, withdraw the first
    for versions in steps:
        publish(index_dir, versions, embedder)
        assert running.refresh()
        fresh = LiveIndex(knowledge, base, embedder, index_dir)   # a process started now
        try:
            assert running.current.generation == fresh.current.generation
            assert [p.id for p in running.current.knowledge.corpus.passages] == \
                [p.id for p in fresh.current.knowledge.corpus.passages]
            same_answers(running, fresh)
            # Which kinds of fact the library gives, updated too (the plan gives opening hours).
            assert running.current.searcher._scope == fresh.current.searcher._scope
        finally:
            fresh.close()
    running.close()


def test_fusion_params_set_through_the_live_searcher_apply_now_and_later(knowledge, tmp_path):
    from dataclasses import replace

    from retrieval.live import LiveSearcher

    embedder = HashEmbedder()
    index_dir = tmp_path / "index"
    live = LiveIndex(knowledge, base_index(knowledge, embedder, index_dir), embedder, index_dir)
    searcher = LiveSearcher(live)
    lexical_only = replace(searcher.params, dense_weight=0.0)
    searcher.params = lexical_only
    assert live.current.searcher.params == lexical_only
    publish(index_dir, [store(tmp_path, "vb1", files.plan_docx(), "ke-hoach.docx")], embedder)
    assert live.refresh() and live.current.searcher.params == lexical_only
    live.close()


def test_a_document_that_cannot_be_loaded_is_reported_and_left_out(knowledge, tmp_path, caplog):
    embedder = HashEmbedder()
    index_dir = tmp_path / "index"
    base = base_index(knowledge, embedder, index_dir)
    plan = store(tmp_path, "vb1", files.plan_docx(), "ke-hoach.docx")
    rules = store(tmp_path, "vb2", files.LEGAL_TXT.encode(), "quy-che.txt")
    publish(index_dir, [plan, rules], embedder)
    live_json = json.loads((index_dir / "live.json").read_text())
    assert not Path(live_json["documents"][0]["structure"]).is_absolute()
    Path(plan.structure).unlink()
    live = LiveIndex(knowledge, base, embedder, index_dir)
    try:
        doc_ids = {p.doc_id for p in live.current.knowledge.corpus.passages}
        assert "vb2" in doc_ids and "vb1" not in doc_ids
        assert "document vb1 v1 cannot be loaded" in caplog.text
    finally:
        live.close()
