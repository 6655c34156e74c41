"""Lesson 08: a bertlite model saved in Hugging Face's layout loads in transformers and computes
what bertlite computes; the names translate both ways; `export` and `fill-mask` on the command line."""

import json
import os
import string
import subprocess
import sys

import pytest
import torch

from bertlite import (
    BertConfig,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    WordPieceTokenizer,
    from_pretrained,
)
from bertlite.export import fill_mask, hf_state_dict, save_pretrained
from bertlite.hf_weights import bertlite_to_hf_name, hf_to_bertlite_name

transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file, save_file

WORDS = ["the", "capital", "of", "france", "is", "paris", "cat", "sat", "on", "mat", ".", "union", "state"]
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + list(string.ascii_lowercase)
         + ["##" + c for c in string.ascii_lowercase])
TEXTS = [("the capital of france is [MASK].", None), ("a cat sat on the mat.", "Paris is nice"),
         ("the [MASK] of the union", None), ("Héllo, wörld! the cats", "sat")]
TOLERANCE = 1e-5
# bertlite's class, its constructor's extra arguments, and the Auto classes that must load it.
MODELS = {
    "BertForPreTraining": (BertForPreTraining, {}, ("AutoModelForPreTraining", "AutoModelForMaskedLM")),
    "BertModel": (BertModel, {}, ("AutoModel",)),
    "BertForSequenceClassification": (BertForSequenceClassification, {"num_labels": 3},
                                      ("AutoModelForSequenceClassification",)),
    "BertForTokenClassification": (BertForTokenClassification, {"num_labels": 4},
                                   ("AutoModelForTokenClassification",)),
    "BertForQuestionAnswering": (BertForQuestionAnswering, {}, ("AutoModelForQuestionAnswering",)),
}


def tokenizer_at(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return WordPieceTokenizer(folder / "vocab.txt")


def random_model(kind, seed=0):
    """A small bertlite model with random weights, its LayerNorms and biases too, so that a
    mix-up of names cannot hide behind ones and zeros."""
    cls, kwargs, _ = MODELS[kind]
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=48, max_position_embeddings=64)
    model = cls(config, **kwargs).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.lower() or name.endswith("bias"):
                p.normal_(0, 0.5).add_(1 if name.endswith("weight") else 0)
    return model


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    model = random_model(request.param)
    tokenizer = tokenizer_at(folder / "src")
    save_pretrained(model, tokenizer, folder / "hf")
    return request.param, model, tokenizer, folder / "hf"


def outputs(model, enc):
    """{name: tensor} of a bertlite model or a transformers model, under common names."""
    ids, types, mask = enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]
    with torch.no_grad():
        if isinstance(model, torch.nn.Module) and type(model).__module__.startswith("bertlite"):
            out = model(ids, types, mask)
            if isinstance(out, tuple):
                return {"hidden": out[0], "pooled": out[1]}
            return {k: v for k, v in vars(out).items() if isinstance(v, torch.Tensor) and "loss" not in k}
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
    names = {"last_hidden_state": "hidden", "pooler_output": "pooled", "prediction_logits": "mlm_logits",
             "seq_relationship_logits": "nsp_logits"}
    return {names.get(k, k): v for k, v in out.items() if k in names or k.endswith("logits")}


def encode(tokenizer, a, b):
    enc = tokenizer(a, b, return_tensors="pt")
    return {k: enc[k].reshape(1, -1) for k in ("input_ids", "token_type_ids", "attention_mask")}


# ---- the names ----

@pytest.mark.parametrize("kind", list(MODELS))
def test_every_name_translates_there_and_back(kind):
    model = random_model(kind)
    hf_model = getattr(transformers, kind)(transformers.BertConfig(**model.config.to_dict()))
    hf_names = set(hf_model.state_dict())
    for key in model.state_dict():
        hf = bertlite_to_hf_name(key)
        assert hf in hf_names, f"{key} -> {hf}, which transformers' {kind} does not have"
        bare = lambda k: k.removeprefix("bert.")
        assert hf.startswith("bert.") == key.startswith("bert.")
        assert hf_to_bertlite_name(bare(hf)) == bare(key)


# ---- transformers loads the folder and computes what bertlite computes ----

def test_folder_holds_what_transformers_reads(exported):
    kind, model, tokenizer, folder = exported
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors", "vocab.txt",
                                                  "tokenizer_config.json", "special_tokens_map.json"}
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == [kind]
    assert "pre_layer_norm" not in config and "attn_implementation" not in config
    if kind in ("BertForSequenceClassification", "BertForTokenClassification"):
        assert len(config["id2label"]) == model.num_labels
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    assert settings["do_lower_case"] is True and settings["tokenizer_class"] == "BertTokenizer"
    assert settings["model_max_length"] == tokenizer.model_max_length


def test_transformers_gives_bertlites_outputs(exported):
    kind, model, tokenizer, folder = exported
    for auto in MODELS[kind][2]:
        hf_model, info = getattr(transformers, auto).from_pretrained(folder, output_loading_info=True)
        hf_model.eval()
        assert not info["missing_keys"] and not info["mismatched_keys"], info
        if auto != "AutoModelForMaskedLM":  # a masked LM has no pooler and no NSP head: those are left out
            assert not info["unexpected_keys"], info
        worst = 0.0
        for a, b in TEXTS:
            ours, theirs = outputs(model, encode(tokenizer, a, b)), outputs(hf_model, encode(tokenizer, a, b))
            if auto == "AutoModelForMaskedLM":
                theirs = {"mlm_logits": theirs["logits"]}
            assert set(theirs) <= set(ours), (auto, set(theirs), set(ours))
            for name, value in theirs.items():
                assert value.shape == ours[name].shape
                worst = max(worst, (value - ours[name]).abs().max().item())
        print(f"\n{kind} -> transformers.{auto}: max abs difference {worst:.3g}")
        assert worst <= TOLERANCE


def test_auto_tokenizer_gives_the_same_ids(exported):
    _, _, tokenizer, folder = exported
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    for a, b in TEXTS:
        assert hf_tokenizer(a, b)["input_ids"] == tokenizer(a, b)["input_ids"], (a, b)
        assert hf_tokenizer(a, b)["token_type_ids"] == tokenizer(a, b)["token_type_ids"]


def test_round_trip_is_exact(exported):
    kind, model, _, folder = exported
    back, tokenizer = from_pretrained(folder, model_class=MODELS[kind][0])
    assert type(back) is type(model) and tokenizer.vocab == dict(zip(VOCAB, range(len(VOCAB))))
    ours, theirs = model.state_dict(), back.state_dict()
    assert set(ours) == set(theirs)
    for k in ours:
        assert torch.equal(ours[k], theirs[k]), k
    if kind == "BertForPreTraining":  # and with no class given, the heads choose it
        assert type(from_pretrained(folder)[0]) is BertForPreTraining


def test_fill_mask_matches_the_transformers_pipeline(tmp_path):
    model, tokenizer = random_model("BertForPreTraining", seed=1), tokenizer_at(tmp_path / "src")
    save_pretrained(model, tokenizer, tmp_path / "hf")
    pipe = transformers.pipeline("fill-mask", model=str(tmp_path / "hf"), tokenizer=str(tmp_path / "hf"))
    for text in ("the capital of france is [MASK].", "the [MASK] of the union"):
        ours = fill_mask(model, tokenizer, text, top_k=5)
        theirs = pipe(text, top_k=5)
        assert len(ours) == 1 and len(ours[0]) == 5
        assert [t for t, _ in ours[0]] == [tokenizer.convert_ids_to_tokens(r["token"]) for r in theirs]
        assert [p for _, p in ours[0]] == pytest.approx([r["score"] for r in theirs], abs=1e-5)
    two = fill_mask(model, tokenizer, "the [MASK] of [MASK] is paris", top_k=3)
    assert len(two) == 2 and all(len(top) == 3 for top in two)
    assert all(p1 >= p2 for top in two for (_, p1), (_, p2) in zip(top, top[1:]))
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        fill_mask(model, tokenizer, "no mask here")
    with pytest.raises(TypeError, match="no masked-LM head"):
        fill_mask(model.bert, tokenizer, "the [MASK]")


def test_fill_mask_on_a_transformers_masked_lm_folder(tmp_path):
    from bertlite.pretrained import load_model

    torch.manual_seed(2)
    config = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=48, max_position_embeddings=64)
    transformers.BertForMaskedLM(config).save_pretrained(tmp_path)  # no pooler, no NSP head
    tokenizer_at(tmp_path)
    with pytest.warns(UserWarning, match="strict=False"):
        model, tokenizer = load_model(tmp_path, strict=False)
    pipe = transformers.pipeline("fill-mask", model=str(tmp_path), tokenizer=str(tmp_path))
    ours, theirs = fill_mask(model, tokenizer, "the cat sat on the [MASK].", top_k=4)[0], pipe("the cat sat on the [MASK].", top_k=4)
    assert [t for t, _ in ours] == [tokenizer.convert_ids_to_tokens(r["token"]) for r in theirs]


# ---- bad inputs and damaged folders ----

def test_save_pretrained_checks_its_inputs(tmp_path):
    model, tokenizer = random_model("BertModel"), tokenizer_at(tmp_path / "src")
    with pytest.raises(TypeError, match="cannot save a Linear"):
        save_pretrained(torch.nn.Linear(2, 2), tokenizer, tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        save_pretrained(model, tokenizer, tmp_path / "file")
    model.config.pre_layer_norm = True
    with pytest.raises(ValueError, match="pre-LN"):
        save_pretrained(model, tokenizer, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_tensor_is_named_as_the_checkpoint_names_it(tmp_path):
    model, tokenizer = random_model("BertForPreTraining"), tokenizer_at(tmp_path / "src")
    folder = save_pretrained(model, tokenizer, tmp_path / "hf")
    state = load_file(folder / "model.safetensors")
    del state["bert.encoder.layer.1.output.dense.weight"]
    save_file(state, folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"missing from the checkpoint \(1\): bert\.encoder\.layer\.1\.output\.dense"
                                         r"\.weight \(bertlite: bert\.layers\.1\.output_dense\.weight\)"):
        from_pretrained(folder)
    assert set(hf_state_dict(model)) - set(state) == {"bert.encoder.layer.1.output.dense.weight"}


# ---- the command line, on a tiny pre-training run ----

@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    from test_cli import write_corpus

    from bertlite.pretraining import PretrainConfig
    from bertlite.pretraining_runs import run_pretraining

    root = tmp_path_factory.mktemp("export_cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTLITE_CACHE", str(root / "cache"))
        cfg = PretrainConfig(corpus=str(write_corpus(root / "corpus")), vocab_size=100, seq_len=32, batch_size=4,
                             steps=2, device="cpu", out=str(root / "run"))
        run_pretraining(cfg, progress=False)
    return root


def bertlite_cli(root, *args):
    env = dict(os.environ, BERTLITE_CACHE=str(root / "cache"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "bertlite", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_export_and_fill_mask(run_folder):
    root = run_folder
    r = bertlite_cli(root, "export", root / "run", root / "hf")
    assert r.returncode == 0, r.stderr
    assert "wrote BertForPreTraining" in r.stdout
    hf_model = transformers.AutoModelForMaskedLM.from_pretrained(root / "hf").eval()
    from bertlite.pretrained import load_pretrained
    model, tokenizer = load_pretrained(root / "run")
    enc = encode(tokenizer, "the river sees the [MASK] number 3.", None)
    assert (outputs(hf_model, enc)["logits"] - outputs(model, enc)["mlm_logits"]).abs().max() <= TOLERANCE

    checkpoint = sorted((root / "run").glob("checkpoint-*.pt"))[-1]
    r = bertlite_cli(root, "export", checkpoint, root / "hf-from-file")
    assert r.returncode == 0, r.stderr
    assert (root / "hf-from-file" / "model.safetensors").read_bytes() == (root / "hf" / "model.safetensors").read_bytes()

    expected = fill_mask(model, tokenizer, "the [MASK] sees the boat", top_k=3)
    for source in (root / "run", root / "hf"):
        r = bertlite_cli(root, "fill-mask", "--model", source, "the [MASK] sees the boat", "--top-k", "3")
        assert r.returncode == 0, r.stderr
        assert "[MASK] 1 of 1:" in r.stdout
        lines = [line.split() for line in r.stdout.splitlines() if line.strip()[:2].rstrip(".").isdigit()]
        assert [line[1] for line in lines] == [t for t, _ in expected[0]]
        assert [float(line[2]) for line in lines] == pytest.approx([p for _, p in expected[0]], abs=1e-4)


def test_cli_errors_are_one_line(run_folder):
    root = run_folder
    r = bertlite_cli(root, "export", root / "nowhere", root / "out")
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = bertlite_cli(root, "fill-mask", "--model", root / "run", "no mask here")
    assert r.returncode == 1 and "no [MASK]" in r.stderr and "Traceback" not in r.stderr


def test_cli_exports_a_fine_tuned_model_in_float16(run_folder, tmp_path):
    """A fine-tuned classifier saved with save_pretrained exports as itself, labels kept; float16
    halves the folder, and both transformers and bertlite read it back."""
    model, tokenizer = random_model("BertForSequenceClassification"), tokenizer_at(tmp_path / "src")
    save_pretrained(model, tokenizer, tmp_path / "tuned", labels=["negative", "neutral", "positive"])
    r = bertlite_cli(run_folder, "export", tmp_path / "tuned", tmp_path / "half", "--dtype", "float16")
    assert r.returncode == 0, r.stderr
    assert "wrote BertForSequenceClassification" in r.stdout and "float16" in r.stdout
    config = json.loads((tmp_path / "half" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    assert {v.dtype for v in load_file(tmp_path / "half" / "model.safetensors").values()} == {torch.float16}
    full, half = (os.path.getsize(tmp_path / d / "model.safetensors") for d in ("tuned", "half"))
    assert half < 0.55 * full
    enc = encode(tokenizer, "a cat sat on the mat.", "the union")
    hf_model = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "half").float().eval()
    back, _ = from_pretrained(tmp_path / "half", BertForSequenceClassification)
    expected = outputs(model, enc)["logits"]
    for other in (hf_model, back):
        assert (outputs(other, enc)["logits"] - expected).abs().max() < 1e-2


def test_cli_export_of_a_run_keeps_its_records(run_folder):
    """A run folder's metrics.jsonl and held_out.json travel with the exported model."""
    root = run_folder
    assert json.loads((root / "run" / "held_out.json").read_text())["pairs"] > 0
    r = bertlite_cli(root, "export", root / "run", root / "hf-records")
    assert r.returncode == 0, r.stderr
    for name in ("metrics.jsonl", "held_out.json", "pretrain_config.json"):
        assert (root / "hf-records" / name).read_bytes() == (root / "run" / name).read_bytes()


def test_a_stored_run_is_found_by_its_recipe_and_drawn_behind(run_folder, monkeypatch):
    """reference_run finds the stored run whose recipe is cfg's (where and how fast it ran do not
    count), and plot_metrics draws it behind the learner's curves."""
    from bertlite import pretraining_runs as runs
    from bertlite.checkpoints import read_metrics
    from bertlite.pretraining import PretrainConfig

    root = run_folder
    monkeypatch.setattr(runs, "REFERENCE_RUNS", root)
    stored = json.loads((root / "run" / "pretrain_config.json").read_text())
    cfg = PretrainConfig(**stored, device="cpu", out=str(root / "elsewhere"), log_every=1)
    found = runs.reference_run(cfg)
    assert found is not None and (root / found.name / "model.safetensors").exists() != (found.name == "run")  # it, or an export
    assert found.history == read_metrics(root / "run" / "metrics.jsonl") and found.held_out["pairs"] > 0
    assert runs.reference_run(PretrainConfig(**{**stored, "lr": 5e-4})) is None
    (root / "elsewhere-plots").mkdir()
    runs.plot_metrics(found.history, root / "elsewhere-plots", found)
    assert (root / "elsewhere-plots" / "accuracy.png").stat().st_size > 0
