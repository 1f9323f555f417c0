"""Fuzz tepl's entry points with the strategies of ``tests/fuzzing.py`` and print, per target, how many cases
ran, how many were refused with a clear one-line error, how many were accepted, and how many escaped as
anything else (with the first few of those). Exits 1 if anything escaped.

    .venv/bin/python bench/fuzz.py                 # 10,000 cases over all targets
    .venv/bin/python bench/fuzz.py --cases 50000 --target ptu --seed 3
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.fuzzing import TARGETS, Target, close_stations  # noqa: E402


def fuzz(target: Target, cases: int, base_seed: int, show: int = 3) -> tuple[Counter, list[str], float]:
    """Run ``cases`` cases of ``target``; return the outcome counts, the first distinct uncaught errors and the
    time taken."""
    counts: Counter = Counter()
    uncaught: list[str] = []
    start = time.perf_counter()
    round_ = 0
    while counts.total() < cases and round_ < 20:
        todo = cases - counts.total()

        @seed(base_seed * 1000 + round_)
        @settings(max_examples=todo, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(target.strategy)
        def one(case) -> None:
            if counts.total() >= cases:
                return
            result = target.check(case)
            counts[result.kind] += 1
            if result.uncaught and len(uncaught) < show and result.error not in uncaught:
                uncaught.append(result.error)

        one()
        round_ += 1
    return counts, uncaught, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in all, shared over the targets")
    parser.add_argument("--target", action="append", help="only these targets (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # instruments log what they refuse; the table says it
    warnings.simplefilter("ignore")
    targets = [t for t in TARGETS if not args.target or t.name in args.target]
    if not targets:
        parser.error(f"no target among {args.target}; known: {', '.join(t.name for t in TARGETS)}")
    share = sum(t.share for t in targets)
    print(f"fuzzing {args.cases} cases (seed {args.seed})")
    print(f"{'target':<12} {'cases':>7} {'refused':>8} {'accepted':>9} {'uncaught':>9} {'time s':>7}")
    totals: Counter = Counter()
    failures: list[tuple[str, list[str]]] = []
    try:
        for target in targets:
            n = max(1, round(args.cases * target.share / share))
            counts, uncaught, took = fuzz(target, n, args.seed)
            totals += counts
            print(f"{target.name:<12} {counts.total():>7} {counts['refused']:>8} {counts['accepted']:>9} "
                  f"{counts['uncaught']:>9} {took:>7.1f}", flush=True)
            if uncaught:
                failures.append((target.name, uncaught))
    finally:
        close_stations()
    print(f"{'total':<12} {totals.total():>7} {totals['refused']:>8} {totals['accepted']:>9} "
          f"{totals['uncaught']:>9}")
    for name, errors in failures:
        print(f"\nuncaught in {name}:")
        for error in errors:
            print(f"  {error[:400]}")
    return 1 if totals["uncaught"] else 0


if __name__ == "__main__":
    sys.exit(main())
