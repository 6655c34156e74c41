"""Lesson 02: BertEmbeddings equals transformers' BertEmbeddings on the same weights, and the
sinusoidal table equals a hand computation of the formula in "Attention Is All You Need"."""

import math

import pytest
import torch

from bertlite.config import BertConfig
from bertlite.embeddings import BertEmbeddings, sinusoidal_positions

transformers = pytest.importorskip("transformers")
from transformers.models.bert.modeling_bert import BertEmbeddings as HFBertEmbeddings  # noqa: E402

CONFIGS = [
    dict(vocab_size=99, hidden_size=32, num_attention_heads=4, max_position_embeddings=20),
    dict(vocab_size=500, hidden_size=48, num_attention_heads=3, max_position_embeddings=64, type_vocab_size=3,
         pad_token_id=5, layer_norm_eps=1e-5),
]


def random_weights_pair(fields, seed=0):
    """Our module and transformers' with the same random weights (LayerNorm moved off identity)."""
    torch.manual_seed(seed)
    hf = HFBertEmbeddings(transformers.BertConfig(**fields)).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.normal_(0.0, 0.5)
    ours = BertEmbeddings(BertConfig(**fields)).eval()
    ours.load_state_dict(hf.state_dict())  # strict: the names are the same
    return ours, hf


@pytest.mark.parametrize("fields", CONFIGS)
def test_matches_transformers(fields):
    ours, hf = random_weights_pair(fields)
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    with torch.no_grad():
        for T in range(1, fields["max_position_embeddings"] + 1):
            ids = torch.randint(0, fields["vocab_size"], (3, T), generator=g)
            types = torch.randint(0, fields.get("type_vocab_size", 2), (3, T), generator=g)
            worst = max(worst, (ours(ids, types) - hf(input_ids=ids, token_type_ids=types)).abs().max().item())
            worst = max(worst, (ours(ids) - hf(input_ids=ids)).abs().max().item())  # token types default to 0
    assert worst <= 1e-6, worst


def test_matches_transformers_in_training_mode():
    """Same seed, same dropout mask: dropout sits where transformers puts it, after the LayerNorm."""
    ours, hf = random_weights_pair(CONFIGS[0])
    ours.train(), hf.train()
    ids = torch.randint(0, 99, (4, 11))
    torch.manual_seed(7)
    a = ours(ids)
    torch.manual_seed(7)
    b = hf(input_ids=ids)
    assert (a == 0).any()  # dropout did something
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_sum_then_layernorm_by_hand():
    ours, _ = random_weights_pair(CONFIGS[1])
    ids, types = torch.tensor([[7, 5, 42]]), torch.tensor([[0, 2, 1]])
    with torch.no_grad():
        got = ours(ids, types)
        for t in range(3):
            x = (ours.word_embeddings.weight[ids[0, t]] + ours.token_type_embeddings.weight[types[0, t]]
                 + ours.position_embeddings.weight[t])
            y = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-5)
            want = y * ours.LayerNorm.weight + ours.LayerNorm.bias
            torch.testing.assert_close(got[0, t], want, rtol=0, atol=1e-5)


def test_pad_row_is_zero_and_gets_no_gradient():
    emb = BertEmbeddings(BertConfig(vocab_size=30, hidden_size=16, num_attention_heads=2, pad_token_id=3))
    assert emb.word_embeddings.weight[3].abs().max().item() == 0.0
    emb(torch.tensor([[1, 3, 3, 2]])).pow(2).sum().backward()
    assert emb.word_embeddings.weight.grad[3].abs().max().item() == 0.0
    assert emb.word_embeddings.weight.grad[1].abs().max().item() > 0.0


def test_output_is_normalised_at_init():
    emb = BertEmbeddings(BertConfig(vocab_size=30, hidden_size=64, num_attention_heads=2)).eval()
    with torch.no_grad():
        out = emb(torch.randint(0, 30, (2, 9)))
    assert out.shape == (2, 9, 64)
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 9), rtol=0, atol=1e-5)
    torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(2, 9), rtol=0, atol=1e-4)


@pytest.mark.parametrize("P,dim", [(1, 2), (7, 4), (50, 16), (9, 5), (128, 64)])
def test_sinusoidal_positions_by_hand(P, dim):
    table = sinusoidal_positions(P, dim)
    assert table.shape == (P, dim) and table.dtype == torch.float32
    for p in range(P):
        for j in range(dim):
            angle = p / 10000 ** (2 * (j // 2) / dim)  # the paper: PE(p, 2i) = sin(p / 10000^(2i/d))
            want = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(table[p, j].item() - want) <= 5e-5, (p, j)


def test_sinusoidal_dot_product_depends_only_on_offset():
    table = sinusoidal_positions(64, 32).double()
    sim = table @ table.T
    for k in range(0, 20):
        diagonal = torch.diagonal(sim, offset=k)
        # sum_i sin(a)sin(b) + cos(a)cos(b) = sum_i cos((a - b)) : only the offset p - q counts
        want = sum(math.cos(k / 10000 ** (2 * i / 32)) for i in range(16))
        torch.testing.assert_close(diagonal, torch.full_like(diagonal, want), rtol=0, atol=1e-4)
