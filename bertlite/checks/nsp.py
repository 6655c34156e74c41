"""Checks for lesson 06 (next-sentence prediction)."""

import random
from collections import Counter

from .. import nsp as ref
from . import CheckFailed, NotDoneYet, run_cases

__all__ = ["check_pair_layout", "check_pick_other_document"]


def check_pair_layout(pair_layout):
    cases = [("short", ([7, 8], [9], 2, 3)), ("one token each", ([5], [6], 101, 102)),
             ("B longer", ([10], [11, 12, 13, 14], 2, 3))]
    rng = random.Random(0)
    for i in range(5):
        a = [rng.randrange(5, 100) for _ in range(rng.randint(1, 10))]
        b = [rng.randrange(5, 100) for _ in range(rng.randint(1, 10))]
        cases.append((f"random {i}", (a, b, 2, 3)))
    run_cases("pair_layout", pair_layout, ref.pair_layout, cases,
              hint="[CLS] A [SEP] B [SEP]; token_type_ids are 0 up to and including the first "
                   "[SEP], then 1 for B and the last [SEP].")


def check_pick_other_document(pick_other_document):
    rng = random.Random(0)
    for n, current in [(2, 0), (2, 1), (5, 0), (5, 2), (5, 4)]:
        try:
            counts = Counter(pick_other_document(n, current, rng) for _ in range(4000))
        except NotImplementedError as e:
            raise NotDoneYet(f"pick_other_document is not written yet ({e}).") from None
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
                              f"{dict(sorted(counts.items()))} from 4000 draws.\n  hint: draw from the "
                              f"n - 1 others, e.g. rng.randrange(n - 1), then step over current.")
    print("✓ pick_other_document: never the current document, uniform over the others.")
