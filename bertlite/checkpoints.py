"""Lessons 07 and 10: checkpoints, run folders, and resuming a pre-training run.

A checkpoint of `pretrain` holds the model, the optimizer, the learning-rate schedule, the
gradient scaler, every process's random-number states, the step, the run's config and a
fingerprint of its training pairs. It is written to a temporary file and then renamed, so a
crash or a full disk never leaves half a file, and it loads with weights_only=True, so it cannot
run code. A run resumes only under the config and the data it started with, apart from the
RUNTIME_FIELDS (where and how it runs).

A run folder holds one run. A lock file keeps a second process out while a run writes there,
a fresh run refuses a folder that holds another run (unless told --overwrite), and a run only
ever deletes checkpoints it wrote itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import socket
from pathlib import Path

import torch
import torch.distributed as dist

from ._moved import moved_name
from .cache import atomic_write, load_tensors


# --- 1. writing and finding checkpoints --------------------------------------------------------

def atomic_save(obj, path):
    """torch.save to a temporary file, then rename: a crash never leaves half a file, and a
    failed save (a full disk) removes its temporary file and keeps the old file at `path`."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def checkpoint_path(out, step):
    return Path(out) / f"checkpoint-{step:07d}.pt"


def checkpoints_by_step(out):
    """{step: path} of the checkpoints in `out`, in step order (not file-name order)."""
    found = {}
    for p in Path(out).glob("checkpoint-*.pt") if out else []:
        m = re.fullmatch(r"checkpoint-(\d+)\.pt", p.name)
        if m:
            found[int(m.group(1))] = p
    return dict(sorted(found.items()))


def latest_checkpoint(out):
    found = checkpoints_by_step(out)
    return found[max(found)] if found else None


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "scaler", "rng", "step", "config", "model_config")


def load_checkpoint(path):
    """A checkpoint holds only tensors, numbers, strings and containers of them, so it loads
    with weights_only=True: nothing in the file can run code."""
    ckpt = load_tensors(path, "checkpoint")
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {', '.join(missing)}: it was not written by "
                         f"`bertlite pretrain`. To load Hugging Face weights use bertlite.from_pretrained.")
    ckpt["model"] = renamed_weights(ckpt["model"])
    return ckpt


def renamed_weights(state_dict):
    """Checkpoints written before BertLayer's feed-forward output was named `output_dense` call it
    `output`: they load as before."""
    return {re.sub(r"^(bert\.layers\.\d+)\.output\.", r"\1.output_dense.", k): v for k, v in state_dict.items()}


def load_latest_checkpoint(out):
    """(path, checkpoint) of the newest checkpoint in `out` that loads, or (None, None). A damaged
    newest one (a truncated copy, a disk error) is reported and the one before it is used."""
    for step, path in reversed(checkpoints_by_step(out).items()):
        try:
            return path, load_checkpoint(path)
        except ValueError as e:
            print(f"bertlite: skipping {path.name}: {e} Falling back to the checkpoint before it.", flush=True)
    return None, None


# --- 2. resuming: random-number states, config and data ---------------------------------------

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


def check_resumable(ckpt, cfg, path, data_fingerprint=None):
    """Refuse to resume from `ckpt` under another config or on other training pairs."""
    theirs = {k: v for k, v in ckpt["config"].items() if k not in RUNTIME_FIELDS}
    ours = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME_FIELDS}
    diff = [f"{k}: checkpoint {theirs.get(k)!r}, now {ours.get(k)!r}" for k in sorted(ours)
            if theirs.get(k) != ours.get(k)]
    if diff:
        raise ValueError(f"--resume: {path} was written by a run with a different config ("
                         + "; ".join(diff) + "). Resume with the same settings, or use a new --out.")
    saved = ckpt.get("data_fingerprint")
    if data_fingerprint is not None and saved is not None and saved != data_fingerprint:
        raise ValueError(f"--resume: the training pairs differ from those {path} was trained on (fingerprint "
                         f"{saved}, now {data_fingerprint}): the corpus files or the vocabulary changed. "
                         f"Restore the corpus as it was, or start a new run in another --out.")


def find_resumable(cfg):
    """(path, checkpoint) to resume cfg's run from, checked against cfg; falls back from a
    damaged newest checkpoint to the one before it."""
    path, ckpt = load_latest_checkpoint(cfg.out)
    if path is None:
        raise FileNotFoundError(f"--resume: no checkpoint-*.pt in {cfg.out} that loads. Start without "
                                f"--resume, or point --out at the folder of the run to continue.")
    check_resumable(ckpt, cfg, path)
    return path, ckpt


# --- 3. one run per folder ---------------------------------------------------------------------

RUN_FILES = ("metrics.jsonl", "vocab.txt", "config.json", "loss.png", "accuracy.png")


def check_run_folder(out, resume, overwrite):
    """A fresh run starts only in a folder that holds no run; --overwrite deletes the old one
    (its checkpoints, metrics, vocabulary, config and plots) first. Checks before writing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder. Choose a folder for the run's checkpoints and metrics.")
    if resume:
        if overwrite:
            raise ValueError("--resume continues the run in --out and --overwrite deletes it: choose one.")
        return
    held = list(checkpoints_by_step(out).values()) + [out / f for f in RUN_FILES if (out / f).exists()]
    if not held:
        return
    if not overwrite:
        steps = list(checkpoints_by_step(out))
        what = f"checkpoints up to step {steps[-1]}" if steps else "no checkpoint yet"
        raise ValueError(f"--out {out} already holds a run ({what}; {', '.join(p.name for p in held[:4])}"
                         f"{' ...' if len(held) > 4 else ''}). Continue it with --resume, delete it and start "
                         f"again with --overwrite, or choose another --out.")
    for p in held:
        p.unlink()


class RunLock:
    """`with RunLock(out):` holds OUT/run.lock, which names this process, for the run's length.
    A second process that tries is refused; a lock left by a process that no longer runs (a
    crash, a kill -9) is taken over with a message."""

    def __init__(self, out):
        self.path = Path(out) / "run.lock"
        self.created_folder = False

    def __enter__(self):
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--out {folder} is a file, not a folder. Choose a folder for the run.")
        try:
            self.created_folder = not folder.exists()
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ValueError(f"--out {folder}: a part of that path is a file, not a folder. Choose another --out.") from None
        except PermissionError:
            raise ValueError(f"--out {folder}: no permission to create it. Choose a folder you can write to.") from None
        me = f"{os.getpid()} {socket.gethostname()}\n"
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None:
                    raise ValueError(f"--out {folder} is in use by another run (process {holder}, see "
                                     f"{self.path}). Wait for it to finish, stop it, or choose another --out.") from None
                print(f"bertlite: taking over {self.path}, left by a process that no longer runs.", flush=True)
                self.path.unlink(missing_ok=True)
                continue
            except (PermissionError, OSError) as e:
                raise ValueError(f"--out {folder} is not writable ({e.strerror}). Choose a folder you can write to.") from None
            with os.fdopen(fd, "w") as f:
                f.write(me)
            return self
        raise ValueError(f"could not take the lock {self.path}; another process keeps creating it.")

    def _holder(self):
        """The pid holding the lock if that process still runs on this machine, else None."""
        try:
            pid, host = self.path.read_text().split()[:2]
            pid = int(pid)
        except (OSError, ValueError):
            return None  # unreadable or half-written: treat as stale
        if host != socket.gethostname():
            return f"{pid} on {host}"  # cannot check another machine: assume it runs
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid  # it exists, as another user
        return pid

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        folder = self.path.parent
        if self.created_folder and folder.exists() and not any(folder.iterdir()):
            folder.rmdir()  # a run refused before writing leaves nothing behind
        return False


# --- 4. the layout: what a checkpoint holds, written and read back in one place -----------------

class Checkpointer:
    """Saves a run's checkpoints into `out` (None: saves nothing, as on ranks other than 0).
    It keeps the latest two, deleting only checkpoints this run wrote (or resumed from), and
    never writes one whose weights are not finite."""

    def __init__(self, out, cfg, data_fingerprint):
        self.out, self.cfg, self.fingerprint = out, cfg, data_fingerprint
        self.ours = []  # the checkpoints this run may delete, oldest first
        self.last_good = None  # (step, path) of the newest checkpoint known to hold finite weights

    def resumed_from(self, path, step):
        self.ours, self.last_good = [path], (step, path)

    def save(self, step, model, optimizer, scheduler, scaler, world_size=1):
        bad = next((n for n, p in model.named_parameters() if not torch.isfinite(p).all()), None)
        if bad is not None:  # never write a checkpoint of a diverged run
            raise FloatingPointError(self.diverged(f"the weight {bad} became non-finite at step {step}"))
        states = [None] * world_size
        if world_size > 1:
            dist.all_gather_object(states, rng_states())  # every rank's dropout stream
        else:
            states = [rng_states()]
        if self.out is None:
            return
        # Keep the latest two: delete all but the newest of ours *before* writing, so two
        # checkpoints need room for two, and a failed write still leaves the newest.
        for old in self.ours[:-1]:
            old.unlink(missing_ok=True)
        del self.ours[:-1]
        path = checkpoint_path(self.out, step)
        atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                     "rng": states, "step": step, "config": dataclasses.asdict(self.cfg),
                     "model_config": model.config.to_dict(), "data_fingerprint": self.fingerprint}, path)
        if path not in self.ours:
            self.ours.append(path)
        self.last_good = (step, path)

    def diverged(self, what):
        where = (f"The last good checkpoint is {self.last_good[1]} (step {self.last_good[0]}); nothing was "
                 f"saved after it." if self.last_good else "No checkpoint was written.")
        return (f"{what}: training diverged. {where} Lower --lr (now {self.cfg.lr:g}) or lengthen --warmup and "
                f"start again (--overwrite); with fp16, try bf16 or fp32.")


def restore_checkpoint(checkpoint, saver, model, optimizer, scheduler, scaler, rank=0):
    """Put a run back where `checkpoint` (path, state) left it; returns its step."""
    path, ckpt = checkpoint
    check_resumable(ckpt, saver.cfg, path, saver.fingerprint)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    scaler.load_state_dict(ckpt["scaler"])
    set_rng_states(ckpt["rng"][rank])
    saver.resumed_from(path, ckpt["step"])
    return ckpt["step"]


def read_metrics(path):
    """The metrics logged in `path`, one dict per line. A torn last line (the run was killed
    mid-write, or the disk filled) is dropped with a message; a bad line elsewhere is an error."""
    path = Path(path)
    if not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    metrics = []
    for i, line in enumerate(lines, 1):
        try:
            metrics.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines):
                raise ValueError(f"{path}, line {i}, is not JSON: {line[:80]!r}. The file is damaged; "
                                 f"delete that line (the checkpoints do not depend on it).") from None
            print(f"bertlite: dropping the torn last line of {path} ({line[:40]!r}...).", flush=True)
    return metrics


def write_metrics(path, metrics):
    atomic_write(path, "".join(json.dumps(m) + "\n" for m in metrics))


def __getattr__(name):  # load_pretrained and model_from_checkpoint moved to pretrained.py
    return moved_name(__name__, name)
