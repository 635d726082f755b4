"""Scale bench for knowledge that grows: N added documents on top of the bundled sources.

    .venv/bin/python bench/knowledge_scale.py --docs 1000                 # hash embedder: the index machinery
    .venv/bin/python bench/knowledge_scale.py --docs 100 --embedder real  # the real model (embedding cost)

The documents are generated from the real sources with variations (ward
names, numbers, sentence order, a sample of the sections), about 50
passages each: they exercise size, not quality. Printed figures:

- full build: parsing and storing every document, embedding and writing
  every segment (publish), then a process assembling its searcher;
- incremental add of one more document: publish (embeds only it) and a
  running process picking it up (LiveIndex.refresh);
- query latency p50/p95 over the held-out questions, one at a time;
- peak RSS of the process.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.settings import Settings  # noqa: E402
from knowledge import library  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402
from knowledge.documents import Document, passages_of  # noqa: E402
from knowledge.ingest.structure import Block, build_tree  # noqa: E402
from retrieval.embedder import HashEmbedder  # noqa: E402
from retrieval.live import LiveIndex, Published, base_index, publish  # noqa: E402

WARDS = Settings(_env_file=None).wards
QUESTIONS = REPO / "bench" / "data" / "heldout.jsonl"
TARGET_PASSAGES = 50


def vary(text: str, rng: random.Random, ward: str) -> str:
    sentences = re.split(r"(?<=[.;])\s+", text)
    if len(sentences) > 2:
        rng.shuffle(sentences)
    text = " ".join(sentences).replace("Hải Phòng", ward).replace("thành phố", ward.lower())
    return re.sub(r"\b(20\d\d)\b", lambda m: str(int(m.group(1)) + rng.randint(0, 5)), text)


def generate(base: KnowledgeBase, n: int, seed: int = 5) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        source = rng.choices(base.corpus.documents, weights=[1 if len(passages_of(d)) < 30 else 6
                                                             for d in base.corpus.documents])[0]
        ward = rng.choice(WARDS)
        blocks: list[Block] = []
        for section in source.sections():
            if section is not source.root and rng.random() < 0.8:
                blocks.append(Block(section.heading))
            blocks += [Block(vary(b, rng, ward)) for b in section.blocks if rng.random() < 0.75]
        title = f"Kế hoạch số {i + 1}/KH-UBND của {ward}"
        doc = Document(f"vb{i + 1}", title, title, build_tree(blocks, title, title_in_text=False),
                       Path("x.txt"), f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                       ward if rng.random() < 0.5 else None, rng.random() < 0.1)
        docs.append(doc)
    return docs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--embedder", choices=["hash", "real"], default="hash")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, help="keep the generated data here (default: a temporary folder)")
    args = parser.parse_args()

    settings = Settings(_env_file=None)
    if args.embedder == "real":
        from bot.search import build_embedder

        embedder = build_embedder(settings.model_copy(update={"embedding_threads": 2}))
        embedder.warm_up()
    else:
        embedder = HashEmbedder(384)
    base = KnowledgeBase.load(settings.knowledge_dir)
    work = args.data_dir or Path(tempfile.mkdtemp(prefix="civicbot-scale-"))
    index_dir = work / "index"
    if args.embedder == "real":
        # Reuse the bundled sources' index of this checkout (built on first start).
        index_dir.mkdir(parents=True, exist_ok=True)
        for name in ("dense.faiss", "manifest.json"):
            source = settings.index_dir / name
            if source.exists():
                (index_dir / name).write_bytes(source.read_bytes())
    base_dense = base_index(base, embedder, index_dir)

    started = time.perf_counter()
    docs = generate(base, args.docs + 1)
    extra, docs = docs[-1], docs[:-1]
    versions = []
    passages = 0
    for doc in docs:
        stored = library.store(work / "documents", doc.id, 1, "x.txt", b"", doc)
        versions.append(Published(doc.id, 1, str(stored.structure_path)))
        passages += len(passages_of(doc))
    generate_s = time.perf_counter() - started

    started = time.perf_counter()
    publish(index_dir, versions, embedder)
    publish_s = time.perf_counter() - started
    started = time.perf_counter()
    running = LiveIndex(base, base_dense, embedder, index_dir)
    assemble_s = time.perf_counter() - started
    units = len(running.current.searcher._units)

    stored = library.store(work / "documents", extra.id, 1, "x.txt", b"", extra)
    started = time.perf_counter()
    report = publish(index_dir, [*versions, Published(extra.id, 1, str(stored.structure_path))], embedder)
    add_s = time.perf_counter() - started
    started = time.perf_counter()
    assert running.refresh()
    refresh_s = time.perf_counter() - started

    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
                 if line.strip()][: args.queries]
    running.search_many(questions[:3], 5)
    latencies = []
    for i, question in enumerate(questions):
        ward = WARDS[i % len(WARDS)] if i % 2 else None
        t = time.perf_counter()
        running.search_many([question], 5, [ward])
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95) - 1]
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    print(f"embedder {args.embedder}; documents {args.docs} (+1), passages {passages} "
          f"(+{len(base.corpus.passages)} bundled), index units {units}; load average {' '.join(load)}")
    print(f"generate+store {generate_s:.1f} s | full build (embed+write segments) {publish_s:.1f} s | "
          f"a process assembling its searcher {assemble_s:.1f} s")
    print(f"incremental add of one document: publish {add_s:.2f} s (embedded {report.embedded}), "
          f"running process switched in {refresh_s:.2f} s")
    print(f"query latency, {len(latencies)} held-out questions: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    running.close()


if __name__ == "__main__":
    main()
