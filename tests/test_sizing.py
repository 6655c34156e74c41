"""Lesson 08: the closed-form parameter count against real models (bertlite's and
transformers'), the published numbers, and the one FLOPs formula (bertlite.flops) against
PyTorch's FLOP counter."""

import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bertlite import BertConfig, BertForPreTraining, BertModel, approx_parameters, count_parameters
from bertlite import sizing
from bertlite.flops import flops_per_token
from bertlite.masking import IGNORE_INDEX
from bertlite.sizing import parameter_breakdown, training_memory

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


def measured_training_flops(config, seq_len, mlm_fraction=1.0, batch=2):
    """FLOPs that PyTorch's counter sees in one forward + backward pass of BertForPreTraining
    (matmuls only), per token: (total, attention's bmm's). mlm_fraction=1.0 labels every
    position and runs the dense head, on the meta device (shapes only: BERT-Base costs
    nothing); below 1 the first round(mlm_fraction·T) positions of each sequence carry a label
    and the sparse head runs, on the CPU (its gather needs real values)."""
    sparse = mlm_fraction < 1
    with torch.device("cpu" if sparse else "meta"):
        model = BertForPreTraining(config)
        ids = torch.zeros(batch, seq_len, dtype=torch.long)
        labels = ids.clone()
        labels[:, round(mlm_fraction * seq_len):] = IGNORE_INDEX
        nsp = torch.zeros(batch, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter:
        model(ids, mlm_labels=labels, nsp_labels=nsp, sparse_mlm=sparse).loss.backward()
    flops = counter.get_flop_counts()["Global"]
    attention = sum(v for op, v in flops.items() if "bmm" in str(op) or "attention" in str(op))
    return counter.get_total_flops() / (batch * seq_len), attention / (batch * seq_len)


def once_per_sequence(config, seq_len):
    """The pooler (H x H) and the NSP head (H x 2) run on [CLS] only: 6·(H² + 2H) per
    sequence, the one thing flops_per_token leaves out."""
    H = config.hidden_size
    return 6 * (H * H + 2 * H) / seq_len


@pytest.mark.parametrize("preset,seq_len", [("base", 128), ("base", 512), ("large", 128), ("tiny", 128), ("tiny", 512)])
def test_training_flops_against_the_flop_counter(preset, seq_len):
    config = BertConfig.from_preset(preset, attn_implementation="eager")  # attention as two visible bmm's
    total, attention = measured_training_flops(config, seq_len)
    L, H = config.num_hidden_layers, config.hidden_size
    assert attention == 12 * L * seq_len * H  # the attention term is exact
    formula = flops_per_token(config, seq_len)  # dense MLM head: mlm_fraction=1.0
    # Every matmul that runs per token is counted: the formula misses only the pooler and the
    # NSP head, once per sequence (4e-5 of the total for BERT-Base at T=128).
    assert total - formula == pytest.approx(once_per_sequence(config, seq_len), rel=1e-9)
    assert 0 < (total - formula) / total < 2e-4


@pytest.mark.parametrize("seq_len,labelled", [(64, 10), (64, 32), (32, 5)])
def test_sparse_head_flops_against_the_flop_counter(seq_len, labelled):
    """With sparse_mlm the MLM head runs only at the labelled positions: the formula's
    mlm_fraction term, checked against the counter (a small model, on the CPU)."""
    mlm_fraction = labelled / seq_len  # 10 of 64 is BERT's 15%, near enough
    config = BertConfig.from_preset("tiny", vocab_size=1000, attn_implementation="eager")
    total, _ = measured_training_flops(config, seq_len, mlm_fraction)
    formula = flops_per_token(config, seq_len, mlm_fraction)
    assert total - formula == pytest.approx(once_per_sequence(config, seq_len), rel=1e-9)
    dense = flops_per_token(config, seq_len)
    H, V = config.hidden_size, config.vocab_size
    assert dense - formula == pytest.approx(6 * (H * H + V * H) * (1 - mlm_fraction))


def test_one_flops_formula():
    """Lesson 08's budget, pretrain's MFU and the benchmark use bertlite.flops.flops_per_token;
    sizing no longer has a formula of its own."""
    assert not hasattr(sizing, "training_flops_per_token")
    base = BertConfig.from_preset("base")
    # BERT-Base, T=128, dense head: 6 · (85.0M encoder weights + 24.0M head weights) + 14.2M
    assert flops_per_token(base, 128) == 6 * (12 * 12 * 768**2 + 768**2 + 30522 * 768) + 12 * 12 * 128 * 768
    assert flops_per_token(base, 128) == 667_948_032
