"""`civicbot db upgrade | export | stats | admin`, and build_deps wiring storage in."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from bot.app import build_deps, build_router, close_deps
from bot.cli import app
from bot.deps import Deps
from bot.messages import Incoming
from bot.pipeline import FloodControl, Pipeline
from bot.settings import get_settings
from bot.storage import Database, DbDialogStore, upgrade_sync
from bot.storage.export import pseudonym
from bot.storage.models import AnswerLog
from storage_helpers import TABLES, Chat, StubSearcher, button, emptied_database, make_settings

SECRET = "một-khóa-bí-mật-cho-thử-nghiệm"
RAW_IDS = ("100200300400", "zalo-user-778899")
runner = CliRunner()


@pytest.fixture
def cli_db(db_url, monkeypatch) -> str:
    """An empty, migrated database the CLI reaches through CIVICBOT_DATABASE_URL."""
    async def clean() -> None:
        await (await emptied_database(db_url)).dispose()

    asyncio.run(clean())
    monkeypatch.setenv("CIVICBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("CIVICBOT_PSEUDONYM_SECRET", SECRET)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result


def run_chat(db_url: str, knowledge, tmp_path, script) -> None:
    """Run ``script(chat)`` against the bot on ``db_url``, in its own event loop."""
    async def main() -> None:
        database = Database.from_url(db_url)
        deps = Deps(settings=make_settings(tmp_path), knowledge=knowledge, searcher=StubSearcher(knowledge),
                    router=build_router(), dialogs=DbDialogStore(database.sessions), db=database)
        pipeline = Pipeline(deps, flood=FloodControl(1000, 60))
        try:
            await script(lambda uid, platform="telegram": Chat(pipeline, uid, platform))
        finally:
            await database.dispose()

    asyncio.run(main())


async def _residents_talk(chat) -> None:
    tele, zalo = chat(RAW_IDS[0]), chat(RAW_IDS[1], "zalo")
    for user, topic, words in [(tele, "Chủ đề khác", "Góp ý thứ nhất."), (tele, "6. Nhà ở", "Góp ý thứ hai."),
                               (zalo, "Chủ đề khác", "Góp ý từ Zalo.")]:
        await user.say("/gopy")
        await user.press(button(await user.press(button(await user.say(words), topic).data), "Gửi").data)
    await tele.press(button(await tele.say("Nhà ở xã hội là gì?"), "Hữu ích").data)
    await zalo.press(button(await zalo.say("Trường học xã hội chủ nghĩa?"), "Chưa đúng").data)
    await zalo.say("Lịch bóng đá tối nay?")


def test_db_upgrade_from_any_directory(cli_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                              # alembic.ini ships in the package
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    from bot.storage import head_revision

    assert head_revision() in result.output


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_exports_are_pseudonymous_and_stable(cli_db, knowledge, tmp_path, fmt):
    run_chat(cli_db, knowledge, tmp_path, _residents_talk)
    tele = pseudonym(SECRET, "telegram", RAW_IDS[0])
    zalo = pseudonym(SECRET, "zalo", RAW_IDS[1])
    assert tele != zalo and len(tele) == 16

    outputs = {}
    for kind in ("feedback", "questions", "unanswered", "ratings"):
        result = invoke("export", kind, "--format", fmt)
        assert result.exit_code == 0, result.output
        out = result.stdout
        for raw in (*RAW_IDS, "Tên "):                      # no platform ids, no display names
            assert raw not in out, (kind, raw)
        rows = ([json.loads(line) for line in out.splitlines()] if fmt == "jsonl"
                else list(csv.DictReader(io.StringIO(out))))
        outputs[kind] = rows

    authors = [r["nguoi_gui"] for r in outputs["feedback"]]
    assert authors == [tele, tele, zalo]                       # same resident → same pseudonym
    assert [r["text"] for r in outputs["feedback"]] == ["Góp ý thứ nhất.", "Góp ý thứ hai.", "Góp ý từ Zalo."]
    assert outputs["feedback"][1]["topic"].startswith("mohinh:")
    assert [(r["nguoi_hoi"], r["question"]) for r in outputs["unanswered"]] == [(zalo, "Lịch bóng đá tối nay?")]
    assert [(r["nguoi_hoi"], r["question"], r["origin"], r["status"]) for r in outputs["questions"]] == [
        (zalo, "Lịch bóng đá tối nay?", "declined", "new")]
    assert "chat_id" not in outputs["questions"][0]
    assert [(r["nguoi_hoi"], r["rating"]) for r in outputs["ratings"]] == [(tele, "up"), (zalo, "down")]

    # Same secret, same pseudonyms on the next export; a file with --output.
    target = tmp_path / f"feedback.{fmt}"
    result = invoke("export", "feedback", "--format", fmt, "--output", str(target))
    assert result.exit_code == 0 and target.exists()
    content = target.read_text(encoding="utf-8-sig")
    assert tele in content and zalo in content and RAW_IDS[0] not in content


def test_another_secret_gives_other_pseudonyms(cli_db, knowledge, tmp_path, monkeypatch):
    run_chat(cli_db, knowledge, tmp_path, _residents_talk)
    first = invoke("export", "feedback", "--format", "jsonl").stdout
    monkeypatch.setenv("CIVICBOT_PSEUDONYM_SECRET", "another-secret")
    get_settings.cache_clear()
    second = invoke("export", "feedback", "--format", "jsonl").stdout
    ids = lambda out: {json.loads(line)["nguoi_gui"] for line in out.splitlines()}   # noqa: E731
    assert ids(first).isdisjoint(ids(second))


def test_stats_by_topic_ward_and_day(cli_db, knowledge, tmp_path):
    run_chat(cli_db, knowledge, tmp_path, _residents_talk)
    result = invoke("stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert (stats["questions"], stats["declined"], stats["ratings_up"], stats["ratings_down"]) == (3, 1, 1, 1)
    assert stats["feedback"] == 3 and stats["unanswered_open"] == 1 and stats["residents"] == 2
    assert stats["by_topic"][0] == ["Khác", 2]
    assert sum(n for _, n in stats["by_topic"]) == 3
    (day,) = stats["by_day"].values()
    assert day == {"questions": 3, "declined": 1, "feedback": 3}
    assert stats["by_ward"]["(chưa rõ phường/xã)"] == {"subscribers": 0, "feedback": 3, "unanswered": 1}
    text_out = invoke("stats").stdout
    assert "Góp ý theo chủ đề:" in text_out and "Theo ngày" in text_out


def test_admin_add_list_remove_and_the_bot_honours_it(cli_db, knowledge, tmp_path):
    result = invoke("admin", "add", "telegram", "555", "--note", "Cán bộ phường Lê Chân")
    assert result.exit_code == 0 and "Đã thêm" in result.output
    assert "Đã cập nhật" in invoke("admin", "add", "telegram", "555", "--role", "admin").output
    listing = invoke("admin", "list").output
    assert "telegram\t555\tadmin\tCán bộ phường Lê Chân" in listing
    assert invoke("admin", "add", "facebook", "1").exit_code != 0       # unknown platform

    replies = {}

    async def script(chat) -> None:
        replies["official"] = await chat("555").say("/thongke")
        replies["resident"] = await chat("556").say("/thongke")

    run_chat(cli_db, knowledge, tmp_path, script)
    assert "Thống kê" in replies["official"][0].text
    assert "chỉ dành cho cán bộ" in replies["resident"][0].text

    assert invoke("admin", "remove", "telegram", "555").exit_code == 0
    assert invoke("admin", "remove", "telegram", "555").exit_code == 1
    assert "Chưa có tài khoản cán bộ" in invoke("admin", "list").output

    async def again(chat) -> None:
        replies["removed"] = await chat("555").say("/thongke")

    run_chat(cli_db, knowledge, tmp_path, again)
    assert "chỉ dành cho cán bộ" in replies["removed"][0].text


def test_cli_reports_an_unreachable_database_in_one_line(monkeypatch):
    monkeypatch.setenv("CIVICBOT_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    try:
        result = invoke("admin", "list")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "Không kết nối được cơ sở dữ liệu" in result.output


async def test_build_deps_migrates_and_wires_storage(db_url, tmp_path, knowledge, hash_searcher):
    """What `civicbot chat`/`run` get: migrations applied, answers logged, dialogs in the database."""
    if db_url.startswith("sqlite"):
        settings = make_settings(tmp_path)                    # the embedded default: data/civicbot.db
        assert settings.database_url is None
    else:
        upgrade_sync(db_url)
        database = Database.from_url(db_url)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await database.dispose()
        settings = make_settings(tmp_path, db_url)
    deps = build_deps(settings, searcher=hash_searcher, knowledge=knowledge)
    try:
        if db_url.startswith("sqlite"):
            assert (tmp_path / "data" / "civicbot.db").exists()
        pipeline = Pipeline(deps)
        user = Chat(pipeline, "console-user", "console")
        replies = await user.say("11 mô hình trọng tâm là gì?")
        rate = [b.data for r in replies for row in r.buttons for b in row if b.data.startswith("rate:up:")]
        if rate:
            assert (await user.press(rate[0]))[0].text.startswith("Cảm ơn")
        async with deps.db.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(AnswerLog)) == 1
        await user.say("/gopy")
        assert await deps.dialogs.current("console", "console-user") == "gopy"
        assert isinstance(deps.dialogs, DbDialogStore)
        msg = Incoming.from_platform("console", "c", "console-user", "/help", message_id="same")
        assert await pipeline.process(msg) and await pipeline.process(msg) == []   # dedup in the database
    finally:
        await close_deps(deps)
