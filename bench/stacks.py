"""Summarise a py-spy raw (collapsed) profile: where the sampled time went, inclusive.

python bench/stacks.py bench/results/ingest-200.stacks [frames]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def main(path: str, top: int = 40) -> None:
    inclusive: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        n = int(count)
        total += n
        for frame in set(stack.split(";")):
            inclusive[frame] += n
    for frame, n in inclusive.most_common(top):
        print(f"{100 * n / total:5.1f}%  {frame[:150]}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
