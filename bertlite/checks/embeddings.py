"""Checks for bertlite/embeddings.py (lesson 02: the input embeddings)."""

import torch

from .. import embeddings as ref
from ..config import BertConfig
from .harness import call, copy_weights, run_cases
from .hints import first_hint

__all__ = ["check_bert_embeddings", "check_sinusoidal_positions"]


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
    run_cases("BertEmbeddings (eval mode)", run(learner, False), run(reference, False), cases, hint=hint)
    train_cases = [("training mode: dropout after LayerNorm", cases[6][1])]
    run_cases("BertEmbeddings (training mode)", run(learner, True), run(reference, True), train_cases,
              hint=first_hint("BertEmbeddings"))


def check_sinusoidal_positions(sinusoidal_positions):
    cases = [(f"num_positions={p}, dim={d}", (p, d)) for p, d in [(1, 2), (4, 2), (6, 4), (10, 8), (50, 16), (128, 64)]]
    run_cases(
        "sinusoidal_positions", sinusoidal_positions, ref.sinusoidal_positions, cases, atol=1e-4,
        hint=first_hint("sinusoidal_positions"),
    )
