"""Lesson 07: the pre-training data, from a corpus to the batch of any training step.

    corpus -> sentences -> token ids -> NSP pairs          tokenized once, cached on disk
           -> batch of step s: pad, mask 15% (80/10/10)   a deterministic function of (seed, s)

`cached_dataset` tokenizes a corpus and builds its NSP pairs (lesson 06) once; `StepBatches`
serves the batch of each training step, which depends on nothing but the seed and the step, so
a resumed run sees exactly the batches an uninterrupted run would. The loop that consumes them
is in pretraining.py.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .cache import cache_dir, cache_entry_ok, cache_key, load_tensors, write_checked
from .masking import mask_tokens
from .nsp import PairExample, make_nsp_examples, pad_pairs
from .tokenization import basic_tokenize, wordpiece


# --- 1. the data: tokenize once, cache the NSP pairs ------------------------------------------

def tokenize_documents(docs, tokenizer, progress=True):
    """Documents -> for each, a list of sentences, each a list of token ids (no specials).
    The same ids as tokenizer.tokenize, but each distinct word goes through WordPiece once.
    (Text such as "[MASK]" in a corpus stays plain text here, never a special token.)"""
    from tqdm.auto import tqdm

    pieces = {}  # word -> its ids: a corpus repeats few words many times
    out = []
    for doc in tqdm(docs, desc="tokenizing", unit="doc", disable=not progress):
        sentences = []
        for sentence in doc.sentences:
            ids = []
            for word in basic_tokenize(sentence, tokenizer.do_lower_case):
                if word not in pieces:
                    pieces[word] = tokenizer.convert_tokens_to_ids(wordpiece(word, tokenizer.vocab))
                ids += pieces[word]
            if ids:
                sentences.append(ids)
        out.append(sentences)
    return out


class PretrainingDataset(Dataset):
    """NSP pairs, item i a PairExample. Stored as three flat tensors rather than as
    millions of small Python lists, so a big corpus fits in memory and saves in one piece."""

    def __init__(self, input_ids, token_type_ids, offsets, nsp_labels):
        self.input_ids, self.token_type_ids = input_ids, token_type_ids  # (total tokens,)
        self.offsets, self.nsp_labels = offsets, nsp_labels  # (N + 1,), (N,)

    @classmethod
    def from_examples(cls, examples):
        lengths = torch.tensor([len(e.input_ids) for e in examples], dtype=torch.long)
        return cls(
            torch.tensor([t for e in examples for t in e.input_ids], dtype=torch.int32),
            torch.tensor([t for e in examples for t in e.token_type_ids], dtype=torch.int8),
            torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]),
            torch.tensor([e.nsp_label for e in examples], dtype=torch.int8),
        )

    def __len__(self):
        return len(self.nsp_labels)

    def __getitem__(self, i):
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return PairExample(self.input_ids[a:b].tolist(), self.token_type_ids[a:b].tolist(),
                           int(self.nsp_labels[i]))

    def select(self, indices):
        """A new PretrainingDataset holding the pairs at `indices`, in that order."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        starts, lengths = self.offsets[idx], self.offsets[idx + 1] - self.offsets[idx]
        new_offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        # token t of the new flat tensors is token (t - new start + old start) of the old ones
        shift = torch.repeat_interleave(starts - new_offsets[:-1], lengths)
        tokens = torch.arange(int(new_offsets[-1])) + shift
        return PretrainingDataset(self.input_ids[tokens], self.token_type_ids[tokens], new_offsets,
                                  self.nsp_labels[idx])

    def state_dict(self):
        return {"input_ids": self.input_ids, "token_type_ids": self.token_type_ids,
                "offsets": self.offsets, "nsp_labels": self.nsp_labels}

    def fingerprint(self):
        """A short hash of every pair: a checkpoint records it, so a run never resumes on
        other data (an edited corpus, another vocabulary)."""
        h = hashlib.sha256()
        for t in self.state_dict().values():
            h.update(t.contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def cached_dataset(docs, tokenizer, max_length=128, seed=0, nsp_probability=0.5, progress=True):
    """Tokenize `docs` and build their NSP pairs once; later calls read them from the cache,
    keyed by the corpus text, the vocabulary, max_length, seed and nsp_probability."""
    key = cache_key((d.text for d in docs), Path(tokenizer.vocab_file).read_bytes(),
                    f"{max_length}-{seed}-{nsp_probability}-{tokenizer.do_lower_case}")
    path = cache_dir() / "data" / f"nsp-{key}.pt"
    if cache_entry_ok(path):  # a truncated or damaged entry is removed and rebuilt
        return PretrainingDataset(**load_tensors(path, "cached pairs"))
    examples = make_nsp_examples(
        tokenize_documents(docs, tokenizer, progress), max_length, tokenizer.cls_token_id,
        tokenizer.sep_token_id, random.Random(seed), nsp_probability)
    dataset = PretrainingDataset.from_examples(examples)
    write_checked(path, lambda tmp: torch.save(dataset.state_dict(), tmp))
    return dataset


def split_held_out(dataset, fraction, seed=0):
    """(train, held_out): a seeded random `fraction` of the pairs is kept out of training, so
    that `evaluate` scores pairs the model never saw, however many epochs it trains."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"held_out={fraction} must be a fraction of the pairs in [0, 1), e.g. 0.05.")
    g = torch.Generator().manual_seed(derived_seed(seed, "held out"))
    order = torch.randperm(len(dataset), generator=g)
    n = round(fraction * len(dataset))
    return dataset.select(order[n:].sort().values.tolist()), dataset.select(order[:n].sort().values.tolist())


# --- 2. batches: pad, mask, label ---------------------------------------------------------------

def collate(examples, tokenizer, mlm_probability=0.15, generator=None):
    """A list of PairExamples -> a batch of (B, T) tensors, T the longest example: lesson 06's
    padding (pad_pairs), then lesson 05's masking of every token that is not special."""
    batch = pad_pairs(examples, tokenizer.pad_token_id)  # input_ids, token_type_ids, attention_mask, nsp_labels
    special = tokenizer.get_special_tokens_mask(batch["input_ids"]).bool()  # [CLS], [SEP], [PAD]: never chosen
    batch["input_ids"], batch["mlm_labels"] = mask_tokens(batch["input_ids"], special, tokenizer.vocab_size,
                                                          tokenizer.mask_token_id, mlm_probability, generator)
    return batch


def derived_seed(*parts):
    """A 63-bit seed from a few numbers and names, e.g. (seed, "mask", step, rank)."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)


class StepBatches(Dataset):
    """Item s is the batch of training step s, for this process.

    Each epoch visits the examples in a fresh order, drawn from (seed, epoch); masking draws
    from (seed, step, rank). So a batch depends on nothing but (seed, step): a resumed run
    sees exactly the batches an uninterrupted run would. Under DistributedDataParallel the
    step's global batch of batch_size × world_size examples is dealt out to the ranks."""

    def __init__(self, dataset, tokenizer, batch_size, seed=0, mlm_probability=0.15,
                 rank=0, world_size=1, steps=None):
        global_batch = batch_size * world_size
        if len(dataset) < global_batch:
            raise ValueError(
                f"the corpus gives {len(dataset)} sequences, fewer than one batch of {global_batch} "
                f"(batch_size={batch_size} × {world_size} processes). Use a smaller --batch-size or "
                f"--seq-len, or a bigger corpus.")
        self.dataset, self.tokenizer, self.seed = dataset, tokenizer, seed
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.mlm_probability, self.steps = mlm_probability, steps
        self.batches_per_epoch = len(dataset) // global_batch  # the remainder waits for the next epoch
        self._order = (None, None)  # (epoch, permutation), kept between calls

    def __len__(self):
        return self.steps if self.steps is not None else self.batches_per_epoch

    def indices(self, step):
        epoch, j = divmod(step, self.batches_per_epoch)
        if self._order[0] != epoch:
            g = torch.Generator().manual_seed(derived_seed(self.seed, "order", epoch))
            self._order = (epoch, torch.randperm(len(self.dataset), generator=g))
        global_batch = self.batch_size * self.world_size
        chosen = self._order[1][j * global_batch:(j + 1) * global_batch]
        return chosen[self.rank::self.world_size].tolist()

    def __getitem__(self, step):
        g = torch.Generator().manual_seed(derived_seed(self.seed, "mask", step, self.rank))
        examples = [self.dataset[i] for i in self.indices(step)]
        return collate(examples, self.tokenizer, self.mlm_probability, g)
