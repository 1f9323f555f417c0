"""Print the fault matrix: every fault the simulators inject × every procedure and instrument it applies
to, and how each case ended (see tests/fault_matrix.py). Exit status 1 when any case is not safe, has no
reason, hangs past its deadline or raises a library error."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fault_matrix import cases, judge, run_case  # noqa: E402


def main() -> int:
    logging.disable(logging.ERROR)  # each case's own "could not make ... safe" lines: the table says it
    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases():
            outcome = run_case(case, Path(tmp))
            problems = judge(outcome)
            rows.append((case, outcome, problems))
            if problems:
                failed.append((case.name, problems))
    by_status = Counter(outcome["status"] for _, outcome, _ in rows)
    by_fault = Counter(case.fault for case, _, _ in rows)
    slowest = max(outcome["seconds"] for _, outcome, _ in rows)
    print(f"fault matrix: {len(rows)} cases ({len(by_fault)} fault kinds x procedures x instruments)")
    print("  by fault: " + ", ".join(f"{k} {v}" for k, v in sorted(by_fault.items())))
    print("  ended:    " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
    print(f"  safe with a reason, in time, no library error: {len(rows) - len(failed)}/{len(rows)} "
          f"({100.0 * (len(rows) - len(failed)) / len(rows):.0f} %); slowest case {slowest:.2f} s")
    for name, problems in failed:
        print(f"  FAILED {name}: {'; '.join(problems)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
