"""Checks for bertlite/encoder.py (lesson 04: the encoder).

Each check builds bertlite's module and the learner's from the same config, copies the
reference's weights into the learner's, and compares outputs on random inputs with padding
masks: in eval mode, and in train mode with dropout p = 0 (which must compute the same)."""

import torch

from .. import encoder as ref
from ..attention import padding_mask
from ..config import BertConfig
from .harness import CheckFailed, Exercise, call, copy_weights, run_cases, variant
from .hints import first_hint

__all__ = ["check_bert_layer", "check_bert_pooler", "check_bert_model", "MISTAKES"]


def _no_residual(self, x, mask=None):
    x = self.attention_norm(self.dropout(self.attention(x, mask)))
    return self.output_norm(self.dropout(self.feed_forward(x)))


def _norm_before_add(self, x, mask=None):
    x = x + self.attention_norm(self.dropout(self.attention(x, mask)))
    return x + self.output_norm(self.dropout(self.feed_forward(x)))


def _pre_ln(self, x, mask=None):
    x = x + self.dropout(self.attention(self.attention_norm(x), mask))
    return x + self.dropout(self.feed_forward(self.output_norm(x)))


def _no_mask(self, x, mask=None):
    x = self.attention_norm(x + self.dropout(self.attention(x)))
    return self.output_norm(x + self.dropout(self.feed_forward(x)))


def _model(mask_of, with_types=True):
    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        x = self.embeddings(input_ids, token_type_ids if with_types else None)
        mask = None if attention_mask is None else mask_of(attention_mask, x.dtype)
        for layer in self.layers:
            x = layer(x, mask)
        return x, self.pooler(x)
    return forward


# Each exercise this module checks: the lesson that teaches it, the check its notebook calls,
# and its hints in three tiers (1: the idea, 2: the steps, 3: nearly the code), which hints.py
# hands out one at a time. A find-the-bug exercise hands the learner broken code to fix.
EXERCISES = {
    "BertLayer": Exercise(lesson="04", check="check_bert_layer", hints=(
        "Post-LN: each sublayer's output, after dropout, is added to its input, and the sum is normalised.",
        "Two lines, the same pattern twice: first with the attention (it takes the mask) and attention_norm, "
        "then with feed_forward and output_norm. Dropout goes on the sublayer's output, before the add.",
        "x = attention_norm(x + dropout(attention(x, mask))); return output_norm(x + dropout(feed_forward(x)))",
    )),
    "BertPooler": Exercise(lesson="04", check="check_bert_pooler", hints=(
        "The sentence vector is the first position's ([CLS]) final state, through one dense layer and a tanh.",
        "Take position 0 of every sequence (a (B, H) tensor), apply self.dense, then torch.tanh.",
        "torch.tanh(self.dense(sequence_output[:, 0]))",
    )),
    "BertModel": Exercise(lesson="04", check="check_bert_model", hints=(
        "Embeddings, then every layer in order with the same additive mask, then the pooler on the result.",
        "Embed the ids and segments. Turn attention_mask into lesson 03's additive mask (None when no mask "
        "is given). Run each layer on the running tensor. Apply final_norm if the model has one (pre-LN). "
        "Return the sequence output and the pooled output.",
        "x = self.embeddings(ids, types); mask = padding_mask(attention_mask, x.dtype) if given else None; "
        "for layer in self.layers: x = layer(x, mask); ...; return x, self.pooler(x)",
    )),
}


# The common mistakes of each exercise, as code (see checks/attention.py): forward(self, ...) of
# the reference module.
MISTAKES = {
    "BertLayer": {
        "the layer without its residual connections": _no_residual,
        "the LayerNorm before the residual add (x + LN(sublayer(x)))": _norm_before_add,
        "pre-LN (LN, sublayer, add) instead of BERT's post-LN": _pre_ln,
        "attention without the mask": _no_mask,
    },
    "BertPooler": {
        "mean pooling over the positions instead of the [CLS] state": lambda self, h: torch.tanh(self.dense(h.mean(1))),
        "the last position instead of [CLS]": lambda self, h: torch.tanh(self.dense(h[:, -1])),
        "the pooler without its tanh": lambda self, h: self.dense(h[:, 0]),
    },
    "BertModel": {
        "the attention mask ignored": _model(lambda m, dtype: None),
        "the 0/1 attention mask added to the scores as it is, not made additive with padding_mask": (
            _model(lambda m, dtype: m[:, None, None, :].to(dtype))),
        "token_type_ids not passed to the embeddings": _model(padding_mask, with_types=False),
    },
}

CONFIGS = [
    dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64),
    dict(vocab_size=40, hidden_size=24, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
         max_position_embeddings=12),
]


def twins(name, learner_cls, config):
    """The reference module and the learner's, holding the same weights."""
    torch.manual_seed(0)
    reference = getattr(ref, name)(config)
    learner = copy_weights(reference, call(name, learner_cls, config), name,
                           "Your __init__ differs from the lesson's: the exercise is forward only.")
    return reference, learner


def modes(config):
    """(description, config, train?) for eval mode and for train mode without dropout."""
    no_dropout = BertConfig(**{**config, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    return [("eval mode", BertConfig(**config), False), ("train mode, dropout p=0", no_dropout, True)]


def random_batch(config, B=3, T=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    T = min(T, config.max_position_embeddings)
    ids = torch.randint(1, config.vocab_size, (B, T), generator=g)
    token_type_ids = torch.randint(0, 2, (B, T), generator=g)
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, T - 2:] = 0  # two padding positions
    attention_mask[2, 1:] = 0  # [CLS] alone
    return ids, token_type_ids, attention_mask


def run_twins(name, learner_cls, make_cases, hint):
    """Every config, in both modes, in one run_cases call: each case carries its module pair."""
    cases = []
    for i, config in enumerate(CONFIGS):
        for description, cfg, train in modes(config):
            pair = twins(name, learner_cls, cfg)
            for module in pair:
                module.train(train)
            cases += [(f"config {i + 1} (H={cfg.hidden_size}, heads={cfg.num_attention_heads}), {description}, {what}",
                       (pair, *args)) for what, args in make_cases(cfg)]
    mistakes = {label: (lambda pair, *args, f=f: variant(pair[0], f)(*args)) for label, f in MISTAKES[name].items()}
    run_cases(f"{name}.forward", lambda pair, *args: pair[1](*args), lambda pair, *args: pair[0](*args),
              cases, hint=hint, atol=1e-5, mistakes=mistakes)


def check_bert_layer(BertLayer):
    def cases(cfg):
        g = torch.Generator().manual_seed(1)
        x = torch.randn(3, 7, cfg.hidden_size, generator=g)  # (B, T, H)
        attention_mask = random_batch(cfg)[2]
        return [("no mask", (x,)), ("padding mask", (x, padding_mask(attention_mask)))]

    run_twins(
        "BertLayer", BertLayer, cases,
        hint=first_hint("BertLayer"),
    )
    _check_layer_dropout(BertLayer)


def _check_layer_dropout(BertLayer):
    """In train mode BertLayer drops the sublayers' outputs before each residual add: two calls
    differ, and the output, which ends in a LayerNorm, has no run of exact zeros."""
    cfg = BertConfig(**{**CONFIGS[0], "hidden_dropout_prob": 0.5, "attention_probs_dropout_prob": 0.0})
    _, learner = twins("BertLayer", BertLayer, cfg)
    learner.train()
    x = torch.randn(3, 7, cfg.hidden_size, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    first, second = learner(x), learner(x)
    if torch.equal(first, second):
        raise CheckFailed("✗ BertLayer: in train mode, with hidden_dropout_prob=0.5, two calls gave the same output: "
                          "the layer applies no dropout.\n  hint: self.dropout(...) on the attention output and on "
                          "the feed-forward output, each before its residual add.")
    zeros = (first == 0).float().mean().item()
    if zeros > 0.1:
        raise CheckFailed(f"✗ BertLayer: in train mode {zeros:.0%} of the output is exactly 0: dropout comes after "
                          f"a LayerNorm. BERT drops the sublayer's output before the add, so the LayerNorm is last.\n"
                          f"  hint: x = norm(x + dropout(sublayer(x))), not dropout(norm(x + sublayer(x))).")
    print("✓ BertLayer: dropout in train mode, before each residual add")


def check_bert_pooler(BertPooler):
    def cases(cfg):
        g = torch.Generator().manual_seed(2)
        return [(f"sequence_output of shape (2, {T}, H)", (torch.randn(2, T, cfg.hidden_size, generator=g),))
                for T in (1, 5)]

    run_twins(
        "BertPooler", BertPooler, cases,
        hint=first_hint("BertPooler"),
    )


def check_bert_model(BertModel):
    def cases(cfg):
        ids, token_type_ids, attention_mask = random_batch(cfg)
        return [("input_ids only", (ids,)),
                ("token types and a padding mask", (ids, token_type_ids, attention_mask))]

    run_twins(
        "BertModel", BertModel, cases,
        hint=first_hint("BertModel"),
    )
