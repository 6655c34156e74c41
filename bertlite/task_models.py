"""Lesson 09: fine-tuning. One small output layer per task, on top of a (pre-trained) BertModel.

    sequence classification:  pooled [CLS] -> dropout -> linear -> num_labels logits  (B, K)
    token classification:     each token's state -> dropout -> linear -> logits       (B, T, K)
    question answering:       each token's state -> linear -> start and end logits    (B, T) x 2
    multiple choice:          each (context, choice) pair's pooled [CLS] -> linear -> 1 score, softmax over choices

Every head keeps its encoder in `.bert`, so the weights of a pre-training checkpoint drop straight
in (`load_encoder`), and so do Hugging Face's task checkpoints (`bertlite.load_hf_state_dict`).
"""

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import BertModel, init_weights
from .masking import IGNORE_INDEX


@dataclass
class ClassifierOutput:
    loss: Optional[torch.Tensor]  # None when no labels were given
    logits: torch.Tensor  # (B, K) for a sequence, (B, T, K) for tokens, (B, C) for choices


@dataclass
class QuestionAnsweringOutput:
    loss: Optional[torch.Tensor]  # (CE(start) + CE(end)) / 2
    start_logits: torch.Tensor  # (B, T)
    end_logits: torch.Tensor  # (B, T)


class NoPooler(nn.Module):
    """Token-level heads never read the pooled [CLS] vector. Like Hugging Face (which builds
    their encoder with add_pooling_layer=False) they have no pooler weights at all."""

    def forward(self, sequence_output):
        return None


def check_labels(labels, shape, num_classes, name="labels", ignore_index=None):
    """A clear error for labels of the wrong shape, type or range, before they reach the loss
    (out-of-range class ids make cross_entropy fail with an opaque index error, on a GPU with
    a device-side assert)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(labels).__name__}; use torch.tensor(...).")
    if tuple(labels.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(labels.shape)}; expected {tuple(shape)}.")
    if labels.is_floating_point():
        raise ValueError(f"{name} are floats ({labels.dtype}); class ids must be integers: use .long().")
    valid = (labels >= 0) & (labels < num_classes)
    if ignore_index is not None:
        valid |= labels == ignore_index
    if not bool(valid.all()):
        bad = labels[~valid][0].item()
        allowed = f" or {ignore_index} (ignored)" if ignore_index is not None else ""
        raise ValueError(f"{name} contains {bad}; valid values are 0 .. {num_classes - 1}{allowed}.")


class BertForSequenceClassification(nn.Module):
    """One label per sequence (or sentence pair): sentiment, NLI, sentence order.
    num_labels == 1 makes it a regression (MSE on a real-valued target)."""

    def __init__(self, config, num_labels=2):
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"num_labels={num_labels}; use >= 2 for classes, 1 for regression.")
        self.config, self.num_labels = config, num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)  # the only new weights: (H + 1)·K
        init_weights(self.classifier, config.initializer_range)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None):
        """labels: (B,) class ids in [0, num_labels), or (B,) floats when num_labels == 1."""
        _, pooled_output = self.bert(input_ids, token_type_ids, attention_mask)  # (B, H)
        logits = self.classifier(self.dropout(pooled_output))  # (B, K)
        loss = None
        if labels is not None:
            B = input_ids.shape[0]
            if self.num_labels == 1:  # regression
                if tuple(labels.shape) != (B,):
                    raise ValueError(f"labels has shape {tuple(labels.shape)}; expected ({B},), one target per sequence.")
                loss = F.mse_loss(logits.squeeze(-1).float(), labels.float())
            else:
                check_labels(labels, (B,), self.num_labels)
                loss = F.cross_entropy(logits.float(), labels)
        return ClassifierOutput(loss, logits)


class BertForTokenClassification(nn.Module):
    """One label per token: named entities, punctuation restoration. Positions labelled -100
    (continuation sub-tokens, [CLS], [SEP], padding) do not count in the loss."""

    def __init__(self, config, num_labels):
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"num_labels={num_labels}; token classification needs at least 2 classes.")
        self.config, self.num_labels = config, num_labels
        self.bert = BertModel(config)
        self.bert.pooler = NoPooler()
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        init_weights(self.classifier, config.initializer_range)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None):
        """labels: (B, T) class ids, or -100 where a token has no label."""
        sequence_output, _ = self.bert(input_ids, token_type_ids, attention_mask)  # (B, T, H)
        logits = self.classifier(self.dropout(sequence_output))  # (B, T, K)
        loss = None
        if labels is not None:
            check_labels(labels, input_ids.shape, self.num_labels, ignore_index=IGNORE_INDEX)
            loss = F.cross_entropy(logits.reshape(-1, self.num_labels).float(), labels.reshape(-1),
                                   ignore_index=IGNORE_INDEX)
        return ClassifierOutput(loss, logits)


class BertForQuestionAnswering(nn.Module):
    """Extractive QA: the answer is a span of the context, [start, end], both inclusive.
    One linear layer maps each token to two numbers, its start score and its end score."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.bert.pooler = NoPooler()
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        init_weights(self.qa_outputs, config.initializer_range)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None,
                start_positions=None, end_positions=None):
        """start_positions, end_positions: (B,) token indices of the answer's first and last token."""
        sequence_output, _ = self.bert(input_ids, token_type_ids, attention_mask)  # (B, T, H)
        start_logits, end_logits = self.qa_outputs(sequence_output).unbind(-1)  # (B, T) each
        loss = None
        if (start_positions is None) != (end_positions is None):
            raise ValueError("give both start_positions and end_positions, or neither.")
        if start_positions is not None:
            B, T = input_ids.shape
            check_labels(start_positions, (B,), T, "start_positions")
            check_labels(end_positions, (B,), T, "end_positions")
            loss = (F.cross_entropy(start_logits.float(), start_positions)
                    + F.cross_entropy(end_logits.float(), end_positions)) / 2
        return QuestionAnsweringOutput(loss, start_logits, end_logits)


class BertForMultipleChoice(nn.Module):
    """C candidate continuations per example (SWAG): each [CLS] context [SEP] choice [SEP] gets
    one score, and a softmax over the C scores picks the answer."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, 1)
        init_weights(self.classifier, config.initializer_range)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None):
        """input_ids, token_type_ids, attention_mask: (B, C, T); labels: (B,) in [0, C)."""
        if input_ids.dim() != 3:
            raise ValueError(f"input_ids has shape {tuple(input_ids.shape)}; expected (batch, choices, seq_len).")
        B, C, T = input_ids.shape
        flat = [None if t is None else t.reshape(B * C, T) for t in (input_ids, token_type_ids, attention_mask)]
        _, pooled_output = self.bert(*flat)  # (B·C, H): every choice is a sequence of its own
        logits = self.classifier(self.dropout(pooled_output)).view(B, C)  # (B, C)
        loss = None
        if labels is not None:
            check_labels(labels, (B,), C)
            loss = F.cross_entropy(logits.float(), labels)
        return ClassifierOutput(loss, logits)


def load_encoder(head, encoder):
    """Copy a (pre-trained) BertModel's weights into head.bert; the head's own layer keeps its
    fresh initialisation. Returns the head. The pooler is left out where the head has none."""
    ours = head.bert.state_dict()
    weights = {k: v for k, v in encoder.state_dict().items() if k in ours or not k.startswith("pooler.")}
    head.bert.load_state_dict(weights, strict=True)  # any other missing or extra tensor is an error
    return head
