"""Lessons 07 and 10: a whole pre-training run, from a corpus to a trained model on disk.

    corpus -> vocabulary -> cached NSP pairs -> (train, held out) -> a seeded model
           -> pretrain (pretraining.py) into a run folder -> plots, held-out scores

`run_pretraining` is what `python -m bertlite pretrain` runs. `cached_pretrained_model` keeps
one run per recipe in the cache; lesson 09 fine-tunes lesson 07's. `reference_run` finds the
course's own run of a recipe (reference_runs/: lesson 07's and the course checkpoint's), which the
plots draw behind yours, so you can see whether your run is healthy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch.distributed as dist

from .cache import atomic_write, cache_dir, cache_key
from .checkpoints import (RUNTIME_FIELDS, RunLock, check_resumable, check_run_folder, checkpoint_path, find_resumable,
                          latest_checkpoint, read_metrics)
from .data.corpus import load_pretraining_corpus
from .heads import BertForPreTraining
from .pretrained import load_pretrained
from .pretraining import LESSON07_STEPS, PretrainConfig, evaluate, pretrain, world
from .pretraining_data import StepBatches, cached_dataset, split_held_out
from .utils import pick_device, seed_everything
from .vocab import corpus_tokenizer


REFERENCE_RUNS = Path(__file__).resolve().parent.parent / "reference_runs"  # the course's own runs


@dataclass
class ReferenceRun:
    name: str  # its folder in reference_runs/
    history: list  # its metrics.jsonl
    held_out: dict | None  # its held_out.json


def recipe(cfg):
    """cfg's fields that decide what a run computes (not where or how fast it runs)."""
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME_FIELDS}


def reference_run(cfg):
    """The course's stored run with cfg's recipe (a ReferenceRun), or None when there is none."""
    for file in sorted(REFERENCE_RUNS.glob("*/pretrain_config.json")):
        if json.loads(file.read_text(encoding="utf-8")) == recipe(cfg):
            held_out = file.parent / "held_out.json"
            return ReferenceRun(file.parent.name, read_metrics(file.parent / "metrics.jsonl"),
                                json.loads(held_out.read_text(encoding="utf-8")) if held_out.is_file() else None)
    return None


@dataclass
class RunResult:
    """What a whole run gives back: the model and its tokenizer, what it measured, and where
    and why it stopped."""
    model: BertForPreTraining
    tokenizer: object  # a WordPieceTokenizer
    history: list  # one dict of training metrics per logged step
    held_out: dict | None = None  # loss and accuracies on the held-out pairs, when the run finished
    stopped_at: int | None = None  # the step a stop request ended the run at; None: it finished
    stop_signal: int | None = None  # the signal that asked for the stop (SIGINT, SIGTERM), if any


def pretraining_pairs(cfg, progress=True):
    """(tokenizer, training pairs, held-out pairs) for cfg: the corpus's vocabulary and its
    cached NSP pairs, split by split_held_out."""
    docs = load_pretraining_corpus(cfg.corpus)
    tokenizer = corpus_tokenizer(docs, cfg.vocab_size)
    dataset = cached_dataset(docs, tokenizer, cfg.seq_len, cfg.seed,
                             nsp_probability=0.0 if cfg.no_nsp else 0.5, progress=progress)
    return (tokenizer, *split_held_out(dataset, cfg.held_out, cfg.seed))


def prepare(cfg, progress=True):
    """(tokenizer, training pairs, held-out pairs, model) for cfg, the model seeded with cfg.seed."""
    tokenizer, train, held_out = pretraining_pairs(cfg, progress)
    seed_everything(cfg.seed)
    model = BertForPreTraining(cfg.model_config(tokenizer.vocab_size))
    return tokenizer, train, held_out, model


def held_out_batches(held_out, tokenizer, cfg, batch_size=64):
    """StepBatches over the held-out pairs (None when cfg.held_out kept none), masked as in training."""
    if len(held_out) == 0:
        return None
    return StepBatches(held_out, tokenizer, min(batch_size, len(held_out)), cfg.seed, cfg.mlm_probability)


def run_pretraining(cfg, resume=False, stop_at=None, progress=True, overwrite=False):
    """The whole job (what `python -m bertlite pretrain` runs); returns a RunResult.
    A fresh run refuses a folder that holds a run, unless overwrite=True deletes that run first.
    Everything --resume checks (config, training pairs, vocabulary) is checked before anything
    is written. Under torchrun, each process calls it; rank 0 prepares the cached data first."""
    if cfg.out is None:
        raise ValueError("run_pretraining needs cfg.out, the folder for checkpoints and metrics.")
    if not str(cfg.out).strip():
        raise ValueError(f"--out {cfg.out!r} is empty (an unset shell variable?): give the run a folder of its "
                         f"own, e.g. --out runs/tiny. Nothing was written.")
    if Path(cfg.out).resolve() == Path.cwd().resolve():
        raise ValueError(f"--out {cfg.out!r} is the current folder, whose files a run would mix with its own: give "
                         f"the run a folder of its own, e.g. --out runs/tiny. Nothing was written.")
    pick_device(cfg.device)  # an unknown or absent device fails now, before any work
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if launched and not dist.is_initialized():
        dist.init_process_group("nccl" if pick_device(cfg.device).type == "cuda" else "gloo")
    rank, world_size = world()
    out = Path(cfg.out)
    try:
        with RunLock(out) if rank == 0 else contextlib.nullcontext():
            checkpoint = None
            if rank == 0:
                check_run_folder(out, resume, overwrite)
                checkpoint = find_resumable(cfg) if resume else None
            if rank != 0:
                dist.barrier()  # let rank 0 check the folder, learn the vocabulary and tokenize
            tokenizer, train, held_out, model = prepare(cfg, progress=progress and rank == 0)
            if rank == 0 and world_size > 1:
                dist.barrier()
            vocab = Path(tokenizer.vocab_file).read_text(encoding="utf-8")
            if rank == 0 and checkpoint is not None:
                check_resumable(checkpoint[1], cfg, checkpoint[0], train.fingerprint())
                if (out / "vocab.txt").exists() and (out / "vocab.txt").read_text(encoding="utf-8") != vocab:
                    raise ValueError(f"--resume: {out / 'vocab.txt'} is not the vocabulary this corpus gives now. "
                                     f"Restore the corpus as it was, or start a new run in another --out.")
            if rank == 0:
                atomic_write(out / "vocab.txt", vocab)
                atomic_write(out / "config.json", json.dumps(model.config.to_dict(), indent=2))
                atomic_write(out / "pretrain_config.json", json.dumps(recipe(cfg), indent=2) + "\n")
            batches = StepBatches(train, tokenizer, cfg.batch_size, cfg.seed, cfg.mlm_probability,
                                  rank, world_size, steps=cfg.steps)
            trained = pretrain(model, batches, cfg, resume=resume, stop_at=stop_at, progress=progress,
                               checkpoint=checkpoint)
            result = RunResult(model, tokenizer, trained.history, None, trained.stopped_at, trained.stop_signal)
            if rank == 0 and trained.history:
                plot_metrics(trained.history, out, reference_run(cfg))
            scored = held_out_batches(held_out, tokenizer, cfg)
            if rank == 0 and trained.stopped_at is None and scored is not None:
                result.held_out = {"pairs": len(scored) * scored.batch_size,
                                   **evaluate(model, scored, range(len(scored)))}
                atomic_write(out / "held_out.json", json.dumps(result.held_out, indent=2) + "\n")
            if world_size > 1:
                dist.barrier()  # leave together: a process that exits while another still works aborts in gloo
            return result
    finally:
        if launched and dist.is_initialized():
            dist.destroy_process_group()


def plot_metrics(history, out, reference=None):
    """loss.png and accuracy.png in `out`; a ReferenceRun's curves, when given, in grey behind."""
    from matplotlib.figure import Figure  # no pyplot: works without a display

    steps = [m["step"] for m in history]
    for name, keys, ylabel in (("loss", ("loss", "mlm_loss", "nsp_loss"), "cross-entropy"),
                               ("accuracy", ("mlm_acc", "nsp_acc"), "accuracy")):
        fig = Figure(figsize=(6, 3.5))
        ax = fig.subplots()
        for k in keys if reference is not None else ():
            if reference.history and reference.history[-1].get(k) is not None:
                ax.plot([m["step"] for m in reference.history], [m[k] for m in reference.history], color="0.8",
                        linewidth=3, label=f"{k}, the course's run" if k == keys[0] else None, zorder=0)
        for k in keys:
            if history[-1].get(k) is not None:
                ax.plot(steps, [m[k] for m in history], label=k)
        ax.set(xlabel="step", ylabel=ylabel, title=f"pre-training {name}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(Path(out) / f"{name}.png", dpi=100)


def pretrained_dir(cfg):
    """Where cached_pretrained_model keeps a run: one folder per recipe."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME_FIELDS}
    key = cache_key(json.dumps(fields, sort_keys=True), length=10)
    return cache_dir() / "pretrained" / f"{cfg.preset}-{cfg.steps}steps-seed{cfg.seed}-{key}"


def cached_pretrained_model(preset="tiny", steps=LESSON07_STEPS, seed=0, progress=True, **overrides):
    """(model, tokenizer): a BertForPreTraining pre-trained with lesson 07's recipe (or
    `overrides` of PretrainConfig fields), read from the cache, trained and cached on first use."""
    cfg = PretrainConfig(preset=preset, steps=steps, seed=seed, **overrides)
    cfg.out = str(pretrained_dir(cfg))
    if checkpoint_path(cfg.out, steps).exists():
        return load_pretrained(cfg.out)
    resume = latest_checkpoint(cfg.out) is not None  # a stopped run continues; else start clean
    result = run_pretraining(cfg, resume=resume, overwrite=not resume, progress=progress)
    if result.stopped_at is not None:
        raise KeyboardInterrupt(f"pre-training stopped at step {result.stopped_at}; call again to resume.")
    return result.model.to("cpu").eval(), result.tokenizer


def keep_in_cache(cfg):
    """After `python -m bertlite pretrain --out runs/tiny` finishes lesson 07's recipe, copy the run
    into the cache folder that lesson07_model reads, so lessons 09 and 10 use it instead of training
    their own. Only a finished run of exactly that recipe, and never over a run already cached.
    Returns the folder it filled, or None."""
    if recipe(cfg) != recipe(PretrainConfig(out=None)):
        return None
    folder, final = pretrained_dir(cfg), checkpoint_path(cfg.out, cfg.steps)
    if not final.exists() or checkpoint_path(folder, cfg.steps).exists() or Path(cfg.out).resolve() == folder.resolve():
        return None
    for name in ("vocab.txt", "config.json", "pretrain_config.json", "metrics.jsonl", "held_out.json"):
        if (Path(cfg.out) / name).is_file():
            atomic_write(folder / name, (Path(cfg.out) / name).read_bytes())
    atomic_write(folder / final.name, lambda tmp: shutil.copyfile(final, tmp))  # last: now the entry is complete
    return folder


def lesson07_model():
    """(model, tokenizer): the tiny BERT that lesson 07 pre-trains, which lessons 09 and 10 build
    on. Read from the cache when lesson 07 has run; otherwise it is trained here first, with a
    progress bar (minutes on a laptop's CPU), and kept in the cache."""
    cfg = PretrainConfig(out=None)
    folder = pretrained_dir(cfg)
    if checkpoint_path(folder, cfg.steps).exists():
        print(f"lesson 07's model: read from the cache (pretrained/{folder.name})")
    else:
        print(f"lesson 07's model is not in the cache (pretrained/{folder.name}): pre-training it now with lesson "
              f"07's recipe ({cfg.steps} steps of {cfg.batch_size} pairs). This takes minutes on a CPU; it is kept "
              f"for next time.")
    return cached_pretrained_model(cfg.preset, cfg.steps, cfg.seed, progress=True)
