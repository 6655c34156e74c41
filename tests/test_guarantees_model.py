"""What the model side promises about bad input: a config, a checkpoint or a batch that is wrong
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
from bertlite.data.task_data import read_squad, write_squad_sample

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


# ---- BertModel's inputs ----

@pytest.fixture(scope="module")
def small():
    return BertModel(BertConfig(**SIZES)).eval()


def test_float_ids_are_refused_with_the_fix(small):
    with pytest.raises(TypeError, match=r"input_ids has dtype torch\.float32.*input_ids\.long\(\)"):
        small(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(TypeError, match=r"token_type_ids has dtype torch\.float32"):
        small(torch.tensor([[1, 2]]), torch.tensor([[0.0, 1.0]]))
    small(torch.tensor([[1, 2]], dtype=torch.int32))  # the other index type nn.Embedding takes


def test_an_empty_sequence_is_refused(small):
    with pytest.raises(ValueError, match=r"input_ids has shape \(2, 0\): sequences of length 0.*\[CLS\]"):
        small(torch.zeros(2, 0, dtype=torch.long))


@pytest.mark.parametrize("bad", [math.nan, 2.0, -1.0, 2, -1, 0.5])
def test_attention_mask_holds_only_zeros_and_ones(small, bad):
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.float if isinstance(bad, float) else torch.long)
    mask[0, 1] = bad
    with pytest.raises(ValueError, match=rf"attention_mask contains {bad}.*1 for a real token and 0 for padding"):
        small(torch.tensor([[2, 5, 6, 0]]), attention_mask=mask)


def test_every_valid_mask_type_gives_the_same_output(small):
    ids = torch.tensor([[2, 5, 6, 0]])
    outputs = [small(ids, attention_mask=torch.tensor([[1, 1, 1, 0]], dtype=dtype))[0]
               for dtype in (torch.bool, torch.long, torch.int32, torch.float32)]
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])


# ---- read_squad: every answer is where it says ----

def squad_with_answer(tmp_path, text, start):
    data = json.loads(write_squad_sample(tmp_path / "sample.json").read_text())
    qa = data["data"][0]["paragraphs"][0]["qas"][0]
    qa["answers"] = [{"text": text, "answer_start": start}]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    return data["data"][0]["paragraphs"][0]["context"], tmp_path / "bad.json"


def test_read_squad_refuses_a_negative_answer_start(tmp_path):
    context, _ = squad_with_answer(tmp_path, "2018", 0)
    # Python slices from the end with a negative start, so the text "matched" there before
    _, path = squad_with_answer(tmp_path, "2018", context.index("2018") - len(context))
    with pytest.raises(ValueError, match=r"question sample-0-0: the answer '2018' cannot start at answer_start=-\d+"):
        read_squad(path)


@pytest.mark.parametrize("start", [-1, 0, 10_000])
def test_read_squad_refuses_an_empty_answer_anywhere(tmp_path, start):
    _, path = squad_with_answer(tmp_path, "", start)  # an empty text "matched" at any offset before
    with pytest.raises(ValueError, match=rf"the answer '' cannot start at answer_start={start}"):
        read_squad(path)


def test_read_squad_refuses_an_answer_past_the_context(tmp_path):
    context, path = squad_with_answer(tmp_path, "2018", 10_000)
    with pytest.raises(ValueError, match=rf"answer_start=10000.*from 0 to {len(context) - 4}"):
        read_squad(path)
