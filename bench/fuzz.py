"""Benchmark the fuzz suite's cost: what `tests/fuzz` adds to `make test`.

    .venv/bin/python bench/fuzz.py [--documents 10000]          (no root needed)

Target (issue 16): fuzzing 10,000 documents adds under a minute to `make test`.

Runs the suite's own pieces without pytest or hypothesis: `strategies.Builder` makes inputs
from seeds 0, 1, 2... until --documents documents are made, and `test_fuzz.play_input` loads,
validates and plans each. It prints CPU and wall seconds for making and for playing, the
slowest input, and the outcome mix; the pytest run adds hypothesis' own bookkeeping on top
(run `pytest --durations=1 tests/fuzz` for that figure). CPU time is the figure to compare:
wall time on a shared machine mostly measures the other processes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz import strategies, test_fuzz


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    args = parser.parse_args()
    test_fuzz.play_input("apiVersion: v1\nkind: Namespace\nmetadata: {name: warm}\n")
    made_cpu = played_cpu = 0.0
    wall = time.monotonic()
    documents = inputs = 0
    slowest = (0.0, -1)
    outcomes: Counter[str] = Counter()
    while documents < args.documents:
        start = time.process_time()
        text, count = strategies.Builder(random.Random(inputs)).documents()
        middle = time.process_time()
        outcome = test_fuzz.play_input(text)
        end = time.process_time()
        made_cpu += middle - start
        played_cpu += end - middle
        slowest = max(slowest, (end - middle, inputs))
        outcomes["planned" if outcome == "planned" else "refused"] += 1
        documents += count
        inputs += 1
    wall = time.monotonic() - wall
    print(f"documents: {documents} in {inputs} inputs ({dict(outcomes)})")
    print(f"making:  {made_cpu:.1f} s CPU")
    print(f"playing: {played_cpu:.1f} s CPU ({1000 * played_cpu / documents:.2f} ms a document)")
    print(f"slowest input: seed {slowest[1]}, {1000 * slowest[0]:.0f} ms CPU")
    print(f"wall: {wall:.1f} s")


if __name__ == "__main__":
    main()
