"""Checks for bertlite/attention.py (lesson 03: attention)."""

import torch

from .. import attention as ref
from .harness import CheckFailed, Exercise, call, compare, run_cases
from .hints import first_hint

__all__ = ["check_scaled_dot_product_attention", "check_padding_mask", "check_split_merge_heads",
           "check_attention_weights", "MISTAKES"]


def _weights(q, k, mask, scale, axis=-1):
    scores = q @ k.transpose(-2, -1) * scale
    return (scores if mask is None else scores + mask).softmax(dim=axis)


def check_attention_weights(attention_weights):
    """Find the bug (lesson 03): softmax(q kᵀ / √d_k + mask), the weights alone."""
    g = torch.Generator().manual_seed(0)
    cases = [(f"q and k of shape {shape}", (torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)))
             for shape in [(4, 8), (2, 5, 64), (2, 3, 6, 512)]]
    pad = _additive(torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)[:, None, :])
    cases.append(("a padding mask", (torch.randn(1, 4, 16, generator=g), torch.randn(1, 4, 16, generator=g), pad)))
    run_cases("attention_weights", attention_weights, lambda q, k, mask=None: _weights(q, k, mask, q.shape[-1] ** -0.5),
              cases, hint=first_hint("attention_weights"), mistakes=MISTAKES["attention_weights"])


def _attend(q, k, v, mask, scale, axis=-1):
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None:
        scores = scores + mask
    return scores.softmax(dim=axis) @ v


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "scaled_dot_product_attention": Exercise(lesson="03", check="check_scaled_dot_product_attention", hints=(
        "Scores are dot products of queries with keys, scaled by 1/√d_k; a softmax over the keys turns "
        "them into weights; the output is the weighted average of the values.",
        "1) scores = q times k transposed (the last two axes), divided by √d where d is the query size. "
        "2) add the mask if there is one. 3) softmax over the key axis (the last). 4) in training, dropout "
        "on the weights with probability dropout_p. 5) weights times v.",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]); + mask; .softmax(-1); "
        "F.dropout(weights, dropout_p) if dropout_p > 0; return weights @ v",
    )),
    "padding_mask": Exercise(lesson="03", check="check_padding_mask", hints=(
        "Attention adds the mask to the scores before the softmax: 0 where a key may be looked at, the most "
        "negative float where it may not. Its shape must broadcast over heads and query positions.",
        "Turn the (B, T) mask of 1s and 0s into (B, 1, 1, T), convert it to the scores' dtype, then map "
        "1 -> 0 and 0 -> the most negative finite number of that dtype.",
        "(1 - attention_mask[:, None, None, :].to(dtype)) times torch.finfo(dtype).min",
    )),
    "attention_weights": Exercise(lesson="03", check="check_attention_weights", find_the_bug=True, hints=(  # find the bug
        "Compare the symptom with section 2's plot: which step keeps the scores at unit scale whatever d_k is?",
        "The scores q·kᵀ have variance d_k. Before the softmax they must be divided by √d_k, the size of one "
        "query (q.shape[-1]); the mask is added after the scaling.",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]); add the mask; softmax over the last axis",
    )),
    "split_heads": Exercise(lesson="03", check="check_split_merge_heads", hints=(
        "The H features of each position are heads × (H / heads) features side by side; give each head its "
        "own axis, in front of the positions.",
        "Read the shape (B, T, H). View the tensor as (B, T, heads, H / heads), then swap the T and heads axes.",
        "x.view(B, T, num_heads, H // num_heads).transpose(1, 2)",
    )),
    "merge_heads": Exercise(lesson="03", check="check_split_merge_heads", hints=(
        "The inverse of split_heads: put the heads' features side by side again.",
        "Read the shape (B, heads, T, d). Swap the heads and T axes back, then flatten the last two axes into "
        "heads · d (reshape: after a transpose the memory is no longer contiguous).",
        "x.transpose(1, 2).reshape(B, T, h * d)",
    )),
}


# The common mistakes of each exercise, as code: a failing check names the one the learner's output
# equals, and tests/test_checks_mistakes.py makes sure every check rejects every one of them.
MISTAKES = {
    "scaled_dot_product_attention": {
        "attention without the 1/√d_k scale": lambda q, k, v, mask=None, dropout_p=0.0: _attend(q, k, v, mask, 1.0),
        "the softmax over the queries (dim=-2) instead of the keys": (
            lambda q, k, v, mask=None, dropout_p=0.0: _attend(q, k, v, mask, q.shape[-1] ** -0.5, axis=-2)),
        "scores scaled by 1/√d_v (the values' size) instead of 1/√d_k": (
            lambda q, k, v, mask=None, dropout_p=0.0: _attend(q, k, v, mask, v.shape[-1] ** -0.5)),
        "scores divided by d_k instead of √d_k": (
            lambda q, k, v, mask=None, dropout_p=0.0: _attend(q, k, v, mask, 1.0 / q.shape[-1])),
        "the mask ignored": lambda q, k, v, mask=None, dropout_p=0.0: _attend(q, k, v, None, q.shape[-1] ** -0.5),
    },
    "padding_mask": {
        "a mask with its sign flipped (padding kept, real tokens masked)": (
            lambda m, dtype=torch.float32: m[:, None, None, :].to(dtype) * torch.finfo(dtype).min),
        "the old -10000 instead of the dtype's most negative number": (
            lambda m, dtype=torch.float32: (1.0 - m[:, None, None, :].to(dtype)) * -10000.0),
        "the mask shaped (B, 1, T, 1): it masks queries, not keys": (
            lambda m, dtype=torch.float32: (1.0 - m[:, None, :, None].to(dtype)) * torch.finfo(dtype).min),
        "float32's most negative number whatever the dtype": (
            lambda m, dtype=torch.float32: ((1.0 - m[:, None, None, :].to(dtype)) * torch.finfo(torch.float32).min).to(dtype)),
    },
    "attention_weights": {  # find the bug: the function the lesson hands out is the first of these
        "weights without the 1/√d_k scale": lambda q, k, mask=None: _weights(q, k, mask, 1.0),
        "weights scaled by 1/d_k instead of 1/√d_k": lambda q, k, mask=None: _weights(q, k, mask, 1.0 / q.shape[-1]),
        "the softmax over the queries (dim=-2)": lambda q, k, mask=None: _weights(q, k, mask, q.shape[-1] ** -0.5, -2),
    },
    "split_heads": {
        "a view as (B, heads, T, d) without the transpose (heads get the wrong features)": (
            lambda x, h: x.reshape(x.shape[0], h, x.shape[1], x.shape[2] // h)),
        "the heads taken as interleaved features (feature j to head j mod heads)": (
            lambda x, h: x.view(x.shape[0], x.shape[1], x.shape[2] // h, h).permute(0, 3, 1, 2)),
        "the last two axes swapped: (B, T, d, heads) transposed wrongly": (
            lambda x, h: x.view(x.shape[0], x.shape[1], h, x.shape[2] // h).transpose(1, 3)),
    },
    "merge_heads": {
        "a reshape without transposing back": lambda x: x.reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]),
        "the heads interleaved instead of side by side": (
            lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3])),
        "a .view after the transpose (the memory is no longer contiguous: use .reshape)": (
            lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], x.shape[1] * x.shape[3])),
    },
}


def _additive(allowed):
    """bool (..., Tq, Tk), True = may look  ->  additive float mask."""
    return torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)


def check_scaled_dot_product_attention(scaled_dot_product_attention):
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    causal = _additive(torch.ones(5, 5, dtype=torch.bool).tril())
    keep = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pad = _additive(keep.bool()[:, None, None, :])  # (2, 1, 1, 5)
    cases = [
        ("one query, one key, d=1", (r(1, 1), r(1, 1), r(1, 1))),
        ("(T=4, d=8), no mask", (r(4, 8), r(4, 8), r(4, 8))),
        ("(B=2, heads=3, T=5, d=16), no mask", (r(2, 3, 5, 16), r(2, 3, 5, 16), r(2, 3, 5, 16))),
        ("large scores (d=64, entries ×4)", (4 * r(2, 6, 64), 4 * r(2, 6, 64), r(2, 6, 64))),
        ("values narrower than queries (d_k=8, d_v=3): scale by √d_k", (r(2, 4, 8), r(2, 4, 8), r(2, 4, 3))),
        ("3 queries, 6 keys", (r(2, 3, 8), r(2, 6, 8), r(2, 6, 8))),
        ("padding mask (B=2, heads=3, T=5)", (r(2, 3, 5, 8), r(2, 3, 5, 8), r(2, 3, 5, 8), pad)),
        ("causal mask (T=5)", (r(2, 5, 8), r(2, 5, 8), r(2, 5, 8), causal)),
    ]
    run_cases(
        "scaled_dot_product_attention", scaled_dot_product_attention, ref.scaled_dot_product_attention, cases,
        hint=first_hint("scaled_dot_product_attention"), mistakes=MISTAKES["scaled_dot_product_attention"],
    )
    _check_attention_dropout(scaled_dot_product_attention, r(2, 4, 8), r(2, 4, 8), r(2, 4, 8))


def _check_attention_dropout(scaled_dot_product_attention, q, k, v, draws=2000):
    """dropout_p must drop attention weights at random, and keep the output right on average
    (F.dropout scales the kept weights by 1/(1-p))."""
    name = "scaled_dot_product_attention"
    plain = call(name, scaled_dot_product_attention, q, k, v)
    torch.manual_seed(0)
    outputs = torch.stack([call(name, scaled_dot_product_attention, q, k, v, dropout_p=0.5) for _ in range(draws)])
    if all(torch.allclose(o, plain) for o in outputs[:20]):
        raise CheckFailed(f"✗ {name}: with dropout_p=0.5 the output is the same as without: dropout_p is ignored.\n"
                          f"  hint: after the softmax, weights = F.dropout(weights, dropout_p) when dropout_p > 0.")
    off = (outputs.mean(0) - plain).abs().max().item()
    if off > 0.12:
        raise CheckFailed(f"✗ {name}: averaged over {draws} draws with dropout_p=0.5, the output is {off:.2f} away "
                          f"from the output without dropout; on average they should agree.\n"
                          f"  hint: drop the attention weights (after the softmax) with F.dropout, which scales the "
                          f"kept ones by 1/(1 - p); not the scores before the softmax, and not without the scaling.")
    print(f"✓ {name}: dropout_p drops attention weights, and the output is right on average ({draws} draws)")


def check_padding_mask(padding_mask):
    cases = [
        ("one sequence, no padding", (torch.ones(1, 4, dtype=torch.long),)),
        ("two sequences, padding at the end", (torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),)),
        ("a bool mask", (torch.tensor([[True, False, False]]),)),
        ("all padding", (torch.zeros(2, 3, dtype=torch.long),)),
        ("float64", (torch.tensor([[1, 1, 0, 0, 0]]), torch.float64)),
        ("float16", (torch.tensor([[1, 0], [1, 1]]), torch.float16)),
    ]
    run_cases(
        "padding_mask", padding_mask, ref.padding_mask, cases, atol=0.0,
        hint=first_hint("padding_mask"), mistakes=MISTAKES["padding_mask"],
    )


def check_split_merge_heads(split_heads, merge_heads):
    g = torch.Generator().manual_seed(0)
    shapes = [(1, 1, 4, 1), (2, 5, 12, 3), (3, 7, 16, 4), (2, 3, 8, 8), (1, 9, 6, 6)]
    split_cases = [(f"(B={B}, T={T}, H={H}) into {h} heads", (torch.randn(B, T, H, generator=g), h))
                   for B, T, H, h in shapes]
    run_cases("split_heads", split_heads, ref.split_heads, split_cases, hint=first_hint("split_heads"), atol=0.0,
              mistakes=MISTAKES["split_heads"])
    merge_cases = [(f"(B={B}, heads={h}, T={T}, d={H // h})", (torch.randn(B, h, T, H // h, generator=g),))
                   for B, T, H, h in shapes]
    run_cases("merge_heads", merge_heads, ref.merge_heads, merge_cases, atol=0.0,
              hint=first_hint("merge_heads"), mistakes=MISTAKES["merge_heads"])
    x = torch.randn(2, 5, 12, generator=g)
    round_trip = call("merge_heads", merge_heads, call("split_heads", split_heads, x, 4))
    problem = compare(round_trip, x, "merge_heads(split_heads(x, 4))", atol=0.0)
    if problem:
        raise CheckFailed(f"✗ split/merge round trip: {problem}.")
    print("✓ merge_heads(split_heads(x, h)) == x")
