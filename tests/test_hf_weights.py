"""load_hf_state_dict: Hugging Face checkpoints of every common layout load into bertlite and
give transformers' own outputs; checkpoints that do not fit fail loudly, naming the tensors."""

import warnings

import pytest
import torch

from bertlite import BertConfig, BertForPreTraining, BertModel, load_hf_state_dict

transformers = pytest.importorskip("transformers")

KW = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
          intermediate_size=37, max_position_embeddings=24)


def hf_model(cls, seed=0, **overrides):
    torch.manual_seed(seed)
    return cls(transformers.BertConfig(**{**KW, **overrides})).eval()


def ours(cls=BertModel, **overrides):
    torch.manual_seed(1)  # different from the checkpoint's, so nothing matches by accident
    return cls(BertConfig(**{**KW, **overrides})).eval()


def inputs():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, KW["vocab_size"], (3, 12), generator=g)
    tt = torch.randint(0, 2, (3, 12), generator=g)
    am = torch.ones(3, 12, dtype=torch.long)
    am[1, 8:] = 0
    am[2, 3:] = 0
    return ids, tt, am


def assert_backbone_matches(model, hf_backbone):
    ids, tt, am = inputs()
    with torch.no_grad():
        expected = hf_backbone(input_ids=ids, token_type_ids=tt, attention_mask=am)
        sequence_output, pooled_output = model(ids, tt, am)
    torch.testing.assert_close(sequence_output, expected.last_hidden_state, atol=1e-5, rtol=0)
    if getattr(expected, "pooler_output", None) is not None:
        torch.testing.assert_close(pooled_output, expected.pooler_output, atol=1e-5, rtol=0)


def prefixed(state_dict, prefix="bert."):
    return {prefix + k: v for k, v in state_dict.items()}


def unprefixed(state_dict):
    return {k.removeprefix("bert."): v for k, v in state_dict.items()}


@pytest.mark.parametrize("with_prefix", [False, True])
def test_bert_model_checkpoint(with_prefix):
    hf = hf_model(transformers.BertModel)
    state_dict = prefixed(hf.state_dict()) if with_prefix else hf.state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean fit loads silently
        model = load_hf_state_dict(ours(), state_dict)
    assert_backbone_matches(model, hf)


@pytest.mark.parametrize("with_prefix", [True, False])
def test_pretraining_checkpoint_into_pretraining_model(with_prefix):
    hf = hf_model(transformers.BertForPreTraining)
    state_dict = hf.state_dict() if with_prefix else unprefixed(hf.state_dict())
    model = load_hf_state_dict(ours(BertForPreTraining), state_dict)
    ids, tt, am = inputs()
    with torch.no_grad():
        expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am)
        got = model(ids, tt, am)
    torch.testing.assert_close(got.mlm_logits, expected.prediction_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.nsp_logits, expected.seq_relationship_logits, atol=1e-5, rtol=0)


def test_bert_model_checkpoint_into_pretraining_model_names_the_missing_heads():
    hf = hf_model(transformers.BertModel)
    with pytest.raises(ValueError, match=r"missing from the checkpoint \(\d+\): cls\.predictions\..*\(bertlite: nsp_head\.weight\)"):
        load_hf_state_dict(ours(BertForPreTraining), hf.state_dict())


def test_pretraining_checkpoint_into_bare_model_drops_the_heads_with_a_warning():
    hf = hf_model(transformers.BertForPreTraining)
    with pytest.warns(UserWarning, match=r"dropped \d+ head tensors \(cls\.predictions, cls\.seq_relationship\)"):
        model = load_hf_state_dict(ours(), hf.state_dict())
    assert_backbone_matches(model, hf.bert)


def test_masked_lm_checkpoint():
    """BertForMaskedLM has no pooler: strict loading says so; strict=False keeps our pooler."""
    hf = hf_model(transformers.BertForMaskedLM)
    assert not any("pooler" in k for k in hf.state_dict())
    with pytest.raises(ValueError, match=r"(?s)missing from the checkpoint \(2\): pooler\.dense\.bias, pooler\.dense\.weight.*strict=False"):
        load_hf_state_dict(ours(), hf.state_dict())

    with pytest.warns(UserWarning) as record:
        model = load_hf_state_dict(ours(), hf.state_dict(), strict=False)
    messages = " ".join(str(w.message) for w in record)
    assert "cls.predictions" in messages and "pooler.dense.weight" in messages
    assert_backbone_matches(model, hf.bert)

    with pytest.warns(UserWarning, match=r"keep their initial values \(bert\.pooler\.dense\.bias, bert\.pooler\.dense\.weight, nsp_head\.bias, nsp_head\.weight\)"):
        model = load_hf_state_dict(ours(BertForPreTraining), hf.state_dict(), strict=False)
    ids, tt, am = inputs()
    with torch.no_grad():
        expected = hf(input_ids=ids, token_type_ids=tt, attention_mask=am).logits
        got = model(ids, tt, am).mlm_logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_legacy_gamma_beta_and_position_ids():
    """TensorFlow-era checkpoints call LayerNorm's weight and bias gamma and beta, and older
    transformers saved a position_ids buffer."""
    hf = hf_model(transformers.BertForPreTraining)
    state_dict = {}
    for k, v in hf.state_dict().items():
        if "LayerNorm." in k:
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        state_dict[k] = v
    assert sum(k.endswith(".gamma") for k in state_dict) == 1 + 2 * KW["num_hidden_layers"] + 1
    state_dict["bert.embeddings.position_ids"] = torch.arange(KW["max_position_embeddings"])[None]
    model = load_hf_state_dict(ours(BertForPreTraining), state_dict)
    assert_backbone_matches(model.bert, hf.bert)
    torch.testing.assert_close(model.mlm_head.LayerNorm.weight, hf.cls.predictions.transform.LayerNorm.weight)


def test_tied_decoder():
    hf = hf_model(transformers.BertForPreTraining)
    model = load_hf_state_dict(ours(BertForPreTraining), hf.state_dict())
    embeddings = model.bert.embeddings.word_embeddings.weight
    assert model.mlm_head.decoder.weight is embeddings  # one matrix, not a copy
    torch.testing.assert_close(embeddings, hf.bert.embeddings.word_embeddings.weight, atol=0, rtol=0)
    torch.testing.assert_close(model.mlm_head.decoder.bias, hf.cls.predictions.decoder.bias, atol=0, rtol=0)


def test_missing_tensor_is_named_and_nothing_is_loaded():
    hf = hf_model(transformers.BertModel)
    state_dict = hf.state_dict()
    del state_dict["encoder.layer.1.intermediate.dense.weight"]
    model = ours()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"missing from the checkpoint \(1\): encoder\.layer\.1\.intermediate\.dense\.weight \(bertlite: layers\.1\.intermediate\.weight\)\n.*unexpected in the checkpoint \(0\): none"):
        load_hf_state_dict(model, state_dict)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # not half-written


def test_unexpected_tensor_is_named():
    hf = hf_model(transformers.BertModel)
    state_dict = dict(hf.state_dict())
    state_dict["encoder.layer.0.adapter.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"unexpected in the checkpoint \(1\): encoder\.layer\.0\.adapter\.weight"):
        load_hf_state_dict(ours(), state_dict)
    # strict=False skips it, says so, and loads the rest
    with pytest.warns(UserWarning, match=r"1 checkpoint tensors were skipped \(encoder\.layer\.0\.adapter\.weight\)"):
        model = load_hf_state_dict(ours(), state_dict, strict=False)
    assert_backbone_matches(model, hf)


def test_shape_mismatch_names_the_tensor_and_both_shapes():
    hf = hf_model(transformers.BertModel, vocab_size=100)
    model = ours()
    before = model.embeddings.word_embeddings.weight.clone()
    with pytest.raises(ValueError, match=r"embeddings\.word_embeddings\.weight .*shape \(100, 32\) in the checkpoint but \(99, 32\) in the model.*vocab_size"):
        load_hf_state_dict(model, hf.state_dict())
    assert torch.equal(model.embeddings.word_embeddings.weight, before)
