"""Retrieval quality on a labelled question set, with the channel ablation.

    .venv/bin/python bench/evaluate.py [SET.jsonl ...] [--misses]

Same metric as ../shared/eval/score.py (expected substring, NFC + casefold,
in the first k sources), computed in-process so several configurations can
be compared in one run: lexical only, dense only, fused. Whether a question
is answered is decided as in the chat (handlers/conversation.py): small talk
and questions about the bot are never answered from the text, list
questions are answered from the document structure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import unicodedata
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_searcher  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from handlers.conversation import Conversation  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402
from retrieval.searcher import HybridSearcher, SearchResult  # noqa: E402

DEFAULT_SETS = [Path(__file__).parent / "data" / "heldout.jsonl"]


def load_set(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def rank_of(item: dict, result: SearchResult) -> int | None:
    want = [_norm(e) for e in item["expect"]]
    for i, hit in enumerate(result.hits[:10], 1):
        if any(w in _norm(hit.passage.text) for w in want):
            return i
    return None


def run(searcher: HybridSearcher, items: list[dict]) -> list[SearchResult]:
    """One search per question, as the bot does: the 8-bit question encoder quantises each
    batch as a whole, so a question searched within a batch can score slightly differently."""
    return [searcher.search(it["q"], k=10) for it in items]


def answered_in_chat(conversation: Conversation, searcher: HybridSearcher, question: str,
                     result: SearchResult) -> bool:
    """Whether the chat would answer ``question`` from the text (``result``: its search)."""
    async def search(text: str) -> SearchResult:
        return searcher.search(text, k=10)

    return asyncio.run(conversation.respond(question, search, search_ahead=result)).confident


def score(items: list[dict], results: list[SearchResult], answered: list[bool]) -> dict:
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    oos = [0, 0]
    confident_in = 0
    for item, result, answered in zip(items, results, answered):
        if not item["expect"]:
            oos[0] += 1
            oos[1] += not answered
            continue
        confident_in += answered
        rank = rank_of(item, result)
        for kind in (item.get("kind", "all"), "ALL"):
            row = by_kind[kind]
            row[0] += 1
            row[1] += rank == 1
            row[2] += rank is not None and rank <= 3
            row[3] += 1 / rank if rank else 0.0
    return {"kinds": dict(by_kind), "oos": oos, "confident_in": confident_in}


def print_report(name: str, report: dict) -> None:
    print(f"\n== {name}")
    print(f"{'kind':<14}{'n':>4}{'hit@1':>8}{'hit@3':>8}{'MRR':>8}")
    for kind in sorted(report["kinds"], key=lambda k: (k == "ALL", k)):
        n, h1, h3, rr = report["kinds"][kind]
        print(f"{kind:<14}{n:>4}{h1 / n:>8.3f}{h3 / n:>8.3f}{rr / n:>8.3f}")
    n_in = report["kinds"].get("ALL", [0])[0]
    print(f"in-scope answered confidently: {report['confident_in']}/{n_in}; "
          f"out-of-scope declined: {report['oos'][1]}/{report['oos'][0]}")


def summary_row(report: dict) -> str:
    n, h1, h3, rr = report["kinds"]["ALL"]
    return f"{h1 / n:.3f} / {h3 / n:.3f} / {rr / n:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sets", nargs="*", type=Path, default=DEFAULT_SETS)
    parser.add_argument("--misses", action="store_true", help="list questions not at rank 1")
    args = parser.parse_args()
    settings = get_settings()
    knowledge = KnowledgeBase.load(settings.knowledge_dir)
    searcher = build_searcher(settings, knowledge)
    conversation = Conversation(knowledge)
    fused_params = searcher.params
    for path in args.sets:
        items = load_set(path)
        rows = {}
        for label, weight in (("lexical only", 0.0), ("dense only", 1.0), ("fused", fused_params.dense_weight)):
            searcher.params = replace(fused_params, dense_weight=weight)
            results = run(searcher, items)
            answered = [answered_in_chat(conversation, searcher, it["q"], r) for it, r in zip(items, results)]
            rows[label] = (score(items, results, answered), results)
        searcher.params = fused_params
        report, results = rows["fused"]
        print_report(f"{path.name} (fused, dense weight {fused_params.dense_weight})", report)
        print("\nablation (hit@1 / hit@3 / MRR@10):")
        for label, (rep, _) in rows.items():
            print(f"  {label:<13} {summary_row(rep)}")
        if args.misses:
            for item, result in zip(items, results):
                rank = rank_of(item, result) if item["expect"] else None
                if item["expect"] and rank != 1:
                    top = result.hits[0].passage.text[:80].replace("\n", " / ") if result.hits else "-"
                    print(f"  miss rank={rank} [{item['kind']}] {item['q']}\n      top1: {top}")
                if not item["expect"] and result.confident:
                    print(f"  answered out-of-scope: {item['q']} (p={result.confidence:.2f})")


if __name__ == "__main__":
    main()
