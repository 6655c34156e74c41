"""bertlite.pretraining: data pipeline, optimizer, schedule, loop, checkpoints, resumption.

Everything runs on a made-up corpus of six small documents in a temporary cache."""

import dataclasses
import random

import pytest
import torch

from bertlite import pretraining as pt
from bertlite import checkpoints, pretrained
from bertlite import flops
from bertlite import heads
from bertlite import optim
from bertlite import pretraining_runs as runs
from bertlite import pretraining_data
from bertlite.masking import IGNORE_INDEX
from bertlite.nsp import PairExample

TOPICS = [["river", "boat", "water", "fish", "bank"], ["money", "bank", "loan", "interest", "tax"],
          ["army", "war", "peace", "treaty", "navy"], ["school", "teacher", "child", "book", "lesson"],
          ["farm", "wheat", "corn", "harvest", "rain"], ["train", "rail", "station", "freight", "track"]]


def write_corpus(folder, n_sentences=60, seed=0):
    """Six documents, one topic each, made of sentences such as "The boat sees the river number 3." """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for d, words in enumerate(TOPICS):
        s = [f"The {rng.choice(words)} {rng.choice(['sees', 'needs', 'likes', 'moves'])} the "
             f"{rng.choice(words)} number {i % 7}." for i in range(n_sentences)]
        half = n_sentences // 2
        (folder / f"doc{d}.txt").write_text(" ".join(s[:half]) + "\n\n" + " ".join(s[half:]) + "\n")
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A private cache, the corpus, and a recipe small enough for a few seconds of CPU."""
    root = tmp_path_factory.mktemp("pretraining")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTLITE_CACHE", str(root / "cache"))
        corpus = write_corpus(root / "corpus")
        cfg = pt.PretrainConfig(corpus=str(corpus), vocab_size=120, steps=8, batch_size=8, seq_len=32,
                                log_every=1, device="cpu")
        tokenizer, dataset, _, _ = runs.prepare(cfg, progress=False)
        yield dict(root=root, cfg=cfg, tokenizer=tokenizer, dataset=dataset)


def test_collate_pads_masks_and_labels(env):
    tok = env["tokenizer"]
    a = PairExample([tok.cls_token_id, 10, 11, tok.sep_token_id, 12, tok.sep_token_id], [0, 0, 0, 0, 1, 1], 0)
    b = PairExample([tok.cls_token_id] + list(range(20, 40)) + [tok.sep_token_id, 50, tok.sep_token_id],
                    [0] * 22 + [1, 1], 1)
    batch = pretraining_data.collate([a, b], tok, mlm_probability=0.5, generator=torch.Generator().manual_seed(0))
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "mlm_labels", "nsp_labels"}
    assert all(batch[k].shape == (2, 24) for k in ("input_ids", "token_type_ids", "attention_mask", "mlm_labels"))
    assert batch["nsp_labels"].tolist() == [0, 1]
    assert batch["attention_mask"][0].tolist() == [1] * 6 + [0] * 18
    assert batch["token_type_ids"][0].tolist() == [0, 0, 0, 0, 1, 1] + [0] * 18
    assert (batch["input_ids"][0, 6:] == tok.pad_token_id).all()
    original = torch.tensor([a.input_ids + [tok.pad_token_id] * 18, b.input_ids])
    labels = batch["mlm_labels"]
    special = torch.isin(original, torch.tensor([tok.cls_token_id, tok.sep_token_id])) | (batch["attention_mask"] == 0)
    assert (labels[special] == IGNORE_INDEX).all()  # [CLS], [SEP] and padding are never chosen
    chosen = labels != IGNORE_INDEX
    assert chosen.any() and (labels[chosen] == original[chosen]).all()  # the label is the original id
    assert (batch["input_ids"][~chosen] == original[~chosen]).all()  # only chosen tokens change
    again = pretraining_data.collate([a, b], tok, mlm_probability=0.5, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(batch[k], again[k]) for k in batch)  # a seeded generator repeats


def test_dataset_holds_the_examples(env):
    examples = [PairExample([2, 7, 3, 8, 9, 3], [0, 0, 0, 1, 1, 1], 1), PairExample([2, 5, 3, 6, 3], [0, 0, 0, 1, 1], 0)]
    ds = pretraining_data.PretrainingDataset.from_examples(examples)
    assert len(ds) == 2 and ds[0] == examples[0] and ds[1] == examples[1]
    assert len(env["dataset"]) > 100
    e = env["dataset"][0]
    assert len(e.input_ids) <= env["cfg"].seq_len and e.input_ids[0] == env["tokenizer"].cls_token_id


def test_tokenize_documents_matches_the_tokenizer(env):
    from bertlite.data.corpus import load_corpus

    docs = load_corpus(env["cfg"].corpus)[:2]
    tok = env["tokenizer"]
    ids = pretraining_data.tokenize_documents(docs, tok, progress=False)
    assert ids == [[tok.convert_tokens_to_ids(tok.tokenize(s)) for s in d.sentences] for d in docs]


def test_cached_dataset_reuses_the_file(env, monkeypatch):
    from bertlite.data.corpus import load_corpus

    docs = load_corpus(env["cfg"].corpus)
    files = sorted((env["root"] / "cache" / "data").glob("nsp-*.pt"))
    assert len(files) == 1  # written by the fixture's prepare()
    monkeypatch.setattr(pretraining_data, "make_nsp_examples", lambda *a, **k: pytest.fail("the cache was not used"))
    again = pretraining_data.cached_dataset(docs, env["tokenizer"], env["cfg"].seq_len, env["cfg"].seed, progress=False)
    train, _ = pretraining_data.split_held_out(again, env["cfg"].held_out, env["cfg"].seed)  # what prepare() trains on
    assert torch.equal(train.input_ids, env["dataset"].input_ids)
    with pytest.raises(pytest.fail.Exception):  # another max_length is another cache entry
        pretraining_data.cached_dataset(docs, env["tokenizer"], 48, env["cfg"].seed, progress=False)


def test_split_held_out_keeps_pairs_out_of_training(env):
    from bertlite.data.corpus import load_corpus

    full = pretraining_data.cached_dataset(load_corpus(env["cfg"].corpus), env["tokenizer"], env["cfg"].seq_len,
                             env["cfg"].seed, progress=False)
    train, held = pretraining_data.split_held_out(full, 0.1, seed=0)
    assert len(held) == round(0.1 * len(full)) and len(train) + len(held) == len(full)
    pairs = lambda ds: [tuple(ds[i].input_ids) + (ds[i].nsp_label,) for i in range(len(ds))]  # noqa: E731
    assert sorted(pairs(train) + pairs(held)) == sorted(pairs(full))  # every pair lands on one side
    again, _ = pretraining_data.split_held_out(full, 0.1, seed=0)
    other, _ = pretraining_data.split_held_out(full, 0.1, seed=1)
    assert torch.equal(again.input_ids, train.input_ids) and not torch.equal(other.input_ids, train.input_ids)
    assert len(pretraining_data.split_held_out(full, 0.0)[1]) == 0
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="fraction"):
            pretraining_data.split_held_out(full, bad)


def test_step_batches_are_a_function_of_seed_and_step(env):
    ds, tok = env["dataset"], env["tokenizer"]
    b = pretraining_data.StepBatches(ds, tok, batch_size=8, seed=3)
    n = b.batches_per_epoch
    epoch0 = [i for s in range(n) for i in b.indices(s)]
    assert len(set(epoch0)) == len(epoch0) == n * 8  # an epoch visits examples without repeats
    assert [b.indices(s) for s in range(n, 2 * n)] != [b.indices(s) for s in range(n)]  # reshuffled
    fresh = pretraining_data.StepBatches(ds, tok, batch_size=8, seed=3)
    assert all(torch.equal(fresh[n + 1][k], b[n + 1][k]) for k in b[0])  # no hidden state
    ranks = [pretraining_data.StepBatches(ds, tok, batch_size=4, seed=3, rank=r, world_size=2) for r in (0, 1)]
    assert sorted(ranks[0].indices(5) + ranks[1].indices(5)) == sorted(b.indices(5))  # shards of one batch


def test_param_groups(env):
    model = heads.BertForPreTraining(env["cfg"].model_config(120))
    decay, no_decay = optim.param_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    # By hand: every LayerNorm parameter and every bias is exempt; every other weight decays.
    expected_no = {id(p) for n, p in model.named_parameters() if n.endswith("bias")}
    expected_no |= {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.LayerNorm)}
    assert {id(p) for p in no_decay["params"]} == expected_no
    assert model.mlm_head.decoder.weight in decay["params"]  # tied to the embeddings: listed once
    n_unique = len({id(p) for p in model.parameters()})
    assert len(decay["params"]) + len(no_decay["params"]) == n_unique


def test_warmup_linear_matches_transformers():
    transformers = pytest.importorskip("transformers")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    ref = transformers.get_linear_schedule_with_warmup(opt, num_warmup_steps=10, num_training_steps=100)
    for step in range(105):
        assert optim.warmup_linear(step, 10, 100) == pytest.approx(ref.lr_lambdas[0](step), abs=1e-12)
    assert [optim.warmup_linear(s, 4, 12) for s in (0, 2, 4, 8, 12, 13)] == [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]


def test_flops_per_token_counts_the_matmul_weights(env):
    config = env["cfg"].model_config(120)
    model = heads.BertForPreTraining(config)
    layers = sum(m.weight.numel() for m in model.bert.layers.modules() if isinstance(m, torch.nn.Linear))
    H = config.hidden_size
    by_hand = 6 * layers + 12 * config.num_hidden_layers * H * 32  # + attention's QKᵀ and AV
    assert flops.flops_per_token(config, 32, mlm_fraction=0.0) == by_hand
    head = sum(m.weight.numel() for m in model.mlm_head.modules() if isinstance(m, torch.nn.Linear))
    assert head == H * H + 120 * H
    assert flops.flops_per_token(config, 32, 0.5) - by_hand == 6 * head * 0.5


def run(env, name, resume=False, **overrides):
    cfg = dataclasses.replace(env["cfg"], out=str(env["root"] / name), **overrides)
    return runs.run_pretraining(cfg, resume=resume, progress=False)


def test_training_reduces_the_loss(env):
    history = run(env, "learn", steps=40, log_every=10, lr=2e-3).history
    first, last = history[0], history[-1]
    assert last["mlm_loss"] < first["mlm_loss"] - 0.5, history
    assert last["mlm_acc"] > first["mlm_acc"], history
    assert set(first) >= {"step", "loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc", "lr", "tokens_per_s"}


def test_checkpoint_round_trip(env):
    result = run(env, "ckpt", steps=2)
    model, tok = result.model, result.tokenizer
    out = env["root"] / "ckpt"
    assert sorted(p.name for p in out.glob("*.png")) == ["accuracy.png", "loss.png"]
    ckpt = torch.load(out / "checkpoint-0000002.pt", weights_only=True)  # plain data: loads safely
    assert ckpt["step"] == 2 and ckpt["config"]["steps"] == 2
    assert {"model", "optimizer", "scheduler", "rng"} <= set(ckpt)
    loaded, loaded_tok = pretrained.load_pretrained(out)
    assert loaded_tok.vocab == tok.vocab
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert loaded.mlm_head.decoder.weight is loaded.bert.embeddings.word_embeddings.weight  # still tied


def test_interrupted_and_resumed_equals_uninterrupted(env):
    straight_run = run(env, "straight", steps=6)
    model, straight = straight_run.model, straight_run.history
    # run again, stopped after step 3 as if by Ctrl-C, then resumed
    cfg = dataclasses.replace(env["cfg"], out=str(env["root"] / "stopped"), steps=6)
    stopped = runs.run_pretraining(cfg, stop_at=3, progress=False)
    assert stopped.stopped_at == 3 and stopped.held_out is None
    assert [p.name for p in (env["root"] / "stopped").glob("checkpoint-*.pt")] == ["checkpoint-0000003.pt"]
    resumed_run = runs.run_pretraining(cfg, resume=True, progress=False)
    resumed, history = resumed_run.model, resumed_run.history
    assert [m["step"] for m in history] == [1, 2, 3, 4, 5, 6]
    assert [m["loss"] for m in history] == [m["loss"] for m in straight]  # exactly, not approximately
    for a, b in zip(model.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    # resuming a finished run trains nothing: it reads the model and the history back
    again_run = runs.run_pretraining(cfg, resume=True, progress=False)
    again, history = again_run.model, again_run.history
    assert again_run.stopped_at is None and [m["loss"] for m in history] == [m["loss"] for m in straight]
    assert again_run.held_out == straight_run.held_out  # the same model scores the same held-out pairs
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_nan_loss_stops_with_the_step(env, monkeypatch):
    original = pt.step_stats
    calls = []

    def poisoned(o, batch, sparse_mlm):  # the 3rd step's loss is NaN
        calls.append(1)
        stats = original(o, batch, sparse_mlm)
        return {k: v * float("nan") for k, v in stats.items()} if len(calls) == 3 else stats

    monkeypatch.setattr(pt, "step_stats", poisoned)
    with pytest.raises(FloatingPointError, match="nan at step 3"):
        run(env, "nan", steps=5, log_every=5)


def test_clear_errors(env):
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        run(env, "bad", preset="huge")
    with pytest.raises(ValueError, match=r"fewer than one batch of 10000"):
        run(env, "small", batch_size=10000)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        run(env, "nothing", resume=True)
    run(env, "other", steps=2)
    with pytest.raises(ValueError, match=r"different config \(lr: checkpoint 0.001, now 0.005\)"):
        run(env, "other", steps=2, lr=5e-3, resume=True)


def test_checkpoints_from_before_the_re_cut_still_load(env, tmp_path):
    """BertLayer's feed-forward output used to be called `output`; such checkpoints load as before."""
    result = run(env, "old-names", steps=1)
    out = env["root"] / "old-names"
    path = out / "checkpoint-0000001.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"] = {k.replace(".output_dense.", ".output."): v for k, v in ckpt["model"].items()}
    assert any(".output.weight" in k for k in ckpt["model"])
    torch.save(ckpt, path)
    loaded, _ = pretrained.load_pretrained(out)
    for a, b in zip(result.model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_pretrain_resumes_from_the_latest_checkpoint_by_itself(env):
    """Called directly (not through run_pretraining), pretrain(resume=True) finds the checkpoint."""
    cfg = dataclasses.replace(env["cfg"], out=str(env["root"] / "direct"), steps=4)
    runs.run_pretraining(cfg, stop_at=2, progress=False)
    tokenizer, train, _, model = runs.prepare(cfg, progress=False)
    batches = pretraining_data.StepBatches(train, tokenizer, cfg.batch_size, cfg.seed, cfg.mlm_probability, steps=cfg.steps)
    result = pt.pretrain(model, batches, cfg, resume=True, progress=False)
    assert [m["step"] for m in result.history] == [1, 2, 3, 4] and result.stopped_at is None
