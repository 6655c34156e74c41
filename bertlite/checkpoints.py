"""Lessons 07 and 10: checkpoints, and resuming a pre-training run from one.

A checkpoint of `pretrain` holds the model, the optimizer, the learning-rate schedule, the
gradient scaler, every process's random-number states, the step and the run's config. It is
written to a temporary file and then renamed, so a crash never leaves half a file, and it loads
with weights_only=True, so it cannot run code. A run resumes only under the config it started
with, apart from the RUNTIME_FIELDS (where and how it runs).
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import torch


# --- 1. writing and finding checkpoints --------------------------------------------------------

def atomic_save(obj, path):
    """torch.save to a temporary file, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def checkpoint_path(out, step):
    return Path(out) / f"checkpoint-{step:07d}.pt"


def latest_checkpoint(out):
    found = sorted(Path(out).glob("checkpoint-*.pt")) if out else []
    return found[-1] if found else None


def load_checkpoint(path):
    """A checkpoint holds only tensors, numbers, strings and containers of them, so it loads
    with weights_only=True: nothing in the file can run code."""
    return torch.load(path, map_location="cpu", weights_only=True)


# --- 2. resuming: random-number states and the config -----------------------------------------

def rng_states():
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_states(states):
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# Fields of PretrainConfig that may differ between a run and its resumption.
RUNTIME_FIELDS = ("device", "compile", "log_every", "save_every", "out")


def check_resumable(saved, cfg, path):
    theirs = {k: v for k, v in saved.items() if k not in RUNTIME_FIELDS}
    ours = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME_FIELDS}
    diff = [f"{k}: checkpoint {theirs.get(k)!r}, now {ours.get(k)!r}" for k in sorted(ours)
            if theirs.get(k) != ours.get(k)]
    if diff:
        raise ValueError(f"--resume: {path} was written by a run with a different config ("
                         + "; ".join(diff) + "). Resume with the same settings, or use a new --out.")
