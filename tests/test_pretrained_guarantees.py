"""What from_pretrained (pretrained.py) promises about bad input: a config or a checkpoint that is wrong
fails early with an error that names the value and the fix. Never a traceback from deep inside
torch, never a silent wrong answer, and never gigabytes allocated for a config.json the weights
do not back."""

import json
import math
import string

import pytest
import torch

from bertlite import BertConfig, BertForPreTraining, BertModel, from_pretrained
from bertlite import pretrained
from bertlite.hf_weights import check_weight_shapes

transformers = pytest.importorskip("transformers")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(string.ascii_lowercase)
SIZES = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=48, max_position_embeddings=64)


def hf_checkpoint(directory, bin=False):
    """A small random transformers BertForPreTraining, saved as the Hub stores it."""
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(transformers.BertConfig(**SIZES)).eval()
    model.save_pretrained(directory)
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    if bin:
        (directory / "model.safetensors").unlink()
        torch.save(model.state_dict(), directory / "pytorch_model.bin")
    return model


def edit_config(directory, **changes):
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, **changes}))


@pytest.fixture
def no_model_may_be_built(monkeypatch):
    """Fail the test if from_pretrained builds (allocates) a model: every check must come first."""
    def refuse(config):
        raise AssertionError(f"a model was built for a config the weights do not back: {config}")
    monkeypatch.setattr(pretrained, "BertModel", refuse)
    monkeypatch.setattr(pretrained, "BertForPreTraining", refuse)


# ---- BertConfig: every field is checked before any tensor exists ----

BAD_FIELDS = [
    ("vocab_size", 5e7, TypeError, r"vocab_size=50000000\.0 is a float.*write vocab_size=50000000\b"),
    ("hidden_size", 8.0, TypeError, r"hidden_size=8\.0 is a float.*write hidden_size=8\b"),
    ("hidden_size", "8", TypeError, r"hidden_size='8' is a str.*write hidden_size=8\b.*no quotes"),
    ("num_hidden_layers", True, TypeError, r"num_hidden_layers=True is a bool"),
    ("num_attention_heads", 0, ValueError, r"num_attention_heads=0 must be at least 1"),
    ("num_attention_heads", -4, ValueError, r"num_attention_heads=-4 must be at least 1"),
    ("num_hidden_layers", -1, ValueError, r"num_hidden_layers=-1 must be at least 0"),
    ("intermediate_size", 0, ValueError, r"intermediate_size=0 must be at least 1"),
    ("vocab_size", -5, ValueError, r"vocab_size=-5 must be at least 1"),
    ("max_position_embeddings", 0, ValueError, r"max_position_embeddings=0 must be at least 1"),
    ("type_vocab_size", 0, ValueError, r"type_vocab_size=0 must be at least 1"),
    ("layer_norm_eps", 0.0, ValueError, r"layer_norm_eps=0\.0 must be a positive number.*1e-12"),
    ("layer_norm_eps", -1e-12, ValueError, r"layer_norm_eps=-1e-12 must be a positive number"),
    ("layer_norm_eps", math.nan, ValueError, r"layer_norm_eps=nan must be a positive number"),
    ("layer_norm_eps", math.inf, ValueError, r"layer_norm_eps=inf must be a positive number"),
    ("hidden_dropout_prob", 1.0, ValueError, r"hidden_dropout_prob=1\.0 is not a probability in \[0, 1\)"),
    ("attention_probs_dropout_prob", -0.1, ValueError, r"attention_probs_dropout_prob=-0\.1 is not a probability"),
    ("initializer_range", -0.02, ValueError, r"initializer_range=-0\.02 must be a number >= 0"),
    ("pad_token_id", 31, ValueError, r"pad_token_id=31 is not a token id in \[0, 31\)"),
    ("pad_token_id", -1, ValueError, r"pad_token_id=-1 is not a token id"),
]


@pytest.mark.parametrize("field,value,error,message", BAD_FIELDS, ids=[f"{f}={v!r}" for f, v, *_ in BAD_FIELDS])
def test_config_refuses_bad_fields_naming_the_value_and_the_fix(field, value, error, message):
    with pytest.raises(error, match=message):
        BertConfig(**{**SIZES, field: value})


def test_config_keeps_what_is_valid():
    config = BertConfig(**SIZES, hidden_dropout_prob=0, attention_probs_dropout_prob=0.0, initializer_range=0,
                        pad_token_id=None)  # a null pad_token_id (some config.json files): no padding row
    assert config.hidden_size == 32 and config.pad_token_id is None
    no_layers = BertConfig(**{**SIZES, "num_hidden_layers": 0})  # embeddings and pooler only
    check_weight_shapes(no_layers, BertModel(no_layers).state_dict())
    assert type(BertConfig(**{**SIZES, "vocab_size": torch.tensor(31).numpy()[()]}).vocab_size) is int


@pytest.mark.parametrize("changes,message", [
    ({"vocab_size": 5e7}, r"config\.json: vocab_size=50000000\.0 is a float"),  # was 3.4 GB allocated
    ({"num_attention_heads": 0}, r"config\.json: num_attention_heads=0 must be at least 1"),  # was a ZeroDivisionError
    ({"hidden_size": "8"}, r"config\.json: hidden_size='8' is a str"),
    ({"num_hidden_layers": -2}, r"config\.json: num_hidden_layers=-2 must be at least 0"),
    ({"layer_norm_eps": 0}, r"config\.json: layer_norm_eps=0 must be a positive number"),
], ids=["vocab_size=5e7", "0 heads", "hidden_size='8'", "-2 layers", "layer_norm_eps=0"])
def test_from_pretrained_names_the_bad_config_field_and_the_file(tmp_path, no_model_may_be_built, changes, message):
    hf_checkpoint(tmp_path)
    edit_config(tmp_path, **changes)
    with pytest.raises((TypeError, ValueError), match=message):
        from_pretrained(tmp_path)


# ---- the weights are checked against the config before the model is built ----

BOMBS = [
    ({"vocab_size": 50_000_000}, r"word_embeddings\.weight has shape \(31, 32\) in the checkpoint but \(50000000, 32\).*vocab_size=50000000"),
    ({"max_position_embeddings": 10**9}, r"position_embeddings\.weight has shape \(64, 32\) in the checkpoint but \(1000000000, 32\)"),
    ({"num_hidden_layers": 1_000_000}, r"checkpoint has 2 layers .*num_hidden_layers=1000000"),
    ({"intermediate_size": 10**8}, r"intermediate\.dense\.(weight|bias) has shape \(48,( 32)?\) in the checkpoint but \(100000000,( 32)?\)"),
]


@pytest.mark.parametrize("bin", [False, True], ids=["safetensors", "pytorch_bin"])
@pytest.mark.parametrize("changes,message", BOMBS, ids=[next(iter(c)) for c, _ in BOMBS])
def test_a_memory_bomb_in_config_json_is_refused_before_allocating(tmp_path, no_model_may_be_built, bin, changes, message):
    hf_checkpoint(tmp_path, bin=bin)
    edit_config(tmp_path, **changes)
    with pytest.raises(ValueError, match=message):
        from_pretrained(tmp_path)


def test_safetensors_shapes_come_from_the_header_alone(tmp_path, monkeypatch):
    from safetensors import safe_open

    hf_checkpoint(tmp_path)
    file = tmp_path / "model.safetensors"
    with safe_open(file, "pt") as f:
        expected = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert pretrained.read_safetensors_shapes(file) == expected
    # A bad config is refused without reading any tensor
    edit_config(tmp_path, vocab_size=50_000_000)
    monkeypatch.setattr(pretrained, "read_weights", lambda file: pytest.fail("the tensors were read"))
    with pytest.raises(ValueError, match="word_embeddings"):
        from_pretrained(tmp_path)


@pytest.mark.parametrize("header_length", [2**62, 0])
def test_a_safetensors_header_length_past_the_end_is_refused(tmp_path, header_length):
    file = tmp_path / "model.safetensors"
    file.write_bytes(header_length.to_bytes(8, "little") + b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}')
    with pytest.raises(ValueError, match=r"model\.safetensors.*truncated"):
        pretrained.read_safetensors_shapes(file)


def test_check_weight_shapes_reads_hugging_face_and_bertlite_names():
    config = BertConfig(**SIZES)
    hf = transformers.BertForPreTraining(transformers.BertConfig(**SIZES)).state_dict()
    ours = BertForPreTraining(config).state_dict()
    for state_dict in (hf, ours, {k.removeprefix("bert."): v for k, v in hf.items()}):
        check_weight_shapes(config, state_dict)  # tensors or shapes, a BertConfig or its dict
        check_weight_shapes(config.to_dict(), {k: tuple(v.shape) for k, v in state_dict.items()})
    bigger = {**SIZES, "intermediate_size": 64}
    with pytest.raises(ValueError, match=r"tensor bert\.encoder\.layer\.0\.intermediate\.dense\.weight has shape "
                                         r"\(48, 32\) in the checkpoint but \(64, 32\).*intermediate_size=64"):
        check_weight_shapes(bigger, hf)
    with pytest.raises(ValueError, match=r"tensor bert\.layers\.0\.intermediate\.weight has shape \(48, 32\)"):
        check_weight_shapes(bigger, ours)
    with pytest.raises(ValueError, match=r"tensor bert\.layers\.1\.attention\.query\.weight belongs to layer 1.*num_hidden_layers=1"):
        check_weight_shapes({**SIZES, "num_hidden_layers": 1}, ours)
    with pytest.raises(ValueError, match=r"cls\.seq_relationship\.weight has shape \(2, 16\) in the checkpoint but \(2, 32\)"):
        check_weight_shapes(config, {**hf, "cls.seq_relationship.weight": torch.zeros(2, 16)})
    without_positions = {k: v for k, v in ours.items() if "position_embeddings" not in k}
    with pytest.raises(ValueError, match=r"shows max_position_embeddings=64"):
        check_weight_shapes(config, without_positions)


# ---- a pickle that would run code is refused with a message, and is not run ----

class RunsCode:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('ran')",))


def test_malicious_pickle_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hf_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save({"bert.embeddings.word_embeddings.weight": RunsCode()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pytorch_model\.bin.*will not unpickle") as error:
        from_pretrained(tmp_path)
    assert "weights_only=False" not in str(error.value)  # never the advice to run the code
    assert not (tmp_path / "PWNED").exists()
