"""Checks for bertlite/embeddings.py (lesson 02: the input embeddings)."""

import math

import torch

from .. import embeddings as ref
from ..config import BertConfig
from .harness import Exercise, call, copy_weights, run_cases, variant
from .hints import first_hint

__all__ = ["check_bert_embeddings", "check_sinusoidal_positions", "MISTAKES"]


def _embed(first_position=0, norm=True, types=True, dropout_first=False):
    def forward(self, input_ids, token_type_ids=None):
        T = input_ids.shape[1]
        token_type_ids = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
        x = self.word_embeddings(input_ids) + self.position_embeddings(torch.arange(first_position, first_position + T))
        x = x + self.token_type_embeddings(token_type_ids) if types else x
        if dropout_first:
            return self.LayerNorm(self.dropout(x))
        return self.dropout(self.LayerNorm(x) if norm else x)
    return forward


def _sinusoid(num_positions, dim, first=0, exponent=2, swap=False):
    p = torch.arange(first, first + num_positions, dtype=torch.float32)[:, None]
    w = torch.exp(-math.log(10000.0) * exponent * torch.arange(0, dim // 2, dtype=torch.float32) / dim)
    table = torch.zeros(num_positions, dim)
    table[:, 0::2], table[:, 1::2] = (torch.cos(p * w), torch.sin(p * w)) if swap else (torch.sin(p * w), torch.cos(p * w))
    return table


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "BertEmbeddings": Exercise(lesson="02", check="check_bert_embeddings", hints=(
        "Each token's vector is the sum of three lookups: what the token is, which segment it is in, and "
        "where it is. Then normalise, then (in training) drop out.",
        "Default the segments to all zeros when they are not given. Look up the word, segment and position "
        "(0 .. T-1, the same for every sequence) embeddings, add them, apply the LayerNorm, then dropout.",
        "positions = torch.arange(T, device=...); x = word(ids) + token_type(types) + position(positions); "
        "return self.dropout(self.LayerNorm(x))",
    )),
    "sinusoidal_positions": Exercise(lesson="02", check="check_sinusoidal_positions", hints=(
        "Each pair of columns is a sine and a cosine of the position at one frequency; the frequencies fall "
        "geometrically from 1 to 1/10000 across the columns.",
        "Make a column of positions (P, 1) and a row of dim/2 frequencies 10000^(-2i/dim). Their product is "
        "the angle table (P, dim/2). Even columns get its sine, odd columns its cosine.",
        "freqs = 10000 ** (-torch.arange(0, dim, 2) / dim); angles = positions[:, None] * freqs; "
        "table[:, 0::2] = sin(angles); table[:, 1::2] = cos(angles)",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "BertEmbeddings": {
        "positions counted from 1 instead of 0": _embed(first_position=1),
        "the embeddings without their LayerNorm": _embed(norm=False),
        "the segment (token type) embeddings left out": _embed(types=False),
        "dropout before the LayerNorm instead of after it": _embed(dropout_first=True),
    },
    "sinusoidal_positions": {
        "positions counted from 1 instead of 0": lambda n, dim: _sinusoid(n, dim, first=1),
        "sine and cosine swapped (cos in the even columns)": lambda n, dim: _sinusoid(n, dim, swap=True),
        "the frequency 10000^(-i/dim) instead of 10000^(-2i/dim)": lambda n, dim: _sinusoid(n, dim, exponent=1),
    },
}


def check_bert_embeddings(BertEmbeddings):
    """Build the learner's class and the reference on the same small config, give the learner's
    module the reference's weights, and compare their outputs on random ids and token types."""
    config = BertConfig(vocab_size=50, hidden_size=16, num_attention_heads=2, max_position_embeddings=12,
                        type_vocab_size=2, hidden_dropout_prob=0.1)
    torch.manual_seed(0)
    reference = ref.BertEmbeddings(config)
    with torch.no_grad():  # a LayerNorm at identity would hide a missing or misplaced LayerNorm
        reference.LayerNorm.weight.normal_(1.0, 0.2)
        reference.LayerNorm.bias.normal_(0.0, 0.2)
    learner = copy_weights(reference, call("BertEmbeddings", BertEmbeddings, config), "BertEmbeddings",
                           "Keep the submodule names word_embeddings, position_embeddings, "
                           "token_type_embeddings, LayerNorm, dropout and their sizes as in the cell.")

    def run(module, train):
        def forward(input_ids, token_type_ids):
            module.train(train)
            torch.manual_seed(1)  # the same dropout mask for both, if they do the same work
            with torch.no_grad():
                return module(input_ids, token_type_ids)
        return forward

    g = torch.Generator().manual_seed(0)
    cases = []
    for T in range(1, config.max_position_embeddings + 1):
        ids = torch.randint(0, config.vocab_size, (2, T), generator=g)
        types = torch.randint(0, config.type_vocab_size, (2, T), generator=g)
        cases.append((f"batch 2, length {T}, random token types", (ids, types)))
    ids = torch.randint(1, config.vocab_size, (3, 7), generator=g)
    cases.append(("token_type_ids=None (all sentence A)", (ids, None)))
    padded = ids.clone()
    padded[:, 4:] = config.pad_token_id
    cases.append(("padding at the end", (padded, torch.zeros_like(padded))))
    cases.append(("one sequence, full length", (torch.randint(0, 50, (1, 12), generator=g), None)))
    hint = first_hint("BertEmbeddings")

    def mistakes(train):
        return {label: run(variant(reference, f), train) for label, f in MISTAKES["BertEmbeddings"].items()}

    run_cases("BertEmbeddings (eval mode)", run(learner, False), run(reference, False), cases, hint=hint,
              mistakes=mistakes(False))
    train_cases = [("training mode: dropout after LayerNorm", cases[6][1])]
    run_cases("BertEmbeddings (training mode)", run(learner, True), run(reference, True), train_cases,
              hint=first_hint("BertEmbeddings"), mistakes=mistakes(True))


def check_sinusoidal_positions(sinusoidal_positions):
    cases = [(f"num_positions={p}, dim={d}", (p, d)) for p, d in [(1, 2), (4, 2), (6, 4), (10, 8), (50, 16), (128, 64)]]
    run_cases(
        "sinusoidal_positions", sinusoidal_positions, ref.sinusoidal_positions, cases, atol=1e-4,
        hint=first_hint("sinusoidal_positions"), mistakes=MISTAKES["sinusoidal_positions"],
    )
