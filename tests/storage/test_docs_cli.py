"""`civicbot docs ...` end to end in process, and ward scope through the real pipeline (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone

import pytest
from typer.testing import CliRunner

import bot.documents
from bot.app import build_router
from bot.cli import app
from bot.deps import Deps
from bot.pipeline import FloodControl, Pipeline
from bot.settings import get_settings
from bot.storage import Database, DbDialogStore
from bot.storage.models import Resident
from retrieval.batching import AsyncSearcher
from retrieval.embedder import HashEmbedder
from retrieval.live import LiveIndex, LiveKnowledge, LiveSearcher, base_index
from storage_helpers import Chat, emptied_database, make_settings
from tests import document_files as files

runner = CliRunner()


@pytest.fixture
def cli_env(db_url, tmp_path, monkeypatch):
    """An empty migrated database and a data dir the CLI reaches through the environment; hash embedder."""
    async def clean() -> None:
        await (await emptied_database(db_url)).dispose()

    asyncio.run(clean())
    monkeypatch.setenv("CIVICBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("CIVICBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(bot.documents, "_default_embedder", lambda settings: HashEmbedder())
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_docs_commands(cli_env):
    pdf, scan, txt = cli_env / "ke-hoach.pdf", cli_env / "scan.pdf", cli_env / "quy-che.txt"
    pdf.write_bytes(files.plan_pdf())
    scan.write_bytes(files.scanned_pdf())
    txt.write_text(files.LEGAL_TXT, encoding="utf-8")

    added = invoke("docs", "add", str(pdf), "--title", "Kế hoạch 12/KH-UBND", "--issued", "05/01/2026",
                   "--ward", "le chan")
    assert added.exit_code == 0, added.output
    assert f"Đã thêm: vb1 v1 · active · «{files.PLAN_TITLE}» · ngày 05/01/2026 · Phường Lê Chân" in added.output
    assert "Chỉ mục thế hệ 1" in added.output and "vb1 v1" in added.output

    refused = invoke("docs", "add", str(scan))
    assert refused.exit_code == 1 and "không có lớp chữ" in refused.output
    bad_date = invoke("docs", "add", str(txt), "--issued", "32/13/2026")
    assert bad_date.exit_code == 1 and "Không đọc được ngày" in bad_date.output

    replaced = invoke("docs", "replace", "vb1", str(txt), "--issued", "2026-03-01")
    assert replaced.exit_code == 0 and "Đã thay bằng phiên bản mới: vb1 v2 · active" in replaced.output
    assert "Phường Lê Chân" in replaced.output           # the ward carries over to the new version
    listed = invoke("docs", "list").output
    assert "vb1 v2 · active" in listed and "vb1 v1" not in listed
    history = invoke("docs", "list", "--all").output
    assert "vb1 v1 · replaced" in history and "vb1 v2 · active" in history
    shown = invoke("docs", "show", "1").output
    assert "tệp ke-hoach.pdf" in shown and "tệp quy-che.txt" in shown and "thêm bởi cli" in shown

    announced = invoke("docs", "announce", "--text", "Tổ dân phố số 3 họp vào tối thứ Sáu.", "--date", "06/03/2026")
    assert announced.exit_code == 0 and "Đã đăng thông báo: vb3 v1 · active · «Thông báo ngày 06/03/2026»" in announced.output
    both = invoke("docs", "announce", "--text", "x", "--broadcast", "1")
    assert both.exit_code == 1 and "đúng một trong hai" in both.output

    withdrawn = invoke("docs", "withdraw", "vb1", "--note", "hết hiệu lực")
    assert withdrawn.exit_code == 0 and "Đã rút: vb1 v2 · withdrawn" in withdrawn.output
    assert "vb1" not in invoke("docs", "list").output
    assert invoke("docs", "withdraw", "vb1").exit_code == 1
    synced = invoke("docs", "sync")
    assert synced.exit_code == 0 and "1 văn bản" in synced.output


def test_a_sent_broadcast_becomes_an_announcement(cli_env, db_url):
    from bot.broadcast import outbox

    async def create() -> int:
        database = Database.from_url(db_url)
        try:
            async with database.sessions.begin() as session:
                when = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
                broadcast = await outbox.create_broadcast(
                    session, text="Ngày 8/3 phường tổ chức đi bộ đồng hành vì phụ nữ.",
                    segment=outbox.Segment(("Phường Lê Chân",), (), ("telegram",)), created_by="cli",
                    scheduled_at=when, now=when)
                return broadcast.id
        finally:
            await database.dispose()

    broadcast_id = asyncio.run(create())
    result = invoke("docs", "announce", "--broadcast", str(broadcast_id))
    assert result.exit_code == 0, result.output
    assert "«Thông báo ngày 02/03/2026 – Phường Lê Chân» · ngày 02/03/2026 · Phường Lê Chân · thông báo" in result.output
    missing = invoke("docs", "announce", "--broadcast", "999")
    assert missing.exit_code == 1 and "Không có thông báo #999" in missing.output


async def test_residents_hear_their_own_wards_announcements(db, tmp_path, knowledge):
    settings = make_settings(tmp_path)
    embedder = HashEmbedder()
    live = LiveIndex(knowledge, base_index(knowledge, embedder, settings.index_dir), embedder, settings.index_dir)
    await bot.documents.publish_announcement(
        db, settings, "Phường tổ chức tiêm vắc xin sởi cho trẻ em tại trạm y tế vào sáng Chủ nhật.",
        issued=date(2026, 3, 1), ward="Phường Lê Chân", embedder=embedder)
    assert live.refresh()
    searcher = LiveSearcher(live)
    deps = Deps(settings=settings, knowledge=LiveKnowledge(live), searcher=AsyncSearcher(searcher),
                router=build_router(), dialogs=DbDialogStore(db.sessions), db=db)
    pipeline = Pipeline(deps, flood=FloodControl(1000, 60))
    async with db.sessions.begin() as session:
        for user, ward in (("le-chan", "Phường Lê Chân"), ("hong-bang", "Phường Hồng Bàng")):
            session.add(Resident(platform="telegram", platform_user_id=user, ward=ward))
    try:
        own = await Chat(pipeline, "le-chan").say("phường mình có thông báo gì mới không?")
        assert "📄 Thông báo ngày 01/03/2026 – Phường Lê Chân\n«Phường tổ chức tiêm vắc xin sởi" in own[0].text
        other = await Chat(pipeline, "hong-bang").say("phường mình có thông báo gì mới không?")
        assert "tiêm vắc xin sởi" not in other[0].text
        named = await Chat(pipeline, "stranger").say("phường Lê Chân có thông báo gì về tiêm vắc xin không?")
        assert "tiêm vắc xin sởi" in named[0].text
    finally:
        await deps.searcher.close()
