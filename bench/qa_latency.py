"""Question-answering speed and memory, printed as figures.

    .venv/bin/python bench/qa_latency.py [--questions 300]

- warm latency: one question at a time, in-process, after warm-up (p50/p95/p99)
- cold start: a fresh `civicbot ask QUESTION` process with the index cached,
  from launch to its answer
- peak RSS of the warm process and of the cold process
- index build time for the corpus (embedding every unit), in-process
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_embedder, build_searcher  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402
from retrieval import dense  # noqa: E402
from retrieval.searcher import units_for  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def questions(limit: int) -> list[str]:
    path = ROOT / "bench" / "data" / "heldout.jsonl"
    items = [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return (items * (limit // len(items) + 1))[:limit]


# Runs one command and prints its peak RSS. A small process of its own, because a
# child forked from this (large) process would count our pages as its own.
_PEAK_RSS_WRAPPER = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stdout, end="")
"""


def cold_start(question: str, runs: int = 3) -> tuple[list[float], float]:
    """Wall time of fresh `civicbot ask` processes (index cached), and their peak RSS in MB."""
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS_WRAPPER, str(ROOT / ".venv" / "bin" / "civicbot"),
             "ask", "--json", question],
            capture_output=True, text=True, cwd=ROOT,
        )
        times.append(time.perf_counter() - start)
        status, rss_kb = out.stdout.splitlines()[0].split()
        assert status == "0" and json.loads(out.stdout.splitlines()[1])["sources"], out.stderr[-500:]
        peaks.append(int(rss_kb) / 1024)
    return times, max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    settings = get_settings()

    searcher = build_searcher(settings)          # builds the index once if needed
    sample = questions(args.questions)
    for q in sample[:30]:                        # warm-up
        searcher.search(q)
    latencies = []
    for q in sample:
        start = time.perf_counter()
        searcher.search(q)
        latencies.append((time.perf_counter() - start) * 1000)
    warm_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    knowledge = KnowledgeBase.load(settings.knowledge_dir)
    units = units_for(knowledge.corpus, knowledge.variants)
    embedder = build_embedder(settings)
    embedder.warm_up()
    start = time.perf_counter()
    dense.build(units, embedder)
    build_seconds = time.perf_counter() - start

    cold, cold_rss_mb = cold_start("Nghị quyết 05 do cơ quan nào ban hành?")

    print(f"machine: {os.cpu_count()} cores; torch threads {__import__('torch').get_num_threads()}")
    print(f"warm latency over {len(latencies)} questions (ms): p50 {statistics.median(latencies):.1f}, "
          f"p95 {percentile(latencies, 95):.1f}, p99 {percentile(latencies, 99):.1f}, "
          f"max {max(latencies):.1f}")
    print(f"cold start to first answer, index cached (s): "
          f"{', '.join(f'{t:.2f}' for t in cold)} (median {statistics.median(cold):.2f})")
    print(f"peak RSS: cold `civicbot ask` {cold_rss_mb:.0f} MB; this benchmark process "
          f"{warm_rss_mb:.0f} MB (it also loads a second embedder to time the index build)")
    print(f"index build: {len(units)} units ({len(knowledge.corpus.passages)} passages + "
          f"{len(units) - len(knowledge.corpus.passages)} question variants) in {build_seconds:.1f} s")


if __name__ == "__main__":
    main()
