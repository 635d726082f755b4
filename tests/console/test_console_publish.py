"""An answer published from the console is quoted by the bot: `civicbot ask`, a new
process on the same data dir, answers from it and cites "Giải đáp của …"."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from console.app import publish_answer
from tests.console.helpers import WARD_A, ConsoleServer, console_settings
from tests.console.test_console_access import sign_in

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
QUESTION = "Phường Lê Chân có tổ chức hội chợ việc làm cho thanh niên vào tháng 12 không?"
ANSWER = "Có. Hội chợ việc làm cho thanh niên diễn ra ngày 15/12/2026 tại Nhà văn hóa phường Lê Chân."


@pytest.mark.timeout(900)
def test_a_published_answer_is_quoted_by_civicbot_ask(page, model_data_dir):
    settings = console_settings(model_data_dir.parent).model_copy(update={"data_dir": model_data_dir})
    server = ConsoleServer(settings, publish=publish_answer)
    try:
        resident = server.resident("4001", WARD_A)
        question = server.question(resident, QUESTION, WARD_A, chat_id="4001")
        sign_in(page, server, server.official("100", "admin"))
        page.goto(f"{server.url}/console/inbox/{question}")
        page.fill("#answer", ANSWER)
        page.click("#publish-answer", timeout=300_000)
        expect(page.locator("[role=status]")).to_contain_text("Đã công bố", timeout=300_000)
    finally:
        server.close()

    env = {**os.environ, "CIVICBOT_DATA_DIR": str(model_data_dir), "PYTHONUNBUFFERED": "1"}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--json", QUESTION], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    row = json.loads(out.stdout.splitlines()[0])
    assert row["confident"] and "15/12/2026" in row["answer"], row
    assert row["sources"][0]["section"].startswith("Giải đáp của UBND thành phố Hải Phòng"), row["sources"]
    assert re.search(r"📄 Giải đáp của UBND thành phố Hải Phòng.*\(ngày \d\d/\d\d/\d{4}\)", row["answer"]), row["answer"]
