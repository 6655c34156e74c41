"""Lesson 09's transfer experiment and the course checkpoint: runs are paired across starting
points, cached and resumed, summarized over seeds; the shipped checkpoint loads, is small, and
its recorded scores are the ones its held-out pairs give."""

import json
import string

import pytest
import torch

from bertlite import BertConfig, BertModel, WordPieceTokenizer
from bertlite.course import transfer
from bertlite.data.task_data import TextExample

WORDS = ["good", "bad", "film", "plot", "great", "awful", "the", "a", "is", "was"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + list(string.ascii_lowercase)


@pytest.fixture
def small_world(tmp_path, monkeypatch):
    """Two starting points on a small vocabulary and a toy sentiment task, in a fresh cache."""
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = WordPieceTokenizer(tmp_path / "vocab.txt")
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    torch.manual_seed(0)
    encoder = BertModel(config)
    points = {"random": (None, config, tokenizer), "course": (encoder, config, tokenizer)}
    monkeypatch.setattr(transfer, "starting_point", lambda init: points[init])
    make = lambda n, k: [TextExample(f"the film was {'great good' if (i + k) % 2 else 'awful bad'}", (i + k) % 2)
                         for i in range(n)]  # noqa: E731
    splits = {"train": make(40, 0), "dev": make(4, 1), "test": make(10, 1)}
    monkeypatch.setattr(transfer, "task_splits", lambda task: splits)
    return splits


def test_runs_are_paired_cached_and_resumed(small_world, monkeypatch):
    calls = []
    real = transfer.fine_tune_once
    monkeypatch.setattr(transfer, "fine_tune_once", lambda *a, **k: calls.append(a) or real(*a, **k))
    rows = transfer.transfer_experiment("sentiment", label_counts=(8, None), budgets=(3,), seeds=(0, 1),
                                        inits=("random", "course"), progress=False)
    assert len(rows) == len(calls) == 8
    assert {r["labels"] for r in rows} == {8, 40}  # None means every training example
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    # The same seed gives every starting point the same labelled sample; another seed, another one.
    assert transfer.labelled_sample("sentiment", 8, 0) == transfer.labelled_sample("sentiment", 8, 0)
    assert transfer.labelled_sample("sentiment", 8, 0) != transfer.labelled_sample("sentiment", 8, 1)
    # Asked again, with one more budget: only the new runs are trained, the rest read back.
    calls.clear()
    again = transfer.transfer_experiment("sentiment", label_counts=(8, None), budgets=(3, 4), seeds=(0, 1),
                                         inits=("random", "course"), progress=False)
    assert len(calls) == 8 and len(again) == 16
    assert [r for r in again if r["steps"] == 3] == rows
    table = transfer.summarize(again)
    mean, low, high, n = table["course", 8, 3]
    assert n == 2 and low <= mean <= high


def test_one_run_is_deterministic(small_world):
    first = transfer.fine_tune_once("sentiment", "course", 8, 3, seed=0, device="cpu")
    assert transfer.fine_tune_once("sentiment", "course", 8, 3, seed=0, device="cpu") == first


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="init='pretrained'.*'random', 'lesson 07', 'course'"):
        transfer.starting_point("pretrained")
    with pytest.raises(ValueError, match="task='nli'"):
        transfer.task_splits("nli")


def test_majority_accuracy_by_hand(small_world):
    assert transfer.majority_accuracy("sentiment") == 0.5


# ---- the course checkpoint that ships with the repository ----

course = pytest.mark.skipif(not (transfer.COURSE_CHECKPOINT / "config.json").is_file(),
                            reason="reference_runs/course/ is not in this checkout")


@course
def test_course_checkpoint_is_a_small_hugging_face_folder():
    folder = transfer.COURSE_CHECKPOINT
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "metrics.jsonl", "held_out.json"} <= names
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 25 * 2**20
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["BertForPreTraining"]
    model, tokenizer = transfer.course_model()
    assert type(model).__name__ == "BertForPreTraining" and tokenizer.vocab_size == model.config.vocab_size
    held_out = json.loads((folder / "held_out.json").read_text())
    assert held_out["mlm_acc"] > 0.12 and held_out["nsp_acc"] > 0.8  # what training reached (README: 14.7%, 88.8%)


@course
@pytest.mark.parametrize("task", list(transfer.GRIDS))
def test_the_stored_runs_cover_their_grid_with_three_seeds(task):
    rows = transfer.stored_runs(task)
    cells = {(r["init"], r["labels"], r["steps"]) for r in rows}
    assert {init for init, _, _ in cells} == set(transfer.INITS)
    assert len({labels for _, labels, _ in cells}) == len(transfer.GRIDS[task])
    assert {steps for _, _, steps in cells} == {150, 600}
    for cell in cells:
        seeds = sorted(r["seed"] for r in rows if (r["init"], r["labels"], r["steps"]) == cell)
        assert seeds == [0, 1, 2], (cell, seeds)
    assert all(0 < r["accuracy"] < 1 for r in rows)


def test_main_stores_every_grid(small_world, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "GRIDS", {"sentiment": (8, None)})
    monkeypatch.setattr(transfer, "transfer_experiment", lambda task, label_counts: [{"task": task, "labels": label_counts}])
    transfer.main(["--out", str(tmp_path)])
    assert json.loads((tmp_path / "transfer-sentiment.json").read_text()) == [{"task": "sentiment", "labels": [8, None]}]
    with pytest.raises(SystemExit):
        transfer.main(["--out", str(tmp_path / "missing")])
