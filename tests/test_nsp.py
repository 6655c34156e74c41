"""Next-sentence pairs (lesson 06): their layout, their 50/50 labels, and the random other document."""

import math
import random

import pytest

from bertlite.nsp import make_nsp_examples, pad_pairs, pick_other_document
from bertlite.tokenization import pair_layout

CLS, SEP, PAD = 2, 3, 0
STRIDE = 100_000  # token j of document k has id STRIDE * (k + 1) + j: its document and place


def toy_corpus(n_docs=30, seed=0):
    rng = random.Random(seed)
    docs = []
    for k in range(n_docs):
        next_id, doc = STRIDE * (k + 1), []
        for _ in range(rng.randint(1, 40)):  # some documents have a single sentence
            length = rng.choice([1, 3, 8, 15, 30, 70])  # some longer than a whole example
            doc.append(list(range(next_id, next_id + length)))
            next_id += length
        docs.append(doc)
    return docs


def split(example):
    """[CLS] A [SEP] B [SEP] -> (A, B), checking the layout and the segment ids."""
    ids, types = example.input_ids, example.token_type_ids
    assert ids[0] == CLS and ids[-1] == SEP and ids.count(SEP) == 2
    first_sep = ids.index(SEP)
    a, b = ids[1:first_sep], ids[first_sep + 1:-1]
    assert types == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    return a, b


def consecutive(tokens):
    return all(y == x + 1 for x, y in zip(tokens, tokens[1:]))


@pytest.mark.parametrize("max_length", [16, 64, 128])
def test_pairs_layout_documents_and_lengths(max_length):
    docs = toy_corpus()
    examples = make_nsp_examples(docs, max_length, CLS, SEP, random.Random(1))
    assert len(examples) > 100
    for e in examples:
        assert len(e.input_ids) <= max_length
        a, b = split(e)
        assert a and b, "A and B are never empty"
        doc_a, doc_b = {t // STRIDE for t in a}, {t // STRIDE for t in b}
        assert len(doc_a) == 1 and len(doc_b) == 1, "each segment comes from a single document"
        assert consecutive(a) and consecutive(b), "each segment is a run of consecutive text"
        if e.nsp_label == 0:  # IsNext: same document, B after A
            assert doc_a == doc_b and b[0] > a[-1]
        else:  # NotNext: a negative never comes from the same document
            assert e.nsp_label == 1 and doc_a != doc_b


def test_labels_are_about_half_and_half():
    docs = toy_corpus(n_docs=200, seed=2)
    examples = make_nsp_examples(docs, 64, CLS, SEP, random.Random(3))
    n, not_next = len(examples), sum(e.nsp_label for e in examples)
    assert n > 1000
    assert abs(not_next - n / 2) <= 5 * math.sqrt(n / 4)


def test_most_pairs_fill_the_budget():
    """A chunk is filled up to max_length - 3 tokens, so typical pairs are long."""
    docs = toy_corpus(n_docs=100, seed=4)
    lengths = [len(e.input_ids) for e in make_nsp_examples(docs, 64, CLS, SEP, random.Random(5))]
    assert sum(l == 64 for l in lengths) / len(lengths) > 0.5


def test_probability_0_and_1():
    docs = toy_corpus(seed=6)
    assert all(e.nsp_label == 0 for e in make_nsp_examples(docs, 32, CLS, SEP, random.Random(0), 0.0))
    assert all(e.nsp_label == 1 for e in make_nsp_examples(docs, 32, CLS, SEP, random.Random(0), 1.0))


def test_same_seed_same_pairs():
    docs = toy_corpus(seed=7)
    a = make_nsp_examples(docs, 32, CLS, SEP, random.Random(8))
    b = make_nsp_examples(docs, 32, CLS, SEP, random.Random(8))
    assert a == b


def test_the_input_documents_are_not_modified():
    docs = toy_corpus(seed=9)
    before = [[list(s) for s in d] for d in docs]
    make_nsp_examples(docs, 32, CLS, SEP, random.Random(0))
    assert docs == before


def test_a_single_document_is_an_error():
    with pytest.raises(ValueError, match="at least two documents"):
        make_nsp_examples([[[5, 6, 7], [8, 9]]], 32, CLS, SEP, random.Random(0))
    with pytest.raises(ValueError, match="at least two documents"):  # the other one is empty
        make_nsp_examples([[[5, 6, 7], [8, 9]], [[]], []], 32, CLS, SEP, random.Random(0))


def test_bad_arguments_are_errors():
    docs = toy_corpus(n_docs=3)
    with pytest.raises(ValueError, match="max_length"):
        make_nsp_examples(docs, 4, CLS, SEP, random.Random(0))
    with pytest.raises(ValueError, match="nsp_probability"):
        make_nsp_examples(docs, 32, CLS, SEP, random.Random(0), nsp_probability=1.5)


def test_pair_layout_and_padding():
    ids, types = pair_layout([7, 8], [9], CLS, SEP)
    assert ids == [CLS, 7, 8, SEP, 9, SEP] and types == [0, 0, 0, 0, 1, 1]
    examples = make_nsp_examples(toy_corpus(seed=10), 24, CLS, SEP, random.Random(0))[:8]
    batch = pad_pairs(examples, PAD)
    T = max(len(e.input_ids) for e in examples)
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (8, T)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        assert batch["input_ids"][i].tolist() == e.input_ids + [PAD] * (T - n)
        assert batch["attention_mask"][i].tolist() == [1] * n + [0] * (T - n)
        assert batch["token_type_ids"][i].tolist() == e.token_type_ids + [0] * (T - n)
    assert batch["nsp_labels"].tolist() == [e.nsp_label for e in examples]
    with pytest.raises(ValueError, match="longer than max_length"):
        pad_pairs(examples, PAD, max_length=5)


def test_pick_other_document_is_uniform_over_the_others():
    rng = random.Random(0)
    counts = [0] * 5
    for _ in range(10_000):
        counts[pick_other_document(5, 2, rng)] += 1
    assert counts[2] == 0
    assert all(abs(c - 2500) < 5 * math.sqrt(2500 * 0.75) for i, c in enumerate(counts) if i != 2)
