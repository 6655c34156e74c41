"""Lesson 09: turning task examples into tensors, and predictions back into answers.

    texts and pairs  -> [CLS] A [SEP] (B [SEP])            encode_texts
    words + labels   -> pieces, a label on each word's first piece (align_labels)
    question+context -> [CLS] question [SEP] context [SEP], the answer's start and end tokens,
                        and back: the best valid span (best_span)
"""

import re

import torch

from .masking import IGNORE_INDEX
from .tokenization import pair_layout, split_on_punctuation


def encode_texts(tokenizer, examples, max_length=128):
    """TextExamples -> a dict of (N, T) tensors padded to the longest, plus labels (N,).
    Texts longer than max_length are trimmed (the longer side of a pair first)."""
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples] if examples and examples[0].text_pair is not None else None
    batch = tokenizer(texts, pairs, max_length=max_length, truncation=True, padding=True, return_tensors="pt")
    labels = [e.label for e in examples]
    batch["labels"] = torch.tensor(labels, dtype=torch.float if isinstance(labels[0], float) else torch.long)
    return batch


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


def encode_words_batch(tokenizer, examples, max_length=128):
    """WordsExamples -> input_ids, attention_mask, labels (N, T) with labels on first sub-tokens,
    and word_ids (a list per example) to read the predictions back per word."""
    rows = [encode_words(tokenizer, e.words, max_length) for e in examples]
    T = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), T), tokenizer.pad_token_id)
    labels = torch.full((len(rows), T), IGNORE_INDEX)
    for n, ((ids, word_ids), e) in enumerate(zip(rows, examples)):
        input_ids[n, :len(ids)] = torch.tensor(ids)
        labels[n, :len(ids)] = torch.tensor(align_labels(word_ids, e.labels))
    return {"input_ids": input_ids, "attention_mask": (input_ids != tokenizer.pad_token_id).long(),
            "labels": labels, "word_ids": [w for _, w in rows]}


def tokenize_with_offsets(tokenizer, text):
    """WordPiece ids of `text` with the (start, end) characters each comes from. Every piece of a
    word points at the whole word (the piece before punctuation splitting), enough to cut answers."""
    ids, offsets = [], []
    for m in re.finditer(r"\S+", text):
        pos = m.start()
        for chunk in split_on_punctuation(m.group()):
            start = text.index(chunk, pos)
            pos = start + len(chunk)
            pieces = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(chunk))
            ids += pieces
            offsets += [(start, pos)] * len(pieces)
    return ids, offsets


def encode_qa(tokenizer, examples, max_length=256):
    """QAExamples -> [CLS] question [SEP] context [SEP] tensors with start/end token positions
    of the first answer, a context mask (True on context tokens) and each token's character
    offsets. A pair longer than max_length is an error: nothing is cut silently."""
    rows = []
    for e in examples:
        q = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(e.question))
        c, offsets = tokenize_with_offsets(tokenizer, e.context)
        n = len(q) + len(c) + 3
        if n > max_length:
            raise ValueError(f"example {e.id} is {n} tokens long, more than max_length={max_length}; "
                             f"raise max_length or shorten the context.")
        first = len(q) + 2  # where the context starts: after [CLS] question [SEP]
        start = end = 0  # [CLS] when there is no answer (SQuAD 2.0's convention)
        if e.answers:
            a0 = e.answers[0]["answer_start"]
            a1 = a0 + len(e.answers[0]["text"])
            inside = [k for k, (s, t) in enumerate(offsets) if s < a1 and t > a0]
            start, end = first + inside[0], first + inside[-1]
        ids, types = pair_layout(q, c, tokenizer.cls_token_id, tokenizer.sep_token_id)
        rows.append((ids, types, start, end, [None] * first + offsets + [None]))
    T = max(len(r[0]) for r in rows)
    N = len(rows)
    out = {"input_ids": torch.full((N, T), tokenizer.pad_token_id), "token_type_ids": torch.zeros(N, T, dtype=torch.long),
           "attention_mask": torch.zeros(N, T, dtype=torch.long), "context_mask": torch.zeros(N, T, dtype=torch.bool),
           "start_positions": torch.tensor([r[2] for r in rows]), "end_positions": torch.tensor([r[3] for r in rows]),
           "offsets": [r[4] for r in rows]}
    for n, (ids, types, _, _, _) in enumerate(rows):
        out["input_ids"][n, :len(ids)] = torch.tensor(ids)
        out["token_type_ids"][n, :len(ids)] = torch.tensor(types)
        out["attention_mask"][n, :len(ids)] = 1
        out["context_mask"][n, types.index(1):len(ids) - 1] = True  # the context, without its [SEP]
    return out


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
