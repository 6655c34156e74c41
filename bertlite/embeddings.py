"""Lesson 02: BERT's input embeddings.

Each position's vector is the sum of three learned embeddings: which token it is, which
segment (sentence A or B) it belongs to, and where it sits. The sum is layer-normalised
and passed through dropout before the first encoder layer.
"""

import math

import torch
from torch import nn


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        # padding_idx: the [PAD] row starts at zero and never receives a gradient.
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids=None):
        """input_ids, token_type_ids (None: every token in segment 0): (B, T) -> (B, T, H), the sum of
        the word, segment and position embeddings, normalised, then dropout."""
        T = input_ids.shape[1]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        positions = torch.arange(T, device=input_ids.device)  # (T,), broadcast over the batch
        x = (
            self.word_embeddings(input_ids)  # (B, T, H): what the token is
            + self.token_type_embeddings(token_type_ids)  # (B, T, H): sentence A or B
            + self.position_embeddings(positions)  # (T, H): where it sits, the same in every row
        )
        return self.dropout(self.LayerNorm(x))  # normalise the sum, then regularise it


def sinusoidal_positions(num_positions, dim):
    """The fixed positions of "Attention Is All You Need", which BERT replaced by learned ones.

    Row p is [sin(p·w_0), cos(p·w_0), sin(p·w_1), cos(p·w_1), ...] with w_i = 10000^(-2i/dim).
    Returns (num_positions, dim).
    """
    positions = torch.arange(num_positions, dtype=torch.float32)[:, None]  # (P, 1)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (dim/2,)
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(positions * freqs)
    table[:, 1::2] = torch.cos(positions * freqs[: dim // 2])
    return table
