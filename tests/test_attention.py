"""Lesson 03: scaled dot-product attention equals PyTorch's fused kernel, padding gets exactly zero
weight, and multi-head self-attention (+ add & LayerNorm) equals transformers' BertAttention."""

import pytest
import torch
import torch.nn.functional as F

from bertlite.attention import BertAttention, merge_heads, padding_mask, scaled_dot_product_attention, split_heads
from bertlite.config import BertConfig
from bertlite.encoder import BertLayer


def qkv(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g) for _ in range(3)]


def test_matches_torch_without_mask():
    for shape in [(1, 1), (5, 8), (2, 3, 7, 16), (2, 4, 33, 64)]:
        q, k, v = qkv(*shape)
        diff = (scaled_dot_product_attention(q, k, v) - F.scaled_dot_product_attention(q, k, v)).abs().max()
        assert diff.item() <= 1e-6, (shape, diff.item())


def test_matches_torch_with_padding_and_causal_masks():
    q, k, v = qkv(3, 4, 9, 16)
    keep = torch.ones(3, 9, dtype=torch.long)
    keep[1, 6:] = 0
    keep[2, 2:] = 0
    pad = padding_mask(keep)  # (3, 1, 1, 9), additive
    causal = torch.zeros(9, 9).masked_fill(~torch.ones(9, 9, dtype=torch.bool).tril(), torch.finfo(torch.float32).min)
    for mask in (pad, causal, pad + causal.clamp(min=-1e30)):
        ours = scaled_dot_product_attention(q, k, v, mask)
        theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert (ours - theirs).abs().max().item() <= 1e-6
    # torch's boolean form (True = may attend) means the same thing
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=keep.bool()[:, None, None, :])
    assert (scaled_dot_product_attention(q, k, v, pad) - theirs).abs().max().item() <= 1e-6
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (scaled_dot_product_attention(q, k, v, causal) - theirs).abs().max().item() <= 1e-6


def test_gradients_match_torch():
    q, k, v = (t.requires_grad_() for t in qkv(2, 3, 6, 8))
    mask = padding_mask(torch.tensor([[1, 1, 1, 1, 0, 0], [1] * 6]))
    ours = torch.autograd.grad(scaled_dot_product_attention(q, k, v, mask).square().sum(), (q, k, v))
    theirs = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=mask).square().sum(), (q, k, v))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_padding_keys_get_exactly_zero_weight():
    T = 7
    q, k, _ = qkv(2, 2, T, 8)
    keep = torch.tensor([[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    # With v = I, the output rows are the attention weights themselves.
    weights = scaled_dot_product_attention(q, k, torch.eye(T), padding_mask(keep))  # (2, 2, T, T)
    assert weights[0, :, :, 4:].abs().max().item() == 0.0
    assert weights[0, :, :, :4].min().item() > 0.0
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, T))
    # so whatever the padding's values are, real tokens' outputs do not change
    v = torch.randn(2, 2, T, 8)
    v2 = v.clone()
    v2[0, :, 4:] = 1e4
    mask = padding_mask(keep)
    assert torch.equal(scaled_dot_product_attention(q, k, v, mask), scaled_dot_product_attention(q, k, v2, mask))


def test_fully_padded_row_is_finite():
    q, k, v = qkv(1, 1, 3, 4)
    out = scaled_dot_product_attention(q, k, v, padding_mask(torch.zeros(1, 3)))
    assert torch.isfinite(out).all()


def test_padding_mask_values():
    m = padding_mask(torch.tensor([[1, 1, 0]]), torch.float16)
    assert m.shape == (1, 1, 1, 3) and m.dtype == torch.float16
    assert m.flatten().tolist() == [0.0, 0.0, torch.finfo(torch.float16).min]


def test_split_heads_layout_and_merge_round_trip():
    x = torch.randn(2, 5, 12)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    for j in range(3):  # head j owns features 4j .. 4j+3, transformers' layout too
        assert torch.equal(h[:, j], x[..., 4 * j:4 * j + 4])
    assert torch.equal(merge_heads(h), x)


def test_hidden_size_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"hidden_size=100 is not divisible by num_attention_heads=12.*e\.g\. 10"):
        BertConfig(hidden_size=100, num_attention_heads=12)


def small_config(**kw):
    return BertConfig(vocab_size=50, hidden_size=32, num_attention_heads=4, **kw)


def test_eager_and_sdpa_agree():
    torch.manual_seed(0)
    eager = BertAttention(small_config(attn_implementation="eager")).eval()
    sdpa = BertAttention(small_config(attn_implementation="sdpa")).eval()
    sdpa.load_state_dict(eager.state_dict())
    x = torch.randn(3, 10, 32)
    keep = torch.ones(3, 10)
    keep[0, 7:] = 0
    for mask in (None, padding_mask(keep)):
        with torch.no_grad():
            assert (eager(x, mask) - sdpa(x, mask)).abs().max().item() <= 1e-6


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_matches_transformers_bert_attention(impl):
    """transformers' BertAttention = self-attention + BertSelfOutput (dense, dropout, add & LayerNorm);
    in bertlite that is BertAttention plus BertLayer's attention_norm."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.bert.modeling_bert import BertAttention

    fields = dict(vocab_size=50, hidden_size=32, num_attention_heads=4, intermediate_size=64)
    hf_config = transformers.BertConfig(**fields)
    hf_config._attn_implementation = impl
    torch.manual_seed(0)
    hf = BertAttention(hf_config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.normal_(0.0, 0.3)
    layer = BertLayer(BertConfig(**fields, attn_implementation=impl)).eval()
    sa, so = hf.self.state_dict(), hf.output.state_dict()
    layer.attention.load_state_dict({**{k: v for k, v in sa.items()},
                                     "dense.weight": so["dense.weight"], "dense.bias": so["dense.bias"]})
    layer.attention_norm.load_state_dict({"weight": so["LayerNorm.weight"], "bias": so["LayerNorm.bias"]})
    x = torch.randn(3, 12, 32)
    keep = torch.ones(3, 12, dtype=torch.long)
    keep[1, 8:] = 0
    keep[2, 3:] = 0
    mask = padding_mask(keep)
    with torch.no_grad():
        ours = layer.attention_norm(x + layer.attention(x, mask))
        theirs = hf(x, attention_mask=mask)[0]
    assert (ours - theirs).abs().max().item() <= 1e-6
