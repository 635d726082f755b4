"""End to end: `civicbot docs add` of a long document until a running bot answers from it.

    .venv/bin/python bench/add_latency.py [--passages 57]

A "running bot" is this process: the live index (retrieval/live.py) with its
watcher, as `civicbot run`/`civicbot chat` hold it, over a data dir of its
own (sharing the converted model and the bundled sources' index). The
document is generated from the bundled sources (full-length passages, about
600 characters, the slow case for embedding) with one sentence only it
contains; the clock starts when the `civicbot docs add` process is started
and stops when the running index answers a question about that sentence
with a passage of the new document. Printed: the add command's own time,
its phases as it reports them, its CPU time (comparable on a loaded machine),
and the end-to-end time (target: 10 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.search import build_embedder, build_searcher  # noqa: E402
from bot.settings import Settings, get_settings  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402

NEEDLE = "Bộ phận một cửa của phường tiếp nhận hồ sơ cả sáng thứ Bảy từ 7 giờ 30 đến 11 giờ 30."
QUESTION = "Bộ phận một cửa có tiếp nhận hồ sơ vào sáng thứ Bảy không?"


def long_document(base: KnowledgeBase, passages: int) -> str:
    """A Markdown plan of ``passages`` full-length paragraphs taken from the sources, plus the needle."""
    texts = sorted((p.text for p in base.corpus.passages), key=len, reverse=True)
    lines = ["# Kế hoạch thử nghiệm 99/KH-UBND", ""]
    for i in range(passages - 1):
        if i % 6 == 0:
            lines += [f"## {i // 6 + 1}. Nội dung {i // 6 + 1}", ""]
        lines += [texts[i % len(texts)].replace("\n", " "), ""]
    lines += ["## Tiếp dân ngoài giờ", "", NEEDLE, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=57)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    settings = get_settings()
    build_searcher(settings).close()                  # the bundled sources' index exists and is current
    work = Path(tempfile.mkdtemp(prefix="civicbot-add-"))
    data = work / "data"
    (data / "index").mkdir(parents=True)
    (data / "models").symlink_to(settings.model_cache_dir.resolve())
    for name in ("dense.faiss", "manifest.json"):
        shutil.copy(settings.index_dir / name, data / "index" / name)
    env = {**os.environ, "CIVICBOT_DATA_DIR": str(data)}
    running_settings = Settings(_env_file=None, data_dir=data)
    knowledge = KnowledgeBase.load(running_settings.knowledge_dir)
    running = build_searcher(running_settings, knowledge, build_embedder(running_settings))
    running.live.watch()                              # as bot/app.py starts it
    running.search(QUESTION)                          # warm, as a bot that has answered before
    document = work / "ke-hoach-99.md"
    document.write_text(long_document(knowledge, args.passages), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bot.cli", "docs", "list"], env=env, cwd=REPO,
                   capture_output=True, check=True)   # the database exists and is migrated

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    add = subprocess.Popen([sys.executable, "-m", "bot.cli", "docs", "add", str(document)],
                           env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answered = add_seconds = None
    while time.monotonic() - started < args.timeout:
        if add_seconds is None and add.poll() is not None:
            add_seconds = time.monotonic() - started
        result = running.search(QUESTION)
        if result.confident and result.hits and NEEDLE[:40] in result.hits[0].passage.text:
            answered = time.monotonic() - started
            break
        time.sleep(0.5)                               # ask as a resident would, not in a busy loop
    out, err = add.communicate()
    add_seconds = add_seconds or time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    add_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    for line in out.splitlines():
        print(f"  civicbot: {line}")
    if add.returncode:
        print(err[-2000:])
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(load)}; document of {args.passages} passages; "
          f"`civicbot docs add` ran {add_seconds:.1f} s, {add_cpu:.1f} s of CPU (the machine's load aside)")
    print(f"end to end (command start -> the running index answers from it): "
          f"{answered:.1f} s" if answered is not None else f"not answered within {args.timeout} s")
    running.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
