"""Checks for bertlite/masking.py (lesson 05: choosing and corrupting the tokens to predict)."""

import math

import torch

from .. import masking as ref
from ..masking import IGNORE_INDEX
from .harness import CheckFailed, Exercise, call
from .hints import first_hint

__all__ = ["check_mask_tokens", "check_choose_for_masking", "MISTAKES"]


def _with(change):
    """The reference mask_tokens, then change(ids, masked, labels, vocab_size, mask_id, generator)."""
    def mask_tokens(input_ids, special_tokens_mask, vocab_size, mask_token_id, mlm_probability=0.15,
                    generator=None, max_predictions=None):
        masked, labels = ref.mask_tokens(input_ids, special_tokens_mask, vocab_size, mask_token_id,
                                         mlm_probability, generator, max_predictions)
        return change(input_ids, masked.clone(), labels.clone(), vocab_size, mask_token_id, generator)
    return mask_tokens


def _replace_random(draw):
    def change(ids, masked, labels, V, mask_id, g):
        where = (labels != IGNORE_INDEX) & (masked != mask_id) & (masked != ids)
        masked[where] = draw(int(where.sum()), V, g)
        return masked, labels
    return change


def _all_masked(ids, masked, labels, V, mask_id, g):
    masked[labels != IGNORE_INDEX] = mask_id
    return masked, labels


def _specials_too(input_ids, special_tokens_mask, vocab_size, mask_token_id, mlm_probability=0.15,
                  generator=None, max_predictions=None):
    return ref.mask_tokens(input_ids, torch.zeros_like(special_tokens_mask), vocab_size, mask_token_id,
                           mlm_probability, generator, max_predictions)


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "choose_for_masking": Exercise(lesson="05", check="check_choose_for_masking", find_the_bug=True, hints=(  # find the bug
        "Which tokens may never be predicted? Look at what the function receives and never uses.",
        "A position may be chosen only if its uniform draw is below p and it is not a special token "
        "([CLS], [SEP], [PAD]): combine the two conditions.",
        "(torch.rand(input_ids.shape, generator=generator) < p) & ~special_tokens_mask",
    )),
    "mask_tokens": Exercise(lesson="05", check="check_mask_tokens", hints=(
        "Choose about 15% of the real tokens to predict. Of those, 80% become [MASK], 10% a random token, "
        "10% stay. Labels hold the original id at chosen positions and -100 everywhere else.",
        "1) chosen: uniform draws below mlm_probability, never on special tokens. 2) a sequence that chose "
        "nothing gets one real token, at random. 3) labels = the ids where chosen, else -100. 4) a second "
        "draw per position splits the chosen: below 0.8 -> [MASK]; 0.8 to 0.9 -> a random id drawn for "
        "that position; the rest unchanged. Pass `generator` to every draw.",
        "chosen = (torch.rand(shape, generator=g) < p) & ~special; labels = torch.where(chosen, ids, -100); "
        "u = torch.rand(shape, generator=g); masked = where(chosen & (u < 0.8), mask_id, ids); "
        "rnd = chosen & (u >= 0.8) & (u < 0.9); masked[rnd] = torch.randint(vocab_size, (n,), generator=g)",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "choose_for_masking": {  # find the bug: the function the lesson hands out is the first of these
        "[CLS], [SEP] and [PAD] chosen like any other token": (
            lambda ids, special, p, g=None: torch.rand(ids.shape, generator=g) < p),
        "the special tokens chosen and the others never": (
            lambda ids, special, p, g=None: (torch.rand(ids.shape, generator=g) < p) & special.bool()),
        "one draw for the whole batch: every sequence chooses the same positions": (
            lambda ids, special, p, g=None: (torch.rand(ids.shape[-1], generator=g) < p).expand(ids.shape) & ~special.bool()),
        "the rate applied twice (p² instead of p)": (
            lambda ids, special, p, g=None: (torch.rand(ids.shape, generator=g) < p * p) & ~special.bool()),
    },
    "mask_tokens": {
        "one random id for the whole batch": _with(_replace_random(lambda n, V, g: torch.randint(5, V, (1,), generator=g).expand(n))),
        "the random 10% always [UNK]": _with(_replace_random(lambda n, V, g: torch.full((n,), 1))),
        "random ids beyond the vocabulary": _with(_replace_random(lambda n, V, g: torch.randint(V, 2 * V, (n,), generator=g))),
        "labels without -100 (a label at every position)": _with(lambda ids, m, y, V, mask_id, g: (m, ids.clone())),
        "every chosen token [MASK] (no 10% random, no 10% kept)": _with(_all_masked),
        "[CLS], [SEP] and padding chosen like any other token": _specials_too,
    },
}


def _fail(what, hint):
    raise CheckFailed(f"✗ mask_tokens: {what}\n  hint: {hint}")


def check_choose_for_masking(choose_for_masking):
    """Find the bug (lesson 05): the positions to predict, about p of the real tokens, never a
    special one, drawn independently in every sequence."""
    V, B, T, p = 500, 400, 64, 0.15
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (B, T), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    ids[::2, 40:] = 0
    special = (ids == 0) | (ids == 2) | (ids == 3)
    chosen = call("choose_for_masking", choose_for_masking, ids, special, p, torch.Generator().manual_seed(1))
    hint = "\n  hint: " + first_hint("choose_for_masking")
    if not isinstance(chosen, torch.Tensor) or chosen.shape != ids.shape or chosen.dtype != torch.bool:
        raise CheckFailed(f"✗ choose_for_masking: expected a bool tensor of shape {tuple(ids.shape)}, got "
                          f"{getattr(chosen, 'dtype', type(chosen).__name__)} {tuple(getattr(chosen, 'shape', ()))}." + hint)
    if (chosen & special).any():
        raise CheckFailed(f"✗ choose_for_masking: {int((chosen & special).sum())} special tokens ([CLS], [SEP] or "
                          f"[PAD]) were chosen. BERT never predicts them: the model would learn that position 0 "
                          f"is [CLS], nothing about language." + hint)
    rate = chosen[~special].float().mean().item()
    n = int((~special).sum())
    if abs(rate - p) > 4 * math.sqrt(p * (1 - p) / n):
        raise CheckFailed(f"✗ choose_for_masking: {rate:.3f} of the real tokens were chosen, expected {p}." + hint)
    if (chosen[0::2] == chosen[0]).all():
        raise CheckFailed("✗ choose_for_masking: every sequence chose the same positions: draw for every token, "
                          "not once for the batch." + hint)
    print(f"✓ choose_for_masking: {rate:.3f} of {n:,} real tokens chosen, no special token, independently per sequence.")


def check_mask_tokens(mask_tokens):
    """Masking is random, so the learner's draws need not match ours one for one: check the
    properties instead, over about 100k tokens."""
    V, MASK, B, T = 500, 4, 800, 128
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (B, T), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    ids[::2, 100:] = 0  # every other row is padded
    special = (ids == 0) | (ids == 2) | (ids == 3)
    before = ids.clone()
    masked, labels = call("mask_tokens", mask_tokens, ids, special, V, MASK, 0.15, torch.Generator().manual_seed(1))
    if not torch.equal(ids, before):
        _fail("it changed input_ids in place.", "work on a copy (torch.where returns a new tensor).")
    if masked.shape != ids.shape or labels.shape != ids.shape:
        _fail(f"it returned shapes {tuple(masked.shape)} and {tuple(labels.shape)}, expected {(B, T)} twice.",
              "return (masked_input_ids, labels), both shaped like input_ids.")
    chosen = labels != IGNORE_INDEX
    if chosen.float().mean() > 0.5:
        _fail(f"labels hold a token id at {chosen.float().mean():.0%} of the positions; only the chosen ~15% should.",
              f"labels = the original id where a token was chosen, and {IGNORE_INDEX} (IGNORE_INDEX) everywhere else.")
    if (chosen & special).any():
        _fail("a special token ([CLS], [SEP] or [PAD]) was chosen.", "choose only where special_tokens_mask is False.")
    if not torch.equal(labels[chosen], ids[chosen]):
        _fail("a label is not the original id of its token.", "labels = the original input_ids at chosen positions.")
    if not torch.equal(masked[~chosen], ids[~chosen]):
        _fail("a token that was not chosen was changed.", "only chosen positions are corrupted.")
    n, candidates = int(chosen.sum()), int((~special).sum())
    rates = {"chosen": (n, candidates, 0.15), "[MASK]": (int((masked[chosen] == MASK).sum()), n, 0.8),
             "unchanged": (int((masked[chosen] == ids[chosen]).sum()), n, 0.1 + 0.1 / V)}
    for name, (k, total, p) in rates.items():
        if abs(k - total * p) > 5 * math.sqrt(total * p * (1 - p)):
            _fail(f"{name} rate is {k / total:.3f} over {total} tokens, expected {p:.3f}.",
                  "choose with probability mlm_probability; then 80% [MASK], 10% random, 10% unchanged.")
    replaced = chosen & (masked != MASK) & (masked != ids)  # the random 10%
    ids_drawn = masked[replaced]
    if len(ids_drawn) and (ids_drawn.min() < 0 or ids_drawn.max() >= V):
        _fail(f"a random replacement is id {int(ids_drawn.max() if ids_drawn.max() >= V else ids_drawn.min())}, "
              f"outside the vocabulary 0..{V - 1}.", "draw random ids with torch.randint(vocab_size, ...).")
    distinct, expected = len(set(ids_drawn.tolist())), V * (1 - (1 - 1 / V) ** len(ids_drawn))
    if len(ids_drawn) >= 100 and distinct < expected / 2:
        _fail(f"its {len(ids_drawn)} random replacements use only {distinct} different ids (about "
              f"{expected:.0f} expected): they should be drawn independently, one per token, from the whole vocabulary.",
              "draw one random id per position: torch.randint(vocab_size, input_ids.shape, generator=...), "
              "not one id for the batch and not a fixed token such as [UNK].")
    short = torch.tensor([[2, 7, 8, 3]] * 400)  # [CLS] two words [SEP]: most rows draw nothing
    _, short_labels = call("mask_tokens", mask_tokens, short, (short == 2) | (short == 3), V, MASK, 0.15,
                           torch.Generator().manual_seed(2))
    empty = int(((short_labels != IGNORE_INDEX).sum(-1) == 0).sum())
    if empty:
        _fail(f"{empty} of 400 short sequences ([CLS] a b [SEP]) got no prediction: their MLM loss is 0/0 = NaN.",
              "after choosing, give every row that chose nothing one of its candidates, picked at random.")
    per_position = (short_labels != IGNORE_INDEX).sum(0)[1:3].tolist()
    if min(per_position) < 120:
        _fail(f"in 400 short sequences the two words were chosen {per_position[0]} and {per_position[1]} times: "
              f"the extra prediction always goes to the same place.",
              "pick the extra token at random among the row's candidates, not the first one.")
    again = call("mask_tokens", mask_tokens, ids, special, V, MASK, 0.15, torch.Generator().manual_seed(1))
    if not (torch.equal(again[0], masked) and torch.equal(again[1], labels)):
        _fail("the same seeded generator gave a different result.", "pass generator= to every torch.rand / torch.randint.")
    for bad in (0.0, 1.0):
        try:
            call("mask_tokens", mask_tokens, ids, special, V, MASK, bad)
        except ValueError:
            continue
        _fail(f"mlm_probability={bad} did not raise ValueError.", "check 0 < mlm_probability < 1 first.")
    print(f"✓ mask_tokens: specials safe, labels exact, rates {n / candidates:.3f} chosen and "
          f"{rates['[MASK]'][0] / n:.2f} [MASK] over {candidates} tokens, seeded runs repeat.")
