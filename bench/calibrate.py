"""Fit fusion weights and the answer/decline model on labelled questions.

    .venv/bin/python bench/calibrate.py [SET.jsonl] [--min-answered 0.96]

1. Fusion: grid search of the dense weight (and a bonus for matching a
   question variant) by MRR@10 on the set's in-scope questions.
2. Confidence: logistic regression over the searcher's absolute signals
   (answer cosine, BM25 evidence, word and word-pair coverage), labels
   in-scope = 1 / out-of-scope = 0, class-balanced.
3. Threshold: the highest probability that still answers at least
   --min-answered of the in-scope questions, so residents are not refused
   on questions the text covers; out-of-scope questions declined is then
   what the data gives.

Writes retrieval/calibration.json, which the searcher loads at start.
Calibrate on bench/data/heldout.jsonl; keep ../shared/eval/dev.jsonl for
checking, never for fitting.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evaluate import DEFAULT_SETS, load_set, rank_of, run  # noqa: E402
from bot.app import build_searcher  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from retrieval.searcher import CALIBRATION_FILE  # noqa: E402

DENSE_WEIGHTS = [round(w, 2) for w in np.arange(0.2, 0.81, 0.05)]
QUESTION_BONUSES = [0.0, 0.01, 0.02, 0.04]


def mrr(items, results) -> float:
    ranks = [rank_of(it, r) for it, r in zip(items, results) if it["expect"]]
    return float(np.mean([1 / r if r else 0.0 for r in ranks]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("set", nargs="?", type=Path, default=DEFAULT_SETS[0])
    parser.add_argument("--min-answered", type=float, default=0.96)
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression

    searcher = build_searcher(get_settings())
    items = load_set(args.set)
    base = searcher.params

    best = None
    for bonus in QUESTION_BONUSES:
        for weight in DENSE_WEIGHTS:
            searcher.params = replace(base, dense_weight=weight, question_unit_bonus=bonus)
            score = mrr(items, run(searcher, items))
            if best is None or score > best[0] + 1e-9:
                best = (score, weight, bonus)
    score, weight, bonus = best
    print(f"fusion: dense_weight={weight} question_unit_bonus={bonus} MRR@10={score:.3f}")

    searcher.params = replace(base, dense_weight=weight, question_unit_bonus=bonus)
    results = run(searcher, items)
    X = np.array([r.signals for r in results])
    y = np.array([1 if it["expect"] else 0 for it in items])
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    in_scope = np.sort(p[y == 1])
    cut = int(np.floor((1 - args.min_answered) * len(in_scope)))
    threshold = float(in_scope[cut]) - 1e-6
    answered = float(np.mean(p[y == 1] >= threshold))
    declined = float(np.mean(p[y == 0] < threshold))
    print(f"confidence: coef={np.round(model.coef_[0], 3).tolist()} "
          f"intercept={model.intercept_[0]:.3f} threshold={threshold:.3f}")
    print(f"on {args.set.name}: in-scope answered {answered:.3f}, out-of-scope declined {declined:.3f}")

    params = replace(
        searcher.params,
        coef=tuple(float(c) for c in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=threshold,
    )
    payload = asdict(params) | {"fitted_on": args.set.name, "items": len(items)}
    CALIBRATION_FILE.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"written {CALIBRATION_FILE}")


if __name__ == "__main__":
    main()
