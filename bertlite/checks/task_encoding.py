"""Checks for bertlite/task_encoding.py (lesson 09: task labels onto tokens, span logits back to answers)."""

import torch

from .. import task_encoding as ref
from .harness import run_cases
from .hints import first_hint

__all__ = ["check_align_labels", "check_best_span"]


def check_align_labels(align_labels):
    cases = [
        ("one piece per word", ([None, 0, 1, 2, None], [5, 6, 7])),
        ("a word of three pieces", ([None, 0, 0, 0, 1, None], [3, 4])),
        ("padding after [SEP]", ([None, 0, 1, 1, None, None, None], [1, 2])),
        ("no words", ([None, None], [])),
        ("a pair: two segments", ([None, 0, 0, None, 0, 1, None], [8, 9])),
        ("string labels", ([None, 0, 1, 1, 2, None], ["B-PER", "O", "B-LOC"])),
    ]
    run_cases("align_labels", align_labels, ref.align_labels, cases,
              hint=first_hint("align_labels"))


def check_best_span(best_span):
    g = torch.Generator().manual_seed(0)
    context = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0], dtype=torch.bool)  # [CLS] q q [SEP] c c c c c [SEP] [PAD]
    t = lambda *v: torch.tensor(v, dtype=torch.float)  # noqa: E731
    cases = [
        ("the best scores sit in the question", (t(9, 9, 9, 0, 0, 1, 0, 0, 0, 9, 9), t(9, 9, 9, 0, 0, 0, 0, 2, 0, 9, 9), context)),
        ("the best end comes before the best start", (t(0, 0, 0, 0, -9, 0, 5, 0, 0, 0, 0), t(0, 0, 0, 0, 9, 0, 0, 2, 0, 0, 0), context)),
        ("the best end is past the context", (t(0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0), t(0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 8), context)),
        ("a tie everywhere", (torch.zeros(11), torch.zeros(11), context)),
        ("a tie between two spans", (t(0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0), t(0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0), context)),
        ("longer than max_answer_length=3", (t(0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0), t(0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0), context, 3)),
    ]
    for i in range(10):
        cases.append((f"random logits {i}", (torch.randn(11, generator=g), torch.randn(11, generator=g), context,
                                             int(torch.randint(1, 6, (1,), generator=g)))))
    run_cases("best_span", lambda *a: tuple(map(int, best_span(*a))), ref.best_span, cases,
              hint=first_hint("best_span"))
