"""The task heads give transformers' own logits and losses on the same weights; labels are
checked; sub-token label alignment and span decoding follow the rules, checked by hand."""

import pytest
import torch

from bertlite import BertConfig, BertModel, load_hf_state_dict
from bertlite.task_models import BertForMultipleChoice, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification, load_encoder
from bertlite.task_encoding import align_labels, best_span, encode_words, word_predictions

transformers = pytest.importorskip("transformers")

KW = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
          intermediate_size=37, max_position_embeddings=24)
B, T = 3, 12


def inputs(shape=(B, T)):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, KW["vocab_size"], shape, generator=g)
    tt = torch.randint(0, 2, shape, generator=g)
    am = torch.ones(shape, dtype=torch.long)
    am[..., 1, 8:] = 0
    am[..., 2, 3:] = 0
    return ids, tt, am


def pair(hf_cls, our_cls, **kw):
    """A random transformers model and a bertlite model carrying its weights (both eval)."""
    torch.manual_seed(0)
    hf_config = transformers.BertConfig(**KW, **{k: v for k, v in kw.items() if k == "num_labels"})
    hf = hf_cls(hf_config).eval()
    torch.manual_seed(1)  # a different init, so nothing matches by accident
    ours = our_cls(BertConfig(**KW), **kw).eval()
    load_hf_state_dict(ours, hf.state_dict())
    return hf, ours


def close(a, b):
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("num_labels", [1, 2, 5])
def test_sequence_classification_matches_transformers(num_labels):
    hf, ours = pair(transformers.BertForSequenceClassification, BertForSequenceClassification, num_labels=num_labels)
    ids, tt, am = inputs()
    if num_labels == 1:  # regression: float targets, MSE
        labels = torch.tensor([0.5, -1.0, 2.0])
    else:
        labels = torch.tensor([0, num_labels - 1, 1])
    with torch.no_grad():
        expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am, labels=labels)
        got = ours(ids, tt, am, labels=labels)
    assert got.logits.shape == (B, num_labels)
    close(got.logits, expected.logits)
    close(got.loss, expected.loss)


def test_token_classification_matches_transformers():
    hf, ours = pair(transformers.BertForTokenClassification, BertForTokenClassification, num_labels=4)
    assert not any("pooler" in k for k in ours.state_dict())  # like HF: no pooler
    ids, tt, am = inputs()
    labels = torch.randint(0, 4, (B, T), generator=torch.Generator().manual_seed(2))
    labels[am == 0] = -100
    labels[:, 0] = -100
    with torch.no_grad():
        expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am, labels=labels)
        got = ours(ids, tt, am, labels=labels)
    close(got.logits, expected.logits)
    close(got.loss, expected.loss)


def test_question_answering_matches_transformers():
    hf, ours = pair(transformers.BertForQuestionAnswering, BertForQuestionAnswering)
    ids, tt, am = inputs()
    start, end = torch.tensor([3, 5, 0]), torch.tensor([4, 7, 2])
    with torch.no_grad():
        expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am, start_positions=start, end_positions=end)
        got = ours(ids, tt, am, start_positions=start, end_positions=end)
    close(got.start_logits, expected.start_logits)
    close(got.end_logits, expected.end_logits)
    close(got.loss, expected.loss)


def test_multiple_choice_matches_transformers():
    hf, ours = pair(transformers.BertForMultipleChoice, BertForMultipleChoice)
    ids, tt, am = inputs((2, 3, T))
    labels = torch.tensor([2, 0])
    with torch.no_grad():
        expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am, labels=labels)
        got = ours(ids, tt, am, labels=labels)
    close(got.logits, expected.logits)
    close(got.loss, expected.loss)


def test_training_mode_uses_dropout_and_loss_backpropagates():
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**KW), num_labels=3).train()
    ids, tt, am = inputs()
    out = model(ids, tt, am, labels=torch.tensor([0, 1, 2]))
    out.loss.backward()
    assert model.classifier.weight.grad.abs().sum() > 0
    assert model.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("make, kwargs, message", [
    (lambda: BertForSequenceClassification(BertConfig(**KW), 3), {"labels": torch.tensor([0, 1, 3])}, "contains 3"),
    (lambda: BertForSequenceClassification(BertConfig(**KW), 3), {"labels": torch.tensor([0, -1, 2])}, "contains -1"),
    (lambda: BertForSequenceClassification(BertConfig(**KW), 3), {"labels": torch.tensor([[0], [1], [2]])}, r"shape \(3, 1\)"),
    (lambda: BertForSequenceClassification(BertConfig(**KW), 3), {"labels": torch.tensor([0.0, 1.0, 2.0])}, "floats"),
    (lambda: BertForSequenceClassification(BertConfig(**KW), 1), {"labels": torch.zeros(3, 2)}, r"shape \(3, 2\)"),
    (lambda: BertForTokenClassification(BertConfig(**KW), 4), {"labels": torch.full((B, T), 4)}, "contains 4"),
    (lambda: BertForTokenClassification(BertConfig(**KW), 4), {"labels": torch.zeros(B, T - 1, dtype=torch.long)}, "shape"),
    (lambda: BertForQuestionAnswering(BertConfig(**KW)), {"start_positions": torch.tensor([0, 1, T]),
                                                          "end_positions": torch.tensor([0, 1, 2])}, f"contains {T}"),
    (lambda: BertForQuestionAnswering(BertConfig(**KW)), {"start_positions": torch.tensor([0, 1, 2])}, "both"),
])
def test_bad_labels_raise_clear_errors(make, kwargs, message):
    model = make().eval()
    ids, tt, am = inputs()
    with pytest.raises(ValueError, match=message):
        model(ids, tt, am, **kwargs)


def test_load_encoder_copies_the_backbone_and_drops_the_pooler_only_where_unused():
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(**KW))
    for cls, args in ((BertForSequenceClassification, (2,)), (BertForTokenClassification, (3,)), (BertForQuestionAnswering, ())):
        head = load_encoder(cls(BertConfig(**KW), *args), encoder)
        for k, v in head.bert.state_dict().items():
            assert torch.equal(v, encoder.state_dict()[k])
    bigger = BertModel(BertConfig(**{**KW, "num_hidden_layers": 3}))
    with pytest.raises(RuntimeError, match="layers.2"):
        load_encoder(BertForSequenceClassification(BertConfig(**KW), 2), bigger)


# --- labels on the first sub-token of each word ------------------------------------------------

def test_align_labels_by_hand():
    # [CLS] un ##believ ##able film [SEP] [PAD]
    word_ids = [None, 0, 0, 0, 1, None, None]
    assert align_labels(word_ids, [7, 3]) == [-100, 7, -100, -100, 3, -100, -100]
    assert align_labels([None, 0, 1, 1, 2, None], ["a", "b", "c"], ignore_index="x") == ["x", "a", "b", "x", "c", "x"]
    assert align_labels([None, None], []) == [-100, -100]


def test_encode_words_matches_transformers_word_ids(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "un", "##believ", "##able", "film", ",", "!"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    from bertlite import WordPieceTokenizer

    ours = WordPieceTokenizer(tmp_path / "vocab.txt")
    hf = transformers.BertTokenizer(str(tmp_path / "vocab.txt"))
    words = ["The", "unbelievable", "film,", "zzz", "!"]
    ids, word_ids = encode_words(ours, words)
    expected = hf(words, is_split_into_words=True)
    assert ids == expected["input_ids"]
    assert word_ids == expected.word_ids()
    assert word_ids == [None, 0, 1, 1, 1, 2, 2, 3, 4, None]
    assert word_predictions(list(range(10)), word_ids) == [1, 2, 5, 7, 8]
    with pytest.raises(ValueError, match="no tokens"):
        encode_words(ours, ["film", "\u200b"])
    with pytest.raises(ValueError, match="max_length=4"):
        encode_words(ours, words, max_length=4)


# --- span decoding ---------------------------------------------------------------------------

def span_inputs(start, end, context):
    return torch.tensor(start, dtype=torch.float), torch.tensor(end, dtype=torch.float), torch.tensor(context, dtype=torch.bool)


def test_best_span_edge_cases():
    #                    CLS  q    q  SEP  c    c    c    c   SEP  PAD
    context = [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    # the best start and end scores are in the question and on [SEP]: never chosen
    s, e, c = span_inputs([9, 9, 9, 0, 1, 0, 0, 0, 9, 9], [9, 9, 9, 0, 0, 0, 2, 0, 9, 9], context)
    assert best_span(s, e, c) == (4, 6)
    # end before start: the best end (4) comes before the best start (6); 6 + 7 is the best valid
    s, e, c = span_inputs([0, 0, 0, 0, -9, 1, 5, 0, 0, 0], [0, 0, 0, 0, 9, 0, 0, 2, 0, 0], context)
    assert best_span(s, e, c) == (6, 7)  # (6, 4) would score 14, but it ends before it starts
    # a span past the context: the end would be on [SEP]/padding
    s, e, c = span_inputs([0, 0, 0, 0, 0, 0, 0, 3, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 8, 8], context)
    assert best_span(s, e, c) == (7, 7)
    # the maximum answer length
    s, e, c = span_inputs([0, 0, 0, 0, 4, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 4, 0, 0], context)
    assert best_span(s, e, c, max_answer_length=4) == (4, 7)
    assert best_span(s, e, c, max_answer_length=3) in [(4, 4), (7, 7)]
    # a tie: the earliest start, then the earliest end
    s, e, c = span_inputs([0] * 10, [0] * 10, context)
    assert best_span(s, e, c) == (4, 4)
    s, e, c = span_inputs([0, 0, 0, 0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1, 0, 0, 0], context)
    assert best_span(s, e, c) == (4, 5)
    with pytest.raises(ValueError, match="no valid span"):
        best_span(s, e, torch.zeros(10, dtype=torch.bool))


def test_best_span_equals_brute_force():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        T = int(torch.randint(4, 20, (1,), generator=g))
        s, e = torch.randn(T, generator=g), torch.randn(T, generator=g)
        c = torch.rand(T, generator=g) > 0.3
        c[int(torch.randint(0, T, (1,), generator=g))] = True
        L = int(torch.randint(1, 6, (1,), generator=g))
        candidates = [(float(s[i] + e[j]), -i, -j) for i in range(T) for j in range(i, min(T, i + L)) if c[i] and c[j]]
        score, i, j = max(candidates)
        assert best_span(s, e, c, L) == (-i, -j)


# --- the training loop's helpers ------------------------------------------------------------------

def test_predict_trims_padding_without_changing_the_logits():
    from bertlite.task_training import predict

    ids, tt, am = inputs()
    ids = ids.masked_fill(am == 0, 0)
    ids, tt, am = (torch.cat([t, torch.zeros(B, 5, dtype=torch.long)], 1) for t in (ids, tt, am))  # extra padding
    data = {"input_ids": ids, "token_type_ids": tt, "attention_mask": am}
    for model in (BertForSequenceClassification(BertConfig(**KW), 3), BertForTokenClassification(BertConfig(**KW), 3)):
        model.eval()
        with torch.no_grad():
            full = model(ids, tt, am).logits
        got = predict(model, data, batch_size=2)
        keep = am.bool() if full.dim() == 3 else torch.ones(B, dtype=torch.bool)
        assert got.shape == full.shape
        assert (got[keep] - full[keep]).abs().max() < 1e-5
    qa = BertForQuestionAnswering(BertConfig(**KW)).eval()
    with torch.no_grad():
        out = qa(ids, tt, am)
    starts, ends = predict(qa, data, batch_size=2)
    assert (starts[am.bool()] - out.start_logits[am.bool()]).abs().max() < 1e-5
    assert torch.isinf(starts[~am.bool() & (torch.arange(ids.shape[1]) >= 12)]).all()


def test_fine_tune_learns_a_trivial_task_and_can_freeze_the_encoder():
    from bertlite.task_training import fine_tune, predict

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, KW["vocab_size"], (64, 8), generator=g)
    labels = (ids[:, 1] % 2 == 0).long()  # the label is written in the first word
    data = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**KW), 2)
    frozen_before = model.bert.embeddings.word_embeddings.weight.clone()
    fine_tune(model, data, steps=5, lr=1e-3, freeze_encoder=True, progress=False)
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, frozen_before)
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again afterwards
    history = fine_tune(model, data, steps=150, lr=3e-3, batch_size=16, progress=False)
    assert history[-1]["step"] == 150
    accuracy = (predict(model, data).argmax(-1) == labels).float().mean()
    assert accuracy > 0.9
