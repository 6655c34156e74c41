"""Checks for bertlite/nsp.py (lesson 06: next-sentence prediction)."""

import random
from collections import Counter

import torch

from ..nsp import pick_other_document
from .harness import CheckFailed, Exercise, call, run_cases
from .hints import first_hint

__all__ = ["check_pick_other_document", "check_nsp_loss", "check_nsp_pairs", "MISTAKES"]


def _skip_once(n, current, rng):
    other = rng.randrange(n - 1)
    return other + 1 if other == current else other  # current + 1 twice as likely, the last never


def _pairs(documents, rng, rule):
    pairs = []
    for d, doc in enumerate(documents):
        for i in range(len(doc) - 1):
            not_next = (len(pairs) % 2 == 1) if rule == "alternate" else rng.random() < (0.0 if rule == "never" else 0.5)
            if not not_next:
                pairs.append((doc[i], doc[i + 1], 1 if rule == "flipped" else 0))
                continue
            other = rng.randrange(len(documents)) if rule == "any" else d if rule == "same" else \
                pick_other_document(len(documents), d, rng)
            pairs.append((doc[i], rng.choice(documents[other]), 0 if rule == "flipped" else 1))
    return pairs


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "nsp_pairs": Exercise(lesson="06", check="check_nsp_pairs", hints=(
        "For every sentence that has a next one, flip a fair coin: heads, B is that next sentence (IsNext, "
        "0); tails, B is a sentence from another document (NotNext, 1).",
        "Loop over the documents and over each sentence i but the last. Draw rng.random() < 0.5 for every pair. "
        "IsNext: (doc[i], doc[i + 1], 0). NotNext: pick the other document with pick_other_document, then a "
        "sentence of it with rng.choice, and label 1.",
        "other = documents[pick_other_document(len(documents), d, rng)]; pairs.append((doc[i], rng.choice(other), 1))",
    )),
    "nsp_loss": Exercise(lesson="06", check="check_nsp_loss", find_the_bug=True, hints=(  # find the bug
        "Which label does the loss skip, and which label do half the pairs carry?",
        "ignore_index tells cross_entropy to leave out every position whose label equals it. -100 is the "
        "convention for 'nothing to predict'; 0 is IsNext, a real label. Here nothing should be ignored.",
        "return F.cross_entropy(nsp_logits, nsp_labels)",
    )),
    "pick_other_document": Exercise(lesson="06", check="check_pick_other_document", hints=(
        "Every document except the current one must be equally likely, in one draw.",
        "Draw uniformly from n - 1 indices; indices from the current one upward move up by one, so the "
        "current index can never come out.",
        "other = rng.randrange(n_documents - 1); return other + 1 if other >= current else other",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "nsp_pairs": {
        "NotNext segments drawn from any document, the same one included": lambda docs, rng: _pairs(docs, rng, "any"),
        "NotNext segments drawn from the same document": lambda docs, rng: _pairs(docs, rng, "same"),
        "no NotNext pairs at all": lambda docs, rng: _pairs(docs, rng, "never"),
        "the labels swapped (1 for IsNext)": lambda docs, rng: _pairs(docs, rng, "flipped"),
        "IsNext and NotNext taking turns instead of a coin flip": lambda docs, rng: _pairs(docs, rng, "alternate"),
    },
    "nsp_loss": {  # find the bug: the function the lesson hands out is the first of these
        "the loss with ignore_index=0, which drops every IsNext pair": (
            lambda z, y: torch.nn.functional.cross_entropy(z, y, ignore_index=0)),
        "the labels swapped (1 - labels)": lambda z, y: torch.nn.functional.cross_entropy(z, 1 - y),
        "the sum over the batch instead of the mean": (
            lambda z, y: torch.nn.functional.cross_entropy(z, y, reduction="sum")),
        "a sigmoid on the NotNext logit alone": (
            lambda z, y: torch.nn.functional.binary_cross_entropy_with_logits(z[:, 1], y.float())),
    },
    "pick_other_document": {
        "any document, the current one included": lambda n, current, rng: rng.randrange(n),
        "the next document, always": lambda n, current, rng: (current + 1) % n,
        "stepping over the current one only when drawn (not uniform)": _skip_once,
    },
}


def check_nsp_pairs(nsp_pairs):
    """Lesson 06: one pair per sentence that has a successor; a coin flip makes it IsNext (0, B is
    the next sentence) or NotNext (1, B is a sentence of another document, chosen uniformly)."""
    documents = [[f"d{d}s{i}" for i in range(3 + d % 4)] for d in range(60)]
    where = {s: (d, i) for d, doc in enumerate(documents) for i, s in enumerate(doc)}
    pairs = call("nsp_pairs", nsp_pairs, documents, random.Random(0))
    hint = "\n  hint: " + first_hint("nsp_pairs")
    expected = sum(len(doc) - 1 for doc in documents)
    if not isinstance(pairs, list) or len(pairs) != expected:
        raise CheckFailed(f"✗ nsp_pairs: expected a list of {expected} (A, B, label) triples, one per sentence "
                          f"that has a next one; got {len(pairs) if isinstance(pairs, list) else type(pairs).__name__}." + hint)
    labels = [label for _, _, label in pairs]
    for a, b, label in pairs:
        (da, ia), (db, ib) = where[a], where[b]
        if label == 0 and (db, ib) != (da, ia + 1):
            raise CheckFailed(f"✗ nsp_pairs: ({a!r}, {b!r}) has label 0 (IsNext), but {b!r} is not the sentence "
                              f"after {a!r}." + hint)
        if label == 1 and db == da:
            raise CheckFailed(f"✗ nsp_pairs: ({a!r}, {b!r}) has label 1 (NotNext), but B comes from A's own "
                              f"document: it must come from another one." + hint)
    share = sum(labels) / len(labels)
    if abs(share - 0.5) > 4 * (0.25 / len(labels)) ** 0.5:
        raise CheckFailed(f"✗ nsp_pairs: {share:.0%} of the {len(labels)} pairs are NotNext; half should be." + hint)
    same = sum(x == y for x, y in zip(labels, labels[1:])) / (len(labels) - 1)
    if abs(same - 0.5) > 4 * (0.25 / (len(labels) - 1)) ** 0.5:
        raise CheckFailed(f"✗ nsp_pairs: a pair's label repeats the one before it {same:.0%} of the time; with a "
                          f"fair coin per pair it is about half: flip the coin for every pair." + hint)
    print(f"✓ nsp_pairs: {len(pairs)} pairs, {share:.0%} NotNext, IsNext B always the next sentence, NotNext B "
          f"always from another document.")


def check_nsp_loss(nsp_loss):
    """Find the bug (lesson 06): the mean two-way cross-entropy over every pair, IsNext (0) and
    NotNext (1) alike."""
    g = torch.Generator().manual_seed(0)
    cases = [("a mixed batch", (torch.randn(8, 2, generator=g), torch.tensor([0, 1, 1, 0, 0, 1, 0, 1]))),
             ("every pair IsNext (label 0)", (torch.randn(4, 2, generator=g), torch.zeros(4, dtype=torch.long))),
             ("every pair NotNext (label 1)", (torch.randn(4, 2, generator=g), torch.ones(4, dtype=torch.long))),
             ("one pair", (torch.randn(1, 2, generator=g), torch.tensor([0])))]
    run_cases("nsp_loss", nsp_loss, lambda z, y: torch.nn.functional.cross_entropy(z, y), cases,
              hint=first_hint("nsp_loss"), mistakes=MISTAKES["nsp_loss"])


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
