"""BertModel (lesson 04): parity with transformers' BertModel, input checks, and BERT's exact
choices (erf GELU, LayerNorm eps 1e-12, N(0, 0.02) initialisation)."""

import math

import pytest
import torch
import torch.nn.functional as F

from bertlite import BertConfig, BertModel, load_hf_state_dict
from bertlite.encoder import BertLayer

transformers = pytest.importorskip("transformers")

# Shapes chosen to catch shape bugs: an odd feed-forward size, one layer, one head, many small
# heads (d = 4), a third segment type, and short position tables.
CONFIGS = {
    "odd-intermediate": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37),
    "one-layer-one-head": dict(vocab_size=50, hidden_size=24, num_hidden_layers=1, num_attention_heads=1, intermediate_size=96),
    "many-heads": dict(vocab_size=120, hidden_size=48, num_hidden_layers=3, num_attention_heads=12, intermediate_size=101, max_position_embeddings=20),
    "three-segments": dict(vocab_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=16, intermediate_size=257, type_vocab_size=3, max_position_embeddings=16),
}


def make_inputs(config, B=4, T=16, seed=0):
    """Random ids and segments, with rows padded by different amounts (row 3: [CLS] only)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, config["vocab_size"], (B, T), generator=g)
    token_type_ids = torch.randint(0, config.get("type_vocab_size", 2), (B, T), generator=g)
    attention_mask = torch.ones(B, T, dtype=torch.long)
    for row, length in zip(range(1, B), (T - 5, 3, 1)):
        attention_mask[row, length:] = 0
        ids[row, length:] = 0  # [PAD]
    return ids, token_type_ids, attention_mask


def hf_and_ours(kw, implementation, seed=0):
    torch.manual_seed(seed)
    hf = transformers.BertModel(transformers.BertConfig(**kw, attn_implementation=implementation)).eval()
    ours = BertModel(BertConfig(**kw, attn_implementation=implementation)).eval()
    load_hf_state_dict(ours, hf.state_dict())
    return hf, ours


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_parity_with_transformers(name, implementation):
    kw = CONFIGS[name]
    hf, ours = hf_and_ours(kw, implementation)
    T = min(16, kw.get("max_position_embeddings", 512))
    worst = 0.0
    for ids, tt, am in [make_inputs(kw, T=T), (make_inputs(kw, T=T)[0], None, None)]:
        with torch.no_grad():
            expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am)
            sequence_output, pooled_output = ours(ids, tt, am)
        assert sequence_output.shape == (ids.shape[0], T, kw["hidden_size"])
        assert pooled_output.shape == (ids.shape[0], kw["hidden_size"])
        # Padding positions carry no meaning, but both models compute them the same way.
        seq_diff = (sequence_output - expected.last_hidden_state).abs().max().item()
        pool_diff = (pooled_output - expected.pooler_output).abs().max().item()
        worst = max(worst, seq_diff, pool_diff)
        assert seq_diff <= 1e-5 and pool_diff <= 1e-5, (seq_diff, pool_diff)
    print(f"parity {name}/{implementation}: max abs diff {worst:.3g}")


def test_parity_in_train_mode_without_dropout():
    """With p = 0, train mode must compute exactly what eval mode computes."""
    kw = dict(CONFIGS["odd-intermediate"], hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    hf, ours = hf_and_ours(kw, "eager")
    hf.train(), ours.train()
    ids, tt, am = make_inputs(kw)
    expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am)
    sequence_output, pooled_output = ours(ids, tt, am)
    diff = max((sequence_output - expected.last_hidden_state).abs().max().item(),
               (pooled_output - expected.pooler_output).abs().max().item())
    print(f"parity in train mode, p=0: max abs diff {diff:.3g}")
    assert diff <= 1e-5


def test_padding_does_not_change_real_tokens():
    """A sentence's vectors must not depend on how much padding follows it."""
    torch.manual_seed(0)
    model = BertModel(BertConfig(**CONFIGS["odd-intermediate"])).eval()
    ids = torch.randint(1, 99, (1, 7))
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 7), torch.zeros(1, 5)], dim=1).long()
    with torch.no_grad():
        alone, pooled_alone = model(ids)
        with_pad, pooled_pad = model(padded, attention_mask=mask)
    torch.testing.assert_close(with_pad[:, :7], alone, atol=1e-6, rtol=0)
    torch.testing.assert_close(pooled_pad, pooled_alone, atol=1e-6, rtol=0)


# ---- bad input: ValueError that names the problem, with the numbers, and the fix ----

@pytest.fixture(scope="module")
def small():
    return BertModel(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=32, max_position_embeddings=8)).eval()


def test_sequence_longer_than_positions(small):
    with pytest.raises(ValueError, match=r"length 9 .*max_position_embeddings=8.*Truncate"):
        small(torch.ones(1, 9, dtype=torch.long))
    small(torch.ones(1, 8, dtype=torch.long))  # exactly the limit is fine


@pytest.mark.parametrize("bad", [30, 31, -1])
def test_token_id_outside_vocabulary(small, bad):
    ids = torch.ones(2, 5, dtype=torch.long)
    ids[1, 3] = bad
    with pytest.raises(ValueError, match=rf"contains {bad}, outside the vocabulary \[0, 30\).*vocab_size"):
        small(ids)


@pytest.mark.parametrize("argument", ["attention_mask", "token_type_ids"])
def test_shape_mismatch(small, argument):
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=rf"{argument} has shape \(2, 4\) but input_ids has shape \(2, 5\)"):
        small(ids, **{argument: torch.ones(2, 4, dtype=torch.long)})


@pytest.mark.parametrize("bad", [2, -1])
def test_token_type_outside_range(small, bad):
    tt = torch.zeros(1, 5, dtype=torch.long)
    tt[0, 2] = bad
    with pytest.raises(ValueError, match=rf"token_type_ids contains {bad}.*sentence A"):
        small(torch.ones(1, 5, dtype=torch.long), token_type_ids=tt)


def test_one_dimensional_input(small):
    with pytest.raises(ValueError, match=r"expected \(batch, seq_len\).*unsqueeze"):
        small(torch.ones(5, dtype=torch.long))


def test_heads_must_divide_hidden_size():
    with pytest.raises(ValueError, match=r"hidden_size=100 is not divisible by num_attention_heads=12.*e\.g\. 10"):
        BertModel(BertConfig(hidden_size=100, num_attention_heads=12))


# ---- BERT's exact choices ----

def test_feed_forward_uses_exact_gelu():
    """BERT's GELU is x·Φ(x) with the erf, not the tanh approximation GPT-2 uses."""
    torch.manual_seed(0)
    layer = BertLayer(BertConfig(hidden_size=32, num_attention_heads=2, intermediate_size=64))
    x = 3 * torch.randn(4, 32)
    with torch.no_grad():
        u = layer.intermediate(x)
        erf_gelu = u * 0.5 * (1 + torch.erf(u / math.sqrt(2)))
        tanh_gelu = 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))
        got = layer.feed_forward(x)
    torch.testing.assert_close(got, layer.output_dense(erf_gelu), atol=1e-6, rtol=0)
    assert (got - layer.output_dense(tanh_gelu)).abs().max() > 1e-5  # the test can tell them apart


def test_layer_norm_eps():
    model = BertModel(BertConfig(**CONFIGS["odd-intermediate"]))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 1 + 2 * 2  # embeddings + two per layer (post-LN has no final norm)
    assert all(m.eps == 1e-12 for m in norms)


def test_post_layer_norm_block_by_hand():
    """BertLayer = LN(h + FFN(h)) with h = LN(x + Attn(x)): recomputed here from the
    module's own sublayers, with torch's layer_norm and F.gelu."""
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=32, num_attention_heads=4, intermediate_size=48)
    layer = BertLayer(cfg).eval()
    x = torch.randn(2, 6, 32)
    with torch.no_grad():
        h = F.layer_norm(x + layer.attention(x), (32,), layer.attention_norm.weight, layer.attention_norm.bias, 1e-12)
        ffn = layer.output_dense(F.gelu(layer.intermediate(h)))
        expected = F.layer_norm(h + ffn, (32,), layer.output_norm.weight, layer.output_norm.bias, 1e-12)
        torch.testing.assert_close(layer(x), expected, atol=1e-6, rtol=0)


def test_initialisation():
    """N(0, initializer_range = 0.02) weights, zero biases, LayerNorm at identity, [PAD] row zero."""
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=2000, hidden_size=256, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=1024))
    for name, p in model.named_parameters():
        if "norm" in name.lower():
            expected = 1.0 if name.endswith("weight") else 0.0
            assert torch.all(p == expected), name
        elif name.endswith("bias"):
            assert torch.all(p == 0), name
        else:
            w = p[1:] if name == "embeddings.word_embeddings.weight" else p
            assert abs(w.mean().item()) < 2e-3, name
            assert abs(w.std().item() - 0.02) < 1e-3, (name, w.std().item())
    assert torch.all(model.embeddings.word_embeddings.weight[0] == 0)  # pad_token_id = 0


# ---- BertModel's inputs: a wrong batch fails early, naming the value and the fix ----

INPUT_SIZES = dict(vocab_size=31, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   intermediate_size=48, max_position_embeddings=64)

@pytest.fixture(scope="module")
def encoder():
    return BertModel(BertConfig(**INPUT_SIZES)).eval()


def test_float_ids_are_refused_with_the_fix(encoder):
    with pytest.raises(TypeError, match=r"input_ids has dtype torch\.float32.*input_ids\.long\(\)"):
        encoder(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(TypeError, match=r"token_type_ids has dtype torch\.float32"):
        encoder(torch.tensor([[1, 2]]), torch.tensor([[0.0, 1.0]]))
    encoder(torch.tensor([[1, 2]], dtype=torch.int32))  # the other index type nn.Embedding takes


def test_an_empty_sequence_is_refused(encoder):
    with pytest.raises(ValueError, match=r"input_ids has shape \(2, 0\): sequences of length 0.*\[CLS\]"):
        encoder(torch.zeros(2, 0, dtype=torch.long))


@pytest.mark.parametrize("bad", [math.nan, 2.0, -1.0, 2, -1, 0.5])
def test_attention_mask_holds_only_zeros_and_ones(encoder, bad):
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.float if isinstance(bad, float) else torch.long)
    mask[0, 1] = bad
    with pytest.raises(ValueError, match=rf"attention_mask contains {bad}.*1 for a real token and 0 for padding"):
        encoder(torch.tensor([[2, 5, 6, 0]]), attention_mask=mask)


def test_every_valid_mask_type_gives_the_same_output(encoder):
    ids = torch.tensor([[2, 5, 6, 0]])
    outputs = [encoder(ids, attention_mask=torch.tensor([[1, 1, 1, 0]], dtype=dtype))[0]
               for dtype in (torch.bool, torch.long, torch.int32, torch.float32)]
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])
