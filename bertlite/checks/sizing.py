"""Checks for bertlite/sizing.py (lesson 08: counting parameters).

The references are independent of the formulas: the counts come from building the real
modules and summing p.numel()."""

import random

from ..config import BertConfig
from ..embeddings import BertEmbeddings
from ..encoder import BertLayer
from .harness import Exercise, run_cases
from .hints import first_hint

__all__ = ["check_embedding_parameters", "check_layer_parameters", "MISTAKES"]


def numel(module):
    return sum(p.numel() for p in module.parameters())


def random_configs(n, seed=0):
    rng = random.Random(seed)
    configs = [("BERT-Base", BertConfig.from_preset("base")), ("BERT-Tiny", BertConfig.from_preset("tiny"))]
    for i in range(n):
        heads = rng.choice([1, 2, 4])
        cfg = BertConfig(vocab_size=rng.randint(10, 2000), hidden_size=heads * rng.randint(1, 24),
                         num_attention_heads=heads, num_hidden_layers=rng.randint(1, 6),
                         intermediate_size=rng.randint(1, 300), max_position_embeddings=rng.randint(8, 600),
                         type_vocab_size=rng.randint(1, 3))
        configs.append((f"random config {i}: V={cfg.vocab_size} H={cfg.hidden_size} I={cfg.intermediate_size} "
                        f"P={cfg.max_position_embeddings} S={cfg.type_vocab_size}", cfg))
    return configs


def real_count(module_class):
    def count(config):
        return numel(module_class(config))
    return count


def _embedding(c, rows=None, norm=2):
    H = c.hidden_size
    rows = c.vocab_size + c.max_position_embeddings + c.type_vocab_size if rows is None else rows
    return rows * H + norm * H


def _layer(c, biases=True, I=None, norms=2):
    H, I = c.hidden_size, c.intermediate_size if I is None else I
    b = 1 if biases else 0
    return 4 * (H * H + b * H) + (H * I + b * I) + (I * H + b * H) + norms * 2 * H


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "embedding_parameters": Exercise(lesson="08", check="check_embedding_parameters", hints=(
        "Three tables with one H-vector per row, and one LayerNorm.",
        "Rows: vocab_size + max_position_embeddings + type_vocab_size, each of H numbers. A LayerNorm has a "
        "weight and a bias of H each.",
        "(V + P + S) * H + 2 * H",
    )),
    "layer_parameters": Exercise(lesson="08", check="check_layer_parameters", hints=(
        "Count the weights and biases of every Linear in the block, and the two LayerNorms.",
        "A Linear(n_in, n_out) has n_in·n_out weights and n_out biases. The block has four H -> H Linears "
        "(query, key, value, dense), one H -> I, one I -> H, and two LayerNorms of 2H each.",
        "4 * (H * H + H) + (H * I + I) + (I * H + H) + 2 * (2 * H)",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py).
MISTAKES = {
    "embedding_parameters": {
        "the count without the LayerNorm's 2H": lambda c: _embedding(c, norm=0),
        "the count without the position table": lambda c: _embedding(c, rows=c.vocab_size + c.type_vocab_size),
        "the count without the segment table": lambda c: _embedding(c, rows=c.vocab_size + c.max_position_embeddings),
        "the LayerNorm counted as H (its weight only)": lambda c: _embedding(c, norm=1),
    },
    "layer_parameters": {
        "the count without the biases": lambda c: _layer(c, biases=False),
        "the feed-forward taken as 4H wide whatever intermediate_size says": lambda c: _layer(c, I=4 * c.hidden_size),
        "one LayerNorm instead of two": lambda c: _layer(c, norms=1),
        "12H² only (the weights of the six matrices, at I = 4H)": lambda c: 12 * c.hidden_size ** 2,
    },
}


def check_embedding_parameters(embedding_parameters):
    cases = [(d, (c,)) for d, c in random_configs(10)]
    run_cases("embedding_parameters", embedding_parameters, real_count(BertEmbeddings), cases,
              hint=first_hint("embedding_parameters"), mistakes=MISTAKES["embedding_parameters"])


def check_layer_parameters(layer_parameters):
    cases = [(d, (c,)) for d, c in random_configs(10, seed=1)]
    run_cases("layer_parameters", layer_parameters, real_count(BertLayer), cases,
              hint=first_hint("layer_parameters"), mistakes=MISTAKES["layer_parameters"])


