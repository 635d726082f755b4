"""The document registry and the live index: add, replace, withdraw, announcements, ward scope.

Each test runs on SQLite and PostgreSQL (the ``db`` fixture) with the hash
embedder; a `LiveIndex` opened before the change stands for a running bot.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from bot.documents import (
    DocumentError, add_document, document_versions, list_documents, publish_announcement, replace_document,
    withdraw_document,
)
from bot.settings import Settings
from handlers.quoting import quote
from retrieval import live as live_index
from retrieval.embedder import HashEmbedder
from retrieval.live import LiveIndex, base_index
from tests import document_files as files

LE_CHAN = "Phường Lê Chân"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data")


@pytest.fixture
def embedder():
    return HashEmbedder()


@pytest.fixture
def running(settings, embedder, knowledge):
    """The live index of a process that was already running before any change."""
    index = LiveIndex(knowledge, base_index(knowledge, embedder, settings.index_dir), embedder, settings.index_dir)
    yield index
    index.close()


def top(index: LiveIndex, question: str, ward: str | None = None):
    return index.search_many([question], 5, [ward])[0]


async def test_added_document_is_stored_registered_and_searchable_without_restart(db, settings, embedder, running):
    assert top(running, "tiếp nhận hồ sơ vào sáng thứ Bảy").hits[0].passage.doc_id in ("phu-luc-1-bo-tieu-chi",
                                                                                         "nghi-quyet-05-tin-tien-phong")
    plan = files.plan_docx()
    change = await add_document(db, settings, plan, "ke-hoach-12.docx", title="Kế hoạch 12/KH-UBND",
                                issued=date(2026, 1, 5), added_by="cli", embedder=embedder)
    info = change.document
    assert (info.code, info.version, info.status, info.issued, info.ward) == ("vb1", 1, "active", date(2026, 1, 5), None)
    assert info.title == files.PLAN_TITLE and info.passages > 5 and len(info.file_sha256) == 64
    folder = settings.data_dir / "documents" / "vb1" / "v1"
    assert (folder / "original.docx").read_bytes() == plan
    assert json.loads((folder / "structure.json").read_text())["title"] == files.PLAN_TITLE
    assert change.index.generation == 1 and change.index.embedded == ["vb1 v1"]

    assert running.refresh()                         # what the watcher thread does every second
    hit = top(running, "phường tiếp nhận hồ sơ vào sáng thứ Bảy không").hits[0]
    assert hit.passage.id == "vb1.II.1.p1" and files.SATURDAY in hit.passage.text
    assert quote(hit.passage) == (
        f"📄 Kế hoạch 12/KH-UBND › II. NỘI DUNG THỰC HIỆN › 1. Tiếp dân ngoài giờ (ngày 05/01/2026)\n"
        f"«1. Tiếp dân ngoài giờ\n{files.SATURDAY}»")
    assert not running.refresh()                     # nothing new: the same snapshot stays


async def test_replacing_keeps_the_old_version_on_record_but_never_quotes_it(db, settings, embedder, running):
    await add_document(db, settings, files.plan_docx(), "ke-hoach.docx", embedder=embedder)
    newer = files.LEGAL_TXT.replace("10 ngày làm việc", "5 ngày làm việc").encode()
    change = await replace_document(db, settings, "1", newer, "ke-hoach-v2.txt", issued=date(2026, 3, 1),
                                    embedder=embedder)
    assert (change.document.code, change.document.version) == ("vb1", 2)
    assert [(v.version, v.status) for v in await document_versions(db, "vb1")] == [(1, "replaced"), (2, "active")]
    assert [d.version for d in await list_documents(db)] == [2]
    assert len(await list_documents(db, include_history=True)) == 2
    running.refresh()
    texts = [p.text for p in running.current.knowledge.corpus.passages if p.doc_id == "vb1"]
    assert any("5 ngày làm việc" in t for t in texts)
    assert not any(files.SATURDAY in t for t in texts)
    assert (settings.data_dir / "documents" / "vb1" / "v1" / "original.docx").exists()   # the record

    await withdraw_document(db, settings, "vb1", note="hết hiệu lực", embedder=embedder)
    running.refresh()
    assert not [p for p in running.current.knowledge.corpus.passages if p.doc_id == "vb1"]
    assert (await document_versions(db, "vb1"))[-1].note == "hết hiệu lực"
    with pytest.raises(DocumentError, match="Không có văn bản vb1 đang được dùng"):
        await withdraw_document(db, settings, "vb1", embedder=embedder)


async def test_refused_files_change_nothing(db, settings, embedder):
    with pytest.raises(DocumentError, match="không có lớp chữ"):
        await add_document(db, settings, files.scanned_pdf(), "scan.pdf", embedder=embedder)
    with pytest.raises(DocumentError, match="Không rõ phường/xã"):
        await add_document(db, settings, files.plan_docx(), "x.docx", ward="Phường Không Có", embedder=embedder)
    assert await list_documents(db, include_history=True) == []
    plan = files.plan_docx()      # the same bytes twice (Word files carry a save time)
    await add_document(db, settings, plan, "x.docx", embedder=embedder)
    with pytest.raises(DocumentError, match="đã có trong cơ sở tri thức: vb1"):
        await add_document(db, settings, plan, "y.docx", embedder=embedder)


async def test_a_wards_documents_reach_its_residents_and_those_who_name_it(db, settings, embedder, running):
    await add_document(db, settings, files.plan_pdf(), "ke-hoach.pdf", ward="le chan", embedder=embedder)
    running.refresh()
    question = "bộ phận một cửa có tiếp nhận hồ sơ sáng thứ bảy không"

    def quoted_wards(result):
        return {h.passage.ward for h in result.hits}

    assert LE_CHAN not in quoted_wards(top(running, question))                      # anyone, anywhere
    assert LE_CHAN not in quoted_wards(top(running, question, "Phường Hồng Bàng"))  # another ward's resident
    own = top(running, question, LE_CHAN)
    assert files.SATURDAY in own.hits[0].passage.text                               # its own resident
    named = top(running, "phường lê chân có tiếp nhận hồ sơ sáng thứ bảy không")
    assert files.SATURDAY in named.hits[0].passage.text                             # asked by the ward's name


async def test_announcements_answer_with_their_date_and_the_newest_wins(db, settings, embedder, running):
    await publish_announcement(db, settings, "Phường tổ chức tiêm vắc xin sởi cho trẻ em tại trạm y tế vào "
                               "sáng thứ Bảy.", issued=date(2026, 2, 1), ward=LE_CHAN, embedder=embedder)
    change = await publish_announcement(db, settings, "Lịch tiêm vắc xin sởi cho trẻ em tại trạm y tế chuyển sang "
                                        "sáng Chủ nhật.", issued=date(2026, 3, 1), ward=LE_CHAN, embedder=embedder)
    assert change.document.announcement and change.document.title == "Thông báo ngày 01/03/2026 – Phường Lê Chân"
    running.refresh()

    result = top(running, "thông báo mới nhất về lịch tiêm vắc xin sởi cho trẻ em", LE_CHAN)
    assert result.confident
    assert result.hits[0].passage.issued == "2026-03-01" and "Chủ nhật" in result.hits[0].passage.text
    assert quote(result.hits[0].passage).startswith("📄 Thông báo ngày 01/03/2026 – Phường Lê Chân\n«")

    generic = top(running, "phường mình có thông báo gì?", LE_CHAN)
    assert generic.confident and generic.hits[0].passage.announcement
    assert generic.hits[0].passage.issued == "2026-03-01"
    # Asking how to receive announcements is about /dangky, not about an announcement's content.
    assert not top(running, "làm sao để nhận thông báo của phường?", LE_CHAN).hits[0].passage.announcement \
        or not top(running, "làm sao để nhận thông báo của phường?", LE_CHAN).confident
    # Another ward's resident is not told about Lê Chân's announcements.
    other = top(running, "phường mình có thông báo gì?", "Phường Hồng Bàng")
    assert not any(h.passage.announcement for h in other.hits)


async def test_a_stale_segment_is_embedded_again_never_used(db, settings, embedder, knowledge):
    await add_document(db, settings, files.plan_docx(), "ke-hoach.docx", embedder=embedder)
    segment = live_index.segment_path(settings.index_dir, "vb1", 1)
    with np.load(segment) as data:
        vectors = data["vectors"]
    np.savez(segment, vectors=np.zeros_like(vectors), meta=np.array(json.dumps(
        {"model": "another-model", "units_hash": "x", "units": len(vectors)})))
    index = LiveIndex(knowledge, base_index(knowledge, embedder, settings.index_dir), embedder, settings.index_dir)
    try:
        searcher = index.current.searcher
        passage_rows = [i for i, p in enumerate(index.current.knowledge.corpus.passages) if p.doc_id == "vb1"]
        assert passage_rows
        stored = searcher._dense.vectors()[-len(vectors):]
        np.testing.assert_allclose(stored, vectors, atol=1e-6)     # re-embedded, not the zeros on disk
        with np.load(segment) as data:                               # and saved for the next process
            np.testing.assert_allclose(data["vectors"], vectors, atol=1e-6)
    finally:
        index.close()
