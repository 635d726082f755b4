"""Fit fusion weights and the answer/decline model on labelled questions.

    .venv/bin/python bench/calibrate.py [SET.jsonl ...] [--min-answered 0.96]

1. Fusion: grid search of the dense weight (and a bonus for matching a
   question variant) by MRR@10 on the sets' in-scope questions.
2. Confidence: logistic regression over the searcher's absolute signals
   (answer cosine, BM25 evidence, word and word-pair coverage, the share of
   words the knowledge never uses, whether it asks for a date or an amount
   the best passage does not hold, whether the question is about now,
   asks when, where or which one, and how much closer it comes to everyday
   questions than to the text's own), labels in-scope = 1 / out-of-scope = 0,
   class-balanced. Only questions that reach the model are fitted: small
   talk and questions about the bot are answered before any search
   (handlers/intents.py), and questions asking for a kind of fact the text
   never gives are declined by rule (retrieval/scope.py).
3. Threshold: the highest probability that still answers at least
   --min-answered of the in-scope questions, so residents are not refused
   on questions the text covers; out-of-scope questions declined is then
   what the data gives.

--keep-fusion skips step 1 (the fusion weights already in calibration.json
stay): the weights do not depend on the decline model's signals.

Writes retrieval/calibration.json, which the searcher loads at start.
Calibrate on bench/data/heldout.jsonl and knowledge/data/off_topic.yaml
(written independently of the indexed question variants); check on
bench/data/everyday-check.jsonl, bench/data/inscope-check.jsonl,
bench/data/fresh-offtopic.jsonl, bench/data/fresh-inscope.jsonl and
../shared/eval/dev.jsonl, never fit on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evaluate import load_set, rank_of, run  # noqa: E402
from bot.app import build_searcher  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from handlers.intents import read  # noqa: E402
from retrieval.searcher import CALIBRATION_FILE  # noqa: E402

DATA = Path(__file__).parent / "data"
FIT_SETS = [DATA / "heldout.jsonl"]


def off_topic_items() -> list[dict]:
    """The everyday questions the text does not answer (knowledge/data/off_topic.yaml)."""
    from retrieval.offtopic import load_questions

    return [{"q": q, "expect": [], "kind": "out_of_scope"} for q in load_questions()]

DENSE_WEIGHTS = [round(w, 2) for w in np.arange(0.2, 0.81, 0.05)]
QUESTION_BONUSES = [0.0, 0.01, 0.02, 0.04]


def mrr(items, results) -> float:
    ranks = [rank_of(it, r) for it, r in zip(items, results) if it["expect"]]
    return float(np.mean([1 / r if r else 0.0 for r in ranks]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sets", nargs="*", type=Path, default=FIT_SETS)
    parser.add_argument("--min-answered", type=float, default=0.96)
    parser.add_argument("--keep-fusion", action="store_true",
                        help="keep the fusion weights of calibration.json; fit only the answer/decline model")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression

    searcher = build_searcher(get_settings())
    # What reaches the decline model: not small talk, not a question about the bot.
    items = [it for it in [*(it for path in args.sets for it in load_set(path)), *off_topic_items()]
             if not (lambda r: r.small_talk or r.command)(read(it["q"]))]
    base = searcher.params

    best = (mrr(items, run(searcher, items)), base.dense_weight, base.question_unit_bonus) if args.keep_fusion else None
    for bonus in [] if args.keep_fusion else QUESTION_BONUSES:
        for weight in DENSE_WEIGHTS:
            searcher.params = replace(base, dense_weight=weight, question_unit_bonus=bonus)
            score = mrr(items, run(searcher, items))
            if best is None or score > best[0] + 1e-9:
                best = (score, weight, bonus)
    score, weight, bonus = best
    print(f"fusion: dense_weight={weight} question_unit_bonus={bonus} MRR@10={score:.3f}")

    searcher.params = replace(base, dense_weight=weight, question_unit_bonus=bonus)
    results = run(searcher, items)
    ruled = sum(1 for r in results if r.reason)
    kept = [(it, r) for it, r in zip(items, results) if not r.reason]
    print(f"{len(items)} questions; {ruled} declined by rule (a kind of fact the text never gives), "
          f"{len(kept)} fitted")
    X = np.array([r.signals for _, r in kept])
    y = np.array([1 if it["expect"] else 0 for it, _ in kept])
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    in_scope = np.sort(p[y == 1])
    cut = int(np.floor((1 - args.min_answered) * len(in_scope)))
    threshold = float(in_scope[cut]) - 1e-6
    answered = float(np.mean(p[y == 1] >= threshold))
    declined = float(np.mean(p[y == 0] < threshold))
    print(f"confidence: coef={np.round(model.coef_[0], 3).tolist()} "
          f"intercept={model.intercept_[0]:.3f} threshold={threshold:.3f}")
    print(f"fitted questions: in-scope answered {answered:.3f}, out-of-scope declined {declined:.3f}")

    params = replace(
        searcher.params,
        coef=tuple(float(c) for c in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=threshold,
    )
    payload = asdict(params) | {"fitted_on": [p.name for p in args.sets] + ["off_topic.yaml"],
                                "items": len(kept)}
    CALIBRATION_FILE.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"written {CALIBRATION_FILE}")


if __name__ == "__main__":
    main()
