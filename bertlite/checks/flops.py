"""Checks for bertlite/flops.py (lesson 10: what a training step costs).

The reference is independent of the formula: the FLOPs torch counts while it runs a real
forward + backward of BertForPreTraining."""

import torch

from ..config import BertConfig
from ..heads import BertForPreTraining
from ..masking import IGNORE_INDEX
from .harness import CheckFailed, Exercise, call
from .hints import first_hint

__all__ = ["check_flops_per_token", "counted_flops_per_token", "MISTAKES"]


def _flops(config, seq_len, mlm_fraction=1.0, per_weight=6, attention=True, fraction=True):
    H, L, I, V = config.hidden_size, config.num_hidden_layers, config.intermediate_size, config.vocab_size
    head = (mlm_fraction if fraction else 1.0) * (H * H + V * H)
    return per_weight * (L * (4 * H * H + 2 * H * I) + head) + (12 * L * seq_len * H if attention else 0)


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "flops_per_token": Exercise(lesson="08", check="check_flops_per_token", hints=(
        "Training costs 6 FLOPs per weight per token that passes through it (2 forward, 4 backward), plus "
        "the attention products, which have no weights.",
        "Weights a token meets: each layer's 4H² + 2HI, and the MLM head's H² + VH, but only at mlm_fraction "
        "of the positions. Multiply by 6. Add QKᵀ and AV: 12 · L · seq_len · H per token.",
        "6 * (L * (4 * H * H + 2 * H * I) + mlm_fraction * (H * H + V * H)) + 12 * L * seq_len * H",
    )),
}


# The common mistakes of the exercise, as code (see checks/attention.py).
MISTAKES = {
    "flops_per_token": {
        "forward only: 2 FLOPs per weight instead of 6": lambda c, T, f=1.0: _flops(c, T, f, per_weight=2),
        "the attention products (QKᵀ and AV) left out": lambda c, T, f=1.0: _flops(c, T, f, attention=False),
        "the MLM head counted at every position, whatever mlm_fraction says": lambda c, T, f=1.0: _flops(c, T, f, fraction=False),
        "the decoder's V·H counted twice, once as the embedding table it is tied to": (
            lambda c, T, f=1.0: _flops(c, T, f) + 6 * c.vocab_size * c.hidden_size),
    },
}


def counted_flops_per_token(config, seq_len, mlm_fraction, batch_size=4, seed=0):
    """FLOPs per token of one forward + backward of BertForPreTraining, as torch's
    FlopCounterMode counts them while it runs (matmuls only; eager attention, so its two
    matmuls are counted too). mlm_fraction of the positions carry an MLM label."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg = BertConfig(**{**config.to_dict(), "attn_implementation": "eager",
                        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    g = torch.Generator().manual_seed(seed)
    model = BertForPreTraining(cfg)
    B, T = batch_size, seq_len
    ids = torch.randint(cfg.vocab_size, (B, T), generator=g)
    labels = torch.full_like(ids, IGNORE_INDEX)
    chosen = torch.randperm(B * T, generator=g)[:round(mlm_fraction * B * T)]
    labels.view(-1)[chosen] = ids.view(-1)[chosen]
    with FlopCounterMode(display=False) as counter:
        out = model(ids, mlm_labels=labels, nsp_labels=torch.zeros(B, dtype=torch.long),
                    sparse_mlm=mlm_fraction < 1)
        out.loss.backward()
    return counter.get_total_flops() / (B * T)


def check_flops_per_token(flops_per_token):
    cases = [
        ("tiny, V=1000, T=64, every position predicted", BertConfig.from_preset("tiny", vocab_size=1000), 64, 1.0),
        ("tiny, V=1000, T=64, 15% predicted (sparse head)", BertConfig.from_preset("tiny", vocab_size=1000), 64, 0.15),
        ("L3/H64, intermediate 100, V=300, T=32, 40% predicted",
         BertConfig(vocab_size=300, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                    intermediate_size=100, max_position_embeddings=64), 32, 0.4),
    ]
    for description, config, T, fraction in cases:
        got = call("flops_per_token", flops_per_token, config, T, fraction)
        counted = counted_flops_per_token(config, T, fraction)
        # The formula leaves out the pooler and NSP head (once per sequence): well under 1%.
        if not isinstance(got, (int, float)) or abs(got - counted) > 0.01 * counted:
            raise CheckFailed(
                f"✗ flops_per_token, case «{description}»: you give {got!r}, torch counted "
                f"{counted:,.0f} FLOPs per token (forward + backward).\n  hint: "
                + first_hint("flops_per_token"))
    print(f"✓ flops_per_token: all {len(cases)} cases within 1% of the FLOPs torch counts.")
