"""Lesson 04: the Transformer encoder block, the stack of L blocks, and BertModel.

BERT's block is post-LN: each sublayer's output is added to its input and *then*
layer-normalised.

    h = LayerNorm(x + Dropout(SelfAttention(x)))
    y = LayerNorm(h + Dropout(W2 · GELU(W1 · h)))        W1: H -> 4H, W2: 4H -> H
"""

import torch
import torch.nn.functional as F
from torch import nn

from .attention import BertAttention, padding_mask
from .embeddings import BertEmbeddings


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        H = config.hidden_size
        self.attention = BertAttention(config)
        self.attention_norm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(H, config.intermediate_size)  # H -> 4H
        self.output_dense = nn.Linear(config.intermediate_size, H)  # 4H -> H (Hugging Face: output.dense)
        self.output_norm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.pre_layer_norm = config.pre_layer_norm

    def feed_forward(self, x):
        return self.output_dense(F.gelu(self.intermediate(x)))  # F.gelu is the exact erf form

    def forward(self, x, mask=None):
        """x: (B, T, H), mask: additive (lesson 03) or None -> (B, T, H), by the two post-LN equations."""
        if self.pre_layer_norm:  # the named variant of lesson 10: normalise first, add after
            x = x + self.dropout(self.attention(self.attention_norm(x), mask))
            return x + self.dropout(self.feed_forward(self.output_norm(x)))
        x = self.attention_norm(x + self.dropout(self.attention(x, mask)))
        return self.output_norm(x + self.dropout(self.feed_forward(x)))


class BertPooler(nn.Module):
    """A sentence vector: dense + tanh on the first token's ([CLS]) final state."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, sequence_output):
        """sequence_output (B, T, H) -> pooled_output (B, H), from the first ([CLS]) position."""
        return torch.tanh(self.dense(sequence_output[:, 0]))  # (B, H)


class BertModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))
        # Pre-LN adds the block's output unnormalised, so one LayerNorm closes the stack.
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.pre_layer_norm else None
        self.pooler = BertPooler(config)
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        """input_ids, token_type_ids, attention_mask: (B, T).
        Returns (sequence_output (B, T, H), pooled_output (B, H))."""
        check_inputs(self.config, input_ids, token_type_ids, attention_mask)
        x = self.embeddings(input_ids, token_type_ids)
        mask = None if attention_mask is None else padding_mask(attention_mask, x.dtype)
        for layer in self.layers:
            x = layer(x, mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x, self.pooler(x)


def init_weights(module, std):
    """BERT's initialisation: N(0, 0.02) for weights, zero biases, LayerNorm at identity."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].zero_()
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def check_inputs(config, input_ids, token_type_ids=None, attention_mask=None):
    """Turn the index errors that bad inputs cause deep inside torch into messages that say
    what was wrong and what to do."""
    if input_ids.dim() != 2:
        raise ValueError(
            f"input_ids has shape {tuple(input_ids.shape)}; expected (batch, seq_len). "
            f"For one sequence use input_ids[None] (or .unsqueeze(0))."
        )
    for name, t in (("input_ids", input_ids), ("token_type_ids", token_type_ids)):
        if t is not None and t.dtype not in (torch.long, torch.int):  # the index types nn.Embedding takes
            raise TypeError(
                f"{name} has dtype {t.dtype}, but ids index an embedding table and must be integers. "
                f"Convert with {name}.long(), or take them from the tokenizer (return_tensors='pt')."
            )
    T = input_ids.shape[1]
    if T == 0:  # the pooler reads position 0, which an empty sequence lacks
        raise ValueError(
            f"input_ids has shape {tuple(input_ids.shape)}: sequences of length 0. Each needs at least "
            f"its [CLS] token; encode the text with the tokenizer, which adds [CLS] and [SEP]."
        )
    if T > config.max_position_embeddings:
        raise ValueError(
            f"sequence length {T} is longer than max_position_embeddings="
            f"{config.max_position_embeddings}: there is no position embedding for the rest. "
            f"Truncate the input (tokenizer max_length) or build the model with a larger "
            f"max_position_embeddings."
        )
    for name, t in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
        if t is not None and t.shape != input_ids.shape:
            raise ValueError(
                f"{name} has shape {tuple(t.shape)} but input_ids has shape "
                f"{tuple(input_ids.shape)}; they must match, one entry per token."
            )
    # Range checks read values back from the device, so they run only on the CPU; on a GPU
    # an out-of-range id stops the kernel with an indexing error instead.
    if input_ids.device.type == "cpu" and input_ids.numel():
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= config.vocab_size:
            bad = hi if hi >= config.vocab_size else lo
            raise ValueError(
                f"input_ids contains {bad}, outside the vocabulary [0, {config.vocab_size}). "
                f"Was the text encoded with a different vocab.txt? Make config.vocab_size "
                f"equal the tokenizer's vocab_size."
            )
        if token_type_ids is not None and token_type_ids.numel():
            lo, hi = int(token_type_ids.min()), int(token_type_ids.max())
            if lo < 0 or hi >= config.type_vocab_size:
                raise ValueError(
                    f"token_type_ids contains {lo if lo < 0 else hi}, outside [0, "
                    f"{config.type_vocab_size}) (type_vocab_size): use 0 for sentence A and 1 "
                    f"for sentence B."
                )
        if attention_mask is not None:
            # padding_mask computes 1 - mask: any value but 0 or 1 (a 2, a NaN) would skew attention.
            valid = (attention_mask == 0) | (attention_mask == 1)
            if not valid.all():
                raise ValueError(
                    f"attention_mask contains {attention_mask[~valid][0].item()}; it must hold 1 for a "
                    f"real token and 0 for padding (bool, int or float). Pass the tokenizer's "
                    f"attention_mask, or (input_ids != pad_token_id).long()."
                )
