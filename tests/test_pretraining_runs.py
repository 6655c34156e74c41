"""pretraining_runs.py: the README's main job shares lesson 07's model with the cache that lessons 09 and 10 read."""

import json
from pathlib import Path


from bertlite.checkpoints import checkpoint_path
from bertlite.pretraining import PretrainConfig
from bertlite.pretraining_runs import keep_in_cache, pretrained_dir

ROOT = Path(__file__).resolve().parent.parent


# --- the README's main job shares lesson 07's model with the cache -------------------------------------

def fake_run(out, cfg):
    out.mkdir(parents=True)
    for name in ("vocab.txt", "config.json", "metrics.jsonl", "held_out.json"):
        (out / name).write_text(f"{name} of this run")
    (out / "pretrain_config.json").write_text(json.dumps({"recipe": "lesson 07"}))
    checkpoint_path(out, cfg.steps).write_bytes(b"the final checkpoint")


def test_main_job_fills_the_cache_lesson_09_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "cache"))
    cfg = PretrainConfig(out=str(tmp_path / "runs" / "tiny"))
    fake_run(Path(cfg.out), cfg)
    folder = keep_in_cache(cfg)
    assert folder == pretrained_dir(PretrainConfig(out=None))
    for f in Path(cfg.out).iterdir():
        assert (folder / f.name).read_bytes() == f.read_bytes()
    assert keep_in_cache(cfg) is None  # a cached run is never overwritten


def test_other_recipes_and_unfinished_runs_are_not_shared(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLITE_CACHE", str(tmp_path / "cache"))
    other = PretrainConfig(out=str(tmp_path / "other"), lr=5e-4)
    fake_run(Path(other.out), other)
    assert keep_in_cache(other) is None
    unfinished = PretrainConfig(out=str(tmp_path / "unfinished"))
    Path(unfinished.out).mkdir()
    checkpoint_path(unfinished.out, 600).write_bytes(b"half way")
    assert keep_in_cache(unfinished) is None
    assert not (tmp_path / "cache" / "pretrained").exists()
