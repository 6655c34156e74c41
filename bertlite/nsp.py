"""Lesson 06: sentence pairs for next-sentence prediction (NSP).

Each example is `[CLS] A [SEP] B [SEP]`, where A is a run of consecutive sentences from one
document and B is either the text that really follows A (label 0, IsNext) or a run of
sentences from a *different* document (label 1, NotNext). These are Hugging Face's labels.

    input_ids       [CLS]  a a a  [SEP]  b b b b  [SEP]
    token_type_ids    0    0 0 0    0    1 1 1 1    1
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .tokenization import pair_layout, truncate_pair

IS_NEXT, NOT_NEXT = 0, 1  # Hugging Face's convention for next_sentence_label


@dataclass
class PairExample:
    input_ids: list[int]  # [CLS] A [SEP] B [SEP]
    token_type_ids: list[int]  # 0 for [CLS], A and the first [SEP]; 1 for B and the last [SEP]
    nsp_label: int  # 0 = IsNext (B really follows A), 1 = NotNext (B from another document)


def pick_other_document(n_documents, current, rng):
    """A document index in range(n_documents), uniformly at random, never `current`."""
    # draw from the n - 1 other indices, then step over `current`
    other = rng.randrange(n_documents - 1)
    return other + 1 if other >= current else other


def make_nsp_examples(documents, max_length, cls_token_id, sep_token_id, rng, nsp_probability=0.5):
    """documents: list of documents, each a list of sentences, each a list of token ids
    (WordPiece ids, no special tokens). rng: a random.Random. Returns a list of PairExample,
    each at most max_length tokens long; a fraction nsp_probability of them are NotNext."""
    if not 0.0 <= nsp_probability <= 1.0:
        raise ValueError(f"nsp_probability={nsp_probability} must be between 0 and 1 (BERT uses 0.5).")
    budget = max_length - 3  # room for [CLS], [SEP], [SEP]
    if budget < 2:
        raise ValueError(f"max_length={max_length} leaves {budget} tokens for A and B after [CLS] A [SEP] "
                         f"B [SEP]; use max_length >= 5 (BERT uses 128 or 512).")
    docs = [[list(s) for s in doc if len(s)] for doc in documents]
    docs = [doc for doc in docs if doc]  # empty documents can't give an A or a B
    if len(docs) < 2:
        raise ValueError(f"NSP needs at least two documents with text (got {len(docs)}): a NotNext "
                         f"segment must come from a different document. Split your text into documents.")

    examples = []
    for d, doc in enumerate(docs):
        start = 0  # first sentence not used yet
        while start < len(doc):
            # 1. A chunk: consecutive sentences until the budget is filled or the document ends.
            end, n_tokens = start, 0
            while end < len(doc) and n_tokens < budget:
                n_tokens += len(doc[end])
                end += 1
            if end - start == 1 and end == len(doc):
                break  # a lone last sentence: nothing follows it, so it can't be an IsNext A
            is_next = rng.random() >= nsp_probability
            if end - start == 1 and is_next:
                end += 1  # one long sentence: B is the sentence after it (truncation trims both)

            # 2. Split the chunk at a random sentence boundary: A = [start, a_end).
            a_end = rng.randint(start + 1, end - 1) if end - start >= 2 else start + 1
            a = [t for s in doc[start:a_end] for t in s]
            if is_next:
                b = [t for s in doc[a_end:end] for t in s]
                start = end
            else:
                # 3. NotNext: B = consecutive sentences from a random other document, about as
                #    long as the real B would have been.
                other = docs[pick_other_document(len(docs), d, rng)]
                i = rng.randrange(len(other))
                b = list(other[i])  # at least one sentence, even when A fills the budget
                while i + 1 < len(other) and len(b) < budget - len(a):
                    i += 1
                    b = b + other[i]
                start = a_end  # the sentences after A were not used: they start the next chunk

            a, b = truncate_pair(a, b, budget)  # trim the longer side until the pair fits
            input_ids, token_type_ids = pair_layout(a, b, cls_token_id, sep_token_id)
            examples.append(PairExample(input_ids, token_type_ids, NOT_NEXT if not is_next else IS_NEXT))
    return examples


def pad_pairs(examples, pad_token_id, max_length=None):
    """Batch PairExamples into tensors, padded on the right to the longest (or max_length).
    Returns a dict: input_ids, token_type_ids, attention_mask (1 = real token, 0 = padding),
    all (B, T), and nsp_labels (B,)."""
    T = max_length or max(len(e.input_ids) for e in examples)
    too_long = [len(e.input_ids) for e in examples if len(e.input_ids) > T]
    if too_long:
        raise ValueError(f"{len(too_long)} examples are longer than max_length={T} (longest "
                         f"{max(too_long)}); build them with make_nsp_examples(max_length={T}).")
    pad = lambda seq, value: seq + [value] * (T - len(seq))  # noqa: E731
    return {
        "input_ids": torch.tensor([pad(e.input_ids, pad_token_id) for e in examples]),
        "token_type_ids": torch.tensor([pad(e.token_type_ids, 0) for e in examples]),
        "attention_mask": torch.tensor([pad([1] * len(e.input_ids), 0) for e in examples]),
        "nsp_labels": torch.tensor([e.nsp_label for e in examples]),
    }
