"""Checks for bertlite/task_encoding.py (lesson 09: task labels onto tokens, span logits back to answers)."""

import torch

from .. import task_encoding as ref
from .harness import Exercise, run_cases
from .hints import first_hint

__all__ = ["check_align_labels", "check_best_span", "MISTAKES"]


def _align(word_ids, word_labels, ignore_index=-100, rule="first"):
    labels = []
    for i, w in enumerate(word_ids):
        nxt = word_ids[i + 1] if i + 1 < len(word_ids) else None
        previous = word_ids[i - 1] if i else None
        if w is None:
            labels.append(word_labels[0] if rule == "specials" and word_labels else ignore_index)
        elif rule == "every" or (rule == "last" and w != nxt) or (rule in ("first", "specials") and w != previous):
            labels.append(word_labels[w])
        else:
            labels.append(ignore_index)
    return labels


def _span(start, end, context, max_answer_length=30, rule=""):
    T = start.shape[0]
    s, e = torch.arange(T)[:, None], torch.arange(T)[None, :]
    ctx = context.bool()
    valid = (e - s < max_answer_length) & ctx[:, None] & ctx[None, :]
    valid &= (e >= s) if rule != "any order" else torch.ones_like(valid)
    valid = (e >= s) & (e - s <= max_answer_length) & ctx[:, None] & ctx[None, :] if rule == "one too long" else valid
    valid = (e >= s) & (e - s < max_answer_length) if rule == "no context" else valid
    flat = (start[:, None] + end[None, :]).masked_fill(~valid, float("-inf")).argmax()
    return int(flat // T), int(flat % T)


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "align_labels": Exercise(lesson="09", check="check_align_labels", hints=(
        "A word's label goes on its first sub-token; every other token (continuations, [CLS], [SEP], "
        "padding) gets ignore_index.",
        "Walk the tokens, remembering the previous token's word id. A token starts a word when its word id "
        "is not None and differs from the previous one: give it word_labels[word id]. Otherwise ignore_index.",
        "for w in word_ids: labels.append(ignore_index if w is None or w == previous else word_labels[w]); "
        "previous = w",
    )),
    "best_span": Exercise(lesson="09", check="check_best_span", hints=(
        "Score every (start, end) pair as start score + end score, rule out the invalid pairs, and take the best.",
        "Build the (T, T) table of start[s] + end[e]. A pair is valid when e >= s, the span is at most "
        "max_answer_length tokens, and both ends are context tokens. Set the others to -inf, take the argmax "
        "and turn its flat index back into (s, e). An empty context is an error.",
        "scores = start[:, None] + end[None, :]; valid = (e >= s) & (e - s < max_len) & ctx[:, None] & "
        "ctx[None, :]; flat = scores.masked_fill(~valid, -inf).argmax(); return divmod(flat, T)",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "align_labels": {
        "the word's label on every one of its sub-tokens": lambda w, l, i=-100: _align(w, l, i, "every"),
        "the label on the word's last sub-token instead of its first": lambda w, l, i=-100: _align(w, l, i, "last"),
        "a label on [CLS], [SEP] and padding too": lambda w, l, i=-100: _align(w, l, i, "specials"),
    },
    "best_span": {
        "spans that end before they start allowed": lambda s, e, c, m=30: _span(s, e, c, m, "any order"),
        "spans one token longer than max_answer_length allowed": lambda s, e, c, m=30: _span(s, e, c, m, "one too long"),
        "the context mask ignored (answers in the question or padding)": lambda s, e, c, m=30: _span(s, e, c, m, "no context"),
    },
}


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
              hint=first_hint("align_labels"), mistakes=MISTAKES["align_labels"])


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
              hint=first_hint("best_span"), mistakes=MISTAKES["best_span"])
