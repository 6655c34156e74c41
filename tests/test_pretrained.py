"""Lesson 08: from_pretrained reads a Hugging Face BERT directory, and the model it builds
computes what transformers computes from the same files."""

import json
import string

import pytest
import torch

from bertlite import BertForPreTraining, BertModel, from_pretrained

transformers = pytest.importorskip("transformers")

WORDS = ["the", "capital", "of", "france", "is", "paris", "cat", "sat", "on", "mat", "."]
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + list(string.ascii_lowercase)
         + ["##" + c for c in string.ascii_lowercase])
TEXTS = [("the capital of france is [MASK].", None), ("a cat sat on the mat.", "paris is nice")]
SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
             max_position_embeddings=64)


def hf_checkpoint(directory, head=True, seed=0):
    """A randomly initialised transformers model saved the way the Hub stores BERT."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=len(VOCAB), **SIZES)
    model = (transformers.BertForPreTraining if head else transformers.BertModel)(config).eval()
    with torch.no_grad():  # random LayerNorms and biases, so a mix-up of names cannot hide
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.normal_(0, 0.5).add_(1 if "LayerNorm.weight" in name else 0)
    model.save_pretrained(directory)
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return model


def hf_state_dict_file(model, directory, rename=lambda k: k, drop=()):
    """Replace model.safetensors by a pytorch_model.bin, optionally with old key names."""
    (directory / "model.safetensors").unlink()
    state = {rename(k): v for k, v in model.state_dict().items() if k not in drop}
    torch.save(state, directory / "pytorch_model.bin")


def assert_same_outputs(ours, tokenizer, hf_model):
    hf_tokenizer = transformers.BertTokenizer(tokenizer.vocab_file)  # (a keyword vocab_file= is ignored in 5.x)
    for a, b in TEXTS:
        enc = tokenizer(a, b, return_tensors="pt")
        hf_enc = hf_tokenizer(a, b, return_tensors="pt")
        ids, types, mask = (enc[k].reshape(1, -1) for k in ("input_ids", "token_type_ids", "attention_mask"))
        assert ids.tolist() == hf_enc["input_ids"].tolist()
        with torch.no_grad():
            backbone = hf_model.bert if hasattr(hf_model, "bert") else hf_model
            expected = backbone(input_ids=ids, token_type_ids=types, attention_mask=mask)
            bert = ours.bert if isinstance(ours, BertForPreTraining) else ours
            hidden, pooled = bert(ids, types, mask)
            assert (hidden - expected.last_hidden_state).abs().max() <= 1e-5
            assert (pooled - expected.pooler_output).abs().max() <= 1e-5
            if isinstance(ours, BertForPreTraining):
                hf_out = hf_model(input_ids=ids, token_type_ids=types, attention_mask=mask)
                out = ours(ids, types, mask)
                assert (out.mlm_logits - hf_out.prediction_logits).abs().max() <= 1e-5
                assert (out.nsp_logits - hf_out.seq_relationship_logits).abs().max() <= 1e-5


def test_safetensors_directory(tmp_path):
    hf_model = hf_checkpoint(tmp_path)
    assert not (tmp_path / "pytorch_model.bin").exists()
    model, tokenizer = from_pretrained(tmp_path)
    assert type(model) is BertForPreTraining and not model.training
    assert model.config.hidden_size == 32 and tokenizer.vocab_size == len(VOCAB)
    assert_same_outputs(model, tokenizer, hf_model)


def test_pytorch_bin_with_legacy_names_and_no_decoder_bias(tmp_path):
    hf_model = hf_checkpoint(tmp_path)
    state = hf_model.state_dict()
    assert "cls.predictions.bias" in state  # the bias survives under its other name only

    def legacy(key):  # the names of checkpoints converted from TensorFlow
        return key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")

    hf_state_dict_file(hf_model, tmp_path, rename=legacy, drop=("cls.predictions.decoder.bias",))
    saved = torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    assert any(k.endswith("gamma") for k in saved) and "cls.predictions.decoder.bias" not in saved
    model, tokenizer = from_pretrained(tmp_path)
    assert_same_outputs(model, tokenizer, hf_model)


def test_bare_backbone_and_explicit_class(tmp_path):
    bare_dir, full_dir = tmp_path / "bare", tmp_path / "full"
    hf_bare = hf_checkpoint(bare_dir, head=False)
    model, tokenizer = from_pretrained(bare_dir)
    assert type(model) is BertModel
    assert_same_outputs(model, tokenizer, hf_bare)

    hf_full = hf_checkpoint(full_dir)
    with pytest.warns(UserWarning, match="dropped"):
        model, tokenizer = from_pretrained(full_dir, model_class=BertModel)
    assert type(model) is BertModel
    assert_same_outputs(model, tokenizer, hf_full)


def test_cased_tokenizer_setting(tmp_path):
    hf_checkpoint(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    _, tokenizer = from_pretrained(tmp_path)
    assert tokenizer.tokenize("Paris") == ["[UNK]"]  # the vocabulary is lower case only


# ---- checkpoints that do not fit give errors that say what and where ----

def test_truncated_safetensors(tmp_path):
    hf_checkpoint(tmp_path)
    file = tmp_path / "model.safetensors"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"model\.safetensors.*truncated"):
        from_pretrained(tmp_path)


def test_truncated_pytorch_bin(tmp_path):
    hf_model = hf_checkpoint(tmp_path)
    hf_state_dict_file(hf_model, tmp_path)
    file = tmp_path / "pytorch_model.bin"
    file.write_bytes(file.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"pytorch_model\.bin.*truncated"):
        from_pretrained(tmp_path)


class NotWeights:
    pass


def test_pickle_with_objects_is_refused(tmp_path):
    hf_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save({"bert.embeddings.word_embeddings.weight": NotWeights()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pytorch_model.bin"):  # weights_only=True will not build it
        from_pretrained(tmp_path)


def test_config_mismatch_names_the_tensor_and_both_shapes(tmp_path):
    hf_checkpoint(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["intermediate_size"] = 64  # the weights were saved with 48
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"layer\.0\.intermediate\.dense\.bias.*has shape \(48,\) in the checkpoint but \(64,\)"):
        from_pretrained(tmp_path)


def test_vocab_longer_than_the_embedding_table(tmp_path):
    hf_checkpoint(tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB + ["extra1", "extra2"]) + "\n")
    with pytest.raises(ValueError, match=rf"vocab\.txt has {len(VOCAB) + 2} tokens.*vocab_size={len(VOCAB)}"):
        from_pretrained(tmp_path)


def test_gpt2_like_checkpoint(tmp_path):
    hf_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    gpt2 = {"wte.weight": torch.zeros(len(VOCAB), 32), "wpe.weight": torch.zeros(64, 32),
            "h.0.attn.c_attn.weight": torch.zeros(32, 96), "ln_f.weight": torch.ones(32)}
    torch.save(gpt2, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="not a BERT checkpoint.*wte.weight"):
        from_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="'gpt2' model"):
        from_pretrained(tmp_path)


def test_untied_decoder_is_refused(tmp_path):
    hf_model = hf_checkpoint(tmp_path)
    state = dict(hf_model.state_dict())
    state["cls.predictions.decoder.weight"] = state["cls.predictions.decoder.weight"] + 1
    (tmp_path / "model.safetensors").unlink()
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="differs from its word embeddings"):
        from_pretrained(tmp_path)


@pytest.mark.parametrize("missing", ["config.json", "vocab.txt", "model.safetensors"])
def test_missing_files(tmp_path, missing):
    hf_checkpoint(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing.replace(".", r"\.")):
        from_pretrained(tmp_path)


def test_not_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        from_pretrained(tmp_path / "nowhere")


def test_truncated_config(tmp_path):
    hf_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text('{"hidden_size": 32, "num_hid')
    with pytest.raises(ValueError, match=r"config\.json is not valid JSON"):
        from_pretrained(tmp_path)
