"""Next-sentence pairs (lesson 06) and the pre-training heads against transformers."""

import math
import random

import pytest
import torch
import torch.nn.functional as F

import bertlite
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


# --- the heads: BertForPreTraining equals transformers' on the same weights and labels ----------

@pytest.mark.parametrize("kw", [
    dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37),
    dict(vocab_size=500, hidden_size=64, num_hidden_layers=3, num_attention_heads=2, intermediate_size=128,
         max_position_embeddings=40),
])
def test_pretraining_loss_and_logits_equal_transformers(kw):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(transformers.BertConfig(**kw)).eval()
    with torch.no_grad():  # non-zero biases and LayerNorms, so every tensor matters
        for p in hf.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ours = bertlite.load_hf_state_dict(bertlite.BertForPreTraining(bertlite.BertConfig(**kw)), hf.state_dict()).eval()

    B, T, V = 4, 19, kw["vocab_size"]
    ids = torch.randint(0, V, (B, T))
    token_types = torch.randint(0, 2, (B, T))
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, 12:] = 0
    attention_mask[3, 5:] = 0
    masked, mlm_labels = bertlite.mask_tokens(ids, attention_mask == 0, V, 1, mlm_probability=0.3,
                                              generator=torch.Generator().manual_seed(1))
    nsp_labels = torch.tensor([0, 1, 1, 0])
    with torch.no_grad():
        theirs = hf(input_ids=masked, token_type_ids=token_types, attention_mask=attention_mask,
                    labels=mlm_labels, next_sentence_label=nsp_labels)
        out = ours(masked, token_types, attention_mask, mlm_labels=mlm_labels, nsp_labels=nsp_labels)
        sparse = ours(masked, token_types, attention_mask, mlm_labels=mlm_labels, nsp_labels=nsp_labels,
                      sparse_mlm=True)
        no_labels = ours(masked, token_types, attention_mask)

    assert (out.mlm_logits - theirs.prediction_logits).abs().max() <= 1e-5
    assert (out.nsp_logits - theirs.seq_relationship_logits).abs().max() <= 1e-5
    assert abs(out.loss - theirs.loss) <= 1e-5
    # the total is the sum of the two cross-entropies, each computed by hand here
    chosen = mlm_labels != -100
    log_p = theirs.prediction_logits.log_softmax(-1)[chosen]  # (N, V)
    mlm_by_hand = -log_p[torch.arange(len(log_p)), mlm_labels[chosen]].mean()
    nsp_by_hand = -theirs.seq_relationship_logits.log_softmax(-1)[torch.arange(B), nsp_labels].mean()
    assert abs(out.mlm_loss - mlm_by_hand) <= 1e-5 and abs(out.nsp_loss - nsp_by_hand) <= 1e-5
    assert abs(theirs.loss - (mlm_by_hand + nsp_by_hand)) <= 1e-5
    # sparse_mlm runs the head only at the chosen positions: same loss, logits (N, V)
    assert abs(sparse.loss - theirs.loss) <= 1e-5
    assert sparse.mlm_logits.shape == (int(chosen.sum()), V)
    assert (sparse.mlm_logits - theirs.prediction_logits[chosen]).abs().max() <= 1e-5
    assert no_labels.loss is None


def test_mlm_decoder_is_tied_to_the_embeddings():
    model = bertlite.BertForPreTraining(bertlite.BertConfig.from_preset("tiny", vocab_size=50))
    assert model.mlm_head.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.mlm_head.decoder.bias.shape == (50,)
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in set(model.parameters()))  # the shared matrix is counted once


def test_sparse_mlm_needs_labels():
    model = bertlite.BertForPreTraining(bertlite.BertConfig.from_preset("tiny", vocab_size=50))
    with pytest.raises(ValueError, match="mlm_labels"):
        model(torch.randint(0, 50, (1, 5)), sparse_mlm=True)
