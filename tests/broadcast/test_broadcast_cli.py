"""`civicbot broadcast send|list|status|cancel` (the worker command is run by
test_broadcast_crash.py as a child process). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from bot.broadcast.schedule import VN
from bot.channels import registry
from bot.cli import app
from bot.messages import utcnow
from bot.settings import get_settings
from tests.broadcast.conftest import fresh_database
from tests.broadcast.helpers import add_subscribers

runner = CliRunner()


@pytest.fixture
def cli_url(db_url, monkeypatch, tmp_path) -> str:
    async def seed() -> None:
        database = await fresh_database(db_url)
        try:
            await add_subscribers(database, ["1", "2", "3"], ward="Phường Lê Chân")
            await add_subscribers(database, ["4"], ward="Phường Lê Chân", groups=("can_bo",))
            await add_subscribers(database, ["z1"], platform="zalo", ward="Phường Lê Chân")
        finally:
            await database.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("CIVICBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("CIVICBOT_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def invoke(*args: str):
    return runner.invoke(app, ["broadcast", *args])


def test_send_list_status_cancel(cli_url):
    result = invoke("send", "--text", "Họp tổ dân phố tối nay.", "--ward", "le chan", "--group", "cu_dan",
                    "--platform", "telegram")
    assert result.exit_code == 0, result.output
    assert "Đã tạo thông báo #1, gửi ngay bây giờ; số người nhận hiện tại: 3." in result.output
    assert "• Phường/xã: Phường Lê Chân" in result.output and "Nền tảng: Telegram" in result.output

    later = (utcnow() + timedelta(days=1)).astimezone(VN).replace(tzinfo=None, microsecond=0)
    result = invoke("send", "--text", "Tiêm chủng sáng mai.", "--at", later.isoformat(),
                    "--report-to", "telegram:777")
    assert result.exit_code == 0, result.output
    assert "#2" in result.output and later.strftime("%H:%M %d/%m/%Y") in result.output
    assert "số người nhận hiện tại: 5" in result.output

    for bad, message in ((["--ward", "Sao Hỏa"], "Không rõ phường/xã"),
                         (["--at", "2031-01-01T08:00"], "xa quá"), (["--at", "mai"], "Không đọc được"),
                         (["--report-to", "fax:1"], "--report-to")):
        result = invoke("send", "--text", "Nội dung", *bad)
        assert result.exit_code == 1 and message in result.output, result.output

    result = invoke("list")
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("#2\tscheduled\t0/0") and lines[1].startswith("#1\tscheduled\t0/0")

    result = invoke("status", "2", "--json")
    info = json.loads(result.output)
    assert (info["status"], info["total"], info["segment"]["platforms"]) == ("scheduled", 0, list(registry.names()))
    assert "Tổng người nhận: 0" in invoke("status", "1").output

    assert invoke("cancel", "2").output.strip() == "Đã hủy thông báo #2."
    again = invoke("cancel", "2")
    assert again.exit_code == 1 and "đã hủy trước đó" in again.output
    assert invoke("cancel", "99").exit_code == 1
    assert json.loads(invoke("status", "2", "--json").output)["status"] == "cancelled"
