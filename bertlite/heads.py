"""Lessons 05-07: the two pre-training heads and BertForPreTraining.

    MLM head:  h -> dense -> GELU -> LayerNorm -> · Eᵀ + b      (E: the token embeddings, tied)
    NSP head:  pooled [CLS] -> linear -> 2 logits                (0 = IsNext, 1 = NotNext)
    loss    =  CrossEntropy(MLM, at the chosen positions) + CrossEntropy(NSP)
"""

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import BertModel, init_weights
from .masking import IGNORE_INDEX



class BertLMPredictionHead(nn.Module):
    """The MLM head: a transform (dense, GELU, LayerNorm), then a decoder to V scores whose weight is
    the word-embedding matrix itself (tied) and whose bias is its own."""

    def __init__(self, config, word_embeddings: nn.Embedding):
        super().__init__()
        H, V = config.hidden_size, config.vocab_size
        self.transform = nn.Linear(H, H)
        self.LayerNorm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(H, V)  # V·H weights shared with the input embeddings, own bias
        self.decoder.weight = word_embeddings.weight  # tying: one matrix, read both ways

    def forward(self, h):
        # h: (..., H) -> logits over the vocabulary (..., V)
        return self.decoder(self.LayerNorm(F.gelu(self.transform(h))))


@dataclass
class PreTrainingOutput:
    loss: Optional[torch.Tensor]  # mlm_loss + nsp_loss (those whose labels were given)
    mlm_logits: torch.Tensor  # (B, T, V); with sparse_mlm=True (N, V), N = masked positions
    nsp_logits: torch.Tensor  # (B, 2)
    mlm_loss: Optional[torch.Tensor] = None
    nsp_loss: Optional[torch.Tensor] = None


def masked_positions(sequence_output, mlm_labels):
    """The sparse MLM head's gather: the states (N, H) and labels (N,) of the N positions whose
    label is not -100, so the vocabulary projection runs on those alone (lesson 10)."""
    chosen = mlm_labels != IGNORE_INDEX  # (B, T)
    return sequence_output[chosen], mlm_labels[chosen]


class BertForPreTraining(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.mlm_head = BertLMPredictionHead(config, self.bert.embeddings.word_embeddings)
        self.nsp_head = nn.Linear(config.hidden_size, 2)
        for module in (self.mlm_head.transform, self.mlm_head.LayerNorm, self.nsp_head):
            init_weights(module, config.initializer_range)
        nn.init.zeros_(self.mlm_head.decoder.bias)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None,
                mlm_labels=None, nsp_labels=None, sparse_mlm=False):
        """mlm_labels: (B, T), the original id where a token was chosen, -100 elsewhere.
        nsp_labels: (B,), 0 = B follows A, 1 = B is random.
        sparse_mlm=True (a named speed option, lesson 10) runs the MLM head only at the
        labelled positions: the loss is the same, mlm_logits become (N, V)."""
        sequence_output, pooled_output = self.bert(input_ids, token_type_ids, attention_mask)
        mlm_targets = mlm_labels
        if sparse_mlm:
            if mlm_labels is None:
                raise ValueError("sparse_mlm=True needs mlm_labels: they say which positions to predict.")
            sequence_output, mlm_targets = masked_positions(sequence_output, mlm_labels)  # (N, H), (N,)
        mlm_logits = self.mlm_head(sequence_output)
        nsp_logits = self.nsp_head(pooled_output)

        mlm_loss = nsp_loss = None
        if mlm_targets is not None:
            mlm_loss = F.cross_entropy(
                mlm_logits.reshape(-1, mlm_logits.shape[-1]).float(), mlm_targets.reshape(-1),
                ignore_index=IGNORE_INDEX,
            )
        if nsp_labels is not None:
            nsp_loss = F.cross_entropy(nsp_logits.float(), nsp_labels.reshape(-1))
        given = [l for l in (mlm_loss, nsp_loss) if l is not None]
        loss = sum(given) if given else None
        return PreTrainingOutput(loss, mlm_logits, nsp_logits, mlm_loss, nsp_loss)
