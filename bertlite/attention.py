"""Lesson 03: scaled dot-product attention and its multi-head form.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + mask) V

BERT attends in both directions: every token sees every other non-padding token.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None, dropout_p=0.0):
    """q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, d_v). mask: additive, broadcastable to
    (..., Tq, Tk): 0 where a query may look, a large negative number where it may not.
    Returns (..., Tq, d_v)."""
    # Dividing by √d keeps the scores at unit scale whatever the head size (lesson 03's plot).
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(dim=-1)  # each row sums to 1
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)  # BERT drops whole attention links
    return weights @ v


def padding_mask(attention_mask, dtype=torch.float32):
    """(B, T) of 1 = real token, 0 = padding  ->  additive (B, 1, 1, T) mask.

    Padding keys get the most negative finite number, so softmax gives them weight 0.
    The two singleton axes broadcast over heads and query positions."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def split_heads(x, num_heads):
    """(B, T, H) -> (B, heads, T, H / heads)"""
    B, T, H = x.shape
    return x.view(B, T, num_heads, H // num_heads).transpose(1, 2)


def merge_heads(x):
    """(B, heads, T, d) -> (B, T, heads·d)"""
    B, h, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d)


class BertAttention(nn.Module):
    """Multi-head self-attention with its output projection: Hugging Face's BertAttention without
    its LayerNorm, which lives in BertLayer. (Hugging Face's BertSelfAttention is Q, K and V only.)"""

    def __init__(self, config):
        super().__init__()
        H = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)
        self.dense = nn.Linear(H, H)  # mixes the heads' outputs back together
        self.dropout_p = config.attention_probs_dropout_prob
        self.implementation = config.attn_implementation

    def forward(self, x, mask=None):
        # x: (B, T, H); mask: additive (B, 1, 1, T) or None
        q = split_heads(self.query(x), self.num_heads)  # (B, h, T, d)
        k = split_heads(self.key(x), self.num_heads)
        v = split_heads(self.value(x), self.num_heads)
        p = self.dropout_p if self.training else 0.0
        if self.implementation == "sdpa":
            # The same arithmetic as scaled_dot_product_attention above, in one fused kernel
            # (flash or memory-efficient attention on a GPU). Lesson 03 proves they agree.
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            out = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
        return self.dense(merge_heads(out))  # (B, T, H)
