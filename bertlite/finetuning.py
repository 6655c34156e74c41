"""Lesson 09: fine-tuning. One small output layer per task, on top of a (pre-trained) BertModel.

    sequence classification:  pooled [CLS] -> dropout -> linear -> num_labels logits  (B, K)
    token classification:     each token's state -> dropout -> linear -> logits       (B, T, K)
    question answering:       each token's state -> linear -> start and end logits    (B, T) x 2
    multiple choice:          each (context, choice) pair's pooled [CLS] -> linear -> 1 score, softmax over choices

Every head keeps its encoder in `.bert`, so the weights of a pre-training checkpoint drop straight
in (`load_encoder`), and so do Hugging Face's task checkpoints (`bertlite.load_hf_state_dict`).
"""

from dataclasses import dataclass
from functools import partial
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import BertModel, init_weights
from .heads import IGNORE_INDEX
from .pretraining import warmup_linear


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


# --- token classification: one label per word, on its first sub-token ------------------------

def align_labels(word_ids, word_labels, ignore_index=IGNORE_INDEX):
    """word_ids: for each token, the index of the word it belongs to, or None ([CLS], [SEP],
    padding). word_labels: one label per word. Returns one label per token: the word's label on
    its first sub-token, ignore_index on its other sub-tokens and on special tokens."""
    labels, previous = [], None
    for w in word_ids:
        if w is None or w == previous:
            labels.append(ignore_index)
        else:
            labels.append(word_labels[w])
        previous = w
    return labels


def encode_words(tokenizer, words, max_length=None):
    """Encode pre-split words as [CLS] pieces... [SEP]. Returns (input_ids, word_ids), where
    word_ids[i] is the word token i came from (None for [CLS] and [SEP]), the same as
    Hugging Face's tokenizer(words, is_split_into_words=True).word_ids()."""
    input_ids, word_ids = [tokenizer.cls_token_id], [None]
    for i, word in enumerate(words):
        pieces = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word))
        if not pieces:
            raise ValueError(f"word {i} ({word!r}) gives no tokens (only white space or control "
                             f"characters?), so its label would be lost: drop it before encoding.")
        input_ids += pieces
        word_ids += [i] * len(pieces)
    input_ids.append(tokenizer.sep_token_id)
    word_ids.append(None)
    if max_length is not None and len(input_ids) > max_length:
        raise ValueError(f"{len(words)} words make {len(input_ids)} tokens, more than "
                         f"max_length={max_length}; split the text into shorter pieces.")
    return input_ids, word_ids


def word_predictions(token_predictions, word_ids):
    """Read one prediction per word back from its first sub-token (the inverse of align_labels)."""
    out, previous = [], None
    for p, w in zip(token_predictions, word_ids):
        if w is not None and w != previous:
            out.append(p)
        previous = w
    return out


# --- question answering: from start/end scores to the best span --------------------------------

def best_span(start_logits, end_logits, context_mask, max_answer_length=30):
    """The span (start, end) with the highest start_logits[start] + end_logits[end] among the
    valid ones: start <= end, end - start + 1 <= max_answer_length, both inside the context
    (context_mask True), so never in the question or on [CLS], [SEP] or padding.
    All three inputs are (T,). Ties go to the earliest start, then the earliest end.
    Returns (start, end) as ints."""
    T = start_logits.shape[0]
    scores = start_logits[:, None] + end_logits[None, :]  # (T, T): row = start, column = end
    s, e = torch.arange(T)[:, None], torch.arange(T)[None, :]
    context = context_mask.bool()
    valid = (e >= s) & (e - s < max_answer_length) & context[:, None] & context[None, :]
    if not bool(valid.any()):
        raise ValueError("no valid span: the context mask is empty (or max_answer_length < 1).")
    best = int(scores.masked_fill(~valid, float("-inf")).argmax())  # row-major: first maximum wins
    return best // T, best % T


# --- a fine-tuning loop ---------------------------------------------------------------------------

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask", "labels", "start_positions", "end_positions")


def trim(batch):
    """Cut the padding columns that no row of this batch needs: a batch of short texts then
    costs what short texts cost, whatever the longest text in the whole set."""
    T = int(batch["attention_mask"].sum(1).max()) if "attention_mask" in batch else batch["input_ids"].shape[1]
    return {k: v[:, :T] if k != "start_positions" and k != "end_positions" and v.dim() >= 2 else v
            for k, v in batch.items()}


def minibatches(data, batch_size, seed=0):
    """Endless shuffled minibatches of a dict of (N, ...) tensors, one seeded epoch after another."""
    n = len(data["input_ids"])
    g = torch.Generator().manual_seed(seed)
    while True:
        for idx in torch.randperm(n, generator=g).split(batch_size):
            yield trim({k: v[idx] for k, v in data.items() if k in MODEL_INPUTS})


def fine_tune(model, data, steps, lr=1e-4, batch_size=32, warmup=0.1, weight_decay=0.01,
              freeze_encoder=False, seed=0, device=None, eval_every=0, evaluate=None, progress=True):
    """BERT's fine-tuning recipe: AdamW, linear warm-up then linear decay to 0, every weight
    trained. freeze_encoder=True trains the head alone (the feature-based approach).
    evaluate: an optional function model -> number, called every eval_every steps.
    Returns the history: a list of dicts with step, loss and (when evaluated) score."""
    from tqdm.auto import tqdm

    device = device or next(model.parameters()).device
    model.to(device).train()
    model.bert.requires_grad_(not freeze_encoder)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # lesson 07's warmup, then linear decay
        optimizer, partial(warmup_linear, warmup_steps=round(warmup * steps), total_steps=steps))
    history, batches = [], minibatches(data, batch_size, seed)
    for step in tqdm(range(1, steps + 1), desc="fine-tuning", disable=not progress, leave=False):
        batch = {k: v.to(device) for k, v in next(batches).items()}
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        record = {"step": step, "loss": loss.item()}
        if evaluate is not None and eval_every and (step % eval_every == 0 or step == steps):
            model.eval()
            record["score"] = evaluate(model)
            model.train()
        history.append(record)
    model.bert.requires_grad_(True)
    return history


@torch.no_grad()
def predict(model, data, batch_size=128):
    """Run the model over a dict of tensors in eval mode; returns its logits on the CPU
    ((start_logits, end_logits) for question answering)."""
    model.eval()
    device = next(model.parameters()).device
    n, T, outputs = len(data["input_ids"]), data["input_ids"].shape[1], []
    pad = lambda x: F.pad(x, (0, T - x.shape[1]), value=float("-inf"))  # noqa: E731 (back to (b, T))
    for i in range(0, n, batch_size):
        batch = trim({k: data[k][i:i + batch_size] for k in ("input_ids", "token_type_ids", "attention_mask") if k in data})
        out = model(**{k: v.to(device) for k, v in batch.items()})
        if hasattr(out, "start_logits"):
            outputs.append((pad(out.start_logits.float().cpu()), pad(out.end_logits.float().cpu())))
        else:
            logits = out.logits.float().cpu()
            outputs.append(logits if logits.dim() == 2 else F.pad(logits, (0, 0, 0, T - logits.shape[1])))
    if isinstance(outputs[0], tuple):
        return torch.cat([s for s, _ in outputs]), torch.cat([e for _, e in outputs])
    return torch.cat(outputs)
