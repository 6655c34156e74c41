"""Lesson 08: the closed-form parameter count against real models (bertlite's and
transformers'), the published numbers, and the FLOPs formula against PyTorch's FLOP counter."""

import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bertlite import BertConfig, BertForPreTraining, BertModel, approx_parameters, count_parameters
from bertlite.sizing import parameter_breakdown, training_flops_per_token, training_memory

MODELS = {"base": BertModel, "pretraining": BertForPreTraining}


def real_count(model_class, config):
    # Big models go on the meta device (shapes without memory: BERT-Large costs nothing);
    # small ones build faster on the CPU.
    big = config.vocab_size * config.hidden_size > 1_000_000
    with torch.device("meta" if big else "cpu"):
        model = model_class(config)
    return sum(p.numel() for p in model.parameters())  # tied tensors are listed once


def random_config(rng):
    heads = rng.randint(1, 6)
    return BertConfig(
        vocab_size=rng.randint(1, 5000), hidden_size=heads * rng.randint(1, 20),
        num_attention_heads=heads, num_hidden_layers=rng.randint(0, 5),
        intermediate_size=rng.randint(1, 400), max_position_embeddings=rng.randint(1, 1024),
        type_vocab_size=rng.randint(1, 4), pre_layer_norm=rng.random() < 0.3,
    )


def test_formula_equals_real_count_for_random_configs():
    rng = random.Random(1234)
    for _ in range(150):
        config = random_config(rng)
        for name, model_class in MODELS.items():
            assert count_parameters(config, name) == real_count(model_class, config), (name, config)


# Devlin et al. (2019) quote 110M and 340M; these are the exact counts of the released models
# (uncased vocabulary of 30,522 tokens), as transformers reports them.
OFFICIAL = {"base": (109_482_240, 110_106_428), "large": (335_141_888, 336_226_108)}


@pytest.mark.parametrize("preset", ["base", "large"])
def test_official_counts(preset):
    config = BertConfig.from_preset(preset)
    bare, pretraining = OFFICIAL[preset]
    assert count_parameters(config) == bare == real_count(BertModel, config)
    assert count_parameters(config, "pretraining") == pretraining == real_count(BertForPreTraining, config)


@pytest.mark.parametrize("preset", ["tiny", "mini", "small", "medium", "base"])
def test_counts_match_transformers(preset):
    transformers = pytest.importorskip("transformers")
    config = BertConfig.from_preset(preset)
    hf_config = transformers.BertConfig(**{k: v for k, v in config.to_dict().items()
                                           if k not in ("pre_layer_norm", "attn_implementation")})
    with torch.device("meta"):
        hf_bare = transformers.BertModel(hf_config)
        hf_pretraining = transformers.BertForPreTraining(hf_config)
    assert count_parameters(config) == sum(p.numel() for p in hf_bare.parameters())
    assert count_parameters(config, "pretraining") == sum(p.numel() for p in hf_pretraining.parameters())


def test_hand_computed_pieces():
    # BERT-Base by hand: V·H = 30522·768, 12·L·H² = 12·12·768².
    base = BertConfig.from_preset("base")
    assert approx_parameters(base) == 30522 * 768 + 12 * 12 * 768 * 768 == 108_375_552
    parts = parameter_breakdown(base, "pretraining")
    assert parts["embeddings"] == (30522 + 512 + 2) * 768 + 2 * 768
    assert parts["layers"] == 12 * (12 * 768**2 + 13 * 768)  # I = 4H
    assert parts["pooler"] == 768**2 + 768
    assert parts["heads"] == 768**2 + 768 + 2 * 768 + 30522 + 2 * 768 + 2
    assert parts["final LayerNorm"] == 0
    # Pre-LN adds one LayerNorm after the stack.
    assert count_parameters(BertConfig.from_preset("base", pre_layer_norm=True)) == 109_482_240 + 2 * 768


def test_bad_model_name():
    with pytest.raises(ValueError, match="'base'.*'pretraining'"):
        count_parameters(BertConfig.from_preset("tiny"), "bert")


def test_training_memory():
    n = 110_106_428
    assert sum(training_memory(n, "fp32").values()) == 16 * n  # 4 weights + 4 grads + 8 AdamW
    assert sum(training_memory(n, "bf16-mixed").values()) == 16 * n  # 2 + 2 + (4 master + 8)
    assert sum(training_memory(n, "bf16").values()) == 8 * n
    assert training_memory(n, "fp32")["weights"] == 4 * n
    with pytest.raises(ValueError, match="fp16"):
        training_memory(n, "fp16")


def measured_training_flops(config, seq_len, batch=2):
    """FLOPs that PyTorch's counter sees in one forward + backward pass (matmuls only), per token."""
    with torch.device("meta"):
        model = BertForPreTraining(config)
        ids = torch.zeros(batch, seq_len, dtype=torch.long)
        nsp = torch.zeros(batch, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter:
        model(ids, mlm_labels=ids, nsp_labels=nsp).loss.backward()
    flops = counter.get_flop_counts()["Global"]
    attention = sum(v for op, v in flops.items() if "bmm" in str(op) or "attention" in str(op))
    return counter.get_total_flops() / (batch * seq_len), attention / (batch * seq_len)


@pytest.mark.parametrize("preset,seq_len,tolerance", [("base", 128, 0.02), ("base", 512, 0.02), ("tiny", 128, 0.08)])
def test_training_flops_against_the_flop_counter(preset, seq_len, tolerance):
    config = BertConfig.from_preset(preset, attn_implementation="eager")  # attention as two visible bmm's
    total, attention = measured_training_flops(config, seq_len)
    L, H = config.num_hidden_layers, config.hidden_size
    assert attention == 12 * L * seq_len * H  # the attention term is exact
    formula = training_flops_per_token(config, seq_len)
    # 6N slightly over-counts: lookups, biases, LayerNorms and the once-per-sequence pooler/NSP
    # do no per-token matmul.
    assert formula >= total
    assert (formula - total) / total < tolerance
