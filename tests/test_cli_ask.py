"""`civicbot ask --json` end to end, as ../shared/eval/score.py runs it, with the real model."""

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

CIVICBOT = [sys.executable, "-m", "bot.cli"]
REPO = Path(__file__).resolve().parent.parent


def ask(settings, *args: str, stdin: str | None = None) -> list[dict]:
    env = {**os.environ, "CIVICBOT_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run(
        [*CIVICBOT, "ask", "--json", *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=REPO, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def answers(model_settings, real_searcher):
    # real_searcher has built the model and index in this data dir already.
    questions = [
        "Nghị quyết do cơ quan nào ban hành?",
        "tieu chi quoc phong an ninh",
        "Cho tôi xin công thức làm bánh chưng",
        "",
        "   ",
        "x" * 10_000,
        "🚗🏠📦",
        "Ai\x00 ban\x07 hành\x1b nghị quyết?",
        unicodedata.normalize("NFD", "Thành phố âm nhạc"),
        "Hải Phòng có mô hình 学校 trường học xã hội chủ nghĩa không?",
        "Who issued the resolution?",
        "cảm ơn bạn nhiều",
        "làm sao để gửi góp ý",
        "tieu chi con nguoi xhcn gom nhung nhom nao",
        "Giá vé xe buýt Hải Phòng bao nhiêu tiền?",
    ]
    rows = ask(model_settings, stdin="\n".join(questions) + "\n")
    assert len(rows) == len(questions)
    return dict(zip(range(len(questions)), rows))


def test_every_line_has_exactly_the_documented_shape(answers):
    for row in answers.values():
        assert set(row) == {"question", "confident", "answer", "sources", "kind"}
        assert isinstance(row["confident"], bool) and isinstance(row["answer"], str) and row["answer"]
        for source in row["sources"]:
            assert set(source) == {"text", "section", "score"}
        scores = [s["score"] for s in row["sources"]]
        assert scores == sorted(scores, reverse=True)


def test_answers_quote_the_source_with_its_section(answers):
    row = answers[0]
    assert row["confident"]
    top = row["sources"][0]
    assert "Thành ủy Hải Phòng" in top["text"]
    assert top["text"] in row["answer"] and top["section"] in row["answer"]


def test_no_diacritics_question(answers):
    row = answers[1]
    assert row["confident"] and "Quốc phòng, an ninh" in row["sources"][0]["text"]


def test_out_of_scope_is_declined_politely(answers):
    row = answers[2]
    assert not row["confident"]
    assert "chưa đề cập" in row["answer"] and "/mohinh" in row["answer"]


@pytest.mark.parametrize("index, phrase", [
    (3, "chưa nhập câu hỏi"), (4, "chưa nhập câu hỏi"), (5, "dài 10.000 ký tự, mình chỉ nhận tối đa 1.000"), (6, "gõ câu hỏi bằng chữ"),
])
def test_bad_input_gets_a_clear_reply(answers, index, phrase):
    row = answers[index]
    assert not row["confident"] and phrase in row["answer"] and row["sources"] == []


def test_control_characters_nfd_and_mixed_script_are_answered(answers):
    assert answers[7]["confident"] and "ban hành" in answers[7]["sources"][0]["text"]
    assert answers[8]["confident"] and "Thành phố âm nhạc" in answers[8]["sources"][0]["text"]
    assert any("Trường học xã hội chủ nghĩa" in s["text"] for s in answers[9]["sources"][:3])


def test_english_question_gets_a_vietnamese_decline_with_an_english_note(answers):
    row = answers[10]
    assert not row["confident"] and "Sorry" in row["answer"] and "Xin lỗi" in row["answer"]


def test_question_argument_and_top_k(model_settings, real_searcher):
    (row,) = ask(model_settings, "--top-k", "2", "11 mô hình trọng tâm gồm những gì?")
    assert len(row["sources"]) == 2 and "11 mô hình" in row["sources"][0]["text"]


def test_a_question_is_answered_without_importing_torch(model_settings, real_searcher):
    """`civicbot ask` uses the ONNX export through onnxruntime and tokenizers alone (the cold start)."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli import app\n"
        "out = CliRunner().invoke(app, ['ask', '--json', 'Thành phố âm nhạc là gì?'])\n"
        "assert out.exit_code == 0, out.output\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "CIVICBOT_DATA_DIR": str(model_settings.data_dir)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_small_talk_and_help_are_never_confident_and_quote_nothing(answers):
    thanks, how = answers[11], answers[12]
    assert (thanks["kind"], thanks["confident"], thanks["sources"]) == ("small_talk", False, [])
    assert "«" not in thanks["answer"] and "chưa đề cập" not in thanks["answer"]
    assert (how["kind"], how["confident"]) == ("bot_help", False) and "/gopy" in how["answer"]


def test_a_list_question_gets_the_whole_list_the_chat_would_show(answers):
    row = answers[13]
    assert row["kind"] == "list" and row["confident"]
    assert "gồm 6 nhóm:" in row["answer"] and "6. Tự chủ, tự tin, tự lực, tự cường, tự hào dân tộc" in row["answer"]


def test_an_everyday_question_is_declined_with_its_reason(answers):
    row = answers[14]
    assert row["kind"] == "decline" and not row["confident"]
    assert "Văn bản không nêu số tiền" in row["answer"]
