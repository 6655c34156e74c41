"""Checks for bertlite/nsp.py (lesson 06: next-sentence prediction)."""

import random
from collections import Counter

from .harness import CheckFailed, call
from .hints import first_hint

__all__ = ["check_pick_other_document"]


def check_pick_other_document(pick_other_document):
    rng = random.Random(0)
    for n, current in [(2, 0), (2, 1), (5, 0), (5, 2), (5, 4)]:
        counts = Counter(call("pick_other_document", pick_other_document, n, current, rng) for _ in range(4000))
        expected = set(range(n)) - {current}
        if current in counts:
            raise CheckFailed(f"✗ pick_other_document({n}, {current}) returned {current} itself: a "
                              f"NotNext segment must come from a different document.")
        if set(counts) != expected:
            raise CheckFailed(f"✗ pick_other_document({n}, {current}) returned {sorted(counts)}, "
                              f"expected every one of {sorted(expected)}.")
        share = 4000 / (n - 1)
        if any(abs(c - share) > 0.15 * share for c in counts.values()):
            raise CheckFailed(f"✗ pick_other_document({n}, {current}) is not uniform: counts "
                              f"{dict(sorted(counts.items()))} from 4000 draws.\n  hint: "
                              + first_hint("pick_other_document"))
    print("✓ pick_other_document: never the current document, uniform over the others.")
